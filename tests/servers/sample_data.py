"""Deterministic fixture data for the sample-source services (small; built at test time).

Positions are those of real changing-look AGN (from their SDSS names); everything else
(redshifts of SpecObj rows, flags, ZTF records) is synthetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.table import MaskedColumn, Table

#: Real changing-look AGN: (name, ra deg, dec deg, z).
CLAGN = [
    ("SDSS J015957.64+003310.5", 29.990167, 0.552917, 0.312),
    ("SDSS J101152.98+544206.4", 152.970750, 54.701778, 0.246),
    ("SDSS J155440.25+362952.0", 238.667708, 36.497778, 0.237),
    ("SDSS J002311.06+003517.5", 5.796083, 0.588194, 0.422),
    ("SDSS J022652.24-003916.5", 36.717667, -0.654583, 0.625),
    ("SDSS J132457.29+480241.2", 201.238708, 48.044778, 0.272),
    ("SDSS J141324.27+530527.0", 213.351125, 53.090833, 0.456),
    ("SDSS J233602.98+001728.7", 354.012417, 0.291306, 0.243),
    ("SDSS J012032.19-005502.0", 20.134125, -0.917222, 0.601),
    ("Mrk 590", 33.639833, -0.766694, 0.026),
    ("NGC 2617", 128.911333, -4.088200, 0.014),
    ("Mrk 1018", 31.566583, -0.291444, 0.043),
    ("1ES 1927+654", 291.831250, 65.565333, 0.017),
]


def sdss_name(ra: float, dec: float) -> str:
    """SDSS-style ``JHHMMSS.ss+DDMMSS.s`` of a position (truncated, as SDSS does)."""
    hours = ra / 15.0
    h = int(hours)
    m = int((hours - h) * 60)
    s = math.floor(((hours - h) * 60 - m) * 60 * 100) / 100
    sign = "-" if dec < 0 else "+"
    a = abs(dec)
    d = int(a)
    am = int((a - d) * 60)
    asec = math.floor(((a - d) * 60 - am) * 60 * 10) / 10
    return f"J{h:02d}{m:02d}{s:05.2f}{sign}{d:02d}{am:02d}{asec:04.1f}"


def _objects(indices: list[int]) -> Table:
    rows = [CLAGN[i] for i in indices]
    return Table(rows=[(n, r, d, z, "QSO") for n, r, d, z in rows], names=("name", "ra", "dec", "z", "type"))


#: Refcode -> indices into CLAGN of the objects NED lists for it.
NED_PAPERS = {
    "2018ApJ...862..109Y": [3, 4, 5, 6],  # yang
    "2015ApJ...800..144L": [0, 9, 11],  # lamassa (only row 0 is the CLQ)
    "2016ApJ...826..188R": [0, 1, 7],  # ruan (shares J0159 with lamassa)
    "2020ApJ...889...46S": [8, 2, 10, 12],  # sheng (rows 0, 1, 3 kept)
    "2022ApJ...927..227L": [9, 11],  # lyu
    "2022MNRAS.511...54H": [1, 6],  # hon
    "2021AJ....162..206S": [2, 5, 7],  # sanchezsaez
    "2019A&A...627A..33D": [10, 12],  # a 'paper' answered with NED's legacy header
}
NED_LEGACY = {"2019A&A...627A..33D"}

#: ZTF object id -> mean position (deg) for the fake ALeRCE (default ids first).
ZTF_OBJECTS = {
    "ZTF18aabtxvd": (CLAGN[0][1] + 1e-5, CLAGN[0][2] - 1e-5),
    "ZTF18aahqkbt": (CLAGN[5][1] - 2e-5, CLAGN[5][2] + 1e-5),
    **{f"ZTF19aa{n:05d}": (10.0 + n * 0.01, -5.0 + n * 0.005) for n in range(130)},
}


def macleod19_tables() -> dict[str, Table]:
    """J/ApJ/874/8: table2 with ``CLQ?`` and ``Nsigma`` (and table1 without them)."""
    idx = [0, 1, 2, 3, 4, 5]
    clq = [1, 1, 0, 1, 1, 1]
    nsigma = MaskedColumn([5.0, 2.0, 10.0, 3.0, 4.2, 0.0], mask=[0, 0, 0, 0, 0, 1])
    table2 = Table(
        {
            "_RA": [CLAGN[i][1] for i in idx],
            "_DE": [CLAGN[i][2] for i in idx],
            "SDSS": [sdss_name(CLAGN[i][1], CLAGN[i][2])[1:] for i in idx],
            "z": [CLAGN[i][3] for i in idx],
            "CLQ?": clq,
            "Nsigma": nsigma,
        }
    )
    table1 = Table({"_RA": [1.0, 2.0], "_DE": [3.0, 4.0], "Run": ["2017A", "2017B"]})
    return {"J/ApJ/874/8/table1": table1, "J/ApJ/874/8/table2": table2}


#: Notes of green's table1 rows (CLAGN 7..12): which contain "CLQ".
GREEN_NOTES = ["CLQ", "", "CLQ; turn-on", "QSO", None, "candidate CLQ"]


def green_tables() -> dict[str, Table]:
    """J/ApJ/933/180: table1 with ``SDSS`` names and ``Notes``; table2 unrelated."""
    idx = [7, 8, 2, 3, 4, 6]
    table1 = Table(
        {
            "_RA": [CLAGN[i][1] + 0.5 for i in idx],  # deliberately off: green reads the names
            "_DE": [CLAGN[i][2] for i in idx],
            "SDSS": [sdss_name(CLAGN[i][1], CLAGN[i][2]) for i in idx],
            "Notes": MaskedColumn([n or "" for n in GREEN_NOTES], mask=[n is None for n in GREEN_NOTES]),
        }
    )
    table2 = Table({"SDSS": ["J000000.00+000000.0"], "State": ["B"], "MJD": [58000]})
    return {"J/ApJ/933/180/table1": table1, "J/ApJ/933/180/table2": table2}


#: Bibcode -> indices into CLAGN of the objects SIMBAD links to it.
SIMBAD_PAPERS = {
    "2022MNRAS.513L..57L": [9, 1, 4, 12, 7, 3],  # lopeznavas: rows 0-3 kept
    "2020MNRAS.491.4925G": [5, 6],
}


def simbad_tables() -> dict[str, Table]:
    """SIMBAD's ``basic``, ``has_ref`` and ``ref`` for :data:`SIMBAD_PAPERS`."""
    used = sorted({i for idx in SIMBAD_PAPERS.values() for i in idx})
    basic = Table(
        {
            "oid": [1000 + i for i in used],
            "main_id": [CLAGN[i][0] for i in used],
            "ra": [CLAGN[i][1] for i in used],
            "dec": [CLAGN[i][2] for i in used],
            "coo_err_maj": [0.1] * len(used),
            "coo_err_min": [0.1] * len(used),
            "coo_err_angle": [90] * len(used),
            "coo_wavelength": ["O"] * len(used),
            "coo_bibcode": ["2020yCat.1350....0G"] * len(used),
            "otype": ["QSO"] * len(used),
        }
    )
    bibcodes = list(SIMBAD_PAPERS)
    ref = Table({"oidbib": [500 + k for k in range(len(bibcodes))], "bibcode": bibcodes})
    links = [(1000 + i, 500 + k, 1) for k, b in enumerate(bibcodes) for i in SIMBAD_PAPERS[b]]
    has_ref = Table(rows=links, names=("oidref", "oidbibref", "obj_freq"))
    return {"basic": basic, "has_ref": has_ref, "ref": ref}


def specobj_table(n: int = 400, seed: int = 16) -> Table:
    """A synthetic SDSS ``SpecObj``: plate, mjd, fiberID, specObjID (DR16 bit layout), class,
    zWarning, z, ra, dec. Plates above 8191 give specObjIDs above int64 (as in DR16)."""
    rng = np.random.default_rng(seed)
    plate = rng.integers(266, 12500, n)
    mjd = rng.integers(51600, 58900, n)
    fiber = rng.integers(1, 1001, n)
    keys = np.unique(np.stack([plate, mjd, fiber], axis=1), axis=0)
    plate, mjd, fiber = (keys[:, k].astype(np.uint64) for k in range(3))
    n = len(plate)
    run2d = np.uint64(26)  # v5_13_0-like code
    spec_id = (
        (plate << np.uint64(50))
        | (fiber << np.uint64(38))
        | ((mjd - np.uint64(50000)) << np.uint64(24))
        | (run2d << np.uint64(10))
    )
    return Table(
        {
            "specObjID": spec_id,
            "plate": plate.astype(np.int64),
            "mjd": mjd.astype(np.int64),
            "fiberID": fiber.astype(np.int64),
            "class": rng.choice(["QSO", "QSO", "GALAXY", "STAR"], n),
            "zWarning": rng.choice([0, 0, 0, 4], n),
            "z": np.round(rng.uniform(0.0, 6.0, n), 6),
            "ra": np.round(rng.uniform(0.0, 360.0, n), 6),
            "dec": np.round(rng.uniform(-20.0, 70.0, n), 6),
        }
    )


@dataclass(frozen=True)
class SampleSourceData:
    """Everything the sample-source fakes serve, for tests to compute expectations."""

    specobj: Table
    ned_papers: dict[str, Table]
    vizier_tables: dict[str, Table]
    simbad_tables: dict[str, Table]
    ztf_objects: dict[str, tuple[float, float]]


def build_sample_source_data() -> SampleSourceData:
    """Build all fixture data (deterministic)."""
    return SampleSourceData(
        specobj=specobj_table(),
        ned_papers={ref: _objects(idx) for ref, idx in NED_PAPERS.items()},
        vizier_tables={**macleod19_tables(), **green_tables()},
        simbad_tables=simbad_tables(),
        ztf_objects=dict(ZTF_OBJECTS),
    )
