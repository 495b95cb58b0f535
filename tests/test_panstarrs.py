"""Pan-STARRS DR2: fetch against synthetic otmo + detection HATS collections, locally and via moto S3.

Expected rows are computed here independently of lsdb: the fixture's parquet leaves are read with
pyarrow, the nearest otmo object within the radius found by brute-force angular separation
(astropy), detections joined on objID with pandas, and fluxes converted with astropy units.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
from pathlib import Path

import astropy.units as u
import astroquery
import lsdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.archives import panstarrs
from mwlc.demo import panstarrs as demo
from mwlc.errors import ArchiveError, ConfigError
from mwlc.schema import LIGHTCURVE_SCHEMA
from tests.fixtures_panstarrs import N_FIELD_OBJECTS, NOT_BUILT

#: The spec's filterID <-> band mapping, written out independently of mwlc.archives.panstarrs.
BAND = {1: "Pan-STARRS g", 2: "Pan-STARRS r", 3: "Pan-STARRS i", 4: "Pan-STARRS z", 5: "Pan-STARRS y"}
LEAF = re.compile(r"dataset/Norder=(\d+)/Dir=(\d+)/Npix=(\d+)\.parquet$")
#: The real MeanObject columns (name -> VOTable datatype), as shipped with astroquery.
PS1_COLUMNS_JSON = Path(astroquery.__file__).parent / "mast" / "tests" / "data" / "panstarrs_columns.json"
MEAN_OBJECT = {column["name"]: column["datatype"] for column in json.loads(PS1_COLUMNS_JSON.read_text())}
VOTABLE_TO_ARROW = {
    "long": pa.int64(),
    "short": pa.int16(),
    "int": pa.int32(),
    "float": pa.float32(),
    "double": pa.float64(),
    "char": pa.string(),
}


# --------------------------------------------------------------------------- independent reference


def read_leaves(catalog_dir: Path) -> pd.DataFrame:
    """Every row of a HATS catalog's leaves, read with pyarrow, with its leaf's (order, npix)."""
    frames = []
    for path in sorted(catalog_dir.glob("dataset/Norder=*/Dir=*/Npix=*.parquet")):
        order, _, npix = map(int, LEAF.search(path.as_posix()).groups())
        frame = pq.read_table(path).to_pandas()
        frame["order"], frame["npix"] = order, npix
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def nearest_otmo(otmo: pd.DataFrame, sample: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """Per sample object, the nearest otmo object within the radius (brute force)."""
    sample_coord = SkyCoord(sample["ra"].to_numpy() * u.deg, sample["dec"].to_numpy() * u.deg)
    coord = SkyCoord(otmo["raMean"].to_numpy(float) * u.deg, otmo["decMean"].to_numpy(float) * u.deg)
    separation = sample_coord[:, None].separation(coord[None, :]).arcsec
    nearest = separation.argmin(axis=1)
    distance = separation[np.arange(len(sample)), nearest]
    hit = np.flatnonzero(distance <= radius_arcsec)
    matches = sample.iloc[hit].reset_index(drop=True)
    found = otmo.iloc[nearest[hit]].reset_index(drop=True)
    matches["objID"] = found["objID"].to_numpy()
    matches["raMean"], matches["decMean"] = found["raMean"].to_numpy(), found["decMean"].to_numpy()
    matches["otmo_order"], matches["otmo_npix"] = found["order"].to_numpy(), found["npix"].to_numpy()
    matches["dist_arcsec"] = distance[hit]
    return matches


def joined_detections(matches: pd.DataFrame, detections: pd.DataFrame, filterids=tuple(BAND)) -> pd.DataFrame:
    """The detections of the matched objects (pandas merge on objID), in the given filters."""
    wanted = detections[detections["filterID"].isin(filterids)]
    return matches.merge(wanted, on="objID", suffixes=("", "_det"))


def expected_rows(joined: pd.DataFrame) -> pd.DataFrame:
    """Light-curve rows: Jy -> mJy with astropy, PS1's -999 and missing values -> NaN."""

    def to_mjy(column: str) -> np.ndarray:
        jy = joined[column].to_numpy(dtype=float, na_value=np.nan)
        return np.where(jy == -999, np.nan, (jy * u.Jy).to_value(u.mJy))

    return pd.DataFrame(
        {
            "objectid": joined["objectid"].to_numpy(np.int64),
            "label": joined["label"].to_numpy(str),
            "band": joined["filterID"].map(BAND).to_numpy(str),
            "time": joined["obsTime"].to_numpy(float),
            "flux": to_mjy("psfFlux"),
            "err": to_mjy("psfFluxErr"),
        }
    )


def as_frame(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    """Fetched batches as a flat frame with plain string label/band."""
    table = pa.Table.from_batches(batches, schema=LIGHTCURVE_SCHEMA).replace_schema_metadata(None)
    return table.to_pandas().astype({"label": str, "band": str})


def assert_same_rows(batches: list[pa.RecordBatch], expected: pd.DataFrame) -> None:
    """Same (objectid, label, band, time) rows; flux and err equal to 1e-12 relative, NaN alike."""
    keys = ["objectid", "band", "time"]
    got = as_frame(batches).sort_values(keys, ignore_index=True)
    want = expected.sort_values(keys, ignore_index=True)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got[["objectid", "label", "band"]], want[["objectid", "label", "band"]])
    np.testing.assert_array_equal(got["time"], want["time"])
    np.testing.assert_allclose(got["flux"], want["flux"], rtol=1e-12)
    np.testing.assert_allclose(got["err"], want["err"], rtol=1e-12)


def partition_of(catalog_dir: Path, ra: float, dec: float) -> tuple[int, int] | None:
    """The (order, npix) of the catalog partition whose pixel contains (ra, dec), if any."""
    for order, npix in _partitions(catalog_dir):
        if radec2pix(order, ra, dec) == npix:
            return order, npix
    return None


@functools.cache
def _partitions(catalog_dir: Path) -> tuple[tuple[int, int], ...]:
    info = pd.read_csv(catalog_dir / "partition_info.csv")
    return tuple((int(order), int(npix)) for order, npix in zip(info["Norder"], info["Npix"], strict=True))


def has_row(frame: pd.DataFrame, objectid: int, band: str | None = None, time: float | None = None) -> bool:
    """Whether ``frame`` holds a row of ``objectid`` (and ``band``, ``time`` if given)."""
    mask = frame["objectid"] == objectid
    if band is not None:
        mask &= frame["band"] == band
    if time is not None:
        mask &= frame["time"] == time
    return bool(mask.any())


# --------------------------------------------------------------------------- shared fixtures


@pytest.fixture(scope="module")
def otmo(ps1_hats) -> pd.DataFrame:
    return read_leaves(ps1_hats / "otmo" / "otmo")


@pytest.fixture(scope="module")
def detections(ps1_hats) -> pd.DataFrame:
    return read_leaves(ps1_hats / "detection" / "detection")


@pytest.fixture(scope="module")
def matches(otmo, ps1_sample) -> pd.DataFrame:
    return nearest_otmo(otmo, ps1_sample, radius_arcsec=1.0)


@pytest.fixture(scope="module")
def joined(matches, detections) -> pd.DataFrame:
    return joined_detections(matches, detections)


@pytest.fixture(scope="module")
def local_batches(ps1_hats, ps1_sample) -> list[pa.RecordBatch]:
    """One fetch of the whole test sample from the local collections (defaults: 1", all bands)."""
    return list(panstarrs.fetch(ps1_sample, source=str(ps1_hats)))


@pytest.fixture(scope="module")
def got(local_batches) -> pd.DataFrame:
    return as_frame(local_batches)


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_mirrors_the_real_layout(ps1_hats):
    for name in ("otmo", "detection"):
        properties = (ps1_hats / name / "collection.properties").read_text()
        assert f"hats_primary_table_url={name}\n" in properties
        assert f"default_margin={name}_10arcs\n" in properties
        for catalog in (name, f"{name}_10arcs"):
            assert (ps1_hats / name / catalog / "dataset" / "_common_metadata").exists()
            leaves = list((ps1_hats / name / catalog).glob("dataset/**/*.parquet"))
            assert leaves and all(LEAF.search(leaf.as_posix()) for leaf in leaves)
    assert len(list((ps1_hats / "otmo" / "otmo").glob("dataset/Norder=*/Dir=*/Npix=*.parquet"))) >= 4
    assert "SYNTHETIC" in (ps1_hats / "README.txt").read_text()


def test_otmo_columns_are_real_mean_object_columns(ps1_hats):
    schema = pq.read_schema(ps1_hats / "otmo" / "otmo" / "dataset" / "_common_metadata")
    assert {"objID", "raMean", "decMean", "nStackDetections"} <= set(schema.names)
    assert {"nDetections", "gMeanPSFMag", "yMeanPSFMagErr", "objName"} <= set(schema.names)
    for field in schema:
        if field.name == "_healpix_29":
            continue
        assert field.name in MEAN_OBJECT, field.name
        assert field.type == VOTABLE_TO_ARROW[MEAN_OBJECT[field.name]], field.name


def test_detection_schema(ps1_hats):
    schema = pq.read_schema(ps1_hats / "detection" / "detection" / "dataset" / "_common_metadata")
    assert schema.remove_metadata().equals(
        pa.schema(
            [
                ("objID", pa.int64()),
                ("detectID", pa.int64()),
                ("filterID", pa.int8()),
                ("obsTime", pa.float64()),
                ("ra", pa.float64()),
                ("dec", pa.float64()),
                ("psfFlux", pa.float32()),
                ("psfFluxErr", pa.float32()),
                ("psfMajorFWHM", pa.float32()),
                ("psfMinorFWHM", pa.float32()),
                ("psfQfPerfect", pa.float32()),
                ("apFlux", pa.float32()),
                ("apFluxErr", pa.float32()),
                ("infoFlag", pa.int64()),
                ("infoFlag2", pa.int32()),
                ("infoFlag3", pa.int32()),
                ("_healpix_29", pa.int64()),
            ]
        )
    )


def test_fixture_ids_positions_and_summaries_are_ps1_like(otmo, detections):
    assert otmo["objID"].is_unique and detections["detectID"].is_unique
    zone = np.floor((otmo["decMean"] + 90) / 0.0083333).astype(np.int64)
    assert (otmo["objID"] // 10**13 == zone).all()  # PS1 objID: declination zone first
    assert ((otmo["objID"] // 10**4) % 10**9 == (otmo["raMean"] * 1e6).astype(np.int64)).all()
    assert (otmo["decMean"] > -30).all()
    assert otmo["objName"].str.match(r"PSO J\d{3}\.\d{4}[+-]\d{2}\.\d{4}$").all()
    per_object = detections.groupby("objID").size()
    assert per_object.between(10, 40).all() and per_object.index.equals(pd.Index(sorted(otmo["objID"])))
    counts = otmo.set_index("objID")
    assert (counts["nDetections"] == per_object.reindex(counts.index)).all()
    assert (
        counts["ng"]
        == detections[detections["filterID"] == 1].groupby("objID").size().reindex(counts.index, fill_value=0)
    ).all()
    assert set(detections["filterID"]) == {1, 2, 3, 4, 5}
    assert detections["obsTime"].between(54984, 56747).all()  # PS1 3pi survey
    sep = SkyCoord(detections["ra"].to_numpy() * u.deg, detections["dec"].to_numpy() * u.deg).separation(
        SkyCoord(*(counts.loc[detections["objID"], c].to_numpy() * u.deg for c in ("raMean", "decMean")))
    )
    assert sep.arcsec.max() < 1.0  # PS1 associates detections within 1"


def test_fixture_has_ps1_nulls_and_agn_like_variability(detections):
    assert 0.01 < np.mean(detections["psfFlux"] == -999) < 0.04
    assert 0.003 < detections["psfFluxErr"].isna().mean() < 0.03
    valid = detections[(detections["psfFlux"] > 0) & (detections["psfFluxErr"] > 0)]
    mag = -2.5 * np.log10(valid["psfFlux"] / 3630.78)
    magerr = 1.0857 * valid["psfFluxErr"] / valid["psfFlux"]
    by_filter = valid.assign(mag=mag, magerr=magerr).groupby(["objID", "filterID"])
    stats = by_filter.agg(rms=("mag", "std"), noise=("magerr", "median"), n=("mag", "size"))
    stats = stats[stats["n"] >= 4]
    assert 0.03 < stats["rms"].median() < 0.5
    assert (stats["rms"] > stats["noise"]).mean() > 0.7  # variability above the photometric noise


def test_fixture_margin_copies_equal_the_main_rows(ps1_hats, otmo, detections):
    for name, key, main in (("otmo", "objID", otmo), ("detection", "detectID", detections)):
        margin = read_leaves(ps1_hats / name / f"{name}_10arcs")
        assert len(margin) > 0
        columns = [c for c in margin.columns if c not in ("order", "npix", "Norder", "Dir", "Npix")]
        joined = margin[columns].merge(main[columns], on=key, suffixes=("", "_main"))
        assert len(joined) == len(margin)
        for column in columns:
            if column != key:
                pd.testing.assert_series_equal(joined[column], joined[f"{column}_main"], check_names=False)


# --------------------------------------------------------------------------- fetch: rows


def test_fetch_local_gives_exactly_the_brute_force_rows(local_batches, joined):
    assert len(joined) > 500
    assert_same_rows(local_batches, expected_rows(joined))


@pytest.mark.parametrize(
    ("radius_arcsec", "bands"), [(5.5, ["Pan-STARRS y", "Pan-STARRS g"]), (0.3, ["Pan-STARRS r"])]
)
def test_fetch_other_radius_and_bands(ps1_hats, ps1_sample, otmo, detections, radius_arcsec, bands):
    batches = list(
        panstarrs.fetch(ps1_sample, source=str(ps1_hats), radius_arcsec=radius_arcsec, bands=bands)
    )
    filterids = [k for k, band in BAND.items() if band in bands]
    wanted = joined_detections(nearest_otmo(otmo, ps1_sample, radius_arcsec), detections, filterids)
    assert_same_rows(batches, expected_rows(wanted))


def test_units_bands_and_nulls(got, joined):
    assert set(got["band"]) == set(BAND.values())
    valid = joined[(joined["psfFlux"] != -999)]
    assert np.nanmedian(got["flux"]) == pytest.approx(np.median(valid["psfFlux"]) * 1e3, rel=0.2)
    nulls = joined["psfFlux"] == -999
    assert nulls.sum() > 0
    assert got["flux"].isna().sum() == nulls.sum()  # kept, as NaN
    assert got["err"].isna().sum() == (nulls | joined["psfFluxErr"].isna()).sum()
    assert (got["flux"].dropna() > -1).all()  # no -999 Jy became -999000 mJy


def test_ps1_flux_to_mjy():
    jy = pd.Series([1e-3, -999.0, None, -1e-6], dtype="float32[pyarrow]")
    np.testing.assert_allclose(panstarrs.ps1_flux_to_mjy(jy), [1.0, np.nan, np.nan, -1e-3], rtol=1e-6)
    assert panstarrs.ps1_flux_to_mjy(np.array([2.0])).dtype == np.float64


def test_fetch_s3_via_aws_endpoint_url(aws_env, ps1_s3, ps1_sample, joined):
    assert ps1_s3 == panstarrs.DEFAULT_SOURCE
    assert_same_rows(list(panstarrs.fetch(ps1_sample, source=ps1_s3, threads=2)), expected_rows(joined))


def test_fetch_s3_via_storage_options(monkeypatch, moto_endpoint, ps1_s3, ps1_sample, joined):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    options = {"anon": True, "client_kwargs": {"endpoint_url": moto_endpoint}}
    edge = ps1_sample[ps1_sample["label"] == "edge"]
    batches = list(panstarrs.fetch(edge, source=ps1_s3 + "/", storage_options=options))
    assert_same_rows(batches, expected_rows(joined[joined["label"] == "edge"]))


def test_threads_do_not_change_the_result(ps1_hats, ps1_sample, local_batches):
    parallel = list(panstarrs.fetch(ps1_sample, source=str(ps1_hats), threads=2, mem_mb=4000))
    assert [batch.num_rows for batch in parallel] == [batch.num_rows for batch in local_batches]
    pd.testing.assert_frame_equal(as_frame(parallel), as_frame(local_batches))  # NaN == NaN here


# --------------------------------------------------------------------------- fetch: edge cases


def test_edge_object_matched_only_through_the_otmo_margin(ps1_hats, matches, got):
    across = 0
    for _, match in matches[matches["label"] == "edge"].iterrows():
        home = partition_of(ps1_hats / "otmo" / "otmo", match["ra"], match["dec"])
        if (match["otmo_order"], match["otmo_npix"]) != home:
            across += 1  # the counterpart lives in another otmo partition: home's margin holds it
            assert has_row(got, match["objectid"])
    assert across > 0, "no edge object has its counterpart in another otmo partition"


def test_detections_held_only_by_the_detection_margin_are_joined(ps1_hats, joined, got):
    catalog = ps1_hats / "detection" / "detection"
    elsewhere = [
        row
        for _, row in joined.iterrows()
        if (row["order"], row["npix"]) != partition_of(catalog, row["ra"], row["dec"])
    ]
    assert len(elsewhere) > 0, "no detection lies outside its object's home detection partition"
    for row in elsewhere:
        assert has_row(got, row["objectid"], BAND[row["filterID"]], row["obsTime"])


def test_bare_pixel_search_would_lose_edge_detections(ps1_hats, ps1_sample, joined, got):
    """Why detections are looked for around the matched objects: the original's recipe loses rows.

    lsdb 0.11 turns ``PixelSearch(matched pixels)`` into row filters on the catalog *and its
    margin*, so detections across the edge of a matched pixel, into sky with no matched pixel,
    are dropped. If lsdb stops doing that, this test fails (and only documents the original).
    """
    edge = ps1_sample[ps1_sample["label"] == "edge"]
    objects = lsdb.from_dataframe(edge, ra_column="ra", dec_column="dec", margin_threshold=None)
    otmo = lsdb.open_catalog(ps1_hats / "otmo", columns=["objID", "raMean", "decMean"])
    matched = objects.crossmatch(
        otmo,
        radius_arcsec=1.0,
        n_neighbors=1,
        suffixes=("", "_ps1"),
        suffix_method="overlapping_columns",
        log_changes=False,
    )
    detection = lsdb.open_catalog(
        ps1_hats / "detection",
        columns=["objID", "detectID", "obsTime", "filterID", "psfFlux", "psfFluxErr"],
        search_filter=lsdb.PixelSearch(matched.get_healpix_pixels()),
    )
    bare = matched.join(
        detection,
        left_on="objID",
        right_on="objID",
        suffixes=("", "_det"),
        suffix_method="overlapping_columns",
        log_changes=False,
    ).compute()
    want = joined[joined["label"] == "edge"]
    assert len(bare) < len(want) == (got["label"] == "edge").sum()


def test_join_when_detection_partitions_are_coarser_than_otmo(ps1_hats_coarse_detection, ps1_sample):
    root = ps1_hats_coarse_detection
    built = ps1_sample[ps1_sample["label"].isin(["edge", "ra0"])]
    coarser = [
        partition_of(root / "detection" / "detection", ra, dec)[0]
        < partition_of(root / "otmo" / "otmo", ra, dec)[0]
        for ra, dec in zip(built["ra"], built["dec"], strict=True)
    ]
    assert sum(coarser) >= len(built) // 2  # most objects: a detection partition coarser than otmo's
    wanted = joined_detections(
        nearest_otmo(read_leaves(root / "otmo" / "otmo"), built, 1.0),
        read_leaves(root / "detection" / "detection"),
    )
    assert_same_rows(list(panstarrs.fetch(built, source=str(root))), expected_rows(wanted))


def test_objects_at_ra_zero_are_matched_across_the_wrap(ps1_sample, matches, got):
    ra0 = matches[matches["label"] == "ra0"]
    assert set(ra0["objectid"]) == set(ps1_sample.loc[ps1_sample["label"] == "ra0", "objectid"])
    assert ((ra0["ra"] < 180) != (ra0["raMean"] < 180)).any()  # some match across RA = 0/360
    assert set(got.loc[got["label"] == "ra0", "objectid"]) == set(ra0["objectid"])


def test_decoys_beyond_the_radius_are_not_matched(ps1_hats, ps1_sample, otmo, got):
    wide = nearest_otmo(otmo, ps1_sample, radius_arcsec=5.5)
    decoy_only = wide[wide["dist_arcsec"] > 1.0]  # objects whose nearest PS1 object is a 2-5" decoy
    assert len(decoy_only) > 0
    assert not got["objectid"].isin(decoy_only["objectid"]).any()
    objects = ps1_sample[ps1_sample["objectid"].isin(decoy_only["objectid"])]
    wide_got = as_frame(list(panstarrs.fetch(objects, source=str(ps1_hats), radius_arcsec=5.5)))
    assert set(wide_got["objectid"]) == set(decoy_only["objectid"])


def test_object_without_counterpart_yields_no_rows(ps1_sample, otmo, got):
    alone = ps1_sample[ps1_sample["label"].isin(["lonely", "far", "nocover"])]
    assert nearest_otmo(otmo, alone, radius_arcsec=1.0).empty
    assert not got["objectid"].isin(alone["objectid"]).any()


@pytest.mark.parametrize("label", ["lonely", "far", "nocover"])
def test_sample_without_matches_yields_zero_batches(ps1_hats, ps1_sample, label):
    # "lonely" is inside the coverage (partitions are read, nothing matches); the others are outside.
    assert list(panstarrs.fetch(ps1_sample[ps1_sample["label"] == label], source=str(ps1_hats))) == []


def test_detection_catalog_without_coverage_of_the_matches_yields_nothing(
    tmp_path, ps1_hats, ps1_hats_coarse_detection, ps1_sample
):
    base = tmp_path / "hats"
    base.mkdir()
    (base / "otmo").symlink_to(ps1_hats / "otmo")
    (base / "detection").symlink_to(ps1_hats_coarse_detection / "detection")  # edge and ra0 sky only
    south = ps1_sample[ps1_sample["label"] == "south"]
    assert list(panstarrs.fetch(south, source=str(base))) == []


def test_empty_bands_are_refused_as_in_the_config(ps1_hats, ps1_sample):
    with pytest.raises(ConfigError, match=r"'archives.panstarrs.bands': \[\] should be non-empty"):
        panstarrs.fetch(ps1_sample, source=str(ps1_hats), bands=[])


# --------------------------------------------------------------------------- fetch: errors


@pytest.mark.parametrize("radius_arcsec", [0.0, -1.0, float("nan")])
def test_non_positive_radius_is_rejected(ps1_hats, ps1_sample, radius_arcsec):
    with pytest.raises(ConfigError, match="radius_arcsec"):
        panstarrs.fetch(ps1_sample, source=str(ps1_hats), radius_arcsec=radius_arcsec)


def test_the_detection_margin_does_not_limit_the_radius(ps1_hats, ps1_sample, otmo, detections):
    # detections are read from whichever partition holds them, so only the otmo margin limits
    south = ps1_sample[ps1_sample["label"] == "south"]
    wanted = joined_detections(nearest_otmo(otmo, south, 9.5), detections)
    assert_same_rows(
        list(panstarrs.fetch(south, source=str(ps1_hats), radius_arcsec=9.5)), expected_rows(wanted)
    )


@pytest.mark.parametrize("bands", [["Pan-STARRS u"], ["g"], "Pan-STARRS g"])
def test_unknown_band_is_rejected(ps1_hats, ps1_sample, bands):
    with pytest.raises(ConfigError, match="band"):
        panstarrs.fetch(ps1_sample, source=str(ps1_hats), bands=bands)


def test_missing_source_says_so(tmp_path, ps1_sample):
    missing = tmp_path / "no" / "such" / "hats"
    with pytest.raises(ArchiveError, match=f"{re.escape(str(missing))}/otmo does not exist"):
        panstarrs.fetch(ps1_sample, source=str(missing))


def test_missing_detection_collection_is_an_archive_error(tmp_path, ps1_hats, ps1_sample):
    base = tmp_path / "hats"
    base.mkdir()
    (base / "otmo").symlink_to(ps1_hats / "otmo")
    with pytest.raises(ArchiveError, match=r"hats/detection does not exist"):
        panstarrs.fetch(ps1_sample, source=str(base))


def test_partition_read_failure_names_the_partition(tmp_path, ps1_hats, ps1_sample):
    copy = Path(shutil.copytree(ps1_hats, tmp_path / "hats"))
    for leaf in copy.glob("detection/detection/dataset/Norder=*/Dir=*/Npix=*.parquet"):
        leaf.write_bytes(b"not parquet")
    batches = panstarrs.fetch(ps1_sample[ps1_sample["label"] == "south"], source=str(copy))
    with pytest.raises(
        ArchiveError,
        match=r"reading the footer of \S+/detection/dataset/Norder=\d+/Dir=\d+/Npix=\d+\.parquet failed",
    ):
        list(batches)


def test_missing_s3_key_is_an_archive_error(aws_env, ps1_s3, ps1_sample):
    with pytest.raises(
        ArchiveError, match=r"s3://stpubdata/panstarrs/ps1/public/hipscat/otmo.*FileNotFoundError"
    ):
        panstarrs.fetch(ps1_sample, source=ps1_s3.replace("hats", "hipscat"))


# --------------------------------------------------------------------------- logs, shards, demo


def test_progress_is_logged_without_progress_bars(ps1_hats, ps1_sample, joined, caplog, capfd):
    with caplog.at_level(logging.INFO, logger="mwlc.archives"):
        list(panstarrs.fetch(ps1_sample[ps1_sample["label"] == "cosmos"], source=str(ps1_hats)))
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("mwlc.archives")]
    assert any(
        re.match(
            r"Pan-STARRS: 1/\d+ leaf files, [\d.]+/s, ETA [^(]+ \(Order: \d+, Pixel: \d+\): "
            r"\d+ objects, \d+ rows",
            m,
        )
        for m in messages
    )
    cosmos = joined[joined["label"] == "cosmos"]
    objects = cosmos["objectid"].nunique()
    done = f"Pan-STARRS: done: \\d+ leaf files, {objects} objects with rows, {len(cosmos)} rows"
    assert re.fullmatch(done, messages[-1])
    captured = capfd.readouterr()
    assert "Computing" not in captured.err + captured.out and "%|" not in captured.err


def test_demo_builder_is_deterministic(ps1_sample):
    sample = ps1_sample[ps1_sample["label"] == "cosmos"]
    tables = {}
    for name, seed in [("first", 0), ("again", 0), ("other", 1)]:
        objects = demo.ps1_objects(sample, seed=seed, n_field_objects=50)
        detections = demo.ps1_detections(objects, seed=seed)
        tables[name] = (demo.otmo_rows(objects, detections, seed=seed), detections)
    for first, again in zip(tables["first"], tables["again"], strict=True):
        pd.testing.assert_frame_equal(first, again)
    assert not tables["first"][1]["psfFlux"].equals(tables["other"][1]["psfFlux"])


def test_demo_builder_refuses_a_sample_outside_the_ps1_sky(tmp_path):
    sample = pd.DataFrame({"objectid": [1], "ra": [60.0], "dec": [-45.0]})
    with pytest.raises(ValueError, match="south of dec -30"):
        demo.build_panstarrs_hats(sample, tmp_path / "hats")
    assert not (tmp_path / "hats").exists()


def test_fixture_holds_exactly_the_generated_rows(ps1_sample, otmo, detections):
    built = ps1_sample[~ps1_sample["label"].isin(NOT_BUILT)]
    objects = demo.ps1_objects(built, n_field_objects=N_FIELD_OBJECTS)
    generated = demo.ps1_detections(objects)
    written = detections[generated.columns].sort_values("detectID", ignore_index=True)
    generated = generated.sort_values("detectID", ignore_index=True).astype(written.dtypes.to_dict())
    pd.testing.assert_frame_equal(written, generated)
    assert len(otmo) == len(objects)


def test_ps1_objid_follows_the_stsci_recipe():
    # zone 10800 (dec 0: 90 / 0.0083333 = 10800.0432), RA part 10 * 1e6, zone residual 0.0432.
    ids = demo.ps1_objid(np.array([0.0, 10.0, 180.0]), np.array([-90.0, 0.0, -90.0]))
    assert list(ids) == [0, 10800 * 10**13 + 10**7 * 10**4 + 432, 180 * 10**6 * 10**4]
