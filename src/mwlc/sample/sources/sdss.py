"""Source ``sdss``: DR16 spectroscopic QSOs from the SDSS SkyServer SQL service.

Seeded order
------------
The original ordered by ``NEWID()`` (random, different on every call). Here ``randomize_z``
orders by a seeded hash of each spectrum's (plate, mjd, fiberID), which identify a spectrum like
``specObjID`` does but are small integers::

    k = (CAST(plate AS BIGINT) * 1024 + fiberID) * 100000 + mjd     -- < 2e12, unique per spectrum
    x = k % 2147483647                                               -- P = 2**31 - 1 (prime)
    h = ((x * A + B) % P) * x % P                                    -- A, B from the seed

``h`` is a quadratic hash modulo the prime P; every intermediate stays below 2**62, so the
expression is exact BIGINT arithmetic on SQL Server (SkyServer) and exact INTEGER arithmetic on
SQLite (the test double). ``specObjID`` itself is avoided: DR16 values reach ~1.3e19, above the
int64 range of BIGINT/SQLite. Ties (rare) are broken by ``plate, mjd, fiberID``. ``A`` (1..P-1)
and ``B`` (0..P-1) come from SHA-256 of the seed, so the same seed selects the same objects on
every machine and Python version. Without ``randomize_z`` the rows are ``ORDER BY z, plate,
mjd, fiberID``: the lowest redshifts, as the original's docstring promised but did not request
(it sent no ORDER BY: ``TOP num`` then took whichever rows the server read first), with ties in
``z`` broken so that ``TOP num`` always cuts at the same spectrum.

The lowest redshifts are not a representative sample: ``num: 5000`` with ``zmin: 0`` gives the
5,000 nearest QSOs of DR16, all at low z. For a sample spread over the redshift range, set
``randomize_z: true`` with a ``seed``.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import pandas as pd

from mwlc.errors import SampleError
from mwlc.net import call_with_retries, harden_session

from ._common import (
    Services,
    SourceKind,
    astroquery_no_cache,
    check_type,
    empty_frame,
    log_source,
    make_frame,
    text_values,
)

#: SkyServer returns at most this many rows per SQL query.
SKYSERVER_MAX_ROWS = 500_000
#: Data release queried (the original's).
DATA_RELEASE = 16
#: Modulus of the seeded hash (2**31 - 1, prime).
HASH_PRIME = 2_147_483_647


def _hash_coefficients(seed: int) -> tuple[int, int]:
    digest = hashlib.sha256(f"mwlc-sdss-seed-{seed}".encode()).digest()
    a = int.from_bytes(digest[:8], "big") % (HASH_PRIME - 1) + 1
    b = int.from_bytes(digest[8:16], "big") % HASH_PRIME
    return a, b


def seeded_order(seed: int) -> str:
    """The ``ORDER BY`` expression of a seeded random selection (see module docstring)."""
    a, b = _hash_coefficients(seed)
    p = HASH_PRIME
    x = f"(((CAST(plate AS BIGINT) * 1024 + fiberID) * 100000 + mjd) % {p})"
    return f"((({x} * {a} + {b}) % {p}) * {x}) % {p}, plate, mjd, fiberID"


def _sql_number(value: Any, key: str) -> str:
    check_type(value, (int, float), key=key, what="source 'sdss'", expected="a number")
    return str(value) if isinstance(value, int) else repr(float(value))


def sdss_query(num: int, zmin: float, zmax: float, randomize_z: bool, seed: int) -> str:
    """The SkyServer SQL of the ``sdss`` source.

    Parameters
    ----------
    num : int
        Rows to return (TOP).
    zmin, zmax : float
        Exclusive redshift bounds.
    randomize_z : bool
        Seeded random order instead of increasing redshift (ties broken by plate, mjd, fiberID).
    seed : int
        Seed of the random order.

    Returns
    -------
    str
        ``SELECT TOP num specObjID, ra, dec, z FROM SpecObj WHERE class = 'QSO' AND
        zWarning = 0 AND z > zmin AND z < zmax ORDER BY ...``.
    """
    order = seeded_order(seed) if randomize_z else "z, plate, mjd, fiberID"
    return (
        f"SELECT TOP {num} specObjID, ra, dec, z FROM SpecObj "
        f"WHERE class = 'QSO' AND zWarning = 0 "
        f"AND z > {_sql_number(zmin, 'zmin')} AND z < {_sql_number(zmax, 'zmax')} "
        f"ORDER BY {order}"
    )


def _check(spec: dict[str, Any]) -> None:
    what = "source 'sdss'"
    num = check_type(spec["num"], int, key="num", what=what, expected="an integer")
    if num < 0:
        raise SampleError(f"{what}: num={num} must be 0 or more")
    if num > SKYSERVER_MAX_ROWS:
        raise SampleError(
            f"{what}: num={num} exceeds the SkyServer limit of {SKYSERVER_MAX_ROWS} rows per query"
        )
    check_type(spec["randomize_z"], bool, key="randomize_z", what=what, expected="true/false")
    check_type(spec["seed"], int, key="seed", what=what, expected="an integer")
    check_type(spec["label"], str, key="label", what=what, expected="a string")
    zmin = check_type(spec["zmin"], (int, float), key="zmin", what=what, expected="a number")
    zmax = check_type(spec["zmax"], (int, float), key="zmax", what=what, expected="a number")
    if not zmin < zmax:
        raise SampleError(f"{what}: zmin={zmin} must be below zmax={zmax}")


def fetch_sdss(spec: dict[str, Any], services: Services) -> pd.DataFrame:
    """QSOs from SDSS DR16 ``SpecObj`` through ``astroquery.sdss.SDSS.query_sql``.

    Parameters
    ----------
    spec : dict
        ``num`` (rows; <= 0 returns an empty frame without a query), ``zmin``/``zmax``
        (exclusive redshift bounds), ``randomize_z`` (seeded order, see module docstring),
        ``seed``, ``label``.
    services : Services
        ``sdss_skyserver_url`` (set as ``astroquery.sdss.conf.skyserver_baseurl`` for the call).

    Returns
    -------
    pandas.DataFrame
        ``ra``, ``dec`` (deg), ``label``, ``origin`` = ``"sdss DR16 SpecObj row <n> specObjID
        <id>"``.
    """
    _check(spec)
    asked = (
        f"num={spec['num']} {spec['zmin']}<z<{spec['zmax']} "
        f"{'seed=' + str(spec['seed']) if spec['randomize_z'] else 'lowest z'}"
    )
    if spec["num"] <= 0:
        return log_source("sdss", asked, empty_frame())
    sql = sdss_query(spec["num"], spec["zmin"], spec["zmax"], spec["randomize_z"], spec["seed"])
    table = _query(sql, services)
    if table is None or len(table) == 0:
        return log_source("sdss", asked, empty_frame())
    ids = text_values(table["specObjID"]) if "specObjID" in table.colnames else [""] * len(table)
    origins = [
        f"sdss DR{DATA_RELEASE} SpecObj row {i} specObjID {sid}".rstrip()
        for i, sid in enumerate(ids, start=1)
    ]
    return log_source("sdss", asked, make_frame(table["ra"], table["dec"], spec["label"], origins))


def _query(sql: str, services: Services) -> Any:
    from astroquery.sdss import SDSSClass, conf

    base = services.url("sdss_skyserver_url")
    timeout = services.policy.timeout_s

    def run() -> Any:
        with conf.set_temp("skyserver_baseurl", base), astroquery_no_cache(), warnings.catch_warnings():
            # DR16 specObjIDs exceed int64: astropy reads them as text, astroquery then casts
            # them to uint64 (exact). The notice about it is noise.
            warnings.filterwarnings("ignore", message="OverflowError converting to IntType")
            client = SDSSClass()
            harden_session(client._session, timeout)
            return client.query_sql(sql, data_release=DATA_RELEASE, timeout=timeout, cache=False)

    url = f"{base}/dr{DATA_RELEASE}/en/tools/search/x_results.aspx"
    return call_with_retries(run, service="SDSS SkyServer", url=url, policy=services.policy)


KIND = SourceKind(
    name="sdss",
    fetch=fetch_sdss,
    check=_check,
    optional={"num": 10, "zmin": 0, "zmax": 10, "randomize_z": False, "seed": 0, "label": "SDSS"},
)
