"""The archives mwlc knows: their descriptors, found by the names users write in their configs.

Names are case-insensitive; each descriptor declares its aliases, and old names from the Fornax
``scale_up`` helper are accepted where they map one-to-one onto an mwlc archive
(:data:`mwlc.legacy.OLD_ARCHIVE_NAMES`).

**Adding an archive** takes a module and one line. The module defines ``ARCHIVE``, an
:class:`~mwlc.archives.base.Archive` (name, bands, parameters, reader, demo builder), and the
reader's ``fetch`` and ``preflight`` (the same module may be the reader). The line is its import
path, either in :data:`BUILT_IN` below or, for an archive kept outside mwlc, in the environment
variable ``MWLC_EXTRA_ARCHIVES`` (import paths separated by commas or spaces; the module must be
importable by Snakemake and by its jobs). The config schema, the defaults, the band units, the
service units its fetch jobs hold and the demo builders follow from the descriptor.
"""

from __future__ import annotations

import importlib
import os
import re

from mwlc.archives.base import Archive, BandInfo
from mwlc.errors import ConfigError
from mwlc.legacy import OLD_ARCHIVE_NAMES

#: The archives mwlc ships, in the order the workflow lists them: import paths of their descriptors.
BUILT_IN: tuple[str, ...] = (
    "mwlc.archives.descriptors.ztf",
    "mwlc.archives.descriptors.gaia",
    "mwlc.archives.descriptors.panstarrs",
    "mwlc.archives.descriptors.wise",
    "mwlc.archives.descriptors.heasarc",
    "mwlc.archives.descriptors.tess_kepler",
    "mwlc.archives.descriptors.hcv",
)
#: Environment variable naming more descriptor modules (comma- or space-separated import paths).
EXTRA_ARCHIVES_ENV = "MWLC_EXTRA_ARCHIVES"


def extra_archive_paths(environ: dict[str, str] | None = None) -> list[str]:
    """The import paths listed in ``$MWLC_EXTRA_ARCHIVES`` (none if unset)."""
    value = (os.environ if environ is None else environ).get(EXTRA_ARCHIVES_ENV, "")
    return [path for path in re.split(r"[,\s]+", value) if path]


def load_descriptor(path: str) -> Archive:
    """The ``ARCHIVE`` of the module at import path ``path``.

    Raises
    ------
    ConfigError
        If the module cannot be imported or has no :class:`~mwlc.archives.base.Archive` ``ARCHIVE``.
    """
    try:
        module = importlib.import_module(path)
    except ImportError as err:
        raise ConfigError(f"archive module {path!r} cannot be imported: {type(err).__name__}: {err}") from err
    archive = getattr(module, "ARCHIVE", None)
    if not isinstance(archive, Archive):
        raise ConfigError(
            f"archive module {path!r} defines no ARCHIVE descriptor (mwlc.archives.base.Archive); "
            f"found {type(archive).__name__}"
        )
    return archive


def build_registry(paths: list[str]) -> dict[str, Archive]:
    """Descriptors by canonical name, in the order of ``paths``.

    Raises
    ------
    ConfigError
        If two descriptors share a name or an alias, or an alias is another archive's name.
    """
    archives: dict[str, Archive] = {}
    for path in paths:
        archive = load_descriptor(path)
        if archive.name in archives:
            raise ConfigError(f"archive {archive.name!r} is registered twice (again by {path!r})")
        archives[archive.name] = archive
    names: dict[str, str] = {}
    for archive in archives.values():
        for alias in archive.aliases:
            key = alias.lower()
            owner = names.get(key) or (key if key in archives else None)
            if owner is not None and owner != archive.name:
                raise ConfigError(f"alias {alias!r} of archive {archive.name!r} already names {owner!r}")
            names[key] = archive.name
    return archives


#: canonical name -> descriptor: the archives mwlc ships, then those of ``$MWLC_EXTRA_ARCHIVES``
ARCHIVES: dict[str, Archive] = build_registry([*BUILT_IN, *extra_archive_paths()])

#: other names users know -> canonical name (the original's TESS_Kepler lower-cases to
#: tess_kepler itself; its separate IceCube archive is HEASARC's icecubepsc table)
ALIASES: dict[str, str] = {
    **{alias.lower(): archive.name for archive in ARCHIVES.values() for alias in archive.aliases},
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


def get_archive(name: str) -> Archive:
    """The descriptor of archive ``name`` (any spelling :func:`canonical_name` accepts)."""
    return ARCHIVES[canonical_name(name)]


def all_bands() -> dict[str, BandInfo]:
    """Every band of every registered archive, with its unit and time system.

    Raises
    ------
    ValueError
        If two archives declare the same band differently.
    """
    bands: dict[str, BandInfo] = {}
    for archive in ARCHIVES.values():
        for band, info in archive.bands.items():
            if bands.setdefault(band, info) != info:
                raise ValueError(
                    f"band {band!r} of archive {archive.name!r} is declared differently elsewhere"
                )
    return bands


def archive_services() -> dict[str, str]:
    """archive name -> the service its fetch jobs load (a key of :data:`mwlc.archives.services.SERVICES`)."""
    return {name: archive.service for name, archive in ARCHIVES.items()}


def demo_builders() -> dict[str, str]:
    """archive name -> module whose ``build(sample, out_dir)`` writes its synthetic demo snapshot."""
    return {name: archive.demo_builder for name, archive in ARCHIVES.items() if archive.demo_builder}
