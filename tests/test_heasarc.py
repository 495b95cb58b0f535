"""HEASARC events (Fermi GBM, BeppoSAX GRBM, IceCube): TAP mode against a fake HEASARC TAP on
loopback (the real pyvo client), local-copy mode, and an independent expectation.

The expectation is computed here from the fixture tables with astropy ``SkyCoord.separation``
(not the archive's haversine or KD-tree): an object gets a marker row for each Fermi/SAX event
whose error circle contains it (boundary included) and whose error radius is below the maximum,
and an IceCube row for each of its ``top_n`` most energetic events within the search radius and
closer than their error radius.
"""

from __future__ import annotations

import io
import socket

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from mwlc.archives import heasarc
from mwlc.demo.heasarc import build, synthetic_table
from mwlc.errors import ArchiveError, ConfigError, SampleError
from mwlc.schema import LIGHTCURVE_SCHEMA
from tests.servers.base import LoopbackServer
from tests.servers.tap import FakeTap
from tests.servers.votable import tap_result

#: The session fixtures (heasarc_sample, heasarc_local, heasarc_tables, heasarc_tap[_server]);
#: harmless once tests/conftest.py lists the module too.

#: HEASARC's TAP path (https://heasarc.gsfc.nasa.gov/xamin/vo/tap), served by the fake too.
HEASARC_TAP_PATH = "/xamin/vo/tap"
#: Network settings that keep retry tests fast.
FAST_RETRIES = {"timeout_s": 10.0, "retries": 2, "retry_backoff_s": 0.01}
COLUMNS = ["objectid", "label", "band", "time", "flux", "err"]
DEFAULT_MAX_DEG = {"FERMIGTRIG": 1.0, "SAXGRBMGRB": 3.0}


def tap_url(server: LoopbackServer) -> str:
    """TAP base URL of a fake HEASARC server."""
    return server.url + HEASARC_TAP_PATH


# --------------------------------------------------------------------------- independent reference


def separations(sample: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """(objects, events) separations in degrees, by astropy."""
    objects = SkyCoord(sample["ra"].to_numpy() * u.deg, sample["dec"].to_numpy() * u.deg)
    cat = SkyCoord(events["ra"].to_numpy() * u.deg, events["dec"].to_numpy() * u.deg)
    return objects[:, None].separation(cat[None, :]).deg


def expected_rows(
    sample: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    max_error_deg: dict[str, float] = DEFAULT_MAX_DEG,
    ice_radius_deg: float | None = 2.0,
    top_n: int = 3,
) -> pd.DataFrame:
    """The rows fetch must give, from first principles."""
    rows = []
    for table, max_deg in max_error_deg.items():
        events = tables[table]
        sep = separations(sample, events)
        err = events["error_radius"].to_numpy()
        obj, evt = np.nonzero((sep <= err) & (err < max_deg))
        rows.append(
            pd.DataFrame(
                {
                    "objectid": sample["objectid"].to_numpy()[obj],
                    "band": table,
                    "time": events["time"].to_numpy()[evt],
                    "flux": 0.1,
                    "err": 0.1,
                }
            )
        )
    if ice_radius_deg is not None:
        events = tables["icecubepsc"]
        sep = separations(sample, events)
        obj, evt = np.nonzero((sep <= ice_radius_deg) & (sep < events["error_radius"].to_numpy()))
        ice = pd.DataFrame(
            {
                "objectid": sample["objectid"].to_numpy()[obj],
                "band": "IceCube",
                "time": events["time"].to_numpy()[evt],
                "flux": np.log10(events["event_energy"].to_numpy()[evt]),
                "err": 0.0,
            }
        )
        ice = ice.sort_values(["objectid", "flux"], ascending=[True, False]).groupby("objectid").head(top_n)
        rows.append(ice)
    out = pd.concat(rows, ignore_index=True)
    out["label"] = out["objectid"].map(sample.set_index("objectid")["label"])
    return canonical(out)


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order with plain dtypes, for comparison."""
    frame = frame[COLUMNS].astype({"label": str, "band": str, "objectid": np.int64})
    return frame.sort_values(["band", "objectid", "time"]).reset_index(drop=True)


def as_frame(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    """Fetched batches as one frame (in fetch order)."""
    if not batches:
        return pd.DataFrame({name: [] for name in COLUMNS})
    return pa.Table.from_batches(batches).to_pandas(ignore_metadata=True).astype({"label": str, "band": str})


def fetch_all(sample: pd.DataFrame, source: str, **params) -> list[pa.RecordBatch]:
    params = {**FAST_RETRIES, **params}
    return list(heasarc.fetch(sample, source=source, **params))


@pytest.fixture(scope="module")
def expected(heasarc_sample, heasarc_tables) -> pd.DataFrame:
    return expected_rows(heasarc_sample, heasarc_tables)


@pytest.fixture(scope="module")
def local_batches(heasarc_sample, heasarc_local) -> list[pa.RecordBatch]:
    return fetch_all(heasarc_sample, str(heasarc_local))


@pytest.fixture(scope="module")
def tap_batches(heasarc_sample, heasarc_tap_server) -> tuple[list[pa.RecordBatch], list[str], list, list]:
    """Default fetch through the fake TAP: (batches, ADQL sent, uploads, HTTP requests)."""
    heasarc_tap_server.reset()
    batches = fetch_all(heasarc_sample, tap_url(heasarc_tap_server))
    app = heasarc_tap_server.app
    return batches, list(app.queries), list(app.uploads), list(heasarc_tap_server.requests)


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_tables_have_the_real_columns_and_cover_every_cut(heasarc_tables, heasarc_sample):
    assert list(heasarc_tables["FERMIGTRIG"].columns) == [
        "name",
        "trigger_name",
        "ra",
        "dec",
        "error_radius",
        "time",
    ]
    assert list(heasarc_tables["SAXGRBMGRB"].columns) == ["name", "ra", "dec", "error_radius", "time"]
    assert list(heasarc_tables["icecubepsc"].columns) == ["ra", "dec", "error_radius", "time", "event_energy"]
    assert heasarc_tables["FERMIGTRIG"]["trigger_name"].str.fullmatch(r"bn\d{9}").all()
    for table, max_deg in DEFAULT_MAX_DEG.items():
        events = heasarc_tables[table]
        inside = separations(heasarc_sample, events) <= events["error_radius"].to_numpy()
        big = events["error_radius"].to_numpy() >= max_deg
        assert (inside & ~big).any(axis=1).all(), f"{table}: every object has a usable event"
        assert (inside & big).any(), f"{table}: some containing events exceed the maximum"
        err = events["error_radius"].to_numpy()
        near_miss = (separations(heasarc_sample, events) > err) & (
            separations(heasarc_sample, events) <= 1.5 * err
        )
        assert near_miss.any(axis=1).all(), f"{table}: every object has a near miss"
    ice = heasarc_tables["icecubepsc"]
    sep = separations(heasarc_sample, ice)
    assert ((sep > 2.0) & (sep < ice["error_radius"].to_numpy())).any()  # cut by the radius only
    assert ((sep <= 2.0) & (sep >= ice["error_radius"].to_numpy())).any()  # cut by the error only
    assert (ice["event_energy"] > 100).all()  # GeV, linear


def test_demo_builder_is_deterministic_and_marked_synthetic(tmp_path, heasarc_sample):
    positions = heasarc_sample[["objectid", "ra", "dec"]]
    first, second = build(positions, tmp_path / "a"), build(positions, tmp_path / "b")
    for table in ("FERMIGTRIG", "SAXGRBMGRB", "icecubepsc"):
        assert (first / f"{table}.parquet").read_bytes() == (second / f"{table}.parquet").read_bytes()
    assert "SYNTHETIC" in (first / "README.txt").read_text()
    other = synthetic_table("FERMIGTRIG", positions, seed=1)
    assert not np.array_equal(other["time"], pd.read_parquet(first / "FERMIGTRIG.parquet")["time"])


def test_fake_heasarc_names_unaliased_columns_alias_underscore_column(heasarc_tap, heasarc_sample):
    from pyvo.dal import TAPService

    service = TAPService(tap_url(heasarc_tap))
    table = service.run_sync("SELECT TOP 2 cat.time, cat.ra AS ra FROM FERMIGTRIG cat").to_table()
    assert table.colnames == ["cat_time", "ra"]


# --------------------------------------------------------------------------- rows


def test_local_copy_gives_exactly_the_expected_rows(local_batches, expected):
    got = canonical(as_frame(local_batches))
    assert len(got) > 40 and set(got["band"]) == {"FERMIGTRIG", "SAXGRBMGRB", "IceCube"}
    pd.testing.assert_frame_equal(got, expected)


def test_tap_gives_exactly_the_expected_rows(tap_batches, expected):
    pd.testing.assert_frame_equal(canonical(as_frame(tap_batches[0])), expected)


def test_tap_and_local_give_identical_batches(tap_batches, local_batches):
    tap, local = tap_batches[0], local_batches
    assert [b.num_rows for b in tap] == [b.num_rows for b in local]
    for a, b in zip(tap, local, strict=True):
        assert a.schema.equals(LIGHTCURVE_SCHEMA, check_metadata=False)
        assert a.equals(b)


def test_tap_sends_the_original_query_shapes_with_the_sample_uploaded(tap_batches, heasarc_sample):
    _, queries, uploads, requests = tap_batches
    assert len(queries) == 3 and [r.path for r in requests] == [f"{HEASARC_TAP_PATH}/sync"] * 3
    fermi, sax, ice = (" ".join(q.split()) for q in queries)
    contains = "CONTAINS(POINT('ICRS', up.ra, up.dec), CIRCLE('ICRS', cat.ra, cat.dec, cat.error_radius)) = 1"
    assert "FROM FERMIGTRIG cat, TAP_UPLOAD.mytable up" in fermi
    assert contains in fermi and fermi.endswith("AND cat.error_radius < 1.0")
    assert "FROM SAXGRBMGRB cat" in sax and contains in sax and sax.endswith("cat.error_radius < 3.0")
    assert "cat.time AS time" in fermi and "up.objectid AS objectid" in fermi
    assert "FROM icecubepsc cat, TAP_UPLOAD.mytable up" in ice
    assert "CONTAINS(POINT('ICRS', cat.ra, cat.dec), CIRCLE('ICRS', up.ra, up.dec, 2.0)) = 1" in ice
    assert ice.endswith(
        "AND DISTANCE(POINT('ICRS', cat.ra, cat.dec), POINT('ICRS', up.ra, up.dec)) < cat.error_radius"
    )
    assert "cat.event_energy AS event_energy" in ice
    for upload in uploads:
        table = upload["mytable"]
        assert table.colnames == ["objectid", "ra", "dec"]
        np.testing.assert_array_equal(table["objectid"], heasarc_sample["objectid"])
        np.testing.assert_array_equal(table["ra"], heasarc_sample["ra"])  # exact doubles
    request = requests[0]
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    form = request.form()
    assert form["REQUEST"] == ["doQuery"] and form["LANG"] == ["ADQL"]
    assert form["UPLOAD"] == ["mytable,param:mytable"] and "MAXREC" not in form


def test_one_batch_per_catalog_and_chunk_and_rows_sorted(local_batches):
    bands = [b.column("band").to_pylist()[0] for b in local_batches]
    assert bands == ["FERMIGTRIG", "SAXGRBMGRB", "IceCube"]
    fermi = local_batches[0].to_pandas(ignore_metadata=True)
    assert fermi[["objectid", "time"]].apply(tuple, axis=1).is_monotonic_increasing
    ice = local_batches[2].to_pandas(ignore_metadata=True)
    for _, group in ice.groupby("objectid"):
        assert group["flux"].is_monotonic_decreasing


@pytest.mark.parametrize("mode", ["tap", "local"])
def test_chunks_of_7_upload_20_objects_in_3_parts_without_changing_rows(
    mode, heasarc_sample, heasarc_local, heasarc_tap, local_batches
):
    source = tap_url(heasarc_tap) if mode == "tap" else str(heasarc_local)
    batches = fetch_all(heasarc_sample, source, chunk_rows=7)
    pd.testing.assert_frame_equal(canonical(as_frame(batches)), canonical(as_frame(local_batches)))
    assert [b.column("band")[0].as_py() for b in batches] == ["FERMIGTRIG"] * 3 + ["SAXGRBMGRB"] * 3 + [
        "IceCube"
    ] * 3
    assert [
        set(b.column("objectid").to_pylist()) <= set(range(1 + 7 * (i % 3), 8 + 7 * (i % 3)))
        for i, b in enumerate(batches)
    ] == [True] * 9
    if mode == "tap":
        sizes = [len(upload["mytable"]) for upload in heasarc_tap.app.uploads]
        assert sizes == [7, 7, 6] * 3
        first_ids = [int(upload["mytable"]["objectid"][0]) for upload in heasarc_tap.app.uploads]
        assert first_ids == [1, 8, 15] * 3


def test_objects_at_ra_zero_and_near_the_poles_get_their_events(local_batches, expected, heasarc_sample):
    got = as_frame(local_batches)
    for label in ("ra0", "pole"):
        ids = heasarc_sample.loc[heasarc_sample["label"] == label, "objectid"]
        for band in ("FERMIGTRIG", "SAXGRBMGRB", "IceCube"):
            rows = got[got["objectid"].isin(ids) & (got["band"] == band)]
            assert set(rows["objectid"]) == set(ids), (label, band)
    # the two objects either side of RA 0 (1.5" apart) share their error-circle events
    left, right = (got[got["objectid"] == i] for i in (13, 14))
    shared = set(left.loc[left["band"] == "FERMIGTRIG", "time"]) & set(
        right.loc[right["band"] == "FERMIGTRIG", "time"]
    )
    assert shared


def test_error_radius_maximum_is_respected(heasarc_sample, heasarc_tables, heasarc_local, heasarc_tap):
    catalogs = {"FERMIGTRIG": {"max_error_radius_arcsec": 7200.0}, "SAXGRBMGRB": None, "icecubepsc": None}
    for source in (str(heasarc_local), tap_url(heasarc_tap)):
        wide = canonical(as_frame(fetch_all(heasarc_sample, source, catalogs=catalogs)))
        expected = expected_rows(heasarc_sample, heasarc_tables, {"FERMIGTRIG": 2.0}, ice_radius_deg=None)
        pd.testing.assert_frame_equal(wide, expected)
    default = canonical(
        as_frame(
            fetch_all(
                heasarc_sample,
                str(heasarc_local),
                catalogs={"FERMIGTRIG": {}, "SAXGRBMGRB": None, "icecubepsc": None},
            )
        )
    )
    events = heasarc_tables["FERMIGTRIG"].set_index("time")
    assert (events.loc[default["time"], "error_radius"] < 1.0).all()
    extra = events.loc[sorted(set(wide["time"]) - set(default["time"])), "error_radius"]
    assert len(extra) and ((extra >= 1.0) & (extra < 2.0)).all()
    assert "cat.error_radius < 2.0" in heasarc_tap.app.queries[0]


@pytest.mark.parametrize("top_n", [1, 2, 50])
def test_icecube_keeps_the_top_n_most_energetic_events(
    top_n, heasarc_sample, heasarc_tables, heasarc_local, heasarc_tap
):
    catalogs = {"FERMIGTRIG": None, "SAXGRBMGRB": None, "icecubepsc": {"top_n": top_n}}
    local = canonical(as_frame(fetch_all(heasarc_sample, str(heasarc_local), catalogs=catalogs)))
    tap = canonical(as_frame(fetch_all(heasarc_sample, tap_url(heasarc_tap), catalogs=catalogs)))
    expected = expected_rows(heasarc_sample, heasarc_tables, {}, top_n=top_n)
    pd.testing.assert_frame_equal(local, expected)
    pd.testing.assert_frame_equal(tap, expected)
    every = expected_rows(heasarc_sample, heasarc_tables, {}, top_n=10**6)
    assert local.groupby("objectid").size().max() <= top_n
    for objectid, group in every.groupby("objectid"):
        kept = local[local["objectid"] == objectid]
        assert len(kept) == min(top_n, len(group))
        dropped = group[~group["time"].isin(kept["time"])]
        assert dropped.empty or kept["flux"].min() >= dropped["flux"].max()
    if top_n < 50:
        assert len(every) > len(local)  # the cut removed events
    energy = heasarc_tables["icecubepsc"].set_index("time")["event_energy"]
    np.testing.assert_allclose(10 ** local["flux"], energy.loc[local["time"]].to_numpy(), rtol=1e-12)
    assert (local["err"] == 0).all()


def test_icecube_radius_in_arcsec_becomes_degrees_in_the_query(heasarc_sample, heasarc_tables, heasarc_tap):
    catalogs = {
        "FERMIGTRIG": None,
        "SAXGRBMGRB": None,
        "icecubepsc": {"max_radius_arcsec": 3600.0, "top_n": 100},
    }
    got = canonical(as_frame(fetch_all(heasarc_sample, tap_url(heasarc_tap), catalogs=catalogs)))
    pd.testing.assert_frame_equal(
        got, expected_rows(heasarc_sample, heasarc_tables, {}, ice_radius_deg=1.0, top_n=100)
    )
    assert "CIRCLE('ICRS', up.ra, up.dec, 1.0)" in heasarc_tap.app.queries[0]


@pytest.mark.parametrize("mode", ["tap", "local"])
def test_no_match_gives_no_batches(mode, heasarc_sample, heasarc_local, heasarc_tap):
    source = tap_url(heasarc_tap) if mode == "tap" else str(heasarc_local)
    tiny = {"FERMIGTRIG": {"max_error_radius_arcsec": 0.01}, "SAXGRBMGRB": None, "icecubepsc": None}
    assert fetch_all(heasarc_sample, source, catalogs=tiny) == []
    assert fetch_all(heasarc_sample.iloc[:0], source) == []


def test_empty_sample_sends_no_query(heasarc_sample, heasarc_tap):
    assert fetch_all(heasarc_sample.iloc[:0], tap_url(heasarc_tap)) == []
    assert heasarc_tap.requests == []


def test_fetch_is_lazy(heasarc_sample, heasarc_tap):
    batches = heasarc.fetch(heasarc_sample, source=tap_url(heasarc_tap), **FAST_RETRIES)
    assert heasarc_tap.requests == []
    next(batches)
    assert len(heasarc_tap.requests) == 1


# --------------------------------------------------------------------------- network failures


def test_503_twice_then_ok_succeeds(heasarc_sample, heasarc_tap, tap_batches, caplog):
    heasarc_tap.fail_next(2, status=503)
    batches = fetch_all(heasarc_sample, tap_url(heasarc_tap))
    assert len(heasarc_tap.requests) == 3 + 2
    assert [b.num_rows for b in batches] == [b.num_rows for b in tap_batches[0]]
    assert sum("attempt 1/3 failed" in r.getMessage() for r in caplog.records) == 1


def test_a_stalled_answer_times_out_and_is_retried(heasarc_sample, heasarc_tap, tap_batches):
    heasarc_tap.delay_next(1, seconds=1.5)
    catalogs = {"FERMIGTRIG": {}, "SAXGRBMGRB": None, "icecubepsc": None}
    batches = fetch_all(heasarc_sample, tap_url(heasarc_tap), catalogs=catalogs, timeout_s=0.5)
    assert len(heasarc_tap.requests) == 2
    assert batches[0].equals(tap_batches[0][0])


def test_always_failing_service_raises_an_archive_error_naming_service_catalog_chunk(
    heasarc_sample, heasarc_tap
):
    heasarc_tap.fail_always(status=503)
    with pytest.raises(ArchiveError) as err:
        fetch_all(heasarc_sample, tap_url(heasarc_tap), chunk_rows=10)
    message = str(err.value)
    for part in (
        "HEASARC TAP",
        "FERMIGTRIG chunk 1/2",
        "objectids 1..10",
        tap_url(heasarc_tap),
        "after 3 attempt(s)",
        "503",
    ):
        assert part in message
    assert len(heasarc_tap.requests) == 3


def test_unreachable_service_is_an_archive_error(heasarc_sample):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ArchiveError, match="HEASARC TAP .*failed after 2 attempt"):
        fetch_all(heasarc_sample, f"http://127.0.0.1:{port}/xamin/vo/tap", retries=1)


def test_query_error_fails_at_once_without_retries(heasarc_sample, heasarc_tap, monkeypatch):
    monkeypatch.setattr(heasarc.ErrorCircleCatalog, "adql", lambda self: "SELECT nonsense FROM nowhere")
    with pytest.raises(ArchiveError, match="answered with an error after 1 attempt"):
        fetch_all(heasarc_sample, tap_url(heasarc_tap))
    assert len(heasarc_tap.requests) == 1


def test_answer_without_the_time_column_is_an_archive_error(heasarc_sample, heasarc_tap, monkeypatch):
    original = heasarc.ErrorCircleCatalog.adql
    monkeypatch.setattr(
        heasarc.ErrorCircleCatalog,
        "adql",
        lambda self: original(self).replace("cat.time AS time", "cat.time"),
    )
    with pytest.raises(ArchiveError, match="lacks column 'time'; columns: objectid, cat_time"):
        fetch_all(heasarc_sample, tap_url(heasarc_tap))


def test_truncated_answers_split_the_chunk_until_complete(
    heasarc_sample, heasarc_tables, local_batches, caplog
):
    app = FakeTap(heasarc_tables, prefix=HEASARC_TAP_PATH, default_limit=8)
    with LoopbackServer(app) as server:
        batches = fetch_all(heasarc_sample, tap_url(server))
        assert max(len(t) for t in (u["mytable"] for u in app.uploads)) == 20
        assert min(len(t) for t in (u["mytable"] for u in app.uploads)) < 20
        pd.testing.assert_frame_equal(canonical(as_frame(batches)), canonical(as_frame(local_batches)))
        assert any("splitting the chunk" in r.getMessage() for r in caplog.records)
        with pytest.raises(ArchiveError, match="even a single object overflows: raise maxrec"):
            fetch_all(heasarc_sample, tap_url(server), maxrec=1)
    app.close()


@pytest.mark.parametrize(
    "where, status", [("resource", "OVERFLOW"), ("table", "OVERFLOW"), ("root", "ERROR"), (None, "OK")]
)
def test_query_status_is_read_where_pyvo_reads_it(where, status):
    from astropy.io.votable import parse
    from astropy.io.votable.tree import Info

    from mwlc.archives._tap import query_status

    vot = parse(io.BytesIO(tap_result(Table({"a": [1]}))))
    vot.resources[0].infos[:] = []
    target = {
        "resource": vot.resources[0].infos,
        "table": vot.resources[0].tables[0].infos,
        "root": vot.infos,
        None: [],
    }[where]
    target.append(Info(name="QUERY_STATUS", value=status))
    assert query_status(vot) == status


def test_maxrec_is_sent_when_given(heasarc_sample, heasarc_tap):
    fetch_all(
        heasarc_sample,
        tap_url(heasarc_tap),
        maxrec=100_000,
        catalogs={"FERMIGTRIG": {}, "SAXGRBMGRB": None, "icecubepsc": None},
    )
    assert heasarc_tap.requests[0].form()["MAXREC"] == ["100000"]


# --------------------------------------------------------------------------- local-copy mode


def test_local_blocks_bounded_by_the_pair_budget_give_the_same_rows(
    heasarc_sample, heasarc_local, local_batches, monkeypatch
):
    monkeypatch.setattr(heasarc.local, "PAIR_BUDGET", 1)
    table = heasarc.LocalTable.read(heasarc_local / "icecubepsc.parquet", heasarc.parse_catalogs(None)[2])
    ra, dec = heasarc_sample["ra"].to_numpy(), heasarc_sample["dec"].to_numpy()
    assert table.block_starts(ra, dec).tolist() == list(range(len(ra)))  # one object per block
    monkeypatch.setattr(heasarc.local, "PAIR_BUDGET", 10**9)
    assert table.block_starts(ra, dec).tolist() == [0]
    monkeypatch.setattr(heasarc.local, "PAIR_BUDGET", 1)
    batches = fetch_all(heasarc_sample, str(heasarc_local))
    assert [b.equals(c) for b, c in zip(batches, local_batches, strict=True)] == [True] * 3


def test_local_blocks_hold_the_pair_budget_when_events_cluster_around_the_objects(monkeypatch):
    catalog = heasarc.parse_catalogs(None)[1]  # SAXGRBMGRB: error circles up to 3 deg
    rng = np.random.default_rng(0)
    n_objects, per_object = 40, 50
    ra, dec = rng.uniform(150, 151, n_objects), rng.uniform(0, 1, n_objects)
    events = {  # events piled up around the objects: a uniform-density estimate sees few pairs
        "ra": np.repeat(ra, per_object) + rng.normal(0, 0.01, n_objects * per_object),
        "dec": np.repeat(dec, per_object) + rng.normal(0, 0.01, n_objects * per_object),
        "error_radius": np.full(n_objects * per_object, 2.0),
        "time": np.arange(n_objects * per_object, dtype=float),
    }
    table = heasarc.LocalTable(
        catalog, events, heasarc.local.cKDTree(heasarc.local.unit_vectors(events["ra"], events["dec"])), 3.0
    )
    monkeypatch.setattr(heasarc.local, "PAIR_BUDGET", 10_000)
    pairs = []
    match_block = heasarc.LocalTable._match_block
    monkeypatch.setattr(
        heasarc.LocalTable,
        "_match_block",
        lambda self, o: pairs.append(len(o) * len(events["ra"])) or match_block(self, o),
    )
    table.match(pd.DataFrame({"objectid": np.arange(n_objects), "ra": ra, "dec": dec}))
    assert len(pairs) > 1 and max(pairs) <= 10_000  # every object reaches all 2,000 events


def test_local_copy_ignores_unusable_rows_and_matches_case_insensitively(
    tmp_path, heasarc_sample, heasarc_tables
):
    fermi = heasarc_tables["FERMIGTRIG"].copy()
    bad = fermi.iloc[:3].assign(
        ra=[np.nan, 0.0, 0.0], error_radius=[0.5, np.nan, 0.5], dec=[0.0, 0.0, np.nan]
    )
    pd.concat([fermi, bad]).to_parquet(tmp_path / "fermigtrig.parquet")
    catalogs = {"FERMIGTRIG": {}, "SAXGRBMGRB": None, "icecubepsc": None}
    got = canonical(as_frame(fetch_all(heasarc_sample, str(tmp_path), catalogs=catalogs)))
    pd.testing.assert_frame_equal(
        got, expected_rows(heasarc_sample, heasarc_tables, {"FERMIGTRIG": 1.0}, ice_radius_deg=None)
    )


def test_object_at_an_event_centre_is_matched(tmp_path):
    events = pd.DataFrame(
        {
            "ra": [10.0, 0.0],
            "dec": [20.0, 90.0],
            "error_radius": [0.01, 0.5],
            "time": [55000.0, 55001.0],
            "event_energy": [1e3, 1e4],
        }
    )
    events.to_parquet(tmp_path / "icecubepsc.parquet")
    events.drop(columns="event_energy").to_parquet(tmp_path / "FERMIGTRIG.parquet")
    sample = pd.DataFrame({"objectid": [5, 6], "ra": [10.0, 200.0], "dec": [20.0, 89.8], "label": ["x", "y"]})
    got = as_frame(fetch_all(sample, str(tmp_path), catalogs={"FERMIGTRIG": {}, "icecubepsc": {}}))
    assert got[["objectid", "band", "time"]].values.tolist() == [
        [5, "FERMIGTRIG", 55000.0],
        [6, "FERMIGTRIG", 55001.0],
        [5, "IceCube", 55000.0],
        [6, "IceCube", 55001.0],
    ]


def test_missing_local_table_or_column_is_an_archive_error_at_call_time(
    tmp_path, heasarc_sample, heasarc_tables
):
    with pytest.raises(ArchiveError, match=r"local copy .*SAXGRBMGRB\.parquet does not exist"):
        heasarc.fetch(heasarc_sample, source=str(tmp_path), catalogs={"SAXGRBMGRB": {}})
    heasarc_tables["icecubepsc"].drop(columns="event_energy").to_parquet(tmp_path / "icecubepsc.parquet")
    with pytest.raises(ArchiveError, match=r"lacks column\(s\) \['event_energy'\]"):
        heasarc.fetch(heasarc_sample, source=str(tmp_path), catalogs={"icecubepsc": {}})


def test_source_neither_url_nor_directory_is_an_archive_error(tmp_path, heasarc_sample):
    with pytest.raises(ArchiveError, match="neither an http"):
        heasarc.fetch(heasarc_sample, source=str(tmp_path / "missing"))


# --------------------------------------------------------------------------- parameters


def test_default_catalogs_and_source():
    catalogs = heasarc.parse_catalogs(None)
    assert [c.table for c in catalogs] == ["FERMIGTRIG", "SAXGRBMGRB", "icecubepsc"]
    assert catalogs[0].max_error_radius_deg == 1.0 and catalogs[1].max_error_radius_deg == 3.0
    assert catalogs[2].max_radius_deg == 2.0 and catalogs[2].top_n == 3
    assert heasarc.DEFAULT_SOURCE == "https://heasarc.gsfc.nasa.gov/xamin/vo/tap"
    assert heasarc.BANDS == ["FERMIGTRIG", "SAXGRBMGRB", "IceCube"]
    assert heasarc.fetch.__kwdefaults__["chunk_rows"] == 50_000


def test_catalog_names_are_case_insensitive_and_null_skips():
    catalogs = heasarc.parse_catalogs(
        {"fermigtrig": {"max_error_radius_arcsec": 100}, "IceCubePSC": None, "SAXGRBMGRB": False}
    )
    assert catalogs == [heasarc.ErrorCircleCatalog("FERMIGTRIG", 100.0)]


CATALOGS = "'archives.heasarc.catalogs"


@pytest.mark.parametrize(
    "catalogs, match",
    [
        (
            {"swiftgrb": {}},
            f"{CATALOGS}.swiftgrb': unknown key; allowed keys: FERMIGTRIG, SAXGRBMGRB, icecubepsc",
        ),
        ({"FERMIGTRIG": {"max_error_radius": 1.0}}, "did you mean 'max_error_radius_arcsec'"),
        ({"FERMIGTRIG": 1.0}, f"{CATALOGS}.FERMIGTRIG': expected a mapping or null, got 1.0"),
        (
            {"FERMIGTRIG": {"max_error_radius_arcsec": -1}},
            "max_error_radius_arcsec': -1 is less than or equal",
        ),
        (
            {"FERMIGTRIG": {"max_error_radius_arcsec": float("nan")}},
            "max_error_radius_arcsec': expected a finite",
        ),
        ({"icecubepsc": {"top_n": 0}}, f"{CATALOGS}.icecubepsc.top_n': 0 is less than the minimum of 1"),
        ({"icecubepsc": {"top_n": 2.5}}, "top_n': expected an integer, got 2.5"),
        (
            {"icecubepsc": {"max_radius_arcsec": "2 deg"}},
            "max_radius_arcsec': expected a number, got '2 deg'",
        ),
        ({"FERMIGTRIG": None, "SAXGRBMGRB": None, "icecubepsc": None}, "no table to query"),
        ({}, "no table to query"),
        ({"FERMIGTRIG": {}, "fermigtrig": None}, f"{CATALOGS}': names the table FERMIGTRIG twice"),
        ({1: None}, f"{CATALOGS}.1': unknown key; allowed keys: FERMIGTRIG, SAXGRBMGRB, icecubepsc"),
        ({"icecubepsc": {"top_n": 3.0}}, "top_n': expected an integer, got 3.0"),
        ([("FERMIGTRIG", 1.0)], f"{CATALOGS}': expected a mapping"),
    ],
)
def test_bad_catalogs_are_config_errors(catalogs, match):
    with pytest.raises(ConfigError, match=match):
        heasarc.parse_catalogs(catalogs)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"chunk_rows": 0}, "'archives.heasarc.chunk_rows': 0 is less than the minimum of 1"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"retries": -1}, "'archives.heasarc.retries': -1 is less than the minimum of 0"),
        ({"retry_backoff_s": -1}, "'archives.heasarc.retry_backoff_s': -1 is less than the minimum of 0"),
        ({"maxrec": 0}, "'archives.heasarc.maxrec': 0 is less than the minimum of 1"),
    ],
)
def test_bad_parameters_are_config_errors_before_any_request(params, match, heasarc_sample, heasarc_tap):
    with pytest.raises(ConfigError, match=match):
        heasarc.fetch(heasarc_sample, source=tap_url(heasarc_tap), **params)
    assert heasarc_tap.requests == []


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.drop(columns="label"), r"lacks column\(s\) \['label'\]"),
        (lambda s: s.assign(objectid=1), "not unique"),
        (lambda s: s.assign(ra=np.nan), "non-finite"),
    ],
)
def test_bad_sample_is_a_sample_error(change, match, heasarc_sample, heasarc_local):
    with pytest.raises(SampleError, match=match):
        heasarc.fetch(change(heasarc_sample), source=str(heasarc_local))
