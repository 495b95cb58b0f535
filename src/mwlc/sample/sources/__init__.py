"""Sample sources: where the sky positions of a run come from (step 1 of the ``sample`` rule).

One call per config entry of ``sample.sources``::

    fetch_source({"source": "ned_refcode", "refcode": "2018ApJ...862..109Y",
                  "label": "Yang 18"}, services) -> DataFrame[ra, dec, label, origin]

Kinds: ``file``, ``sdss``, ``ned_refcode``, ``papers_list``, ``vizier``, ``simbad_bibcode``,
``ztf_objectid`` (one module each), the presets of :mod:`mwlc.sample.presets` (``yang``,
``sheng``, ...), and the original's names ``csv`` and ``paper`` with their old keys
(``csv_path``, ``ra_colname``, ``dec_colname``; ``paper_link``), accepted with a deprecation
message. Source names are case-insensitive.

Remote sources go through astroquery (SkyServer, NED, VizieR, SIMBAD) or requests (ALeRCE) at the
base URLs of ``services`` (keys and defaults in :data:`DEFAULT_SERVICES`), with astroquery's
cache off. Connection errors, timeouts and HTTP 429/5xx are retried ``retries`` times with
exponential backoff (``retry_backoff_s`` * 2**k seconds), then raise
:class:`~mwlc.errors.ArchiveError`; a failing service is never skipped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mwlc.errors import SampleError
from mwlc.sample.presets import PRESETS, SELECTION_KEYS

from . import alerce, file, ned, sdss, simbad, vizier
from ._common import (
    COLUMNS,
    DEFAULT_SERVICES,
    REQUEST_KEYS,
    SourceKind,
    did_you_mean,
    log,
    resolve_services,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_SERVICES",
    "PRESETS",
    "REQUEST_KEYS",
    "SOURCE_NAMES",
    "check_source",
    "fetch_source",
    "file_source_path",
    "required_keys",
    "source_keys",
]

#: Basic source kinds by name.
KINDS: dict[str, SourceKind] = {
    k.name: k
    for k in (file.KIND, sdss.KIND, ned.KIND, ned.PAPERS_LIST, vizier.KIND, simbad.KIND, alerce.KIND)
}

#: The original's source names: name -> (kind, {old key: new key}).
ALIASES: dict[str, tuple[str, dict[str, str]]] = {
    "csv": ("file", {"csv_path": "path", "ra_colname": "ra_column", "dec_colname": "dec_column"}),
    "paper": ("ned_refcode", {"paper_link": "refcode"}),
}

#: Every valid value of ``source`` (lower case): kinds, presets and old names.
SOURCE_NAMES: frozenset[str] = frozenset({*KINDS, *PRESETS, *ALIASES})


def _name_of(spec: Mapping[str, Any]) -> str:
    if not isinstance(spec, Mapping):
        raise SampleError(f"a sample source must be a mapping with a 'source' key, got {spec!r}")
    if "source" not in spec:
        raise SampleError(
            f"sample source {dict(spec)!r} has no 'source' key; known sources: "
            f"{', '.join(sorted(SOURCE_NAMES))}"
        )
    return _known(str(spec["source"]))


def _known(name: str) -> str:
    lowered = name.strip().lower()
    if lowered not in SOURCE_NAMES:
        raise SampleError(
            f"unknown sample source {name!r}{did_you_mean(lowered, SOURCE_NAMES)}; "
            f"known sources: {', '.join(sorted(SOURCE_NAMES))}"
        )
    return lowered


def source_keys(kind: str) -> set[str]:
    """Keys a spec with ``source: kind`` may have (``source`` included).

    For a preset these are the keys of the kind it expands to (any of them may override the
    preset); for an old name, its old keys as well as the new ones.

    Raises
    ------
    mwlc.errors.SampleError
        If ``kind`` is not a known source name (with a did-you-mean).
    """
    name = _known(kind)
    if name in PRESETS:
        return KINDS[PRESETS[name]["source"]].keys
    if name in ALIASES:
        target, renames = ALIASES[name]
        return KINDS[target].keys | set(renames)
    return KINDS[name].keys


def required_keys(kind: str) -> set[str]:
    """Keys a spec with ``source: kind`` must give (none for a preset: it gives them)."""
    name = _known(kind)
    if name in PRESETS:
        return set()
    if name in ALIASES:
        target, renames = ALIASES[name]
        new_to_old = {new: old for old, new in renames.items()}
        return {new_to_old.get(key, key) for key in KINDS[target].required}
    return set(KINDS[name].required)


def check_source(spec: Mapping[str, Any]) -> None:
    """Check one configured source's keys and values without querying anything.

    Raises
    ------
    mwlc.errors.SampleError
        Naming the source and the key whose value is wrong (as :func:`fetch_source` would, before
        its query).
    """
    kind, full, _ = _expand(spec, warn=False)
    if kind.check is not None:
        kind.check(full)


def file_source_path(spec: Mapping[str, Any]) -> str | None:
    """The local file a configured source reads: the ``path`` of a ``file`` source (any case, and
    the old ``csv`` with ``csv_path``); None for any other source or a spec without one. Nothing
    else of ``spec`` is checked."""
    name = str(spec.get("source", "")).strip().lower()
    kind, renames = ALIASES.get(name, (name, {}))
    if kind != "file":
        return None
    return next((value for key, value in spec.items() if renames.get(key, key) == "path"), None)


def _expand(spec: Mapping[str, Any], *, warn: bool = True) -> tuple[SourceKind, dict[str, Any], str]:
    """The basic kind, the completed spec, and a description for messages."""
    name = _name_of(spec)
    rest = {k: v for k, v in spec.items() if k != "source"}
    if name in PRESETS:
        base = PRESETS[name]
        kind = KINDS[base["source"]]
        kind.check_keys(rest, what=f"source {name!r} (a preset of '{kind.name}')")
        if any(key in rest for key in SELECTION_KEYS):  # the entry's selection replaces the preset's
            base = {k: v for k, v in base.items() if k not in SELECTION_KEYS}
        return kind, kind.complete({**base, **rest}), f"preset {name!r}"
    if name in ALIASES:
        target, renames = ALIASES[name]
        old = sorted(k for k in rest if k in renames)
        (log.warning if warn else log.debug)(
            "sample source %r is deprecated: use source '%s'%s",
            name,
            target,
            "".join(f", {k} -> {renames[k]}" for k in old),
        )
        rest = {renames.get(k, k): v for k, v in rest.items()}
        name = target
    kind = KINDS[name]
    return kind, kind.complete(rest), f"source {name!r}"


def fetch_source(spec: Mapping[str, Any], services: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Positions from one configured sample source.

    Parameters
    ----------
    spec : mapping
        One entry of ``sample.sources``; ``source`` selects the kind or preset
        (case-insensitive), the other keys are its parameters (see :func:`source_keys`).
    services : mapping, optional
        The ``services`` config section: ``sdss_skyserver_url``, ``ned_url``, ``vizier_url``,
        ``simbad_url``, ``alerce_url``, ``timeout_s`` (s), ``retries``, ``retry_backoff_s`` (s).
        Missing keys take :data:`DEFAULT_SERVICES`; unknown keys are ignored.

    Returns
    -------
    pandas.DataFrame
        Columns ``ra``, ``dec`` (float64, degrees, ICRS), ``label`` (str), ``origin`` (str naming
        the source and the 1-based row). No rows if the source returned none. Coordinates are
        not range-checked here.

    Raises
    ------
    mwlc.errors.SampleError
        Unknown source (with a did-you-mean), unknown/missing/ill-typed keys, an unreadable file
        or a missing column (naming file, column and the available columns), requested rows
        beyond a service's answer, unknown ZTF ids.
    mwlc.errors.ArchiveError
        A service failed after the retries, or answered an error.
    mwlc.errors.ConfigError
        A ``services`` value is unusable.
    """
    kind, full, _ = _expand(spec)
    frame = kind.fetch(full, resolve_services(services))
    return frame.loc[:, list(COLUMNS)].reset_index(drop=True)
