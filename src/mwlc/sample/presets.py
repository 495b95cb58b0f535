"""Named sample sources of the original Fornax notebook (changing-look AGN from the literature).

Each preset is a complete source spec of a basic kind, with the original's query, label and row
selection (``rows`` are 0-based indices of the service's answer, as in the original). A config
entry ``{"source": "sheng"}`` expands to ``PRESETS["sheng"]``; other keys of the entry override
the preset's (e.g. ``label``).

Differences from the original ``sample_selection.py``
-----------------------------------------------------
* ``macleod19`` asks VizieR for table ``J/ApJ/874/8/table2`` with the filters ``CLQ?>0`` and
  ``Nsigma>3`` applied server-side; the original fetched every table of the paper, took the
  first, and filtered ``CLQ_`` (the name older astroquery gave ``CLQ?``) locally.
* ``lopeznavas`` reads SIMBAD's ``ra``/``dec`` (degrees; astroquery >= 0.4.8 TAP columns); the
  original's ``RA``/``DEC`` are the pre-0.4.8 names.
* ``macleod16`` and ``graham`` (HTML tables scraped from journal pages) are not provided.
"""

from __future__ import annotations

from typing import Any


def _ned(refcode: str, label: str, rows: list[int] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": "ned_refcode", "refcode": refcode, "label": label}
    if rows is not None:
        spec["rows"] = rows
    return spec


#: Preset name -> source spec.
PRESETS: dict[str, dict[str, Any]] = {
    "yang": _ned("2018ApJ...862..109Y", "Yang 18"),
    "lamassa": _ned("2015ApJ...800..144L", "LaMassa 15", rows=[0]),
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
