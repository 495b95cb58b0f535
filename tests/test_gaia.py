"""Gaia DR3 epoch photometry: fetch against a synthetic HATS collection, locally and over HTTP.

Expected rows are computed here independently of lsdb and of mwlc's conversions: the fixture's
parquet leaves are read with pyarrow, nearest counterparts found by brute-force angular
separation (astropy), transits exploded and cut, magnitudes converted with astropy's
``u.ABmag`` and times with astropy's ``Time``.
"""

from __future__ import annotations

import dataclasses
import re

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.archives import _hats, gaia
from mwlc.demo import gaia as demo_gaia
from mwlc.demo.gaia import build_gaia_hats
from mwlc.errors import ArchiveError, ConfigError
from mwlc.schema import BANDS as SCHEMA_BANDS
from mwlc.schema import LIGHTCURVE_SCHEMA

CATALOG = "gaia_dr3_epoch_phot"
LEAF = re.compile(r"dataset/Norder=(\d+)/Dir=(\d+)/Npix=(\d+)\.parquet$")
#: The spec's band -> (time, flux, flux error, mag, reject flag) fields, written out independently.
SPEC = {
    "Gaia_G": (
        "g_transit_time",
        "g_transit_flux",
        "g_transit_flux_error",
        "g_transit_mag",
        "variability_flag_g_reject",
    ),
    "Gaia_BP": ("bp_obs_time", "bp_flux", "bp_flux_error", "bp_mag", "variability_flag_bp_reject"),
    "Gaia_RP": ("rp_obs_time", "rp_flux", "rp_flux_error", "rp_mag", "variability_flag_rp_reject"),
}
ALL_BANDS = list(SPEC)
#: MJD of Gaia time zero (BJD(TCB) 2455197.5), from astropy rather than from mwlc.
GAIA_ZERO_MJD = Time(2455197.5, format="jd", scale="tcb").mjd


# --------------------------------------------------------------------------- independent reference


def read_sources(catalog_dir, fields=None) -> pd.DataFrame:
    """Every row of a HATS catalog's leaves, read with pyarrow: top-level columns, the nested
    ``epoch_photometry`` fields as Python lists (all of them unless ``fields``), and the
    leaf's (order, npix)."""
    frames = []
    for path in sorted(catalog_dir.glob("dataset/Norder=*/Dir=*/Npix=*.parquet")):
        order, _, npix = map(int, LEAF.search(path.as_posix()).groups())
        table = pq.read_table(path)
        frame = table.drop_columns(["epoch_photometry"]).to_pandas()
        photometry = table.column("epoch_photometry").combine_chunks()
        for field in fields or [f.name for f in photometry.type]:
            frame[field] = photometry.field(field).to_pylist()
        frame["order"], frame["npix"] = order, npix
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def nearest_matches(sources: pd.DataFrame, sample: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """Per sample object, the nearest Gaia source within the radius (brute force)."""
    sample_coord = SkyCoord(sample["ra"].to_numpy() * u.deg, sample["dec"].to_numpy() * u.deg)
    coord = SkyCoord(sources["ra"].to_numpy() * u.deg, sources["dec"].to_numpy() * u.deg)
    separation = sample_coord[:, None].separation(coord[None, :]).arcsec
    nearest = separation.argmin(axis=1)
    distance = separation[np.arange(len(sample)), nearest]
    rows = np.flatnonzero(distance <= radius_arcsec)
    gaia_part = sources.iloc[nearest[rows]].rename(columns={"ra": "gaia_ra", "dec": "gaia_dec"})
    matches = pd.concat([sample.iloc[rows].reset_index(drop=True), gaia_part.reset_index(drop=True)], axis=1)
    matches["dist_arcsec"] = distance[rows]
    return matches


#: Gaia DR3 AB zero points (Riello et al. 2021, A&A 649, A3, Table 3), written out independently.
ZP_AB = {"Gaia_G": 25.8010, "Gaia_BP": 25.3540, "Gaia_RP": 25.1040}


def mjy_per_e_s(band: str) -> float:
    """Flux density (mJy) of 1 e-/s: the AB magnitude ZP_AB, converted by astropy."""
    return (ZP_AB[band] * u.ABmag).to_value(u.mJy)


def expected_rows(matches: pd.DataFrame, bands, drop_rejected: bool = True) -> pd.DataFrame:
    """Explode matched transits per band, drop missing and rejected ones, convert with astropy."""
    frames = []
    for band in bands:
        t_field, f_field, e_field, _, r_field = SPEC[band]
        columns = [t_field, f_field, e_field, *([r_field] if drop_rejected else [])]
        transits = matches.explode(columns, ignore_index=True).dropna(subset=[t_field, f_field])
        if drop_rejected:
            transits = transits[~transits[r_field].astype(bool)]
        frames.append(
            pd.DataFrame(
                {
                    "objectid": transits["objectid"].to_numpy(np.int64),
                    "label": transits["label"].to_numpy(str),
                    "band": band,
                    "time": transits[t_field].to_numpy(float) + GAIA_ZERO_MJD,
                    "flux": transits[f_field].to_numpy(float) * mjy_per_e_s(band),
                    "err": transits[e_field].to_numpy(float) * mjy_per_e_s(band),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def as_frame(batches) -> pd.DataFrame:
    """Fetched batches as a flat frame with plain string label/band."""
    table = pa.Table.from_batches(batches, schema=LIGHTCURVE_SCHEMA).replace_schema_metadata(None)
    return table.to_pandas().astype({"label": str, "band": str})


def assert_same_rows(batches, expected: pd.DataFrame) -> None:
    """Same (objectid, label, band, time) rows; flux and err equal to 1e-12 relative."""
    keys = ["objectid", "band", "time"]
    got = as_frame(batches).sort_values(keys, ignore_index=True)
    want = expected.sort_values(keys, ignore_index=True)
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got[["objectid", "label", "band"]], want[["objectid", "label", "band"]])
    np.testing.assert_array_equal(got["time"], want["time"])
    np.testing.assert_allclose(got["flux"], want["flux"], rtol=1e-12)
    np.testing.assert_allclose(got["err"], want["err"], rtol=1e-12)


def partition_of(collection, ra: float, dec: float) -> tuple[int, int]:
    """The (order, npix) of the main-catalog partition whose pixel contains (ra, dec)."""
    info = pd.read_csv(collection / CATALOG / "partition_info.csv")
    for order, npix in zip(info["Norder"], info["Npix"], strict=True):
        if radec2pix(int(order), ra, dec) == npix:
            return int(order), int(npix)
    raise AssertionError(f"({ra}, {dec}) is in no partition")


def margin_dir(collection):
    """The margin catalog directory named by ``collection.properties``."""
    properties = (collection / "collection.properties").read_text()
    return collection / re.search(r"default_margin=(\S+)", properties).group(1)


# --------------------------------------------------------------------------- shared fixtures


@pytest.fixture(scope="module")
def sources(gaia_hats) -> pd.DataFrame:
    return read_sources(gaia_hats / CATALOG)


@pytest.fixture(scope="module")
def matches(sources, gaia_sample) -> pd.DataFrame:
    return nearest_matches(sources, gaia_sample, radius_arcsec=1.0)


@pytest.fixture(scope="module")
def local_batches(gaia_hats, gaia_sample) -> list[pa.RecordBatch]:
    """One fetch of the whole test sample from the local collection, all three bands."""
    return list(gaia.fetch(gaia_sample, source=str(gaia_hats), bands=ALL_BANDS))


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_mirrors_the_known_gaia_layout_and_schema(gaia_hats):
    lists = lambda names, kind: [(name, pa.list_(pa.field("element", kind))) for name in names]  # noqa: E731
    ccds = ["sm", *(f"af{i}" for i in range(1, 10))]
    photometry = pa.struct(
        lists(["transit_id"], pa.int64())
        + lists(["g_transit_time", "g_transit_flux", "g_transit_flux_error"], pa.float64())
        + lists(["g_transit_flux_over_error"], pa.float32())
        + lists(["g_transit_mag"], pa.float64())
        + lists(["g_transit_n_obs"], pa.int8())
        + [
            field
            for b in ("bp", "rp")
            for field in lists([f"{b}_obs_time", f"{b}_flux", f"{b}_flux_error"], pa.float64())
            + lists([f"{b}_flux_over_error"], pa.float32())
            + lists([f"{b}_mag"], pa.float64())
        ]
        + lists(["photometry_flag_noisy_data"], pa.bool_())
        + lists([f"photometry_flag_{c}_unavailable" for c in [*ccds, "bp", "rp"]], pa.bool_())
        + lists([f"photometry_flag_{c}_reject" for c in [*ccds, "bp", "rp"]], pa.bool_())
        + lists([f"variability_flag_{b}_reject" for b in ("g", "bp", "rp")], pa.bool_())
    )
    esa = pa.schema(
        [
            ("solution_id", pa.int64()),
            ("source_id", pa.int64()),
            ("ra", pa.float64()),
            ("dec", pa.float64()),
            ("n_transits", pa.int16()),
            ("epoch_photometry", photometry),
            ("_healpix_29", pa.int64()),
        ]
    )
    properties = (gaia_hats / "collection.properties").read_text()
    assert f"hats_primary_table_url={CATALOG}\n" in properties
    for catalog in (gaia_hats / CATALOG, margin_dir(gaia_hats)):
        schema = pq.read_schema(catalog / "dataset" / "_common_metadata")
        assert schema.remove_metadata().equals(esa), catalog
        leaves = list(catalog.glob("dataset/**/*.parquet"))
        assert leaves and all(LEAF.search(leaf.as_posix()) for leaf in leaves)  # Npix=N.parquet files
    assert len(list((gaia_hats / CATALOG).glob("dataset/Norder=*/Dir=*/Npix=*.parquet"))) >= 4
    assert "SYNTHETIC" in (gaia_hats / "README.txt").read_text()


def test_fixture_margin_copies_equal_the_main_rows(gaia_hats, sources):
    margin = read_sources(margin_dir(gaia_hats))
    assert len(margin) > 0
    columns = ["source_id", "ra", "dec", "n_transits", "g_transit_time", "g_transit_mag", "bp_flux", "rp_mag"]
    joined = margin[columns].merge(sources[columns], on="source_id", suffixes=("", "_main"))
    assert len(joined) == len(margin)
    for column in columns[1:]:
        assert (joined[column].astype(str) == joined[f"{column}_main"].astype(str)).all(), column


def test_fixture_is_gaia_like(sources):
    assert (sources["source_id"] // 2**35 == radec2pix(12, sources["ra"], sources["dec"])).all()
    assert (sources["n_transits"] == sources["g_transit_time"].map(len)).all()
    g_time = np.concatenate(sources["g_transit_time"].to_numpy())
    assert g_time.min() > 1666 and g_time.max() < 2705  # DR3: 2014-07-25 .. 2017-05-28
    assert all(np.all(np.diff(t) >= 0) for t in sources["g_transit_time"])
    gaps = np.concatenate([np.diff(t) for t in sources["g_transit_time"]])
    assert np.isclose(gaps, 106.5 / 1440, rtol=0, atol=1e-9).mean() > 0.2  # the two fields of view
    bp_time = np.concatenate(sources["bp_obs_time"].to_numpy())
    assert np.nanmax(np.abs(bp_time - g_time)) < 1 / 1440  # BP follows G by seconds
    for band, (_, f_field, _, m_field, r_field) in SPEC.items():
        flux = np.concatenate(sources[f_field].to_numpy())
        mag = np.concatenate(sources[m_field].to_numpy())
        rejected = np.concatenate(sources[r_field].to_numpy())
        assert 0.005 < np.mean(np.isnan(flux)) < 0.1, band  # some transits without a flux
        assert 0.02 < np.mean(rejected) < 0.07, band
        if band != "Gaia_G":
            assert np.any((flux < 0) & np.isnan(mag)), band  # negative fluxes have no magnitude
    rms = sources["g_transit_mag"].map(np.nanstd)
    assert 0.03 < rms.median() < 0.5  # AGN-like variability, well above the G precision


# --------------------------------------------------------------------------- fetch: rows


def test_fetch_local_all_bands_gives_exactly_the_brute_force_rows(local_batches, matches):
    assert_same_rows(local_batches, expected_rows(matches, ALL_BANDS))


def test_fetch_defaults_to_g_only(gaia_hats, gaia_sample, matches):
    assert list(gaia.DEFAULT_BANDS) == ["Gaia_G"]
    batches = list(gaia.fetch(gaia_sample, source=str(gaia_hats)))
    assert_same_rows(batches, expected_rows(matches, ["Gaia_G"]))


def test_fetch_over_range_http_gives_the_same_rows(gaia_http, gaia_http_server, gaia_sample, matches):
    started = len(gaia_http_server.requests)
    batches = list(gaia.fetch(gaia_sample, source=gaia_http, bands=["Gaia_RP", "Gaia_BP"], threads=2))
    assert_same_rows(batches, expected_rows(matches, ["Gaia_RP", "Gaia_BP"]))
    requests = gaia_http_server.requests[started:]
    leaf = re.compile(
        rf'^"GET /{CATALOG}/{CATALOG}/dataset/Norder=\d+/Dir=\d+/Npix=\d+\.parquet HTTP/1.1" 206 '
    )
    assert any(leaf.match(request) for request in requests)  # ranged reads of partitions over HTTP


def test_http_source_ignores_the_workflows_s3_storage_options(gaia_http, gaia_sample, matches):
    s3_options = {"anon": True, "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}}  # as mwlc.fetch
    south = gaia_sample[gaia_sample["label"] == "south"]
    batches = list(gaia.fetch(south, source=gaia_http, storage_options=s3_options))
    assert_same_rows(batches, expected_rows(matches[matches["label"] == "south"], ["Gaia_G"]))


def test_bands_and_radius_select_rows(gaia_hats, gaia_sample, sources):
    batches = list(gaia.fetch(gaia_sample, source=str(gaia_hats), radius_arcsec=0.15, bands=["Gaia_BP"]))
    narrow = nearest_matches(sources, gaia_sample, radius_arcsec=0.15)
    assert 0 < len(narrow) < len(nearest_matches(sources, gaia_sample, radius_arcsec=1.0))
    assert_same_rows(batches, expected_rows(narrow, ["Gaia_BP"]))


def test_threads_do_not_change_the_result(gaia_hats, gaia_sample, local_batches):
    parallel = list(gaia.fetch(gaia_sample, source=str(gaia_hats), bands=ALL_BANDS, threads=2, mem_mb=4000))
    assert pa.Table.from_batches(parallel).equals(pa.Table.from_batches(local_batches))


# --------------------------------------------------------------------------- time, flux, cuts


def test_gaia_time_zero_is_mjd_55197_in_tcb():
    zero = Time(2455197.5, format="jd", scale="tcb")
    assert zero.mjd == gaia.MJD_OF_GAIA_TIME_ZERO == 55197.0
    assert zero.isot == "2010-01-01T00:00:00.000"  # not 55197.5, the original's noon


def test_transit_time_round_trips_through_astropy(local_batches, matches):
    transit = np.array([1666.4, 2000.123456789, 2704.3])  # Gaia time, d
    mjd = gaia.gaia_time_to_mjd(transit)
    bjd = Time(2455197.5, transit, format="jd", scale="tcb")
    np.testing.assert_allclose((Time(mjd, format="mjd", scale="tcb") - bjd).to_value(u.s), 0, atol=1e-6)
    np.testing.assert_allclose(
        Time(mjd, format="mjd", scale="tcb").jd - 2455197.5, transit, rtol=0, atol=1e-9
    )
    got = as_frame(local_batches)
    raw = np.concatenate(matches["g_transit_time"].to_numpy())
    g_times = got.loc[got["band"] == "Gaia_G", "time"].to_numpy()
    assert np.isin(g_times, raw + 55197.0).all()  # every fetched time is a transit time + 55197.0


def test_flux_is_the_e_s_flux_with_the_dr3_ab_zero_point(local_batches, matches):
    got = as_frame(local_batches).set_index(["objectid", "band", "time"]).sort_index()
    match = matches.iloc[0]
    k = next(i for i, flag in enumerate(match["variability_flag_g_reject"]) if not flag)
    flux_e_s = match["g_transit_flux"][k]
    row = got.loc[(match["objectid"], "Gaia_G", match["g_transit_time"][k] + 55197.0)]
    as_ab = ((ZP_AB["Gaia_G"] - 2.5 * np.log10(flux_e_s)) * u.ABmag).to_value(u.mJy)
    assert row["flux"] == pytest.approx(as_ab, rel=1e-9)
    vega_as_ab = (match["g_transit_mag"][k] * u.ABmag).to_value(u.mJy)  # the original's flux
    assert vega_as_ab / row["flux"] == pytest.approx(1.110, abs=0.01)  # ~11 % high in G
    assert row["err"] == pytest.approx(match["g_transit_flux_error"][k] * mjy_per_e_s("Gaia_G"), rel=1e-9)
    assert SCHEMA_BANDS["Gaia_G"].unit == "mJy" and "55197.0" in SCHEMA_BANDS["Gaia_G"].time_system
    assert "25.8010" in SCHEMA_BANDS["Gaia_G"].time_system


def test_transits_with_a_negative_flux_are_kept(local_batches, matches):
    got = as_frame(local_batches)
    for band in ("Gaia_BP", "Gaia_RP"):
        _, f_field, _, _, r_field = SPEC[band]
        flux = np.concatenate(matches[f_field].to_numpy()).astype(float)
        rejected = np.concatenate(matches[r_field].to_numpy()).astype(bool)
        negative = (flux < 0) & ~rejected
        assert negative.any(), band  # the fixture has them (no magnitude: the original dropped them)
        assert ((got["band"] == band) & (got["flux"] < 0)).sum() == negative.sum(), band


def test_missing_and_rejected_transits_are_dropped(local_batches, matches):
    got = as_frame(local_batches)
    for band, (t_field, f_field, _, _, r_field) in SPEC.items():
        time_, flux, rejected = (
            np.concatenate(matches[name].to_numpy()).astype(float) for name in (t_field, f_field, r_field)
        )
        missing = np.isnan(time_) | np.isnan(flux)
        assert missing.any() and (rejected.astype(bool) & ~missing).any(), band
        kept = ~missing & ~rejected.astype(bool)
        assert (got["band"] == band).sum() == kept.sum(), band
    assert np.isfinite(got[["time", "flux", "err"]].to_numpy()).all()


def test_collection_without_variability_flags_keeps_every_valid_transit(tmp_path, gaia_sample, caplog):
    cosmos = gaia_sample[gaia_sample["label"] == "cosmos"].head(4)
    root = build_gaia_hats(cosmos, tmp_path / CATALOG, n_field_sources=4, variability_flags=False)
    catalog_sources = read_sources(root / CATALOG)
    assert "variability_flag_g_reject" not in catalog_sources.columns
    batches = list(gaia.fetch(cosmos, source=str(root), bands=["Gaia_G", "Gaia_RP"]))
    expected = expected_rows(
        nearest_matches(catalog_sources, cosmos, 1.0), ["Gaia_G", "Gaia_RP"], drop_rejected=False
    )
    assert_same_rows(batches, expected)
    assert "variability_flag_g_reject" in caplog.text and "kept" in caplog.text


def _rp_photometry(fields: dict[str, list], layout: str = "struct of lists") -> pa.Array:
    """One source's RP transits as a nested ``epoch_photometry`` array of one row."""
    kinds = {name: pa.bool_() if name.startswith("variability") else pa.float64() for name in fields}
    if layout == "struct of lists":
        return pa.array([fields], pa.struct([(name, pa.list_(kind)) for name, kind in kinds.items()]))
    transits = [dict(zip(fields, values, strict=True)) for values in zip(*fields.values(), strict=True)]
    return pa.array([transits], pa.list_(pa.struct(list(kinds.items()))))


@pytest.mark.parametrize("layout", ["struct of lists", "list of structs"])
def test_arrow_nulls_count_as_missing_values_and_unset_flags(layout):
    photometry = _rp_photometry(
        {
            "rp_obs_time": [1700.0, 1701.0, None, 1703.0, 1704.0],
            "rp_flux": [100.0, None, 100.0, -20.0, 100.0],
            "rp_flux_error": [1.0, 1.0, 1.0, 2.0, 1.0],
            "variability_flag_rp_reject": [None, False, False, False, True],
        },
        layout,
    )
    fields = gaia.FIELDS["Gaia_RP"]
    flagged = gaia._band_rows(photometry, gaia.BandRead("Gaia_RP", fields, fields.flux_error, reject=True))
    row, time_, flux, err = flagged
    assert time_.tolist() == [1700.0 + GAIA_ZERO_MJD, 1703.0 + GAIA_ZERO_MJD]  # null time or flux: dropped
    np.testing.assert_allclose(flux, np.array([100.0, -20.0]) * mjy_per_e_s("Gaia_RP"), rtol=1e-12)
    np.testing.assert_allclose(err, np.array([1.0, 2.0]) * mjy_per_e_s("Gaia_RP"), rtol=1e-12)
    unflagged = gaia._band_rows(photometry, gaia.BandRead("Gaia_RP", fields, fields.flux_error, reject=False))
    assert len(unflagged[0]) == 3  # without the flag field nothing is rejected


def test_error_from_flux_over_error_when_the_collection_has_no_flux_error():
    photometry = _rp_photometry(
        {"rp_obs_time": [1700.0, 1701.0], "rp_flux": [100.0, -50.0], "rp_flux_over_error": [20.0, -10.0]}
    )
    fields = gaia.FIELDS["Gaia_RP"]
    _, _, flux, err = gaia._band_rows(
        photometry, gaia.BandRead("Gaia_RP", fields, fields.flux_over_error, False)
    )
    np.testing.assert_allclose(err, np.array([5.0, 5.0]) * mjy_per_e_s("Gaia_RP"), rtol=1e-12)


def test_band_reads_choose_the_error_field_the_schema_has(gaia_hats, tmp_path):
    catalog = _hats.open_catalog(str(gaia_hats), archive="Gaia")
    (read,) = gaia.band_reads(catalog, ["Gaia_BP"])
    assert (read.error, read.reject) == ("bp_flux_error", True)
    nested = catalog.schema.field("epoch_photometry").type
    without = pa.struct([f for f in nested if f.name not in ("bp_flux_error", "bp_flux_over_error")])
    bare = dataclasses.replace(
        catalog,
        schema=catalog.schema.set(
            catalog.schema.get_field_index("epoch_photometry"), pa.field("epoch_photometry", without)
        ),
    )
    with pytest.raises(
        ArchiveError, match="neither epoch_photometry.bp_flux_error nor epoch_photometry.bp_flux_over_error"
    ):
        gaia.band_reads(bare, ["Gaia_BP"])


@pytest.mark.parametrize("layout", ["struct of lists", "list of structs"])
def test_nested_field_names_are_found_in_either_nested_layout(layout):
    fields = [pa.field("g_transit_time", pa.float64()), pa.field("variability_flag_g_reject", pa.bool_())]
    if layout == "struct of lists":
        nested = pa.struct([pa.field(f.name, pa.list_(f.type)) for f in fields])
    else:
        nested = pa.list_(pa.struct(fields))
    schema = pa.schema([("source_id", pa.int64()), ("epoch_photometry", nested)])
    assert gaia._nested_fields(schema) == {"g_transit_time", "variability_flag_g_reject"}
    assert gaia._nested_fields(pa.schema([("source_id", pa.int64())])) == frozenset()


# --------------------------------------------------------------------------- fetch: edge cases


def test_partition_edge_object_is_matched_through_the_margin(gaia_hats, matches, local_batches):
    got = as_frame(local_batches)
    margin = read_sources(margin_dir(gaia_hats), fields=["g_transit_time"])
    across = 0
    for _, match in matches[matches["label"] == "edge"].iterrows():
        home = partition_of(gaia_hats, match["ra"], match["dec"])
        if (match["order"], match["npix"]) == home:
            continue
        across += 1  # the counterpart lives in another partition: only home's margin holds it
        home_margin = margin[(margin["order"] == home[0]) & (margin["npix"] == home[1])]
        assert match["source_id"] in set(home_margin["source_id"])
        assert (got["objectid"] == match["objectid"]).any()
    assert across > 0, "no edge object has its counterpart in another partition"


def test_objects_at_ra_zero_are_matched_across_the_wrap(gaia_sample, matches, local_batches):
    got = as_frame(local_batches)
    ra0 = matches[matches["label"] == "ra0"]
    assert len(ra0) >= 3
    assert ((ra0["ra"] < 180) != (ra0["gaia_ra"] < 180)).any()  # some match across RA = 0/360
    assert set(got.loc[got["label"] == "ra0", "objectid"]) == set(ra0["objectid"])


def test_decoys_beyond_the_radius_are_not_matched(gaia_hats, gaia_sample, sources, local_batches):
    got = as_frame(local_batches)
    wide = nearest_matches(sources, gaia_sample, radius_arcsec=5.5)
    decoy_only = wide[wide["dist_arcsec"] > 1.0]  # objects whose nearest source is a 2-5" decoy
    assert len(decoy_only) > 0
    assert not got["objectid"].isin(decoy_only["objectid"]).any()
    wide_got = as_frame(list(gaia.fetch(gaia_sample, source=str(gaia_hats), radius_arcsec=5.5)))
    assert set(decoy_only["objectid"]) <= set(wide_got["objectid"])


@pytest.mark.parametrize("label", ["lonely", "far"])
def test_sample_without_matches_yields_zero_batches(gaia_hats, gaia_sample, sources, label):
    # "lonely" is inside the coverage (partitions are read, nothing matches); "far" is outside.
    alone = gaia_sample[gaia_sample["label"] == label]
    assert nearest_matches(sources, alone, radius_arcsec=1.0).empty
    assert list(gaia.fetch(alone, source=str(gaia_hats), bands=ALL_BANDS)) == []


# --------------------------------------------------------------------------- fetch: errors


@pytest.mark.parametrize("radius_arcsec", [0.0, -1.0, float("nan")])
def test_non_positive_radius_is_rejected(gaia_hats, gaia_sample, radius_arcsec):
    with pytest.raises(ConfigError, match="radius_arcsec"):
        gaia.fetch(gaia_sample, source=str(gaia_hats), radius_arcsec=radius_arcsec)


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        (
            ["G"],
            r"'archives.gaia.bands.0': 'G' is not one of .*; band names have changed: 'G' is now 'Gaia_G'",
        ),
        ("Gaia_G", r"'archives.gaia.bands': expected a list, got 'Gaia_G'"),
        ([], r"'archives.gaia.bands': \[\] should be non-empty"),
        (["Gaia_G", "Gaia_G"], r"'archives.gaia.bands': .* has non-unique elements"),
    ],
)
def test_bad_bands_are_rejected(gaia_hats, gaia_sample, bands, message):
    with pytest.raises(ConfigError, match=message):
        gaia.fetch(gaia_sample, source=str(gaia_hats), bands=bands)


def test_missing_local_source_says_so(tmp_path, gaia_sample):
    with pytest.raises(ArchiveError, match="does not exist"):
        gaia.fetch(gaia_sample, source=str(tmp_path / "no" / CATALOG))


def test_missing_http_collection_is_an_archive_error(gaia_http, gaia_sample):
    with pytest.raises(ArchiveError, match=r"cannot open HATS source http://127\.0\.0\.1:"):
        gaia.fetch(gaia_sample, source=gaia_http.replace(CATALOG, "gaia_dr4_epoch_phot"))


# --------------------------------------------------------------------------- the demo builder


def test_demo_builder_is_deterministic(tmp_path):
    rng = np.random.default_rng(7)
    sample = pd.DataFrame(
        {"objectid": np.arange(1, 31), "ra": rng.uniform(10, 11, 30), "dec": rng.uniform(-5, -4, 30)}
    )
    first = read_sources(demo_gaia.build(sample, tmp_path / "first") / CATALOG)
    again = read_sources(build_gaia_hats(sample, tmp_path / "again", seed=0) / CATALOG)
    key = ["source_id"]
    pd.testing.assert_frame_equal(
        first.sort_values(key, ignore_index=True), again.sort_values(key, ignore_index=True)
    )
    assert (
        len(first) == 30 * (20 + 2) + (first["source_id"] % 2**35 < 10**9).sum()
    )  # field, decoys, counterparts
    other = demo_gaia.gaia_sources(sample, seed=1, n_field_sources=600)
    assert not np.isin(other["ra"], first["ra"]).any()  # another seed, other positions
    counterparts = nearest_matches(first, sample.assign(label="demo"), radius_arcsec=0.31)
    assert 0.7 * len(sample) < len(counterparts) < len(sample)  # most objects have one, some none
    assert (counterparts["dist_arcsec"] <= 0.3 + 1e-6).all()
