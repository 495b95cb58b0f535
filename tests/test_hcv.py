"""HCV archive: the real client against a loopback HSC API; photometry against astropy."""

from __future__ import annotations

import logging
import re
import time

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mwlc.archives import hcv
from mwlc.archives._per_object import ResponseCache
from mwlc.archives.registry import get_archive
from mwlc.errors import ArchiveError, ConfigError, SampleError
from mwlc.net import RetryPolicy
from mwlc.schema import LIGHTCURVE_SCHEMA
from tests.fixtures_hcv import PREFIX


def run(sample: pd.DataFrame, server, tmp_path, **params) -> pd.DataFrame:
    """Fetch through the loopback server; the rows as a flat frame."""
    params = {"cache_dir": str(tmp_path / "cache"), "retry_backoff_s": 0.0, "timeout_s": 5.0, **params}
    batches = list(hcv.fetch(sample, source=server.url + PREFIX, **params))
    for batch in batches:
        assert batch.schema.equals(LIGHTCURVE_SCHEMA)
    if not batches:
        return pd.DataFrame(columns=LIGHTCURVE_SCHEMA.names)
    table = pa.Table.from_batches(batches)
    return table.to_pandas().reset_index().astype({"label": str, "band": str})


def cache_column_lists(server, tmp_path) -> None:
    """Ask the service's column lists once into the test's cache, then forget those requests, so a
    test's faults and request counts concern the per-object requests only."""
    client = hcv.HcvClient(server.url + PREFIX, ResponseCache(tmp_path / "cache"), RetryPolicy(0, 0.0, 5.0))
    client.check_columns()
    server.reset()


def expected_rows(epochs: pd.DataFrame, filter_name: str = "F814W") -> pd.DataFrame:
    """Rows an object's epochs should give, computed with astropy's ABmag."""
    mag = epochs["CorrMag"].to_numpy() * u.ABmag
    dmag = epochs["MagErr"].to_numpy() * u.mag
    flux = mag.to_value(u.mJy)
    err = ((mag - dmag).to_value(u.mJy) - (mag + dmag).to_value(u.mJy)) / 2
    return pd.DataFrame(
        {"time": epochs["MJD"].to_numpy(), "flux": flux, "err": err, "band": f"HST_{filter_name}"}
    )


# -- photometry -------------------------------------------------------------------------------
def test_ab_magnitudes_convert_like_astropy_abmag():
    mag = np.array([15.0, 21.3, 25.94333])
    dmag = np.array([0.01, 0.05, 0.2])
    flux, err = hcv.acs_mag_to_mjy(mag, dmag, "F814W", "AB")
    np.testing.assert_allclose(flux, (mag * u.ABmag).to_value(u.mJy), rtol=1e-12)
    lo, hi = ((mag - dmag) * u.ABmag).to_value(u.mJy), ((mag + dmag) * u.ABmag).to_value(u.mJy)
    np.testing.assert_allclose(err, (lo - hi) / 2, rtol=1e-12)
    # 3630.78 Jy at AB = 0, not a rounded 3631 Jy
    assert hcv.acs_mag_to_mjy([0.0], [0.0], "F814W")[0][0] == pytest.approx(3630.78e3, rel=1e-6)


def test_vega_magnitudes_use_the_lambda_squared_conversion():
    """Vega mag -> count rate (ZP_Vega) -> F_lambda (PHOTFLAM) -> f_nu at the pivot wavelength,
    done by astropy's spectral_density, equals the module's closed form."""
    zp_ab, zp_vega = hcv.ACS_WFC_ZEROPOINTS["F814W"]
    pivot = 8057.0 * u.AA  # ACS/WFC F814W PHOTPLAM (post-SM4 synphot)
    # STScI: ZP_AB = -2.5 log10(PHOTFLAM) - 5 log10(PHOTPLAM) - 2.408, PHOTFLAM in erg/s/cm2/A per e-/s
    photflam = 10 ** (-0.4 * (zp_ab + 5 * np.log10(pivot.value) + 2.408))
    assert photflam == pytest.approx(7.03e-20, rel=0.01)  # the F814W keyword value, order of 1e-19
    mag = np.array([18.0, 22.5])
    rate = 10 ** (-0.4 * (mag - zp_vega))  # e-/s
    f_lambda = rate * photflam * u.Unit("erg s-1 cm-2 AA-1")
    reference = f_lambda.to_value(u.mJy, equivalencies=u.spectral_density(pivot))
    flux, _ = hcv.acs_mag_to_mjy(mag, np.zeros(2), "F814W", "Vega")
    np.testing.assert_allclose(flux, reference, rtol=2e-4)
    # a Vega-mag 0 source is 0.42339 mag fainter than AB 0 in F814W: 2458.5 Jy
    assert hcv.acs_mag_to_mjy([0.0], [0.0], "F814W", "Vega")[0][0] == pytest.approx(2458.5e3, rel=1e-4)


# -- fetch against the loopback HSC API ---------------------------------------------------------
def test_nearest_match_gives_its_epochs_in_mjy(hcv_case, hcv_server, tmp_path):
    sample, objects = hcv_case
    by_id = {obj.match_id: obj for obj in objects}
    rows = run(sample.iloc[:5], hcv_server, tmp_path)
    assert sorted(rows["objectid"].unique()) == [1, 5]  # 2: F606W only; 3: nothing; 4: 2.5" away
    one = rows[rows["objectid"] == 1].reset_index(drop=True)
    want = expected_rows(by_id[101].epochs["ACS_F814W"])  # nearer of the two matches
    pd.testing.assert_frame_equal(one[["time", "flux", "err", "band"]], want, check_exact=False, rtol=1e-9)
    assert set(one["label"]) == {"hcv-1"}
    five = rows[rows["objectid"] == 5].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        five[["time", "flux", "err", "band"]],
        expected_rows(by_id[501].epochs["ACS_F814W"]),
        check_exact=False,
        rtol=1e-9,
    )
    summaries = [params for table, params in hcv_server.app.queries if table == "hcvsummary"]
    assert len(summaries) == 5
    assert float(summaries[0]["radius"]) == pytest.approx(1.0 / 3600)
    details = [params for table, params in hcv_server.app.queries if table == "hcv"]
    assert sorted((p["MatchID"], p["Filter"]) for p in details) == [
        ("101", "ACS_F814W"),
        ("501", "ACS_F814W"),
    ]


def test_filters_and_radius_are_parameters(hcv_case, hcv_server, tmp_path):
    sample, objects = hcv_case
    rows = run(sample.iloc[:5], hcv_server, tmp_path, filters=["F606W", "ACS_F814W"], radius_arcsec=3.0)
    got = rows.groupby("objectid")["band"].agg(lambda b: sorted(set(b))).to_dict()
    assert got == {1: ["HST_F814W"], 2: ["HST_F606W"], 4: ["HST_F814W"], 5: ["HST_F606W", "HST_F814W"]}
    f606 = rows[(rows["objectid"] == 5) & (rows["band"] == "HST_F606W")].reset_index(drop=True)
    want = expected_rows(objects[4].epochs["ACS_F606W"], "F606W")
    pd.testing.assert_frame_equal(f606[["time", "flux", "err", "band"]], want, check_exact=False, rtol=1e-9)


def test_second_run_is_served_from_the_cache(hcv_case, hcv_server, tmp_path):
    sample, _ = hcv_case
    first = run(sample, hcv_server, tmp_path, threads=3)
    # two column lists, every summary; 101, 501 and the 20 extras
    assert len(hcv_server.requests) == 2 + len(sample) + 22
    hcv_server.reset()
    second = run(sample, hcv_server, tmp_path, threads=3)
    assert hcv_server.requests == []
    pd.testing.assert_frame_equal(first, second)


def test_transient_failures_are_retried(hcv_case, hcv_server, tmp_path, caplog):
    sample, _ = hcv_case
    cache_column_lists(hcv_server, tmp_path)
    hcv_server.fail_next(2, status=503)
    with caplog.at_level(logging.WARNING, logger="mwlc.net"):
        rows = run(sample.iloc[:1], hcv_server, tmp_path, retries=2)
    assert len(rows) == 12
    assert len(hcv_server.requests) == 4  # 2 failures, summary, detail
    assert sum("attempt" in r.message and "503" in r.message for r in caplog.records) == 2


def test_slow_answers_time_out_and_are_retried(hcv_case, hcv_server, tmp_path):
    sample, _ = hcv_case
    cache_column_lists(hcv_server, tmp_path)
    hcv_server.delay_next(1, seconds=1.0)
    started = time.monotonic()
    rows = run(sample.iloc[:1], hcv_server, tmp_path, timeout_s=0.2, retries=1)
    assert time.monotonic() - started < 0.9  # gave up waiting after the 0.2 s timeout
    assert len(rows) == 12
    assert len(hcv_server.requests) == 3
    while len(hcv_server.app.queries) < 3 and time.monotonic() - started < 5:
        time.sleep(0.05)  # let the abandoned request finish before the next test


def test_an_answer_that_trickles_is_cut_at_its_deadline_and_retried(
    hcv_case, hcv_server, tmp_path, short_deadlines, caplog
):
    """The deadline: 2 x the 0.5 s timeout, plus the answer's bytes."""
    sample, _ = hcv_case
    cache_column_lists(hcv_server, tmp_path)
    hcv_server.trickle_next(1, seconds=0.05)  # never a 0.5 s wait: the read timeout never trips
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mwlc"):
        rows = run(sample.iloc[:1], hcv_server, tmp_path, timeout_s=0.5, retries=1)
    assert time.monotonic() - started < 1.0 + 3.0  # whole, the answer takes 20 bytes/s
    assert len(rows) == 12
    assert len(hcv_server.requests) == 3  # the trickled summary, its retry, the detail
    assert re.search(r"the answer is still arriving after 1(\.\d+)? s, its deadline", caplog.text)


def test_persistent_failure_names_the_object_and_caches_nothing(hcv_case, hcv_server, tmp_path):
    sample, _ = hcv_case
    cache_column_lists(hcv_server, tmp_path)
    hcv_server.fail_always(status=503)
    with pytest.raises(ArchiveError, match=r"HCV hcvsummary for objectid 1 .*failed after 3 attempt"):
        run(sample.iloc[:1], hcv_server, tmp_path, retries=2)
    assert not list((tmp_path / "cache").rglob("*.csv"))


def test_refused_request_fails_at_once(hcv_case, hcv_server, tmp_path):
    sample, _ = hcv_case
    cache_column_lists(hcv_server, tmp_path)
    hcv_server.fail_next(1, status=400, body="bad radius")
    with pytest.raises(ArchiveError, match="answered with an error after 1 attempt"):
        run(sample.iloc[:1], hcv_server, tmp_path, retries=3)
    assert len(hcv_server.requests) == 1


def test_answer_without_needed_column_is_an_error(hcv_case, hcv_server, tmp_path):
    """The column lists are complete, but one answer lacks a column: named, with the URL."""
    sample, _ = hcv_case
    body = "MatchID,Filter,RA\n101,ACS_F814W,150.1\n"
    hcv_server.fault_when(lambda request: request.path.endswith("/hcvsummary.csv"), status=200, body=body)
    url = f"{hcv_server.url}{PREFIX}/v3/hcvsummary.csv"
    with pytest.raises(ArchiveError) as err:
        run(sample.iloc[:1], hcv_server, tmp_path)
    assert str(err.value).startswith(
        f"HCV hcvsummary for objectid 1: answer of {url} lacks column(s) ['Dec'] (compared in any case)"
    )


@pytest.mark.parametrize("case", ["lower", "upper"])
def test_columns_are_read_by_name_whatever_their_case(hcv_case, hcv_server, tmp_path, case):
    sample, _ = hcv_case
    want = run(sample.iloc[:5], hcv_server, tmp_path / "as-is", filters=["F606W", "F814W"], radius_arcsec=3.0)
    hcv_server.app.header_case = case
    got = run(sample.iloc[:5], hcv_server, tmp_path / case, filters=["F606W", "F814W"], radius_arcsec=3.0)
    assert len(got) == 12 + 9 + 6 + 8 + 10  # objects 1, 2, 4 and 5 (two filters)
    pd.testing.assert_frame_equal(got, want)


def test_answer_headers_really_change_case(hcv_case, hcv_server):
    import requests

    hcv_server.app.header_case = "lower"
    body = requests.get(f"{hcv_server.url}{PREFIX}/v3/hcv.csv", params={"MatchID": 101}, timeout=5).text
    assert body.splitlines()[0] == "matchid,filter,mjd,imagename,mag,corrmag,magerr,ci,d"
    listed = requests.get(f"{hcv_server.url}{PREFIX}/v3/hcvsummary/metadata", timeout=5).json()
    assert [column["name"] for column in listed][:6] == [
        "matchid",
        "filter",
        "groupid",
        "subgroupid",
        "ra",
        "dec",
    ]


@pytest.mark.parametrize("table, column", [("hcvsummary", "Dec"), ("hcv", "CorrMag")])
def test_a_column_missing_from_the_service_stops_before_any_object(
    hcv_case, hcv_server, tmp_path, table, column
):
    sample, _ = hcv_case
    hcv_server.app.missing_columns = {column}
    with pytest.raises(ArchiveError) as err:
        run(sample.iloc[:3], hcv_server, tmp_path)
    message = str(err.value)
    assert f"lists no column(s) ['{column}'] for table '{table}'" in message
    assert f"{hcv_server.url}{PREFIX}/v3/{table}/metadata" in message
    assert all(name.endswith("/metadata") for name, _ in hcv_server.app.queries)  # no object asked


def test_a_column_missing_from_an_answer_names_it_and_the_url(hcv_case, hcv_server, tmp_path):
    """The service lists the column but an epoch answer lacks it (checked as answers are read)."""
    sample, _ = hcv_case
    cache_column_lists(hcv_server, tmp_path)
    hcv_server.app.missing_columns = {"MagErr"}
    with pytest.raises(ArchiveError) as err:
        run(sample.iloc[:1], hcv_server, tmp_path)
    assert f"answer of {hcv_server.url}{PREFIX}/v3/hcv.csv lacks column(s) ['MagErr']" in str(err.value)
    assert "hcv MatchID 101 ACS_F814W for objectid 1" in str(err.value)
    # the answer it could not read was not cached: once the service is right, a rerun reads it
    assert not list((tmp_path / "cache" / "hcv").rglob("*.csv"))
    hcv_server.app.missing_columns = set()
    pd.testing.assert_frame_equal(
        rows_of(run(sample.iloc[:1], hcv_server, tmp_path)),
        rows_of(run(sample.iloc[:1], hcv_server, tmp_path / "clean")),
    )


def rows_of(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[["objectid", "band", "time", "flux", "err"]].reset_index(drop=True)


def test_a_cached_answer_that_cannot_be_read_is_asked_again(hcv_case, hcv_server, tmp_path, caplog):
    """An answer cached before answers were read first (an error page sent with status 200)."""
    sample, _ = hcv_case
    first = run(sample.iloc[:1], hcv_server, tmp_path)
    (summary,) = (tmp_path / "cache" / "hcvsummary").rglob("*.csv")
    summary.write_bytes(b"<html><body>Service temporarily down</body></html>")
    hcv_server.reset()
    with caplog.at_level(logging.WARNING, logger="mwlc.archives._per_object"):
        again = run(sample.iloc[:1], hcv_server, tmp_path)
    assert [name for name, _ in hcv_server.app.queries] == ["hcvsummary"]
    assert f"the cached answer {summary} cannot be read (HCV hcvsummary for objectid 1" in caplog.text
    assert b"MatchID" in summary.read_bytes()
    pd.testing.assert_frame_equal(rows_of(again), rows_of(first))


def test_requests_run_concurrently_up_to_threads(hcv_case, hcv_server, tmp_path):
    sample, _ = hcv_case
    hcv_server.app.latency_s = 0.05
    run(sample.iloc[5:17], hcv_server, tmp_path / "a", threads=4)
    assert 2 <= hcv_server.app.max_in_flight <= 4
    hcv_server.reset()
    hcv_server.app.latency_s = 0.05
    run(sample.iloc[5:9], hcv_server, tmp_path / "b", threads=1)
    assert hcv_server.app.max_in_flight == 1


def test_progress_lines_every_n_objects(hcv_case, hcv_server, tmp_path, caplog):
    sample, _ = hcv_case
    with caplog.at_level(logging.INFO, logger="mwlc.archives"):
        run(sample.iloc[:12], hcv_server, tmp_path, progress_every=5, threads=2)
    lines = [r.message for r in caplog.records if "objects," in r.message and "ETA" in r.message]
    assert [line.split(": ", 1)[1].split(",")[0] for line in lines] == [
        "5/12 objects",
        "10/12 objects",
        "12/12 objects",
    ]
    done = [r.message for r in caplog.records if r.message.startswith("HCV: done")]
    assert done and "12 objects, 9 with data" in done[0]


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"radius_arcsec": 3600.0},
            "'archives.hcv.radius_arcsec': 3600.0 is greater than the maximum of 1800",
        ),
        ({"radius_arcsec": 0}, "radius_arcsec"),
        ({"filters": ["F999W"]}, "'archives.hcv.filters.0': 'F999W' is not one of"),
        ({"filters": ["F814W", "f999w", None]}, "'archives.hcv.filters.1': 'F999W' is not one of"),
        ({"filters": ["F814W", None]}, "'archives.hcv.filters.1': None is not one of"),
        ({"filters": ["F814W", "acs_f814w"]}, "'archives.hcv.filters': .* has non-unique elements"),
        ({"filters": "F814W"}, "'archives.hcv.filters': expected a list"),
        ({"filters": []}, r"'archives.hcv.filters': \[\] should be non-empty"),
        ({"mag_system": "ST"}, r"'archives.hcv.mag_system': 'ST' is not one of \['AB', 'Vega'\]"),
        ({"threads": 0}, "threads must be an integer >= 1"),
        ({"retries": -1}, "'archives.hcv.retries': -1 is less than the minimum of 0"),
        ({"source": "/some/dir"}, "source must be the http"),
    ],
)
def test_bad_parameters_fail_before_any_request(hcv_case, hcv_server, tmp_path, params, message):
    sample, _ = hcv_case
    with pytest.raises(ConfigError, match=message):
        hcv.fetch(sample, **{"source": hcv_server.url + PREFIX, "cache_dir": str(tmp_path), **params})
    assert hcv_server.requests == []


def test_bad_sample_is_rejected(hcv_case, tmp_path):
    sample, _ = hcv_case
    with pytest.raises(SampleError, match="objectid 2 has an invalid ra/dec"):
        hcv.fetch(sample.assign(dec=[0.0, 95.0] + [0.0] * (len(sample) - 2)), cache_dir=str(tmp_path))


def test_registry_and_bands():
    assert get_archive("HCV").reader_module() is hcv
    assert "HST_F814W" in hcv.BANDS
