"""Find archive modules by the names users write in their configs.

Names are case-insensitive. Old names from the Fornax ``scale_up`` helper are accepted where
they map one-to-one onto an mwlc archive (:data:`mwlc.legacy.OLD_ARCHIVE_NAMES`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mwlc.legacy import OLD_ARCHIVE_NAMES

#: canonical name -> module path
ARCHIVES: dict[str, str] = {
    "ztf": "mwlc.archives.ztf",
    "gaia": "mwlc.archives.gaia",
    "panstarrs": "mwlc.archives.panstarrs",
    "wise": "mwlc.archives.wise",
    "heasarc": "mwlc.archives.heasarc",
    "tess_kepler": "mwlc.archives.tess_kepler",
    "hcv": "mwlc.archives.hcv",
}

#: other names users know -> canonical name (the original's TESS_Kepler lower-cases to
#: tess_kepler itself; its separate IceCube archive is HEASARC's icecubepsc table)
ALIASES: dict[str, str] = {
    "ps1": "panstarrs",
    "pan-starrs": "panstarrs",
    "tess": "tess_kepler",
    "kepler": "tess_kepler",
    **OLD_ARCHIVE_NAMES,
}


def canonical_name(name: str) -> str:
    """The canonical archive name for ``name`` (case-insensitive; aliases resolved).

    Raises
    ------
    KeyError
        If ``name`` names no archive; the message lists the known ones.
    """
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in ARCHIVES:
        raise KeyError(f"unknown archive {name!r}; known archives: {', '.join(sorted(ARCHIVES))}")
    return key


def get_archive(name: str) -> ModuleType:
    """Import and return the module implementing archive ``name``."""
    return importlib.import_module(ARCHIVES[canonical_name(name)])
