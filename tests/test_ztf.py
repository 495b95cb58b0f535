"""ZTF DR24 light curves: fetch against a synthetic HATS collection, locally and through moto S3.

Expected rows are computed here independently of lsdb: the fixture's parquet files are read with
pyarrow, nearest counterparts found by brute-force angular separation (astropy), epochs exploded
and cut, and magnitudes converted with astropy's ``u.ABmag``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.archives import ztf
from mwlc.demo.ztf import build_ztf_hats
from mwlc.errors import ArchiveError, ConfigError
from mwlc.io import write_lightcurve_shard
from mwlc.schema import LIGHTCURVE_SCHEMA, file_metadata

#: The spec's band <-> filterid mapping, written out independently of mwlc.archives.ztf.
FILTERID = {"ztf_g": 1, "ztf_r": 2, "ztf_i": 3}
CATALOG = "ztf_dr24_lc-hats"
LEAF = re.compile(r"dataset/Norder=(\d+)/Dir=(\d+)/Npix=(\d+)/part0\.snappy\.parquet$")


# --------------------------------------------------------------------------- independent reference


def read_objects(catalog_dir: Path) -> pd.DataFrame:
    """Every row of a HATS catalog's leaves, read with pyarrow, with its leaf's (order, npix)."""
    frames = []
    for path in sorted(catalog_dir.glob("dataset/Norder=*/Dir=*/Npix=*/part0.snappy.parquet")):
        order, _, npix = map(int, LEAF.search(path.as_posix()).groups())
        table = pq.read_table(path)
        frame = table.drop_columns(["lightcurve"]).to_pandas()
        lightcurve = table.column("lightcurve").combine_chunks()
        for field in ("hmjd", "mag", "magerr", "catflags", "clrcoeff"):
            frame[field] = lightcurve.field(field).to_pylist()
        frame["order"], frame["npix"] = order, npix
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def nearest_matches(objects: pd.DataFrame, sample: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """Per sample object and band, the nearest ZTF object within the radius (brute force)."""
    sample_coord = SkyCoord(sample["ra"].to_numpy() * u.deg, sample["dec"].to_numpy() * u.deg)
    matches = []
    for band, filterid in FILTERID.items():
        candidates = objects[objects["filterid"] == filterid].reset_index(drop=True)
        coord = SkyCoord(
            candidates["objra"].to_numpy(float) * u.deg, candidates["objdec"].to_numpy(float) * u.deg
        )
        separation = sample_coord[:, None].separation(coord[None, :]).arcsec
        nearest = separation.argmin(axis=1)
        distance = separation[np.arange(len(sample)), nearest]
        for i in np.flatnonzero(distance <= radius_arcsec):
            match = candidates.iloc[nearest[i]].rename({"objectid": "ztf_objectid"}).to_dict()
            matches.append({**sample.iloc[i].to_dict(), **match, "band": band, "dist_arcsec": distance[i]})
    ztf_columns = ["ztf_objectid" if c == "objectid" else c for c in objects.columns]
    return pd.DataFrame(matches, columns=[*sample.columns, *ztf_columns, "band", "dist_arcsec"])


def expected_rows(matches: pd.DataFrame, catflags_max: int = 32768) -> pd.DataFrame:
    """Explode matched light curves, cut catflags, convert AB mag to mJy with astropy."""
    epochs = matches.explode(["hmjd", "mag", "magerr", "catflags"], ignore_index=True).dropna(subset="hmjd")
    epochs = epochs[epochs["catflags"].astype(int) < catflags_max]
    mag = epochs["mag"].to_numpy(float)
    magerr = epochs["magerr"].to_numpy(float)
    to_mjy = lambda m: (m * u.ABmag).to_value(u.mJy)  # noqa: E731
    return pd.DataFrame(
        {
            "objectid": epochs["objectid"].to_numpy(np.int64),
            "label": epochs["label"].to_numpy(str),
            "band": epochs["band"].to_numpy(str),
            "time": epochs["hmjd"].to_numpy(float),
            "flux": to_mjy(mag),
            "err": (to_mjy(mag - magerr) - to_mjy(mag + magerr)) / 2,
        }
    )


def as_frame(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    """Fetched batches as a flat frame with plain string label/band."""
    table = pa.Table.from_batches(batches, schema=LIGHTCURVE_SCHEMA).replace_schema_metadata(None)
    frame = table.to_pandas()
    return frame.astype({"label": str, "band": str})


def assert_same_rows(batches: list[pa.RecordBatch], expected: pd.DataFrame) -> None:
    """Same (objectid, label, band, time) rows; flux and err equal to 1e-12 relative."""
    keys = ["objectid", "band", "time"]
    got = as_frame(batches).sort_values(keys, ignore_index=True)
    want = expected.sort_values(keys, ignore_index=True)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got[["objectid", "label", "band"]], want[["objectid", "label", "band"]])
    np.testing.assert_array_equal(got["time"], want["time"])
    np.testing.assert_allclose(got["flux"], want["flux"], rtol=1e-12)
    np.testing.assert_allclose(got["err"], want["err"], rtol=1e-12)


def partition_of(collection: Path, ra: float, dec: float) -> tuple[int, int]:
    """The (order, npix) of the main-catalog partition whose pixel contains (ra, dec)."""
    info = pd.read_csv(collection / CATALOG / "partition_info.csv")
    for order, npix in zip(info["Norder"], info["Npix"], strict=True):
        if radec2pix(int(order), ra, dec) == npix:
            return int(order), int(npix)
    raise AssertionError(f"({ra}, {dec}) is in no partition")


# --------------------------------------------------------------------------- shared fixtures


@pytest.fixture(scope="module")
def main_objects(ztf_hats) -> pd.DataFrame:
    return read_objects(ztf_hats / CATALOG)


@pytest.fixture(scope="module")
def matches(main_objects, ztf_sample) -> pd.DataFrame:
    return nearest_matches(main_objects, ztf_sample, radius_arcsec=1.0)


@pytest.fixture(scope="module")
def local_batches(ztf_hats, ztf_sample) -> list[pa.RecordBatch]:
    """One fetch of the whole test sample from the local collection (defaults: 1", all bands)."""
    return list(ztf.fetch(ztf_sample, source=str(ztf_hats)))


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_mirrors_the_real_dr24_layout_and_schema(ztf_hats):
    lightcurve = pa.struct(
        [
            ("hmjd", pa.list_(pa.field("element", pa.float64()))),
            ("mag", pa.list_(pa.field("element", pa.float32()))),
            ("magerr", pa.list_(pa.field("element", pa.float32()))),
            ("clrcoeff", pa.list_(pa.field("element", pa.float32()))),
            ("catflags", pa.list_(pa.field("element", pa.int32()))),
        ]
    )
    dr24 = pa.schema(
        [
            ("objectid", pa.int64()),
            ("filterid", pa.int8()),
            ("fieldid", pa.int16()),
            ("rcid", pa.int8()),
            ("objra", pa.float32()),
            ("objdec", pa.float32()),
            ("nepochs", pa.int64()),
            ("lightcurve", lightcurve),
            ("_healpix_29", pa.int64()),
        ]
    )
    properties = (ztf_hats / "collection.properties").read_text()
    assert f"hats_primary_table_url={CATALOG}\n" in properties
    margin = re.search(r"default_margin=(\S+)", properties).group(1)
    for catalog in (CATALOG, margin):
        schema = pq.read_schema(ztf_hats / catalog / "dataset" / "_common_metadata")
        assert schema.remove_metadata().equals(dr24), catalog
        leaves = list((ztf_hats / catalog).glob("dataset/**/*.parquet"))
        assert leaves and all(LEAF.search(leaf.as_posix()) for leaf in leaves)
    assert len(list((ztf_hats / CATALOG).glob("dataset/Norder=*/Dir=*/Npix=*"))) >= 4
    assert "SYNTHETIC" in (ztf_hats / "README.txt").read_text()


def test_fixture_margin_copies_equal_the_main_rows(ztf_hats, main_objects):
    properties = (ztf_hats / "collection.properties").read_text()
    margin = read_objects(ztf_hats / re.search(r"default_margin=(\S+)", properties).group(1))
    assert len(margin) > 0
    columns = ["objectid", "filterid", "objra", "objdec", "nepochs", "hmjd", "mag", "catflags", "clrcoeff"]
    joined = margin[columns].merge(main_objects[columns], on="objectid", suffixes=("", "_main"))
    assert len(joined) == len(margin)
    for column in columns[1:]:
        assert (joined[column].astype(str) == joined[f"{column}_main"].astype(str)).all(), column


def test_fixture_has_flagged_epochs_and_agn_like_variability(main_objects):
    catflags = np.concatenate(main_objects["catflags"].to_numpy())
    assert 0.03 < np.mean(catflags >= 32768) < 0.08
    assert (main_objects["nepochs"] == main_objects["hmjd"].map(len)).all()
    assert all(np.all(np.diff(t) >= 0) for t in main_objects["hmjd"])  # epochs in time order
    rms = main_objects["mag"].map(np.std)
    noise = main_objects["magerr"].map(np.median)
    assert 0.03 < rms.median() < 0.5
    assert (rms > noise).mean() > 0.8  # variability above the photometric noise


# --------------------------------------------------------------------------- fetch: rows


def test_fetch_local_gives_exactly_the_brute_force_rows(local_batches, matches):
    assert_same_rows(local_batches, expected_rows(matches))


@pytest.mark.parametrize(
    ("radius_arcsec", "catflags_max", "bands"), [(5.5, 1, ["ztf_i", "ztf_g"]), (0.3, 32768, ["ztf_r"])]
)
def test_fetch_other_radius_cut_and_bands(
    ztf_hats, ztf_sample, main_objects, radius_arcsec, catflags_max, bands
):
    batches = list(
        ztf.fetch(
            ztf_sample,
            source=str(ztf_hats),
            radius_arcsec=radius_arcsec,
            catflags_max=catflags_max,
            bands=bands,
        )
    )
    wanted = nearest_matches(main_objects, ztf_sample, radius_arcsec)
    assert_same_rows(batches, expected_rows(wanted[wanted["band"].isin(bands)], catflags_max))


def test_fetch_s3_via_aws_endpoint_url(aws_env, ztf_s3, ztf_sample, matches):
    assert_same_rows(list(ztf.fetch(ztf_sample, source=ztf_s3, threads=2)), expected_rows(matches))


def test_fetch_s3_via_storage_options(monkeypatch, moto_endpoint, ztf_s3, ztf_sample, matches):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    options = {"client_kwargs": {"endpoint_url": moto_endpoint}}
    batches = list(ztf.fetch(ztf_sample, source=ztf_s3, bands=["ztf_g"], storage_options=options))
    assert_same_rows(batches, expected_rows(matches[matches["band"] == "ztf_g"]))


def test_threads_do_not_change_the_result(ztf_hats, ztf_sample, local_batches):
    parallel = list(ztf.fetch(ztf_sample, source=str(ztf_hats), threads=2, mem_mb=4000))
    assert pa.Table.from_batches(parallel).equals(pa.Table.from_batches(local_batches))


# --------------------------------------------------------------------------- fetch: edge cases


def test_partition_edge_object_is_matched_through_the_margin(ztf_hats, matches, local_batches):
    got = as_frame(local_batches)
    properties = (ztf_hats / "collection.properties").read_text()
    margin = read_objects(ztf_hats / re.search(r"default_margin=(\S+)", properties).group(1))
    across = 0
    for _, match in matches[matches["label"] == "edge"].iterrows():
        home = partition_of(ztf_hats, match["ra"], match["dec"])
        if (match["order"], match["npix"]) == home:
            continue
        across += 1  # the counterpart lives in another partition: only home's margin holds it
        home_margin = margin[(margin["order"] == home[0]) & (margin["npix"] == home[1])]
        assert match["ztf_objectid"] in set(home_margin["objectid"])
        assert ((got["objectid"] == match["objectid"]) & (got["band"] == match["band"])).any()
    assert across > 0, "no edge object has its counterpart in another partition"


def test_objects_at_ra_zero_are_matched_across_the_wrap(ztf_sample, matches, local_batches):
    got = as_frame(local_batches)
    ra0 = matches[matches["label"] == "ra0"]
    assert set(ra0["objectid"]) == set(ztf_sample.loc[ztf_sample["label"] == "ra0", "objectid"])
    assert ((ra0["ra"] < 180) != (ra0["objra"] < 180)).any()  # some match across RA = 0/360
    assert set(got.loc[got["label"] == "ra0", "objectid"]) == set(ra0["objectid"])


def test_decoys_beyond_the_radius_are_not_matched(ztf_hats, ztf_sample, main_objects, local_batches):
    got = as_frame(local_batches)
    wide = nearest_matches(main_objects, ztf_sample, radius_arcsec=5.5)
    decoy_only = wide[wide["dist_arcsec"] > 1.0]  # (object, band) whose nearest is a 2-5" decoy
    assert len(decoy_only) > 0
    for _, match in decoy_only.iterrows():
        assert not ((got["objectid"] == match["objectid"]) & (got["band"] == match["band"])).any()
    wide_batches = ztf.fetch(ztf_sample, source=str(ztf_hats), radius_arcsec=5.5)
    wide_got = as_frame(list(wide_batches))
    for _, match in decoy_only.iterrows():
        assert ((wide_got["objectid"] == match["objectid"]) & (wide_got["band"] == match["band"])).any()


def all_matches(objects: pd.DataFrame, sample: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """Per sample object and band, every ZTF object within the radius (brute force)."""
    sample_coord = SkyCoord(sample["ra"].to_numpy() * u.deg, sample["dec"].to_numpy() * u.deg)
    coord = SkyCoord(objects["objra"].to_numpy(float) * u.deg, objects["objdec"].to_numpy(float) * u.deg)
    separation = sample_coord[:, None].separation(coord[None, :]).arcsec
    rows = []
    for i, j in zip(*np.nonzero(separation <= radius_arcsec), strict=True):
        match = objects.iloc[j].rename({"objectid": "ztf_objectid"}).to_dict()
        band = {v: k for k, v in FILTERID.items()}[int(match["filterid"])]
        rows.append({**sample.iloc[i].to_dict(), **match, "band": band, "dist_arcsec": separation[i, j]})
    return pd.DataFrame(rows)


def test_match_all_merges_every_ztf_object_of_a_band_within_the_radius(
    tmp_path, ztf_hats, ztf_sample, main_objects
):
    every = all_matches(main_objects, ztf_sample, radius_arcsec=5.5)
    several = every.groupby(["objectid", "band"]).size()
    assert (several > 1).any()  # the fixture has them: a counterpart and a decoy in one band
    path = tmp_path / "shard.parquet"
    rows = write_lightcurve_shard(
        ztf.fetch(ztf_sample, source=str(ztf_hats), radius_arcsec=5.5, match="all"),
        path,
        file_metadata("ztf", ztf.BANDS),
    )
    got = pq.read_table(path)
    assert rows == got.num_rows
    assert_same_rows(got.to_batches(), expected_rows(every))
    recorded = json.loads(pq.read_metadata(path).metadata[b"mwlc.matches"])
    assert recorded["columns"] == ["objectid", "band", "ztf_objectid", "dist_arcsec"]
    want = sorted(zip(every["objectid"], every["band"], every["ztf_objectid"], strict=True))
    assert sorted((o, b, z) for o, b, z, _ in recorded["rows"]) == want
    nearest = list(ztf.fetch(ztf_sample, source=str(ztf_hats), radius_arcsec=5.5))
    assert 0 < sum(b.num_rows for b in nearest) < rows  # the default keeps one object per band


def test_match_must_be_nearest_or_all(ztf_hats, ztf_sample):
    with pytest.raises(
        ConfigError, match=r"'archives.ztf.match': 'every' is not one of \['nearest', 'all'\]"
    ):
        ztf.fetch(ztf_sample, source=str(ztf_hats), match="every")


def test_catflags_cut_drops_flagged_epochs(matches, local_batches):
    got = as_frame(local_batches)
    flagged = sum(int(np.sum(np.array(flags) >= 32768)) for flags in matches["catflags"])
    assert flagged > 0
    assert len(got) == matches["nepochs"].sum() - flagged


def test_object_without_counterpart_yields_no_rows(ztf_sample, main_objects, local_batches):
    alone = ztf_sample[ztf_sample["label"].isin(["lonely", "far"])]
    assert nearest_matches(main_objects, alone, radius_arcsec=1.0).empty
    assert not as_frame(local_batches)["objectid"].isin(alone["objectid"]).any()


@pytest.mark.parametrize("label", ["lonely", "far"])
def test_sample_without_matches_yields_zero_batches(ztf_hats, ztf_sample, label):
    # "lonely" is inside the coverage (partitions are read, nothing matches); "far" is outside.
    assert list(ztf.fetch(ztf_sample[ztf_sample["label"] == label], source=str(ztf_hats))) == []


# --------------------------------------------------------------------------- fetch: errors


@pytest.mark.parametrize("radius_arcsec", [0.0, -1.0, float("nan")])
def test_non_positive_radius_is_rejected(ztf_hats, ztf_sample, radius_arcsec):
    with pytest.raises(ConfigError, match="radius_arcsec"):
        next(ztf.fetch(ztf_sample, source=str(ztf_hats), radius_arcsec=radius_arcsec))


def test_unknown_band_is_rejected(ztf_hats, ztf_sample):
    with pytest.raises(ConfigError, match="ztf_z"):
        next(ztf.fetch(ztf_sample, source=str(ztf_hats), bands=["ztf_z"]))


def test_missing_local_source_says_so_before_any_work(tmp_path, ztf_sample, monkeypatch):
    import hats

    monkeypatch.setattr(hats, "read_hats", lambda *a, **k: pytest.fail("opened a catalog"))
    missing = tmp_path / "no" / "such" / "hats"
    with pytest.raises(ArchiveError, match=f"{re.escape(str(missing))} does not exist"):
        next(ztf.fetch(ztf_sample, source=str(missing)))


def test_source_that_is_not_hats_is_an_archive_error(tmp_path, ztf_sample):
    with pytest.raises(
        ArchiveError, match=f"cannot open HATS source {re.escape(str(tmp_path))}: FileNotFoundError"
    ):
        next(ztf.fetch(ztf_sample, source=str(tmp_path)))


def test_missing_s3_key_is_an_archive_error(aws_env, ztf_s3, ztf_sample):
    with pytest.raises(ArchiveError, match="s3://ipac-irsa-ztf/ztf/enhanced/dr99.*FileNotFoundError"):
        next(ztf.fetch(ztf_sample, source=ztf_s3.replace("dr24", "dr99")))


def test_unreachable_s3_endpoint_is_an_archive_error(monkeypatch, ztf_sample):
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    no_retries = {"config_kwargs": {"retries": {"max_attempts": 1}}}
    with pytest.raises(ArchiveError, match=r"s3://ipac-irsa-ztf/\S+: EndpointConnectionError"):
        next(
            ztf.fetch(
                ztf_sample, source="s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats", storage_options=no_retries
            )
        )


# --------------------------------------------------------------------------- streaming, sizing, logs


def test_leaf_read_failure_names_the_file(ztf_hats, ztf_sample, tmp_path):
    copy = Path(shutil.copytree(ztf_hats, tmp_path / "hats"))
    for victim in copy.glob(f"{CATALOG}/dataset/Norder=*/Dir=*/Npix=*/part0.snappy.parquet"):
        victim.write_bytes(b"not parquet")
    batches = ztf.fetch(ztf_sample, source=str(copy))
    with pytest.raises(
        ArchiveError,
        match=r"reading the footer of \S+/Norder=\d+/Dir=\d+/Npix=\d+/part0\.snappy\.parquet failed: "
        r"ArrowInvalid",
    ):
        next(batches)


def test_progress_is_logged_per_leaf_file_without_progress_bars(ztf_hats, ztf_sample, matches, caplog, capfd):
    with caplog.at_level(logging.INFO, logger="mwlc.archives"):
        list(ztf.fetch(ztf_sample, source=str(ztf_hats), bands=["ztf_r"]))
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("mwlc.archives")]
    assert any(
        re.match(
            r"ZTF: 1/\d+ leaf files, [\d.]+/s, ETA [^(]+ \(Order: \d+, Pixel: \d+\): \d+ objects, \d+ rows", m
        )
        for m in messages
    )
    r_band = expected_rows(matches[matches["band"] == "ztf_r"])
    done = f"ZTF: done: \\d+ leaf files, {r_band['objectid'].nunique()} objects with rows, {len(r_band)} rows"
    assert re.fullmatch(done, messages[-1])
    captured = capfd.readouterr()
    assert "Computing" not in captured.err + captured.out and "%|" not in captured.err


# --------------------------------------------------------------------------- the demo builder


def test_demo_builder_is_deterministic(tmp_path):
    sample = pd.DataFrame({"objectid": [1, 2], "ra": [10.0, 10.01], "dec": [-5.0, -5.0], "label": ["a", "b"]})
    tables = {}
    for name, seed in [("first", 0), ("again", 0), ("other", 1)]:
        root = build_ztf_hats(sample, tmp_path / name, epochs_per_band=10, seed=seed, n_field_objects=20)
        tables[name] = read_objects(root / CATALOG).sort_values("objectid", ignore_index=True)
    pd.testing.assert_frame_equal(tables["first"], tables["again"])
    assert not tables["first"]["objra"].equals(tables["other"]["objra"])
