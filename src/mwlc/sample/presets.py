"""Named sample sources of the original Fornax notebook (changing-look AGN from the literature).

Each preset is a complete source spec of a basic kind, with the original's query and label,
selecting its objects by name where they are known (``objects``), else by 0-based ``rows`` of
the service's answer sorted by (RA, Dec, name), never by the position a service happened to
send a row at. A config entry ``{"source": "sheng"}`` expands to ``PRESETS["sheng"]``; other
keys of the entry override the preset's (e.g. ``label``; an entry's ``rows`` or ``objects``
replaces the preset's selection).

Differences from the original ``sample_selection.py``
-----------------------------------------------------
* ``lamassa`` keeps the object named ``SDSS J015957.64+003310.5`` (the changing-look quasar of
  LaMassa et al. 2015); the original kept row 0 of NED's answer.
* ``sheng`` keeps rows 0, 1, 3 of NED's answer as the original, but of the answer sorted by RA
  here: astroquery asks NED for RA order, so these are the original's rows when NED sorts as
  asked, and stay the same rows if it does not.
* ``lopeznavas`` keeps rows 0-3 of SIMBAD's answer sorted by RA; the original kept the first
  four rows of an answer without ORDER BY (any four, in principle). It reads SIMBAD's
  ``ra``/``dec`` (degrees; astroquery >= 0.4.8 TAP columns); the original's ``RA``/``DEC`` are
  the pre-0.4.8 names.
* ``macleod19`` asks VizieR for table ``J/ApJ/874/8/table2`` with the filters ``CLQ?>0`` and
  ``Nsigma>3``, and applies them again to the answer (see :mod:`mwlc.sample.sources.vizier`);
  the original fetched every table of the paper, took the first, and filtered ``CLQ_`` (the
  name older astroquery gave ``CLQ?``) locally.
* ``macleod16`` and ``graham`` (HTML tables scraped from journal pages) are not provided.

The object names of ``sheng`` and ``lopeznavas`` were not pinned: they need NED's and SIMBAD's
answers, and nothing here checked them against the live services.
"""

from __future__ import annotations

from typing import Any


def _ned(
    refcode: str, label: str, *, rows: list[int] | None = None, objects: list[str] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": "ned_refcode", "refcode": refcode, "label": label}
    if rows is not None:
        spec["rows"] = rows
    if objects is not None:
        spec["objects"] = objects
    return spec


#: Keys that select rows of an answer; an entry giving one replaces the preset's.
SELECTION_KEYS = ("rows", "objects")


#: Preset name -> source spec.
PRESETS: dict[str, dict[str, Any]] = {
    "yang": _ned("2018ApJ...862..109Y", "Yang 18"),
    "lamassa": _ned("2015ApJ...800..144L", "LaMassa 15", objects=["SDSS J015957.64+003310.5"]),
    "ruan": _ned("2016ApJ...826..188R", "Ruan 16"),
    "macleod19": {
        "source": "vizier",
        "catalog": "J/ApJ/874/8/table2",
        "table": 0,
        "filters": {"CLQ?": ">0", "Nsigma": ">3"},
        "label": "MacLeod 19",
    },
    "sheng": _ned("2020ApJ...889...46S", "Sheng 20", rows=[0, 1, 3]),
    "green": {
        "source": "vizier",
        "catalog": "J/ApJ/933/180",
        "table": 0,
        "contains": {"Notes": "CLQ"},
        "name_column": "SDSS",
        "label": "Green 22",
    },
    "lyu": _ned("2022ApJ...927..227L", "Lyu 22"),
    "lopeznavas": {
        "source": "simbad_bibcode",
        "bibcode": "2022MNRAS.513L..57L",
        "rows": [0, 1, 2, 3],
        "label": "Lopez-Navas 22",
    },
    "hon": _ned("2022MNRAS.511...54H", "Hon 22"),
    "sanchezsaez": _ned("2021AJ....162..206S", "Sanchez-Saez 21"),
}

#: The original's default sample.
DEFAULT_PRESET = "yang"
