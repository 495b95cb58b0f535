"""The original's names, units and formats, and how each becomes mwlc's: one table.

The Fornax ``scale_up`` helper that mwlc replaces named archives, parameters and bands
differently and gave radii in degrees. mwlc accepts those old spellings where they map
one-to-one onto its own, converts them with a one-line note, and never silently reinterprets a
value. Everything that knows an old name lives here:

* :data:`OLD_ARCHIVE_NAMES`: archives of the original that are now part of another
  (``IceCube`` is HEASARC's ``icecubepsc`` table); :data:`ARCHIVE_LISTS`: its ``-a`` shortcuts;
* :data:`OLD_PARAMS`: old parameter names per archive, with their converters (degrees ->
  arcsec, the original's ``catalog_constraints`` -> HEASARC ``catalogs``, ...);
* :data:`OLD_BANDS`: old band names per archive;
* :data:`NO_EQUIVALENT`, :data:`UNSUPPORTED_SAMPLES`, :data:`DEFAULT_SAMPLES`: the original's
  top-level keys and samples that mwlc has no use for, and its default sample.

:mod:`mwlc.config` applies these to a workflow config, :mod:`mwlc.migrate` to a whole run of
the original; archive modules only use :data:`OLD_BANDS` to hint at a renamed band. This
module imports no archive module.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from mwlc.errors import ConfigError

ARCSEC_PER_DEG = 3600.0

# --- archives --------------------------------------------------------------------------------

#: The original's separate ``IceCube`` archive (lower case), now HEASARC's ``icecubepsc`` table.
OLD_ICECUBE_ARCHIVE = "icecube"
#: Old archive name (lower case) -> the mwlc archive that holds its data now.
OLD_ARCHIVE_NAMES: dict[str, str] = {OLD_ICECUBE_ARCHIVE: "heasarc"}
#: The original helper's archive lists (``-a all``, ``-a scaled``; ``core`` is the 2024 name), as
#: they were until 2026-07-30, when IceCube (HEASARC's neutrino table ever since) left them: the
#: runs being migrated are of that era, and their kwargs still name IceCube.
ARCHIVE_LISTS: dict[str, list[str]] = {
    "all": ["Gaia", "HCV", "HEASARC", "IceCube", "PanSTARRS", "TESS_Kepler", "WISE", "ZTF"],
    "scaled": ["Gaia", "HEASARC", "IceCube", "PanSTARRS", "WISE", "ZTF"],
    "core": ["Gaia", "HEASARC", "IceCube", "WISE", "ZTF"],
}
#: The HEASARC tables the original queried (the keys of its ``catalog_constraints``), in order.
HEASARC_TABLES = ("FERMIGTRIG", "SAXGRBMGRB", "icecubepsc")
#: The one of them holding IceCube neutrinos.
NEUTRINO_TABLE = "icecubepsc"

# --- samples and top-level keys --------------------------------------------------------------

#: The original helper's default sample.
DEFAULT_SAMPLES = ["Yang"]
#: The original's consolidation radius (``join_skycoord(0.005 deg)``) in arcsec.
CONSOLIDATE_RADIUS_ARCSEC = 18.0
#: Sample sources of the original that mwlc does not provide (journal-page scraping).
UNSUPPORTED_SAMPLES = {"macleod16", "graham"}
#: Original top-level keys without an mwlc equivalent -> what to do instead.
NO_EQUIVALENT: dict[str, str] = {
    "overwrite_existing_sample": "Snakemake reruns only what is missing or changed; a new sample "
    "(`snakemake --forcerun sample`, once) fetches every shard of every archive again: never add "
    "it to a restart",
    "overwrite_existing_lightcurves": "finished shards are never fetched again; force them with "
    "`snakemake --forcerun fetch_lightcurves`",
    "use_yaml": "give the config file with `--configfile`",
    "yaml_filename": "give the config file with `--configfile`",
    "sample_filename": "the sample is always results/<run_id>/sample.ecsv",
    "parquet_dataset_name": "the dataset is always results/<run_id>/lightcurves.parquet",
    "build": "Snakemake builds the whole DAG; `--until sample` builds only the sample",
    "archive": "every enabled archive runs; choose them with the archive list (-a)",
}

# --- bands -----------------------------------------------------------------------------------

#: archive -> old band name -> band name
OLD_BANDS: dict[str, dict[str, str]] = {
    "ztf": {"zg": "ztf_g", "zr": "ztf_r", "zi": "ztf_i"},
    "wise": {"W1": "WISE_W1", "W2": "WISE_W2"},
    "gaia": {"G": "Gaia_G", "BP": "Gaia_BP", "RP": "Gaia_RP"},
    "panstarrs": {f"panstarrs {f}": f"Pan-STARRS {f}" for f in "grizy"},
}


def renamed_bands(archive: str, bands: list[str]) -> dict[str, str]:
    """Those of ``bands`` that are old band names of ``archive``, each with its current name."""
    renames = OLD_BANDS.get(archive, {})
    return {band: renames[band] for band in bands if band in renames}


# --- converters ------------------------------------------------------------------------------


def _positive(value: Any, key: str, *, integer: bool = False) -> float:
    """``value`` if it is a finite number > 0 (an integer >= 1 with ``integer``), else ConfigError."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value <= 0:
        expected = "an integer >= 1" if integer else "a number > 0"
        raise ConfigError(f"HEASARC: {key} must be {expected}, got {value!r}")
    return value


def degrees_to_arcsec(value: float) -> float:
    """An old radius in degrees, in arcsec."""
    return float(value) * ARCSEC_PER_DEG


#: Below this a Pan-STARRS ``radius`` from an old config is taken for degrees (MAST-era unit).
SMALLEST_PANSTARRS_RADIUS_ARCSEC = 0.05


def panstarrs_radius_to_arcsec(radius: float) -> float:
    """Convert the old config key ``radius`` (arcsec since the HATS-era helper) to ``radius_arcsec``.

    The MAST-era helper (until 2024-10) took ``radius`` in degrees (``1/3600``); the same key now
    means arcsec. A value below 0.05 arcsec is no useful PS1 match radius, so it is refused as a
    probable degree value rather than silently matching nothing.

    Raises
    ------
    ConfigError
        If ``radius`` < 0.05: names the value and what it would be in arcsec.
    """
    radius = float(radius)
    if radius < SMALLEST_PANSTARRS_RADIUS_ARCSEC:
        raise ConfigError(
            f"archives.panstarrs.radius={radius:g} looks like degrees (the MAST-era unit; "
            f"{radius * 3600:g} arcsec); radius is arcsec now: set radius_arcsec instead"
        )
    return radius


def catalogs_from_original(catalog_constraints: Mapping[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Convert the original's ``catalog_constraints`` / ``catalog_error_radii`` (degrees).

    Parameters
    ----------
    catalog_constraints : mapping
        ``{"FERMIGTRIG": deg, "SAXGRBMGRB": deg, "icecubepsc": {"select_topN": int,
        "max_search_radius": deg}}``, any subset, as in Fornax ``heasarc_get_lightcurves``.

    Returns
    -------
    dict
        HEASARC's ``catalogs`` parameter: every table of :data:`HEASARC_TABLES`, with radii in
        arcsec; tables the original dict did not name are None (skipped, as in the original).

    Raises
    ------
    mwlc.errors.ConfigError
        For a table or key the original did not accept, or a value that is not a number.
    """
    known = {name.lower(): name for name in HEASARC_TABLES}
    out: dict[str, dict[str, Any] | None] = dict.fromkeys(HEASARC_TABLES)
    for name, value in catalog_constraints.items():
        table = known.get(str(name).lower())
        if table is None:
            raise ConfigError(
                f"HEASARC: unknown catalog {name!r} in catalog_constraints; known: {list(HEASARC_TABLES)}"
            )
        if table == NEUTRINO_TABLE:
            if not isinstance(value, Mapping) or set(value) != {"select_topN", "max_search_radius"}:
                raise ConfigError(
                    "HEASARC: catalog_constraints.icecubepsc must be "
                    f"{{select_topN: int, max_search_radius: deg}}, got {value!r}"
                )
            out[table] = icecube_from_original(value["select_topN"], value["max_search_radius"])
        else:
            degrees = _positive(value, f"catalog_constraints.{table} (deg)")
            out[table] = {"max_error_radius_arcsec": degrees_to_arcsec(degrees)}
    return out


def icecube_from_original(icecube_select_topN: int = 3, max_search_radius: float = 2.0) -> dict[str, Any]:
    """Settings of ``icecubepsc`` from the old ``IceCube`` archive's parameters.

    Parameters
    ----------
    icecube_select_topN : int, default 3
        Events kept per object.
    max_search_radius : float, default 2.0
        Search radius in **degrees**.

    Returns
    -------
    dict
        ``{"max_radius_arcsec": max_search_radius * 3600, "top_n": icecube_select_topN}``.
    """
    return {
        "max_radius_arcsec": degrees_to_arcsec(_positive(max_search_radius, "max_search_radius (deg)")),
        "top_n": int(_positive(icecube_select_topN, "select_topN", integer=True)),
    }


def old_icecube_archive(params: Mapping[str, Any]) -> tuple[dict, str]:
    """The old separate ``IceCube`` archive's parameters as HEASARC ``catalogs.icecubepsc``.

    Returns
    -------
    (dict, str)
        HEASARC parameters ``{"catalogs": {"icecubepsc": ...}}`` and a one-line note.

    Raises
    ------
    mwlc.errors.ConfigError
        For a key the old archive did not have.
    """
    unknown = set(params) - {"icecube_select_topN", "max_search_radius", "enabled"}
    if unknown:
        raise ConfigError(
            f"config key 'archives.IceCube.{sorted(unknown)[0]}': unknown key for the old IceCube "
            "archive; allowed keys: icecube_select_topN, max_search_radius"
        )
    settings = icecube_from_original(
        params.get("icecube_select_topN", 3), params.get("max_search_radius", 2.0)
    )
    converted = {"catalogs": {NEUTRINO_TABLE: settings}}
    return converted, (
        f"archive IceCube is now HEASARC's icecubepsc table: use archives.heasarc.catalogs."
        f"icecubepsc = {settings} (radius converted from degrees to arcsec)"
    )


def papers_from_original(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The original's ``papers_list`` kwargs (``paper_kwargs`` with ``paper_link``) as the
    ``papers`` source's (``papers`` with ``refcode``)."""
    kwargs = dict(kwargs)
    papers = []
    for paper in kwargs.pop("paper_kwargs", []) or []:
        paper = dict(paper)
        if "paper_link" in paper:
            paper["refcode"] = paper.pop("paper_link")
        papers.append(paper)
    return {**kwargs, "papers": papers}


# --- parameters ------------------------------------------------------------------------------


class Rename(NamedTuple):
    """How one old parameter maps onto mwlc's."""

    #: The current key, or None when the old one is obsolete and dropped.
    new: str | None
    #: Converts the old value (None: taken as it is).
    convert: Callable[[Any], Any] | None
    #: Why, in a few words (shown in the deprecation note).
    why: str


#: archive -> old key -> how it maps onto the current one
OLD_PARAMS: dict[str, dict[str, Rename]] = {
    "ztf": {
        "match_radius": Rename("radius_arcsec", degrees_to_arcsec, "degrees converted to arcsec"),
        "radius": Rename("radius_arcsec", None, "already in arcsec"),
        "nworkers": Rename(None, None, "parallelism now comes from the job's threads"),
    },
    "gaia": {
        "search_radius": Rename("radius_arcsec", degrees_to_arcsec, "degrees converted to arcsec"),
        "verbose": Rename(None, None, "logging goes to the job's log"),
    },
    "panstarrs": {
        "radius": Rename(
            "radius_arcsec",
            panstarrs_radius_to_arcsec,
            "arcsec since the HATS-era helper; degrees are refused",
        ),
    },
    "wise": {
        "radius": Rename("radius_arcsec", None, "already in arcsec"),
        "bandlist": Rename("bands", None, "same band list"),
    },
    "tess_kepler": {
        "radius": Rename("radius_arcsec", None, "already in arcsec"),
    },
    "hcv": {
        "radius": Rename("radius_arcsec", degrees_to_arcsec, "degrees converted to arcsec"),
    },
    "heasarc": {
        "catalog_constraints": Rename(
            "catalogs", catalogs_from_original, "radii in degrees converted to arcsec"
        ),
        "catalog_error_radii": Rename(
            "catalogs", catalogs_from_original, "radii in degrees converted to arcsec"
        ),
    },
}


def convert_params(archive: str, params: dict, defaults: Mapping[str, Any] | None = None) -> list[str]:
    """Give one archive's old parameter and band names their current names and units, in place.

    Parameters
    ----------
    archive : str
        Canonical archive name.
    params : dict
        The archive's parameters; modified in place.
    defaults : mapping, optional
        The shipped defaults of the archive: a new key still at its default does not conflict
        with the old key the user gave.

    Returns
    -------
    list of str
        One deprecation note per converted or dropped key, and one for renamed bands.

    Raises
    ------
    mwlc.errors.ConfigError
        If an old key is given together with its new key (set away from the default), or its
        value cannot be converted; the message names the key.
    """
    defaults = defaults or {}
    notes = []
    for old, (new, convert, why) in OLD_PARAMS.get(archive, {}).items():
        if old not in params:
            continue
        value = params.pop(old)
        if new is None:
            notes.append(f"archives.{archive}.{old} is obsolete and ignored ({why})")
            continue
        if new in params and params[new] != defaults.get(new, object()):
            raise ConfigError(
                f"config key 'archives.{archive}.{old}': old name given together with '{new}'; "
                f"keep only '{new}'"
            )
        try:
            params[new] = convert(value) if convert else value
        except ConfigError as err:
            raise ConfigError(f"config key 'archives.{archive}.{old}': {err}") from None
        notes.append(f"archives.{archive}.{old} is deprecated: use {new} = {params[new]!r} ({why})")
    renames = OLD_BANDS.get(archive, {})
    if isinstance(params.get("bands"), list) and any(b in renames for b in params["bands"]):
        old_bands = [b for b in params["bands"] if b in renames]
        params["bands"] = [renames.get(b, b) for b in params["bands"]]
        notes.append(f"archives.{archive}.bands {old_bands} are old band names: use {params['bands']}")
    return notes


def convert_archive(name: str, archive: str, params: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """One archive's parameters as written under ``name``, converted for canonical ``archive``.

    ``name`` may be the old ``IceCube`` (its parameters become HEASARC's ``catalogs``); ``params``
    is not modified. Returns the converted parameters and one note per change.
    """
    if name.strip().lower() == OLD_ICECUBE_ARCHIVE:
        converted, note = old_icecube_archive(params)
        return converted, [note]
    converted = copy.deepcopy(dict(params))
    return converted, convert_params(archive, converted)
