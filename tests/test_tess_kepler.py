"""TESS/Kepler/K2 archive: lightkurve's real read path on files it wrote, an injected search,
a loopback MAST download endpoint; times checked against astropy ``Time``."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import requests
from astropy.time import Time

from mwlc.archives import tess_kepler
from mwlc.archives.registry import get_archive
from mwlc.errors import ArchiveError, ConfigError
from mwlc.schema import LIGHTCURVE_SCHEMA
from tests.fixtures_tess_kepler import DOWNLOAD_PATH, _lk
from tests.servers.base import LoopbackServer, Response

#: BJD of each mission's time origin (BTJD = BJD - 2457000, BKJD = BJD - 2454833)
BJD_REF = {"TESS": 2457000.0, "Kepler": 2454833.0, "K2": 2454833.0}


def expected(product, downsample: int = 30) -> pd.DataFrame:
    """Rows of one product, time converted with astropy Time (JD TDB -> MJD)."""
    band = product.collection
    keep = (np.arange(len(product.raw_time)) % downsample == 0) & np.isfinite(product.flux)
    if band == "TESS":
        keep &= product.flux > 0
    mjd = Time(product.raw_time[keep] + BJD_REF[band], format="jd", scale="tdb").mjd
    return pd.DataFrame(
        {"time": mjd, "flux": product.flux[keep], "err": product.flux_err[keep], "band": band}
    )


def run(sample, source, cache_dir, **params) -> pd.DataFrame:
    params = {"cache_dir": str(cache_dir), "retry_backoff_s": 0.0, "timeout_s": 5.0, **params}
    batches = list(tess_kepler.fetch(sample, source=str(source), **params))
    for batch in batches:
        assert batch.schema.equals(LIGHTCURVE_SCHEMA)
    if not batches:
        return pd.DataFrame(columns=LIGHTCURVE_SCHEMA.names)
    return pa.Table.from_batches(batches).to_pandas().reset_index().astype({"label": str, "band": str})


@pytest.fixture
def index_file(tk_case, tmp_path):
    path = tmp_path / "products.csv"
    tk_case.index.to_csv(path, index=False)
    return path


def rows_of(rows: pd.DataFrame, objectid: int, band: str) -> pd.DataFrame:
    part = rows[(rows["objectid"] == objectid) & (rows["band"] == band)]
    return part[["time", "flux", "err", "band"]].reset_index(drop=True)


# -- what lightkurve returns ------------------------------------------------------------------
@pytest.mark.parametrize("i, fmt", [(0, "btjd"), (1, "bkjd"), (2, "bkjd")])
def test_lightkurve_time_formats_and_mjd_conversion(tk_case, i, fmt):
    product = tk_case.products[i]
    lc = _lk().read(str(tk_case.files_dir / product.filename), quality_bitmask="none")
    assert (lc.time.format, lc.time.scale) == (fmt, "tdb")
    np.testing.assert_allclose(lc.time.value, product.raw_time)
    rows = tess_kepler.lightcurve_rows(lc, product.collection, downsample=1)
    want = expected(product, downsample=1)
    np.testing.assert_allclose(rows["time"], want["time"], rtol=0, atol=1e-8)
    offset = {"btjd": 56999.5, "bkjd": 54832.5}[fmt]  # the closed forms of the docstring
    kept = np.isfinite(product.flux) & ((product.flux > 0) if fmt == "btjd" else True)
    np.testing.assert_allclose(rows["time"], product.raw_time[kept] + offset, rtol=0, atol=1e-8)
    np.testing.assert_allclose(rows["flux"], want["flux"])


# -- offline index + pre-seeded cache ------------------------------------------------------------
def test_offline_index_reads_the_seeded_files(tk_case, index_file, tmp_path):
    tk_case.seed_cache(tmp_path / "cache")
    rows = run(tk_case.sample, index_file, tmp_path / "cache")
    p = tk_case.products
    assert list(rows["objectid"].unique()) == [1, 2, 4]
    pd.testing.assert_frame_equal(rows_of(rows, 1, "TESS"), expected(p[0]), rtol=1e-9)
    pd.testing.assert_frame_equal(rows_of(rows, 1, "Kepler"), expected(p[1]), rtol=1e-9)
    pd.testing.assert_frame_equal(rows_of(rows, 2, "K2"), expected(p[2]), rtol=1e-9)
    assert rows_of(rows, 2, "TESS").empty  # 5" away
    pd.testing.assert_frame_equal(rows_of(rows, 4, "TESS"), expected(p[5]), rtol=1e-9)  # junk file skipped
    # every 30th of 200 cadences: 0, 30, ..., 180; TESS drops 0, 30, 150 (< 0) and 60, 90 (NaN)
    assert (len(rows_of(rows, 1, "TESS")), len(rows_of(rows, 1, "Kepler"))) == (2, 5)
    assert set(rows.loc[rows["objectid"] == 2, "label"]) == {"tk-2"}


def test_downsample_and_radius_are_parameters(tk_case, index_file, tmp_path):
    tk_case.seed_cache(tmp_path / "cache")
    rows = run(tk_case.sample, index_file, tmp_path / "cache", downsample=1, radius_arcsec=6.0)
    pd.testing.assert_frame_equal(rows_of(rows, 1, "TESS"), expected(tk_case.products[0], 1), rtol=1e-9)
    pd.testing.assert_frame_equal(rows_of(rows, 2, "TESS"), expected(tk_case.products[3], 1), rtol=1e-9)
    assert len(rows_of(rows, 1, "Kepler")) == 197


def test_offline_missing_file_is_an_error_naming_the_object(tk_case, index_file, tmp_path):
    with pytest.raises(ArchiveError, match=r"objectid 1: .*tess2019198215352.* is not in the cache"):
        run(tk_case.sample, index_file, tmp_path / "empty")


# -- online: injected search, loopback downloads -------------------------------------------------
@pytest.fixture
def injected_search(tk_case, monkeypatch):
    """Replace MAST's search by the case's search results; count the calls."""
    lk = _lk()
    calls: list[float] = []
    failures: list[Exception] = []

    def search_lightcurve(coord, radius=None, author=None, **kwargs):
        if failures:
            raise failures.pop(0)
        calls.append(coord.ra.deg)
        objectid = int(tk_case.sample.loc[np.isclose(tk_case.sample["ra"], coord.ra.deg), "objectid"].iloc[0])
        return lk.SearchResult(tk_case.search_table(objectid, radius))

    monkeypatch.setattr(lk, "search_lightcurve", search_lightcurve)
    return calls, failures


def test_online_search_downloads_once_and_rerun_requests_nothing(
    tk_case, injected_search, tk_download_server, tmp_path
):
    calls, _ = injected_search
    cache = tmp_path / "cache"
    params = {"download_url": tk_download_server.url + DOWNLOAD_PATH, "threads": 2}
    first = run(tk_case.sample, "https://mast.stsci.edu", cache, **params)
    assert len(calls) == 4
    assert sorted(tk_download_server.app.uris) == sorted(
        p.data_uri for p in tk_case.products if p.offset_arcsec < 1
    )
    pd.testing.assert_frame_equal(rows_of(first, 1, "Kepler"), expected(tk_case.products[1]), rtol=1e-9)
    # the files sit where lightkurve looks: its own download_all reads them without a request
    collection = _lk().SearchResult(tk_case.search_table(1)).download_all(download_dir=str(cache))
    assert [lc.meta["MISSION"] for lc in collection] == ["TESS", "Kepler"]
    tk_download_server.reset()
    calls.clear()
    second = run(tk_case.sample, "https://mast.stsci.edu", cache, **params)
    assert calls == [] and tk_download_server.requests == []
    pd.testing.assert_frame_equal(first, second)


def test_search_failures_are_retried(tk_case, injected_search, tk_download_server, tmp_path):
    calls, failures = injected_search
    failures.append(requests.ConnectionError("connection reset by MAST"))
    rows = run(
        tk_case.sample.iloc[:1],
        "https://mast.stsci.edu",
        tmp_path / "c",
        download_url=tk_download_server.url + DOWNLOAD_PATH,
        retries=1,
    )
    assert len(calls) == 1 and set(rows["band"]) == {"TESS", "Kepler"}


def test_download_retries_timeouts_and_gives_up(
    tk_case, injected_search, tk_download_server, tmp_path, caplog
):
    url = tk_download_server.url + DOWNLOAD_PATH
    one = tk_case.sample.iloc[:1]
    tk_download_server.fail_next(1, status=503)
    tk_download_server.delay_next(1, seconds=1.0)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mwlc.net"):
        rows = run(one, "https://mast.stsci.edu", tmp_path / "a", download_url=url, timeout_s=0.3, retries=2)
    assert time.monotonic() - started < 0.95
    assert len(rows) == 2 + 5  # TESS, Kepler
    assert sum("attempt" in r.message for r in caplog.records) == 2
    while len(tk_download_server.app.uris) < 4 and time.monotonic() - started < 5:
        time.sleep(0.05)  # let the abandoned request finish
    tk_download_server.reset()
    tk_download_server.fail_always(status=503)
    with pytest.raises(ArchiveError, match=r"download for objectid 1 .*failed after 2 attempt"):
        run(one, "https://mast.stsci.edu", tmp_path / "b", download_url=url, retries=1)
    assert not list((tmp_path / "b").rglob("*.fits"))  # nothing partial left behind


def test_fits_problem_finds_what_a_failed_download_leaves(tk_case):
    data = tk_case.file_bytes()[tk_case.products[0].data_uri]
    assert len(data) == 14400 and tess_kepler.fits_problem(data) is None
    assert tess_kepler.fits_problem(b"<html>MAST is down for maintenance</html>") == (
        "not a FITS file (it starts with b'<html>MAST is down for maintenance</html')"
    )
    assert tess_kepler.fits_problem(data[:5000]) == (
        "cut short (5,000 bytes, not a whole number of 2880-byte FITS blocks)"
    )
    assert tess_kepler.fits_problem(data[:11520]) == "cut short (11,520 of 14,400 bytes)"
    assert tess_kepler.fits_problem(data[:2880]) == (
        "cut short (a primary header without the light-curve extension)"
    )


def download_sources(tk_case, tk_download_server):
    """The first object, its TESS product's URI and bytes, and the download URL."""
    product = tk_case.products[0]
    return tk_case.sample.iloc[:1], product.data_uri, tk_case.file_bytes()[product.data_uri]


@pytest.mark.parametrize(
    "answer, reason",
    [
        (lambda data: b"<html>MAST is down for maintenance</html>", "not a FITS file"),
        (lambda data: data[: len(data) - 2880], "cut short \\(11,520 of 14,400 bytes\\)"),
    ],
)
def test_a_bad_download_fails_the_job_and_is_not_cached_then_a_rerun_gets_the_file(
    tk_case, injected_search, tk_download_server, tmp_path, monkeypatch, answer, reason
):
    """The server answers 200 with an error page or a file cut short (no Content-Length check
    catches it): retried, then the job fails naming why; nothing is cached, and once the server
    is right the rerun downloads the file and gets every row (it used to get 0, for good)."""
    one, uri, data = download_sources(tk_case, tk_download_server)
    url = tk_download_server.url + DOWNLOAD_PATH
    monkeypatch.setitem(tk_download_server.app.files, uri, answer(data))
    with pytest.raises(ArchiveError, match=rf"download for objectid 1 .*failed after 2 attempt.*{reason}"):
        run(one, "https://mast.stsci.edu", tmp_path / "c", download_url=url, retries=1)
    assert tk_download_server.app.uris.count(uri) == 2
    assert not list((tmp_path / "c").rglob("*.fits"))
    monkeypatch.setitem(tk_download_server.app.files, uri, data)
    rows = run(one, "https://mast.stsci.edu", tmp_path / "c", download_url=url)
    pd.testing.assert_frame_equal(rows_of(rows, 1, "TESS"), expected(tk_case.products[0]), rtol=1e-9)


def test_a_cut_short_file_in_the_cache_is_downloaded_again(
    tk_case, injected_search, tk_download_server, tmp_path, caplog
):
    one, uri, data = download_sources(tk_case, tk_download_server)
    url = tk_download_server.url + DOWNLOAD_PATH
    first = run(one, "https://mast.stsci.edu", tmp_path / "c", download_url=url)
    (cached,) = (tmp_path / "c").rglob(tk_case.products[0].filename)
    cached.write_bytes(data[:8640])  # as an interrupted copy made before downloads were checked
    tk_download_server.reset()
    with caplog.at_level(logging.WARNING, logger="mwlc.archives.tess_kepler"):
        again = run(one, "https://mast.stsci.edu", tmp_path / "c", download_url=url)
    assert tk_download_server.app.uris == [uri]
    assert "is cut short (8,640 of 14,400 bytes): downloading it again" in caplog.text
    assert cached.read_bytes() == data
    pd.testing.assert_frame_equal(again, first)


def test_objects_sharing_a_product_wait_for_one_download(
    tk_case, injected_search, tk_download_server, tmp_path
):
    """Two objects at one position (consolidation off) share its products; each download takes
    0.5 s, so both threads ask for the same file at once: one downloads, the other waits for it.
    The cached TESS file is cut short first, so the threads also meet a bad file together."""
    one, uri, data = download_sources(tk_case, tk_download_server)
    url = tk_download_server.url + DOWNLOAD_PATH
    run(one, "https://mast.stsci.edu", tmp_path / "c", download_url=url)
    (cached,) = (tmp_path / "c").rglob(tk_case.products[0].filename)
    cached.write_bytes(data[:8640])
    tk_download_server.reset()
    twins = pd.concat([one, one.assign(objectid=5, label="twin")], ignore_index=True)
    tk_download_server.delay_next(4, seconds=0.5)
    rows = run(twins, "https://mast.stsci.edu", tmp_path / "c", download_url=url, threads=2)
    assert tk_download_server.app.uris == [uri]
    pd.testing.assert_frame_equal(rows_of(rows, 5, "TESS"), rows_of(rows, 1, "TESS"))
    assert len(rows_of(rows, 5, "TESS")) == len(expected(tk_case.products[0]))


def test_a_cut_short_file_in_an_offline_cache_fails_the_job(tk_case, index_file, tmp_path):
    tk_case.seed_cache(tmp_path / "c")
    (cached,) = (tmp_path / "c").rglob(tk_case.products[0].filename)
    cached.write_bytes(cached.read_bytes()[:8640])
    with pytest.raises(ArchiveError, match=r"objectid 1: the cached product .* is cut short .*remove it"):
        run(tk_case.sample, index_file, tmp_path / "c")


@pytest.mark.parametrize(
    "params, message",
    [
        ({"radius_arcsec": -1}, "radius_arcsec"),
        ({"downsample": 0}, "'archives.tess_kepler.downsample': 0 is less than the minimum of 1"),
        ({"quality_bitmask": "soft"}, "'archives.tess_kepler.quality_bitmask': 'soft' is not one of"),
        ({"author": []}, r"'archives.tess_kepler.author': \[\] should be non-empty"),
        ({"author": ""}, "'archives.tess_kepler.author': '' should be non-empty"),
        ({"author": ["SPOC", ""]}, "'archives.tess_kepler.author.1': '' should be non-empty"),
        ({"threads": 0}, "threads must be an integer >= 1"),
    ],
)
def test_bad_parameters_fail_before_any_request(tk_case, params, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        tess_kepler.fetch(tk_case.sample, cache_dir=str(tmp_path), **params)


def test_bad_source_is_an_error(tk_case, tmp_path):
    with pytest.raises(ArchiveError, match="neither an http"):
        tess_kepler.fetch(tk_case.sample, source=str(tmp_path / "nope.csv"), cache_dir=str(tmp_path))


def test_registry_and_bands():
    assert get_archive("TESS_Kepler").reader_module() is tess_kepler
    assert get_archive("tess").reader_module() is tess_kepler
    assert tess_kepler.band_of("K2 Campaign 05") == "K2"
    with pytest.raises(ArchiveError, match="not one of"):
        tess_kepler.band_of("HST")


#: Columns astroquery asks the portal's column configuration for, before a cone query.
_PORTAL_COLUMNS = ["project", "obs_collection", "dataproduct_type", "provenance_name", "target_name"]


class _Portal:
    """MAST's portal: the column configuration, and queries that answer ``EXECUTING`` a number of
    times (``math.inf``: for ever) before they are complete (with no observation)."""

    def __init__(self, executing: float, content_type: str = "application/json") -> None:
        self.executing = executing
        self.content_type = content_type
        #: When each query POST arrived (monotonic s), and its body.
        self.polls: list[tuple[float, bytes]] = []

    def handle(self, request):
        if "columnsconfig" in request.path:
            return Response.json({name: {"vot.datatype": "char"} for name in _PORTAL_COLUMNS})
        self.polls.append((time.monotonic(), request.body))
        asked = sum(body == request.body for _, body in self.polls)
        status = "COMPLETE" if asked > self.executing else "EXECUTING"
        fields = [{"name": name, "type": "string"} for name in _PORTAL_COLUMNS]
        fields += [{"name": name, "type": "float"} for name in ("distance", "t_exptime")]
        answer = Response.json({"status": status, "data": [], "fields": fields})
        answer.content_type = self.content_type
        return answer


class _Resolver:
    """MAST's name resolver (lightkurve passes the coordinates as a name): where they are."""

    def handle(self, request):
        name = request.query["name"][0]
        found = {"searchString": name.lower(), "ra": 10.0, "decl": 20.0, "resolver": "NED"}
        return Response.json({"resolvedCoordinate": [found]})


@contextmanager
def _mast(monkeypatch, portal_app: _Portal) -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    """astroquery's MAST portal and name resolver answered by loopback servers (real lightkurve and
    astroquery; the resolver reached through an HTTP proxy, its URL being astroquery's, not
    configurable): the portal's server and the resolver's."""
    from astroquery.mast import Observations, utils

    portal = Observations._portal_api_connection
    fresh = requests.Session()  # hardened by the fetch: the process-wide one stays as it was
    for target, name, value in (
        (Observations, "_session", fresh),
        (portal, "_session", fresh),
        (portal, "TIMEOUT", portal.TIMEOUT),
        (utils, "_simple_request", utils._simple_request),
    ):
        monkeypatch.setattr(target, name, value)
    with LoopbackServer(portal_app) as server, LoopbackServer(_Resolver()) as resolver:
        monkeypatch.setenv("HTTP_PROXY", resolver.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setattr(portal, "MAST_REQUEST_URL", server.url + "/api/v0/invoke")
        monkeypatch.setattr(
            portal, "COLUMNS_CONFIG_URL", server.url + "/portal/Mashup/Mashup.asmx/columnsconfig"
        )
        yield server, resolver


@pytest.mark.parametrize(
    "stalled",
    [
        "portal",  # the portal never answers in time
        "resolver",  # MAST's name resolver (hard-coded in astroquery) never answers in time
        "executing",  # the portal answers EXECUTING for ever (astroquery polls for 600 s)
    ],
)
def test_a_stalled_mast_search_times_out_and_fails_the_job_instead_of_hanging(
    tk_case, tmp_path, monkeypatch, stalled
):
    """lightkurve's search goes through astroquery, which sent its requests without a timeout:
    a stalled MAST held its thread, and the job, for good."""
    # astroquery asks for text/plain and reads JSON whatever the answer's type: pacing must too
    portal = _Portal(executing=math.inf if stalled == "executing" else 0, content_type="text/plain")
    with _mast(monkeypatch, portal) as (server, resolver):
        stalling = {"portal": server, "resolver": resolver}.get(stalled)
        if stalling is not None:
            stalling.fault_when(lambda request: True, "delay", seconds=20.0)
        started = time.monotonic()
        with pytest.raises(ArchiveError, match=r"TESS/Kepler search for objectid \d+ .*2 attempt"):
            run(tk_case.sample.iloc[:1], server.url, tmp_path / "cache", timeout_s=1.0, retries=1)
        elapsed_s = time.monotonic() - started
        assert elapsed_s < 10  # two attempts of 1 s, not the server's 20 s
    if stalled == "executing":  # paced (0.5 s, then the 0.5 s left, per attempt): not thousands of polls
        polls = [when for when, _ in portal.polls]
        assert len(polls) == 4, len(polls)  # two per attempt
        assert [polls[1] - polls[0], polls[3] - polls[2]] == pytest.approx([0.5, 0.5], abs=0.15)
        assert 1.9 < elapsed_s < 4  # two attempts of 1 s: the last pause stops at astroquery's limit


def test_a_query_still_executing_is_polled_again_after_a_growing_pause(tk_case, tmp_path, monkeypatch):
    """astroquery polls an ``EXECUTING`` query again at once (25,627 requests in 60 s to a portal
    that kept answering so): the polls of each query are now paced, 0.5 s then doubling."""
    portal = _Portal(executing=2)
    with _mast(monkeypatch, portal) as (server, _):
        rows = run(tk_case.sample.iloc[:2], server.url, tmp_path / "cache", timeout_s=30.0, threads=1)
    assert rows.empty  # the portal found no observation
    queries = sorted({body for _, body in portal.polls}, key=[body for _, body in portal.polls].index)
    assert len(queries) == 2  # one cone query per object
    for query in queries:
        times = [when for when, body in portal.polls if body == query]
        assert len(times) == 3  # two EXECUTING, then COMPLETE
        pauses = np.diff(times)
        assert pauses == pytest.approx([0.5, 1.0], abs=0.3), pauses
    second_object_starts = next(when for when, body in portal.polls if body == queries[1])
    first_object_ends = max(when for when, body in portal.polls if body == queries[0])
    assert second_object_starts - first_object_ends < 0.3  # a new query starts without a pause
