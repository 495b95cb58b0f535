"""Hubble Catalog of Variables (HCV) light curves through the MAST HSC catalogs API.

For each sample object, as the Fornax original (``HCV_get_lightcurves``) but concurrently and
cached:

1. ``GET {source}/v3/hcvsummary.csv?ra=&dec=&radius=`` (radius in degrees): HCV objects near the
   position, one row per ``MatchID`` and filter. An empty body means no match.
2. The nearest ``MatchID`` (by its ``RA``/``Dec``) that has a summary row in a requested filter is
   kept (the original took the first row, whatever its distance or filters).
3. ``GET {source}/v3/hcv.csv?MatchID=&Filter=ACS_<filter>`` for each requested filter the summary
   lists: the epochs, columns ``MJD``, ``CorrMag``, ``MagErr``.

Magnitudes become flux densities in mJy (:func:`acs_mag_to_mjy`). HCV/HSC magnitudes are on the
ABMAG system (the HSC is built from Hubble Legacy Archive source lists, which use ABMAG zero
points), so the default ``mag_system="AB"`` uses the AB definition directly:

    f_nu [mJy] = 10**(-0.4 * (m_AB - 23.9)) / 1000      (3630.78 Jy at m_AB = 0, astropy's u.ABmag)

``mag_system="Vega"`` treats the magnitudes as ACS VEGAmag (what the original assumed) and uses
the ACS/WFC zero points (:data:`ACS_WFC_ZEROPOINTS`). A count rate ``c`` (e-/s) has
``m_Vega = ZP_Vega - 2.5 log10(c)`` and ``F_lambda = c * PHOTFLAM``; the flux density per unit
frequency is ``f_nu = F_lambda * PHOTPLAM**2 / c_light``, which is exactly
``m_AB = m_Vega + (ZP_AB - ZP_Vega)`` with ``ZP_AB = -2.5 log10(PHOTFLAM) - 5 log10(PHOTPLAM)
- 2.408`` (STScI's definition). So

    f_nu [mJy] = 10**(-0.4 * (m_Vega + ZP_AB - ZP_Vega - 23.9)) / 1000.

The original's ``F_lambda * 3e8 / 1e-10 * 1e-23`` misses the ``lambda**2`` factor (about 1e-8 m**2
for F814W) and is not a flux density; it also called the ACS zero-point web service once per
object. Errors are symmetric: ``(F(m - dm) - F(m + dm)) / 2``.

Bands are ``HST_<filter>`` (``HST_F814W`` by default, the original's band name); time is the HCV
``MJD``. Each request has a timeout and is retried with exponential backoff on connection
errors, timeouts and HTTP 429/5xx; every answer is cached on disk under ``cache_dir``.

Columns are read by name, whatever their case (``RA``, ``ra`` and ``Ra`` are the same column),
never by position. Before the first object, the columns this module reads
(:data:`NEEDED_COLUMNS`) are checked once against the service's own column lists,
``GET {source}/v3/{hcvsummary|hcv}/metadata`` (JSON ``[{"name", "type", "description"}, ...]``),
so a renamed column stops the job at once, naming the column and the URL; every answer is
checked again as it is read.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa
import requests

from mwlc.archives._per_object import (
    ObjectJob,
    ObjectJobOptions,
    ResponseCache,
    Tally,
    check_sample,
    object_batches,
    object_job,
)
from mwlc.archives._preflight import Finding
from mwlc.archives.descriptors.hcv import ARCHIVE
from mwlc.errors import ArchiveError, ConfigError
from mwlc.net import RetryPolicy, call_with_retries, new_session
from mwlc.photometry import ab_mag_err_to_mjy, ab_mag_to_mjy

log = logging.getLogger(__name__)

T = TypeVar("T")

NAME = ARCHIVE.name
#: The MAST HSC catalogs API (the HCV tables live in its ``v3`` release).
DEFAULT_SOURCE = ARCHIVE.default_source
DEFAULT_CACHE_DIR = ARCHIVE.param("cache_dir").default
DEFAULT_FILTERS = tuple(ARCHIVE.param("filters").default)

#: ACS/WFC post-SM4 zero points (STScI ACS zero-point tables; infinite aperture), in mag:
#: filter -> (ZP_AB, ZP_Vega). Only their difference matters here (a property of the bandpass,
#: nearly constant in time), used when ``mag_system="Vega"``.
ACS_WFC_ZEROPOINTS: dict[str, tuple[float, float]] = {
    "F435W": (25.65777, 25.76695),
    "F475W": (26.05923, 26.16252),
    "F555W": (25.71840, 25.72747),
    "F606W": (26.49113, 26.40598),
    "F625W": (25.90667, 25.74339),
    "F775W": (25.66504, 25.27728),
    "F814W": (25.94333, 25.51994),
    "F850LP": (24.84245, 24.32305),
}
#: Band name of each supported ACS/WFC filter.
FILTER_BANDS = {name: f"HST_{name}" for name in ACS_WFC_ZEROPOINTS}
BANDS = list(FILTER_BANDS.values())
MAG_SYSTEMS = ("AB", "Vega")

_SUMMARY_COLUMNS = ("MatchID", "Filter", "RA", "Dec")
_DETAIL_COLUMNS = ("MJD", "CorrMag", "MagErr")
#: Table -> the columns read from its answers (matched in any case).
NEEDED_COLUMNS: dict[str, tuple[str, ...]] = {"hcvsummary": _SUMMARY_COLUMNS, "hcv": _DETAIL_COLUMNS}


# -- photometry -------------------------------------------------------------------------------
def acs_mag_to_mjy(
    mag: np.ndarray, magerr: np.ndarray, filter_name: str, mag_system: str = "AB"
) -> tuple[np.ndarray, np.ndarray]:
    """Flux density and its error, in mJy, of ACS/WFC magnitudes.

    Parameters
    ----------
    mag, magerr : array-like
        Magnitudes and their 1-sigma errors (mag).
    filter_name : str
        ACS/WFC filter, e.g. ``"F814W"`` (a key of :data:`ACS_WFC_ZEROPOINTS`).
    mag_system : {"AB", "Vega"}
        System of ``mag``. ``"Vega"`` is shifted to AB by ``ZP_AB - ZP_Vega`` of the filter.

    Returns
    -------
    flux, err : numpy.ndarray
        ``10**(-0.4 * (m_AB - 23.9)) / 1000`` mJy and ``(F(m - dm) - F(m + dm)) / 2``.
    """
    mag = np.asarray(mag, dtype=np.float64)
    if mag_system == "Vega":
        zp_ab, zp_vega = ACS_WFC_ZEROPOINTS[filter_name]
        mag = mag + (zp_ab - zp_vega)
    elif mag_system != "AB":
        raise ConfigError(f"HCV: mag_system must be one of {list(MAG_SYSTEMS)}, got {mag_system!r}")
    return ab_mag_to_mjy(mag), ab_mag_err_to_mjy(mag, magerr)


# -- answers ---------------------------------------------------------------------------------
def match_columns(available: Iterable[str], needed: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Find ``needed`` column names among ``available`` ones, whatever their case.

    Returns
    -------
    found : dict
        Needed name -> the available name it matched (an exact match is preferred).
    missing : list of str
        Needed names with no match, in the order of ``needed``.
    """
    names = [str(name) for name in available]
    by_folded: dict[str, str] = {}
    for name in names:
        by_folded.setdefault(name.strip().casefold(), name)
    found = {
        want: want if want in names else by_folded[want.casefold()]
        for want in needed
        if want in names or want.casefold() in by_folded
    }
    return found, [want for want in needed if want not in found]


def read_csv_answer(body: bytes, columns: Sequence[str], what: str, url: str) -> pd.DataFrame:
    """An HSC API CSV answer as a frame of the ``columns`` only, named as given whatever the case
    of the answer's header (empty body: no rows).

    Raises
    ------
    mwlc.errors.ArchiveError
        If the answer is not CSV, or lacks one of ``columns`` (naming it and ``url``).
    """
    if not body.strip():
        return pd.DataFrame({name: [] for name in columns})
    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, pd.errors.ParserError) as exc:
        raise ArchiveError(f"HCV {what}: answer of {url} is not CSV: {body[:200]!r}") from exc
    found, missing = match_columns(frame.columns, columns)
    if missing:
        raise ArchiveError(
            f"HCV {what}: answer of {url} lacks column(s) {missing} (compared in any case); "
            f"has {list(frame.columns)}"
        )
    return frame[[found[name] for name in columns]].set_axis(list(columns), axis=1)


def read_column_list(body: bytes, url: str) -> list[str]:
    """Column names from a ``/metadata`` answer (JSON list of ``{"name": ...}`` objects).

    Raises
    ------
    mwlc.errors.ArchiveError
        If the answer is not such a list (naming ``url``).
    """
    try:
        listed = json.loads(body)
        return [str(entry["name"]) for entry in listed]
    except (ValueError, TypeError, KeyError) as exc:
        raise ArchiveError(
            f"HCV: the column list {url} is not a JSON list of {{name, type, description}}: {body[:200]!r}"
        ) from exc


def nearest_match(summary: pd.DataFrame, ra: float, dec: float, hcv_filters: Sequence[str]) -> int | None:
    """``MatchID`` of the summary row nearest to (ra, dec) deg among rows in ``hcv_filters``."""
    rows = summary[summary["Filter"].isin(hcv_filters)]
    if rows.empty:
        return None
    ra1, dec1 = np.radians(rows["RA"].to_numpy(np.float64)), np.radians(rows["Dec"].to_numpy(np.float64))
    ra0, dec0 = np.radians(ra), np.radians(dec)
    cos_d = np.sin(dec0) * np.sin(dec1) + np.cos(dec0) * np.cos(dec1) * np.cos(ra1 - ra0)
    return int(rows["MatchID"].to_numpy()[int(np.argmax(cos_d))])


# -- client -----------------------------------------------------------------------------------
@dataclass
class HcvClient:
    """Cached, retried requests to the HSC API.

    Parameters
    ----------
    source : str
        API base URL (without the ``/v3`` release).
    cache : ResponseCache
        Where answers are kept.
    policy : RetryPolicy
        Per-request timeout (s), retries and backoff (s).
    """

    source: str
    cache: ResponseCache
    policy: RetryPolicy

    def __post_init__(self) -> None:
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = new_session(self.policy.timeout_s)
        return session

    def url(self, table: str) -> str:
        """URL of a table's CSV answers: ``{source}/v3/{table}.csv``."""
        return f"{self.source}/v3/{table}.csv"

    def metadata_url(self, table: str) -> str:
        """URL of a table's column list: ``{source}/v3/{table}/metadata``."""
        return f"{self.source}/v3/{table}/metadata"

    def get(self, table: str, params: dict[str, Any], columns: Sequence[str], what: str) -> pd.DataFrame:
        """The ``columns`` of ``GET {source}/v3/{table}.csv?params`` (:func:`read_csv_answer`),
        from the cache if there; an answer is cached only once it has been read."""
        url = self.url(table)
        return self._cached(
            table, url, params, what, "csv", partial(read_csv_answer, columns=columns, what=what, url=url)
        )

    def columns(self, table: str) -> list[str]:
        """The column names the service lists for ``table`` (``/metadata``), from the cache if there."""
        url = self.metadata_url(table)
        return self._cached(
            f"{table}-metadata", url, {}, f"{table} metadata", "json", partial(read_column_list, url=url)
        )

    def _cached(
        self, kind: str, url: str, params: dict[str, Any], what: str, suffix: str, read: Callable[[bytes], T]
    ) -> T:
        def fetch() -> bytes:
            def once() -> bytes:
                response = self._session().get(url, params=params, timeout=self.policy.timeout_s)
                response.raise_for_status()
                return response.content

            return call_with_retries(once, service=f"HCV {what}", url=url, policy=self.policy)

        return self.cache.get_or_fetch(kind, {"url": url, "params": params}, fetch, read, suffix=suffix)

    def check_columns(self) -> None:
        """Check once that the service lists every column this module reads (any case).

        Raises
        ------
        mwlc.errors.ArchiveError
            Naming the missing column(s), the table and its metadata URL.
        """
        for table, needed in NEEDED_COLUMNS.items():
            listed = self.columns(table)
            _, missing = match_columns(listed, needed)
            if missing:
                raise ArchiveError(
                    f"HCV: the service lists no column(s) {missing} for table {table!r} "
                    f"(compared in any case; column list {self.metadata_url(table)}: {listed}); "
                    "mwlc reads them from its answers"
                )


@dataclass(frozen=True)
class HcvQuery:
    """What to fetch for every object: cone radius (arcsec), filters and magnitude system."""

    radius_arcsec: float
    filters: tuple[str, ...]
    mag_system: str

    def object_rows(self, client: HcvClient, row: Any) -> pd.DataFrame:
        """Light-curve rows (all requested filters) of one sample object; empty if no match."""
        what = f"objectid {row.objectid}"
        summary = client.get(
            "hcvsummary",
            {"ra": float(row.ra), "dec": float(row.dec), "radius": self.radius_arcsec / 3600.0},
            _SUMMARY_COLUMNS,
            f"hcvsummary for {what}",
        )
        hcv_filters = [f"ACS_{name}" for name in self.filters]
        match_id = nearest_match(summary, float(row.ra), float(row.dec), hcv_filters)
        if match_id is None:
            return _empty_rows()
        present = set(summary.loc[summary["MatchID"] == match_id, "Filter"])
        parts = [
            self._filter_rows(client, row, match_id, name, what)
            for name in self.filters
            if f"ACS_{name}" in present
        ]
        return pd.concat(parts, ignore_index=True) if parts else _empty_rows()

    def _filter_rows(self, client: HcvClient, row: Any, match_id: int, name: str, what: str) -> pd.DataFrame:
        epochs = client.get(
            "hcv",
            {"MatchID": match_id, "Filter": f"ACS_{name}"},
            _DETAIL_COLUMNS,
            f"hcv MatchID {match_id} ACS_{name} for {what}",
        )
        mag = epochs["CorrMag"].to_numpy(np.float64)
        magerr = epochs["MagErr"].to_numpy(np.float64)
        flux, err = acs_mag_to_mjy(mag, magerr, name, self.mag_system)
        frame = pd.DataFrame({"time": epochs["MJD"].to_numpy(np.float64), "flux": flux, "err": err})
        frame = frame[np.isfinite(frame).all(axis=1)].sort_values("time", kind="stable")
        return frame.assign(objectid=int(row.objectid), label=str(row.label), band=FILTER_BANDS[name])


def _empty_rows() -> pd.DataFrame:
    return pd.DataFrame({"time": [], "flux": [], "err": [], "objectid": [], "label": [], "band": []})


# -- fetch ------------------------------------------------------------------------------------
def hst_filter_names(filters: Any) -> Any:
    """Filter names as the descriptor spells them (``F814W``): the HSC's own ``ACS_F814W`` and
    lower case are accepted. Anything else is returned as given, for the descriptor's check to
    refuse naming it."""
    if not isinstance(filters, (list, tuple)):
        return filters
    return [name.upper().removeprefix("ACS_") if isinstance(name, str) else name for name in filters]


def fetch(
    sample: pd.DataFrame,
    *,
    source: str = DEFAULT_SOURCE,
    radius_arcsec: float = 1.0,
    filters: Sequence[str] = DEFAULT_FILTERS,
    mag_system: str = "AB",
    cache_dir: str = DEFAULT_CACHE_DIR,
    **job: Unpack[ObjectJobOptions],
) -> Iterator[pa.RecordBatch]:
    """HCV light curves of the sample objects, in mJy.

    Parameters
    ----------
    sample
        As every reader's (:meth:`mwlc.archives.base.Reader.fetch`).
    **job
        As every per-object reader's (:class:`~mwlc.archives._per_object.ObjectJobOptions`):
        ``timeout_s`` (default 60) is the connect/read timeout of each request.
    source : str, default :data:`DEFAULT_SOURCE`
        Base URL of the HSC catalogs API (``.../api/v0.1/hsc``).
    radius_arcsec : float, default 1.0
        Cone radius around each object, arcsec (the original's 1/3600 deg); at most 1800.
    filters : list of str, default ``["F814W"]``
        ACS/WFC filters to fetch (keys of :data:`ACS_WFC_ZEROPOINTS`); band ``HST_<filter>``.
    mag_system : {"AB", "Vega"}, default "AB"
        System of the HCV ``CorrMag`` values (see the module docstring).
    cache_dir : str, default ``resources/cache/hcv``
        Directory of the on-disk answer cache (created if missing).

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy, in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`, in sample order; flux and err in mJy,
        time = HCV ``MJD``.

    Raises
    ------
    mwlc.errors.ConfigError, mwlc.errors.SampleError
        As every per-object reader (:mod:`mwlc.archives._per_object`).
    mwlc.errors.ArchiveError
        While iterating: if the service's column list lacks a column this module reads (checked
        once, before the first object; the message names the column and the list's URL), or a
        request still fails after the retries, is refused (4xx), or its answer lacks a needed
        column (the message names the object, the column and the URL).
    """
    checked = ARCHIVE.check_params(
        {
            "radius_arcsec": radius_arcsec,
            "filters": hst_filter_names(filters),
            "mag_system": mag_system,
            "cache_dir": cache_dir,
        }
    )
    query = HcvQuery(float(checked["radius_arcsec"]), tuple(checked["filters"]), mag_system)
    run = object_job(job, ARCHIVE)
    if not str(source).startswith(("http://", "https://")):
        raise ConfigError(f"HCV: source must be the http(s) URL of the HSC API, got {source!r}")
    check_sample(sample, "HCV")
    client = HcvClient(str(source).rstrip("/"), ResponseCache(checked["cache_dir"]), run.policy)
    return _stream(sample, query, client, run)


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """The HSC API's column lists (``/v3/{hcvsummary|hcv}/metadata``), asked afresh (not from the
    cache) with the archive's timeout and retries: one finding per list that does not come, and
    per column this module reads that a list lacks."""
    if not str(source).startswith(("http://", "https://")):
        return [Finding(NAME, str(source), "the http(s) URL of the HSC API", "no URL")]
    policy = ARCHIVE.retry_policy(params)
    base = str(source).rstrip("/")
    session = new_session(policy.timeout_s)
    findings = []
    for table, needed in NEEDED_COLUMNS.items():
        url = f"{base}/v3/{table}/metadata"

        def get(url: str = url) -> bytes:
            response = session.get(url, timeout=policy.timeout_s)
            response.raise_for_status()
            return response.content

        try:
            listed = read_column_list(
                call_with_retries(get, service=f"HCV {table} metadata", url=url, policy=policy), url
            )
        except ArchiveError as err:
            findings.append(
                Finding(NAME, str(source), f"the column list of table {table} at {url}", str(err))
            )
            continue
        _, missing = match_columns(listed, needed)
        findings += [
            Finding(NAME, str(source), f"column {column} of table {table} (any case)", f"none in {listed}")
            for column in missing
        ]
    session.close()
    return findings


def _stream(
    sample: pd.DataFrame, query: HcvQuery, client: HcvClient, run: ObjectJob
) -> Iterator[pa.RecordBatch]:
    if not sample.empty:
        client.check_columns()
    tally = Tally()
    yield from object_batches(sample, partial(query.object_rows, client), run, "HCV", tally)
    log.info(
        "HCV: done: %d objects, %d with data, %d rows; %d answers downloaded, %d from cache %s",
        len(sample),
        tally.objects,
        tally.rows,
        client.cache.misses,
        client.cache.hits,
        client.cache.directory,
    )
