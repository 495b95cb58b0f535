"""unWISE neo7 time-domain light curves: fetch against a synthetic hive dataset, locally and on moto S3.

Expected rows are computed here independently of :mod:`mwlc.archives.wise`: every fixture file
is read whole with pyarrow, separations are brute-forced with astropy, cuts applied with pandas,
and fluxes converted Vega nanomaggies -> AB mag (with the published offsets) -> mJy with
astropy's ``u.ABmag``.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
from pathlib import Path

import astropy.units as u
import fsspec.implementations.local
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord
from cdshealpix.nested import cone_search
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.archives import wise
from mwlc.demo.wise import build_unwise_dataset, unwise_detections
from mwlc.errors import ArchiveError, ConfigError
from mwlc.schema import LIGHTCURVE_SCHEMA

#: The spec's band codes and Vega -> AB offsets, written out independently of the module.
BAND_CODE = {"WISE_W1": 1, "WISE_W2": 2}
AB_OFFSET = {"WISE_W1": 2.699, "WISE_W2": 3.339}
LEAF = re.compile(r"healpix_k0=(\d+)/healpix_k5=(\d+)/part0\.snappy\.parquet$")
#: The unWISE neo7 time-domain columns and dtypes the fixture must have.
NEO7_SCHEMA = pa.schema(
    [("x", pa.float64()), ("y", pa.float64()), ("flux", pa.float32()), ("dx", pa.float32())]
    + [("dy", pa.float32()), ("dflux", pa.float32()), ("qf", pa.float32()), ("rchi2", pa.float32())]
    + [(name, pa.float32()) for name in ("fracflux", "fluxlbs", "dfluxlbs", "fwhm", "spread_model")]
    + [("dspread_model", pa.float32()), ("sky", pa.float32()), ("ra", pa.float64()), ("dec", pa.float64())]
    + [("coadd_id", pa.string()), ("band", pa.int16()), ("unwise_detid", pa.string()), ("nm", pa.int32())]
    + [("primary", pa.int16()), ("flags_unwise", pa.int16()), ("flags_info", pa.int16())]
    + [("EPOCH", pa.int16()), ("FORWARD", pa.int16())]
    + [("MJDMIN", pa.float64()), ("MJDMAX", pa.float64()), ("MJDMEAN", pa.float64())]
)


# --------------------------------------------------------------------------- independent reference


def read_detections(root: Path) -> pd.DataFrame:
    """Every row of every partition file, read whole, with the (k0, k5) of its path."""
    frames = []
    for path in sorted(root.glob("healpix_k0=*/healpix_k5=*/part0.snappy.parquet")):
        k0, k5 = map(int, LEAF.search(path.as_posix()).groups())
        frame = pq.read_table(path).to_pandas()
        frame["k0"], frame["k5"], frame["file"] = k0, k5, path.relative_to(root).as_posix()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def all_pairs(detections: pd.DataFrame, sample: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """Every (sample object, detection) pair within the radius, by brute-force separation."""
    objects = SkyCoord(sample["ra"].to_numpy() * u.deg, sample["dec"].to_numpy() * u.deg)
    points = SkyCoord(detections["ra"].to_numpy() * u.deg, detections["dec"].to_numpy() * u.deg)
    separation = objects[:, None].separation(points[None, :]).arcsec
    i, j = np.nonzero(separation <= radius_arcsec)
    pairs = detections.iloc[j].reset_index(drop=True)
    pairs = pairs.rename(columns={"ra": "det_ra", "dec": "det_dec"})
    pairs["objectid"] = sample["objectid"].to_numpy()[i]
    pairs["label"] = sample["label"].to_numpy()[i]
    pairs["obj_ra"] = sample["ra"].to_numpy()[i]
    pairs["obj_dec"] = sample["dec"].to_numpy()[i]
    pairs["sep_arcsec"] = separation[i, j]
    return pairs


def expected_rows(pairs: pd.DataFrame, bands: tuple[str, ...] = tuple(BAND_CODE)) -> pd.DataFrame:
    """The spec's cuts and conversion, with astropy: primary, flux > 0, bands; nmgy -> mJy."""
    code_to_band = {code: band for band, code in BAND_CODE.items()}
    kept = pairs[(pairs["primary"] == 1) & (pairs["flux"] > 0)].copy()
    kept["band"] = kept["band"].map(code_to_band)
    kept = kept[kept["band"].isin(bands)]
    flux = kept["flux"].to_numpy(np.float64)
    ab_mag = 22.5 - 2.5 * np.log10(flux) + kept["band"].map(AB_OFFSET).to_numpy()
    mjy = (ab_mag * u.ABmag).to_value(u.mJy)
    return pd.DataFrame(
        {
            "objectid": kept["objectid"].to_numpy(np.int64),
            "label": kept["label"].to_numpy(str),
            "band": kept["band"].to_numpy(str),
            "time": kept["MJDMEAN"].to_numpy(float),
            "flux": mjy,
            "err": kept["dflux"].to_numpy(np.float64) * mjy / flux,
        }
    )


def as_frame(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    """Fetched batches as a flat frame with plain string label/band."""
    table = pa.Table.from_batches(batches, schema=LIGHTCURVE_SCHEMA).replace_schema_metadata(None)
    return table.to_pandas().astype({"label": str, "band": str})


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same rows (as a multiset); flux and err equal to 1e-12 relative."""
    keys = ["objectid", "band", "time", "flux"]
    got = got.sort_values(keys, ignore_index=True)
    want = want.sort_values(keys, ignore_index=True)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got[["objectid", "label", "band"]], want[["objectid", "label", "band"]])
    np.testing.assert_array_equal(got["time"], want["time"])
    np.testing.assert_allclose(got["flux"], want["flux"], rtol=1e-12)
    np.testing.assert_allclose(got["err"], want["err"], rtol=1e-12)


class CountingDataset:
    """A dataset proxy that records every scan-starting call."""

    SCANS = frozenset({"to_batches", "to_table", "scanner", "get_fragments", "head", "take", "count_rows"})

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self.calls: list[str] = []

    def __getattr__(self, name):
        if name in self.SCANS:
            self.calls.append(name)
        return getattr(self.dataset, name)


class CountingLocalFS(fsspec.implementations.local.LocalFileSystem):
    """A local fsspec filesystem that records every file opened for reading."""

    cachable = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.opened: list[str] = []

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode:
            self.opened.append(path)
        return super()._open(path, mode=mode, **kwargs)


# --------------------------------------------------------------------------- shared fixtures


@pytest.fixture(scope="module")
def detections(wise_dataset) -> pd.DataFrame:
    return read_detections(wise_dataset)


@pytest.fixture(scope="module")
def pairs(detections, wise_sample) -> pd.DataFrame:
    return all_pairs(detections, wise_sample, radius_arcsec=1.0)


@pytest.fixture(scope="module")
def local_rows(wise_dataset, wise_sample) -> pd.DataFrame:
    """One fetch of the whole test sample from the local dataset (defaults: 1", both bands)."""
    return as_frame(list(wise.fetch(wise_sample, source=str(wise_dataset))))


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_mirrors_the_real_layout_and_schema(wise_dataset, detections):
    assert pq.read_schema(wise_dataset / "_common_metadata").remove_metadata().equals(NEO7_SCHEMA)
    metadata = pq.read_metadata(wise_dataset / "_metadata")
    assert metadata.schema.to_arrow_schema().remove_metadata().equals(NEO7_SCHEMA)
    files = {metadata.row_group(i).column(0).file_path for i in range(metadata.num_row_groups)}
    assert files == set(detections["file"])  # relative paths of every file, nothing else
    assert metadata.num_rows == len(detections)
    assert metadata.num_row_groups > len(files)  # some files hold several row groups
    assert (detections["k0"] == detections["k5"] // 1024).all()
    assert (radec2pix(5, detections["ra"].to_numpy(), detections["dec"].to_numpy()) == detections["k5"]).all()
    assert detections["file"].nunique() >= 15
    assert detections["unwise_detid"].str.len().eq(22).all()
    assert "SYNTHETIC" in (wise_dataset / "README.txt").read_text()


def test_fixture_has_the_cases_the_reader_must_handle(detections, pairs):
    counterpart = pairs[(pairs["primary"] == 1) & (pairs["sep_arcsec"] < 0.6)]
    epochs = counterpart.groupby(["objectid", "band"])["EPOCH"].nunique()
    assert epochs.between(16, 20).all()  # NEOWISE 6-month cadence, 16-20 epochs per band
    assert set(detections["band"]) == {1, 2}
    assert (pairs["primary"] == 0).any()  # duplicates from overlapping tiles within the radius
    assert ((pairs["primary"] == 1) & (pairs["flux"] <= 0)).any()
    assert (detections["flux"] == 0).any()
    mjd = detections.groupby(["coadd_id", "EPOCH"])["MJDMEAN"].nunique()
    assert (mjd == 1).all()  # one MJDMEAN per tile epoch
    primary = detections[detections["primary"] == 1]
    for _, tile in primary.groupby("coadd_id"):  # 2010: two epochs; from Dec 2013: every 6 months
        gaps = np.diff(np.sort(tile.groupby("EPOCH")["MJDMEAN"].first().to_numpy()))
        assert gaps[1] > 1000 and np.allclose(np.delete(gaps, 1), 182.6, atol=3)


def test_demo_builder_is_deterministic_and_refuses_foreign_directories(tmp_path):
    sample = pd.DataFrame({"objectid": [1, 2], "ra": [10.0, 10.01], "dec": [-5.0, -5.0]})
    first = unwise_detections(sample)
    assert first.equals(unwise_detections(sample))
    assert not first.column("flux").equals(unwise_detections(sample, seed=1).column("flux"))
    root = build_unwise_dataset(sample, tmp_path / "a")
    assert build_unwise_dataset(sample, root) == root  # an earlier synthetic build is replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a synthetic unWISE build"):
        build_unwise_dataset(sample, foreign)
    assert (foreign / "notes.txt").exists()


# --------------------------------------------------------------------------- fetch: rows


def test_fetch_local_gives_exactly_the_brute_force_rows(local_rows, pairs):
    assert_same_rows(local_rows, expected_rows(pairs))


def test_fetch_s3_with_endpoint_in_storage_options(monkeypatch, moto_endpoint, wise_s3, wise_sample, pairs):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    options = {"anon": True, "client_kwargs": {"endpoint_url": moto_endpoint}}
    rows = as_frame(list(wise.fetch(wise_sample, source=wise_s3, storage_options=options)))
    assert_same_rows(rows, expected_rows(pairs))


def test_fetch_s3_with_endpoint_in_aws_endpoint_url(aws_env, wise_s3, wise_sample, pairs):
    rows = as_frame(list(wise.fetch(wise_sample, source=wise_s3, bands=["WISE_W1"], threads=2)))
    assert_same_rows(rows, expected_rows(pairs, ["WISE_W1"]))


def test_default_source_is_the_real_irsa_dataset():
    assert wise.SOURCE == (
        "s3://nasa-irsa-wise/unwise/neo7/catalogs/time_domain/healpix_k5/"
        "unwise-neo7-time_domain-healpix_k5.parquet"
    )


@pytest.mark.parametrize("bands", [["WISE_W2"], ["WISE_W1"]])
def test_band_subset(wise_dataset, wise_sample, pairs, bands):
    rows = as_frame(list(wise.fetch(wise_sample, source=str(wise_dataset), bands=bands)))
    assert set(rows["band"]) == set(bands)
    assert_same_rows(rows, expected_rows(pairs, bands))


def test_larger_radius_reaches_the_decoys(wise_dataset, wise_sample, detections):
    wide = all_pairs(detections, wise_sample, radius_arcsec=12.0)
    assert ((wide["sep_arcsec"] > 3) & (wide["primary"] == 1)).any()  # decoys 3-10" away
    rows = as_frame(list(wise.fetch(wise_sample, source=str(wise_dataset), radius_arcsec=12.0)))
    assert_same_rows(rows, expected_rows(wide))


def test_threads_and_small_batches_do_not_change_the_result(wise_dataset, wise_sample, local_rows):
    batches = list(wise.fetch(wise_sample, source=str(wise_dataset), threads=2, mem_mb=1000, batch_rows=100))
    assert len(batches) >= 15  # streamed in many batches
    assert_same_rows(as_frame(batches), local_rows)


# --------------------------------------------------------------------------- fetch: edge cases


def test_object_on_a_pixel_boundary_gets_detections_from_the_neighbouring_pixel(pairs, local_rows):
    want = expected_rows(pairs)
    edge = pairs[(pairs["label"] == "edge") & (pairs["primary"] == 1) & (pairs["flux"] > 0)]
    home = [radec2pix(5, ra, dec) for ra, dec in zip(edge["obj_ra"], edge["obj_dec"], strict=True)]
    across = edge[edge["k5"].to_numpy() != np.array(home)]
    assert len(across) > 0 and across["objectid"].nunique() >= 2
    edge_ids = set(edge["objectid"])
    assert_same_rows(local_rows[local_rows["objectid"].isin(edge_ids)], want[want["objectid"].isin(edge_ids)])
    got = set(zip(local_rows["objectid"], local_rows["time"], strict=True))
    assert set(zip(across["objectid"], across["MJDMEAN"], strict=True)) <= got  # neighbouring-pixel rows


def test_objects_at_ra_zero_are_matched_across_the_wrap(wise_sample, pairs, local_rows):
    ra0 = pairs[pairs["label"] == "ra0"]
    assert set(ra0["objectid"]) == set(wise_sample.loc[wise_sample["label"] == "ra0", "objectid"])
    assert ((ra0["obj_ra"] < 180) != (ra0["det_ra"] < 180)).any()  # matches across RA 0/360
    want = expected_rows(ra0)
    assert_same_rows(local_rows[local_rows["label"] == "ra0"], want)


def test_object_at_the_pole_searches_the_four_pixels_that_meet_there(wise_sample, pairs, local_rows):
    pole = wise_sample[wise_sample["label"] == "pole"]
    pixels = wise.pixels_within(pole["ra"].to_numpy(), pole["dec"].to_numpy(), 1.0)
    assert len(pixels) == 4
    matched = pairs[pairs["label"] == "pole"]
    assert matched["k5"].nunique() >= 2
    assert_same_rows(local_rows[local_rows["label"] == "pole"], expected_rows(matched))


def test_primary_zero_duplicates_are_excluded(pairs, local_rows):
    duplicates = pairs[(pairs["primary"] == 0) & (pairs["flux"] > 0)]
    assert len(duplicates) > 0
    got = set(zip(local_rows["objectid"], local_rows["time"], strict=True))
    assert not got & set(zip(duplicates["objectid"], duplicates["MJDMEAN"], strict=True))


def test_non_positive_fluxes_are_excluded(pairs, local_rows):
    assert ((pairs["primary"] == 1) & (pairs["flux"] <= 0)).sum() > 0
    assert (local_rows["flux"] > 0).all() and np.isfinite(local_rows["flux"]).all()
    assert len(local_rows) == ((pairs["primary"] == 1) & (pairs["flux"] > 0)).sum()


def test_every_detection_within_the_radius_is_kept_not_only_the_nearest(pairs, local_rows):
    want = expected_rows(pairs).groupby(["objectid", "band", "time"]).size()
    assert (want >= 2).sum() >= 5  # two detections of one epoch (companions) within 1"
    got = local_rows.groupby(["objectid", "band", "time"]).size()
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index())


def test_a_detection_near_two_objects_is_kept_for_both(pairs, local_rows):
    pair = pairs[(pairs["label"] == "pair") & (pairs["primary"] == 1) & (pairs["flux"] > 0)]
    shared = pair.groupby("unwise_detid")["objectid"].nunique()
    assert (shared == 2).any()
    for detid in shared[shared == 2].index:
        row = pair[pair["unwise_detid"] == detid].iloc[0]
        hits = local_rows[(local_rows["time"] == row["MJDMEAN"]) & (local_rows["label"] == "pair")]
        assert set(pair.loc[pair["unwise_detid"] == detid, "objectid"]) <= set(hits["objectid"])


@pytest.mark.parametrize("label", ["lonely", "far"])
def test_object_without_detections_yields_no_batches(wise_dataset, wise_sample, pairs, label):
    # "lonely" lies in a pixel the dataset has (it is scanned, nothing matches); "far" does not.
    alone = wise_sample[wise_sample["label"] == label]
    assert not pairs["objectid"].isin(alone["objectid"]).any()
    assert list(wise.fetch(alone, source=str(wise_dataset))) == []


# --------------------------------------------------------------------------- one scan, few files


def test_one_scan_reads_only_the_files_of_the_touched_pixels(monkeypatch, wise_dataset, wise_sample):
    """The original looped over pixels (one scan each); this must be one scan over all of them."""
    counting_fs = CountingLocalFS()
    filesystem = pafs.PyFileSystem(pafs.FSSpecHandler(counting_fs))
    monkeypatch.setattr(wise, "arrow_filesystem", lambda source, options=None, **_: (filesystem, source))
    opened: list[CountingDataset] = []
    real_open = wise.open_dataset
    monkeypatch.setattr(
        wise, "open_dataset", lambda *a: opened.append(CountingDataset(real_open(*a))) or opened[-1]
    )
    grid = wise_sample[wise_sample["label"] == "grid"]
    pixels = wise.pixels_within(grid["ra"].to_numpy(), grid["dec"].to_numpy(), 1.0)
    assert len(pixels) >= 10

    rows = as_frame(list(wise.fetch(grid, source=str(wise_dataset))))

    assert set(rows["objectid"]) == set(grid["objectid"])
    assert [dataset.calls for dataset in opened] == [["to_batches"]]
    data_files = [Path(path).relative_to(wise_dataset).as_posix() for path in counting_fs.opened]
    data_files = [path for path in data_files if not path.startswith("_")]
    wanted = {f"healpix_k0={p // 1024}/healpix_k5={p}/part0.snappy.parquet" for p in pixels}
    assert set(data_files) == wanted  # partition pruning: no other file is opened
    assert len(data_files) == len(wanted)  # each once


@pytest.mark.parametrize(("order", "radius"), [(5, 1.0), (5, 30.0), (16, 1.0), (13, 12.0)])
def test_pixels_within_is_inclusive_and_matches_per_object_cone_searches(wise_sample, order, radius):
    rng = np.random.default_rng(5)
    ra = np.concatenate([wise_sample["ra"].to_numpy(), rng.uniform(0, 360, 300)])
    dec = np.concatenate([wise_sample["dec"].to_numpy(), np.degrees(np.arcsin(rng.uniform(-1, 1, 300)))])
    pixels = set(wise.pixels_within(ra, dec, radius, order=order).tolist())
    per_object = set()
    for r, d in zip(ra, dec, strict=True):
        per_object |= set(cone_search(r * u.deg, d * u.deg, radius * u.arcsec, depth=order)[0].tolist())
    assert pixels == per_object
    # every point of every disc (centre, 32 radii x 8 rings) falls in a returned pixel
    angle = np.linspace(0, 360, 32, endpoint=False)
    ring = np.linspace(0, 1, 9)[1:] * radius
    centre = SkyCoord(
        np.repeat(ra, angle.size * ring.size) * u.deg, np.repeat(dec, angle.size * ring.size) * u.deg
    )
    points = centre.directional_offset_by(
        np.tile(np.repeat(angle, ring.size), len(ra)) * u.deg,
        np.tile(ring, angle.size * len(ra)) * u.arcsec,
    )
    touched = set(radec2pix(order, points.ra.deg, points.dec.deg).tolist())
    assert touched | set(radec2pix(order, ra, dec).tolist()) <= pixels
    assert wise.pixels_within(np.array([]), np.array([]), radius, order=order).size == 0


def test_cell_order_gives_cells_about_twice_the_radius():
    assert wise.cell_order(1.0) == 16  # 3.2" cells
    assert wise.cell_order(12.0) == 13  # 25.8" cells
    assert wise.cell_order(7200.0) == 5  # never coarser than the partitions
    assert wise.cell_order(0.001) == 20
    for radius in (0.3, 1.0, 5.0, 60.0):
        size = np.degrees(np.sqrt(4 * np.pi / (12 * 4 ** wise.cell_order(radius)))) * 3600
        assert 2 * radius <= size < 4 * radius


def test_matcher_skips_detections_without_finite_positions():
    sample = pd.DataFrame({"objectid": [7, 8], "ra": [10.0, 359.9999], "dec": [0.0, -89.9999], "label": "x"})
    matcher = wise._Matcher(sample, 1.0)
    ra = np.array([np.nan, 10.0 + 0.5 / 3600, 10.0, 0.0001, 10.0 + 1.5 / 3600])
    dec = np.array([0.0, 0.0, np.nan, -89.9999, 0.0])
    obj, det = matcher.pairs(ra, dec)
    assert sorted(zip(obj.tolist(), det.tolist(), strict=True)) == [(0, 1), (1, 3)]


def test_scan_options_follow_threads_and_memory():
    serial = wise.scan_options(1, None, 131_072)
    assert serial == {
        "batch_size": 131_072,
        "batch_readahead": 1,
        "fragment_readahead": 1,
        "use_threads": False,
    }
    parallel = wise.scan_options(4, 100, 131_072)
    assert parallel["use_threads"] and parallel["fragment_readahead"] == parallel["batch_readahead"] == 4
    assert parallel["batch_size"] == 11_488  # half of 100 MB (10**6 bytes) / (17 batches x 256 bytes)
    assert wise.scan_options(4, 1, 131_072)["batch_size"] == 1024  # never below 1024 rows


def test_pyarrow_cpu_pool_is_capped_while_scanning_and_restored(wise_dataset, wise_sample):
    before = pa.cpu_count()
    stream = wise.fetch(wise_sample, source=str(wise_dataset), threads=1, batch_rows=200)
    next(stream)
    assert pa.cpu_count() == 1
    list(stream)
    assert pa.cpu_count() == before


# --------------------------------------------------------------------------- conversion


def test_vega_nanomaggy_to_mjy_matches_astropy():
    flux = np.array([1.0, 1000.0, 0.37])
    dflux = np.array([0.5, 10.0, 0.1])
    for band, offset in AB_OFFSET.items():
        mjy, err = wise.vega_nanomaggy_to_mjy(flux, dflux, np.array([band] * 3))
        want = ((22.5 - 2.5 * np.log10(flux) + offset) * u.ABmag).to_value(u.mJy)
        np.testing.assert_allclose(mjy, want, rtol=1e-12)
        np.testing.assert_allclose(err, dflux * want / flux, rtol=1e-12)
    # 1 Vega nanomaggy in W1 is AB 25.199, i.e. 10**(-0.4 * 1.299) uJy
    one, _ = wise.vega_nanomaggy_to_mjy(np.array([1.0]), np.array([0.0]), np.array(["WISE_W1"]))
    np.testing.assert_allclose(one, 10 ** (-0.4 * 1.299) / 1000, rtol=1e-12)


# --------------------------------------------------------------------------- endpoint


def test_file_uri_source(wise_dataset, wise_sample, local_rows):
    rows = as_frame(list(wise.fetch(wise_sample, source=wise_dataset.as_uri())))
    assert_same_rows(rows, local_rows)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"radius_arcsec": 0.0}, "radius_arcsec"),
        ({"radius_arcsec": -1.0}, "radius_arcsec"),
        ({"radius_arcsec": float("nan")}, "radius_arcsec"),
        ({"radius_arcsec": float("inf")}, "radius_arcsec"),
        ({"radius_arcsec": "1"}, "radius_arcsec"),
        (
            {"bands": ["W1", "WISE_W2"]},
            r"'archives.wise.bands.0': 'W1' is not one of .*'W1' is now 'WISE_W1'",
        ),
        (
            {"bands": ["WISE_W3"]},
            r"'archives.wise.bands.0': 'WISE_W3' is not one of \['WISE_W1', 'WISE_W2'\]",
        ),
        ({"bands": []}, r"'archives.wise.bands': \[\] should be non-empty"),
        ({"bands": "WISE_W1"}, "'archives.wise.bands': expected a list"),
        ({"threads": 0}, "threads must be an integer >= 1"),
        ({"threads": 1.5}, "threads"),
        ({"batch_rows": 0}, "'archives.wise.batch_rows': 0 is less than the minimum of 1"),
        ({"mem_mb": 0}, r"wise fetch: mem_mb must be a number > 0 \(MB\), got 0"),
    ],
)
def test_invalid_params_are_rejected_before_any_io(tmp_path, wise_sample, params, match):
    missing = tmp_path / "no-such-dataset"  # opening it would be an ArchiveError
    with pytest.raises(ConfigError, match=match):
        wise.fetch(wise_sample, source=str(missing), **params)


def test_missing_local_source_is_an_archive_error(tmp_path, wise_sample):
    missing = tmp_path / "nothing.parquet"
    with pytest.raises(ArchiveError, match=f"cannot open unWISE source {re.escape(str(missing))}"):
        wise.fetch(wise_sample, source=str(missing))


def test_dataset_without_a_needed_column_is_an_archive_error(tmp_path, wise_sample):
    root = tmp_path / "old.parquet"
    leaf = root / "healpix_k0=0" / "healpix_k5=1"
    leaf.mkdir(parents=True)
    table = pa.table({"ra": [1.0], "dec": [2.0], "band": [1], "flux": [1.0], "dflux": [1.0], "primary": [1]})
    collected: list = []
    pq.write_table(table, leaf / "part0.snappy.parquet", metadata_collector=collected)
    collected[0].set_file_path("healpix_k0=0/healpix_k5=1/part0.snappy.parquet")
    pq.write_metadata(table.schema, root / "_metadata", metadata_collector=collected)
    with pytest.raises(ArchiveError, match=r"lacks column\(s\) \['MJDMEAN'\]"):
        wise.fetch(wise_sample, source=str(root))


def test_unreadable_file_is_an_archive_error_while_streaming(tmp_path, wise_dataset, wise_sample):
    copy = Path(shutil.copytree(wise_dataset, tmp_path / "copy.parquet"))
    edge = wise_sample[wise_sample["label"] == "edge"]
    pixel = wise.pixels_within(edge["ra"].to_numpy(), edge["dec"].to_numpy(), 1.0)[0]
    (copy / f"healpix_k0={pixel // 1024}/healpix_k5={pixel}/part0.snappy.parquet").write_bytes(b"not parquet")
    stream = wise.fetch(edge, source=str(copy))  # opening reads only _metadata: fine
    with pytest.raises(ArchiveError, match=f"reading unWISE source {re.escape(str(copy))} failed"):
        list(stream)


def test_missing_s3_key_is_an_archive_error(aws_env, wise_s3, wise_sample):
    with pytest.raises(ArchiveError, match=r"cannot open unWISE source s3://nasa-irsa-wise/unwise/neo8"):
        wise.fetch(wise_sample, source=wise_s3.replace("neo7", "neo8"))


def test_unreachable_s3_endpoint_is_an_archive_error(monkeypatch, wise_sample):
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {"client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"}}
    with pytest.raises(ArchiveError, match=r"cannot open unWISE source s3://nasa-irsa-wise/\S+: OSError"):
        wise.fetch(wise_sample, source=wise.SOURCE, storage_options=options)


# --------------------------------------------------------------------------- logs and shards


def test_progress_is_logged(wise_dataset, wise_sample, caplog):
    with caplog.at_level(logging.INFO, logger="mwlc.archives.wise"):
        list(wise.fetch(wise_sample, source=str(wise_dataset), bands=["WISE_W2"]))
    messages = [record.getMessage() for record in caplog.records if record.name == "mwlc.archives.wise"]
    assert re.match(
        r"scanning \d+ HEALPix order-5 pixels of \S+ once for \d+ objects within 1 arcsec \(WISE_W2;",
        messages[0],
    )
    assert any(re.match(r"batch \d+: \d+ detections scanned, \d+ rows kept", m) for m in messages)
    assert re.match(
        r"done: \d+ pixels, \d+ batches, \d+ detections scanned, \d+ objects matched, \d+ rows", messages[-1]
    )
