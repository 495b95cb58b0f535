"""Synthetic Gaia DR3 epoch photometry, in the layout of LINCC's HATS collection.

Every value is SYNTHETIC, derived from ids by the counter-based hash of
:mod:`mwlc.demo.hashing`, so the same inputs always give the same collection and a margin copy of
a source is identical to the source itself.

Layout and schema
    :func:`build_gaia_hats` writes a HATS collection like ``https://data.lsdb.io/hats/gaia_dr3_epoch_phot/``:
    catalog ``gaia_dr3_epoch_phot`` with hats' default file leaves
    ``dataset/Norder=K/Dir=D/Npix=N.parquet`` (directory leaves cannot be read over HTTP with
    hats 0.11, which appends its query string to the leaf path) and a 10 arcsec margin catalog.
    One row per source: ``solution_id int64, source_id int64, ra float64, dec float64 (deg),
    n_transits int16`` and a nested ``epoch_photometry`` column (a struct of equal-length lists)
    with the 45 array fields of ESA's DR3 ``epoch_photometry`` datamodel, in its order:
    ``transit_id list<int64>``; ``g_transit_time, g_transit_flux, g_transit_flux_error``
    ``list<double>``, ``g_transit_flux_over_error list<float>``, ``g_transit_mag list<double>``,
    ``g_transit_n_obs list<int8>``; ``{bp,rp}_obs_time, {bp,rp}_flux, {bp,rp}_flux_error``
    ``list<double>``, ``{bp,rp}_flux_over_error list<float>``, ``{bp,rp}_mag list<double>``;
    ``photometry_flag_*`` and ``variability_flag_{g,bp,rp}_reject`` ``list<bool>``.

    Confirmed for the real collection by the Fornax notebooks' reader (``gaia_functions.py``): the
    URI, the top-level
    ``source_id, ra, dec, _healpix_29``, the nested column's name and the field names used by
    clients (``g_transit_*``, ``{bp,rp}_obs_time``, ``{bp,rp}_flux``, ``{bp,rp}_flux_over_error``,
    ``variability_flag_*_reject``). **Unconfirmed**, taken from ESA's datamodel: the element
    dtypes, the remaining fields, the top-level ``solution_id`` and ``n_transits``; also the
    margin's name and threshold and the leaf naming (hats' defaults here).

Units and time, as in DR3: fluxes in e-/s, magnitudes in the Gaia (Vega) system with the DR3
zero points, times in days of BJD(TCB) - 2455197.5. Transits fall in the DR3 window
(2014-07-25 to 2017-05-28), some in pairs 106.5 min apart (Gaia's two fields of view); BP and RP
follow the G transit by seconds. Some G transits have NaN flux and magnitude, some BP/RP
transits are unavailable (NaN) or have a negative flux (NaN magnitude), and about 4% of each
band's transits are flagged ``variability_flag_*_reject``. The variability of a sample object's
counterpart is the same red-noise curve as its ZTF counterparts' (:mod:`mwlc.demo.ztf`), keyed on
the sample objectid, so the demo's light curves agree across archives.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path

import lsdb
import nested_pandas as npd
import numpy as np
import pandas as pd
import pyarrow as pa
from hats.pixel_math.spatial_index import compute_spatial_index

from mwlc.demo.builder import field_count, field_positions, finish, require_sample, sample_positions
from mwlc.demo.hashing import hash64, normal, uniform
from mwlc.demo.ztf import _partitioning, _red_noise, fixed_order
from mwlc.sky import offset_by

log = logging.getLogger(__name__)

GAIA_CATALOG_NAME = "gaia_dr3_epoch_phot"
#: Margin threshold of the synthetic collection, arcsec (the real one's is unpublished).
GAIA_MARGIN_ARCSEC = 10.0
#: Gaia DR3 ``solution_id`` (the same value for every DR3 source).
DR3_SOLUTION_ID = 375316653866487564
#: DR3 photometric zero points (Vega mag of 1 e-/s) of G, BP and RP (Riello et al. 2021).
ZERO_POINT = {"g": 25.6874, "bp": 25.3385, "rp": 24.7479}
#: Gaia time (BJD(TCB) - 2455197.5, d) of the first and last DR3 epochs.
DR3_START, DR3_END = 1666.4, 2704.3
#: Time between the preceding and following fields of view (106.5 min), d.
FOV_DELAY_DAYS = 106.5 / 1440.0
#: Delay of the BP and RP observations after the G transit time (CCD columns), d.
BP_DELAY_DAYS, RP_DELAY_DAYS = 24.0 / 86400, 28.5 / 86400

#: source_id = HEALPix(level 12, nested) * 2**35 + local id, as in Gaia; the local id is
#: ``kind * 10**9 + serial`` (kind 0: counterpart of sample object ``serial``, 1-2: decoys,
#: 5: field source ``serial``).
_KIND_COUNTERPART, _KIND_FIELD = 0, 5
_N_DECOYS = 2
_LOCAL_BITS = 35
_MISSING_FRACTION = 0.15
#: Colour (mag, relative to ZTF r) and variability amplitude (relative to ZTF r) per band.
_COLOUR_MAG = {"g": 0.15, "bp": 0.45, "rp": -0.35}
_AMPLITUDE = {"g": 1.1, "bp": 1.3, "rp": 0.9}
_AF_CCDS = range(1, 10)
_GAIA_BANDS = ("g", "bp", "rp")
_PREFIX = {"g": "g_transit", "bp": "bp", "rp": "rp"}
_TIME_FIELD = {"g": "g_transit_time", "bp": "bp_obs_time", "rp": "rp_obs_time"}
#: MJD of Gaia time zero, to evaluate the (MJD-keyed) red-noise curve shared with the ZTF demo.
_MJD_OF_GAIA_ZERO = 55197.0

_README = """\
SYNTHETIC demo data -- NOT real Gaia measurements.

This directory is a HATS collection in the layout of LINCC's Gaia DR3 epoch-photometry collection
(https://data.lsdb.io/hats/gaia_dr3_epoch_phot/): catalog {catalog}, file leaves Npix=N.parquet,
a {margin:g} arcsec margin catalog, top-level source_id/ra/dec and a nested epoch_photometry column
with the fields of ESA's DR3 epoch_photometry datamodel (dtypes from that datamodel; see
mwlc.demo.gaia). Positions, transit times, fluxes, magnitudes and flags were generated by
mwlc.demo.gaia.build_gaia_hats (seed={seed}) around {n_sample} sample objects: one Gaia source
within 0.3 arcsec for about 85% of them, decoys 2-5 arcsec away, and {n_field} field sources.
Light curves are red-noise (AGN-like) variability, about {transits} transits per source.
"""


def build_gaia_hats(
    sample: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    transits_per_source: int = 40,
    seed: int = 0,
    n_field_sources: int | None = None,
    variability_flags: bool = True,
    order: int | None = None,
) -> Path:
    """Write a synthetic Gaia DR3 epoch-photometry HATS collection around ``sample``.

    Parameters
    ----------
    sample, out_dir, seed, n_field_sources, order
        As every demo builder's (:mod:`mwlc.demo.builder`); objectids below 10**9.
    transits_per_source : int, default 40
        Typical number of G transits of a source, varied +-40% (at least 3).
    variability_flags : bool, default True
        Write the ``variability_flag_{g,bp,rp}_reject`` fields (False: a collection without them).

    Returns
    -------
    pathlib.Path
        ``out_dir``, holding ``collection.properties``, ``gaia_dr3_epoch_phot/``, its margin
        catalog and ``README.txt``.
    """
    require_sample(sample, "build_gaia_hats")
    out_dir = Path(out_dir)
    n_field = field_count(sample, n_field_sources)
    sources = gaia_sources(
        sample, seed=seed, n_field_sources=n_field, transits_per_source=transits_per_source
    )
    catalog = lsdb.from_dataframe(
        sources,
        ra_column="ra",
        dec_column="dec",
        catalog_name=GAIA_CATALOG_NAME,
        margin_threshold=GAIA_MARGIN_ARCSEC,
        **(
            _partitioning(sources.rename(columns={"ra": "objra", "dec": "objdec"}))
            if order is None
            else fixed_order(order)
        ),
    )
    add = partial(_add_epoch_photometry, seed=seed, variability_flags=variability_flags)
    catalog = catalog.map_partitions(add, meta=add(catalog.meta))
    catalog.write_catalog(out_dir, catalog_name=GAIA_CATALOG_NAME, overwrite=True, progress_bar=False)
    readme = _README.format(
        catalog=GAIA_CATALOG_NAME,
        margin=GAIA_MARGIN_ARCSEC,
        seed=seed,
        n_sample=len(sample),
        n_field=n_field,
        transits=transits_per_source,
    )
    summary = f"synthetic Gaia collection: {len(sources)} sources in {catalog.npartitions} partitions"
    return finish(out_dir, readme, summary)


def gaia_sources(
    sample: pd.DataFrame, *, seed: int = 0, n_field_sources: int = 0, transits_per_source: int = 40
) -> pd.DataFrame:
    """The top-level (per-source) rows of the synthetic catalog, without epoch photometry.

    ``sample``, ``seed`` and ``transits_per_source`` are :func:`build_gaia_hats`'s;
    ``n_field_sources`` (default 0) unrelated sources are placed 6-150 arcsec from the sample objects.

    Returns
    -------
    pandas.DataFrame
        ``solution_id int64, source_id int64, ra float64 (deg), dec float64 (deg),
        n_transits int16``, sorted by source_id.
    """
    sample_id, ra, dec = sample_positions(sample, "build_gaia_hats", 10**9)
    parts = [
        _counterparts(sample_id, ra, dec, seed),
        _decoys(sample_id, ra, dec, seed),
        _field_sources(n_field_sources, ra, dec, seed),
    ]
    kind, serial, src_ra, src_dec = (np.concatenate(column) for column in zip(*parts, strict=True))
    healpix12 = compute_spatial_index(src_ra, src_dec) >> (2 * (29 - 12))
    source_id = (healpix12 << _LOCAL_BITS) + kind * 10**9 + serial
    sources = pd.DataFrame(
        {
            "solution_id": np.full(len(source_id), DR3_SOLUTION_ID, np.int64),
            "source_id": source_id.astype(np.int64),
            "ra": src_ra,
            "dec": src_dec,
            "n_transits": _n_transits(_variability_key(source_id), transits_per_source, seed).astype(
                np.int16
            ),
        }
    )
    return sources.sort_values("source_id", ignore_index=True)


def _counterparts(
    sample_id: np.ndarray, ra: np.ndarray, dec: np.ndarray, seed: int
) -> tuple[np.ndarray, ...]:
    """One source within 0.3 arcsec of most sample objects (``_MISSING_FRACTION`` have none)."""
    keep = uniform(seed, 40, sample_id) >= _MISSING_FRACTION
    sid = sample_id[keep]
    sep = 0.3 * np.sqrt(uniform(seed, 41, sid))
    src_ra, src_dec = offset_by(ra[keep], dec[keep], 360 * uniform(seed, 42, sid), sep)
    return np.full(len(sid), _KIND_COUNTERPART), sid, src_ra, src_dec


def _decoys(sample_id: np.ndarray, ra: np.ndarray, dec: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """``_N_DECOYS`` sources per sample object, 2-5 arcsec away."""
    kind = np.tile(np.arange(1, _N_DECOYS + 1), len(sample_id))
    sid = np.repeat(sample_id, _N_DECOYS)
    sep = 2.0 + 3.0 * uniform(seed, 43, sid, kind)
    src_ra, src_dec = offset_by(
        np.repeat(ra, _N_DECOYS), np.repeat(dec, _N_DECOYS), 360 * uniform(seed, 44, sid, kind), sep
    )
    return kind, sid, src_ra, src_dec


def _field_sources(n: int, ra: np.ndarray, dec: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` field sources around the sample objects (:func:`mwlc.demo.builder.field_positions`)."""
    serial, src_ra, src_dec = field_positions(n, ra, dec, seed, streams=(45, 46))
    return np.full(n, _KIND_FIELD), serial, src_ra, src_dec


def _variability_key(source_id: np.ndarray) -> np.ndarray:
    """``kind * 10**10 + serial``: the key :mod:`mwlc.demo.ztf` gives the same object's curve."""
    local = np.asarray(source_id, np.int64) & ((1 << _LOCAL_BITS) - 1)
    return (local // 10**9) * 10**10 + local % 10**9


def _n_transits(key: np.ndarray, transits_per_source: int, seed: int) -> np.ndarray:
    """Transit count of each source: ``transits_per_source`` x 0.6-1.4, at least 3."""
    spread = 0.6 + 0.8 * uniform(seed, 47, key)
    return np.maximum(3, np.rint(transits_per_source * spread)).astype(np.int64)


def _add_epoch_photometry(part: pd.DataFrame, *, seed: int, variability_flags: bool) -> npd.NestedFrame:
    """Add the nested ``epoch_photometry`` column to one partition (main or margin)."""
    n_transits = part["n_transits"].to_numpy(np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(n_transits)]).astype(np.int32))
    fields = _epoch_fields(part["source_id"].to_numpy(np.int64), n_transits, seed)
    if not variability_flags:
        fields = {name: value for name, value in fields.items() if not name.startswith("variability_flag_")}
    lists = [
        pa.ListArray.from_arrays(
            offsets, pa.array(values), type=pa.list_(pa.field("element", pa.from_numpy_dtype(values.dtype)))
        )
        for values in fields.values()
    ]
    struct = pa.StructArray.from_arrays(lists, names=list(fields))
    out = npd.NestedFrame(part)
    out["epoch_photometry"] = npd.NestedSeries(struct, index=part.index, dtype=npd.NestedDtype(struct.type))
    return out


def _epoch_fields(source_id: np.ndarray, n_transits: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Flat per-transit arrays of every ``epoch_photometry`` field, in ESA's order and dtypes."""
    obj = np.repeat(np.arange(len(source_id)), n_transits)
    key = _variability_key(source_id)
    sid = source_id[obj]
    k = np.arange(len(obj)) - np.repeat(np.cumsum(n_transits) - n_transits, n_transits)
    time = _transit_times(sid, obj, k, seed)
    base_mag = (16.5 + 3.5 * uniform(seed, 22, key))[obj]  # as mwlc.demo.ztf's r band
    variability = _red_noise(key, obj, time + _MJD_OF_GAIA_ZERO, seed)
    fields: dict[str, np.ndarray] = {"transit_id": np.rint(time * 86400e5).astype(np.int64)}
    delays = dict(zip(_GAIA_BANDS, (0.0, BP_DELAY_DAYS, RP_DELAY_DAYS), strict=True))
    for band, delay in delays.items():
        true_mag = base_mag + _COLOUR_MAG[band] + _AMPLITUDE[band] * variability
        fields.update(_band_fields(band, time + delay, true_mag, sid, k, seed))
    unavailable = {band: ~np.isfinite(fields[f"{band}_obs_time"]) for band in ("bp", "rp")}
    fields.update(_photometry_flags(sid, k, unavailable, seed))
    for index, band in enumerate(_GAIA_BANDS):
        fields[f"variability_flag_{band}_reject"] = uniform(seed, 60 + index, sid, k) < 0.04
    return fields


def _transit_times(sid: np.ndarray, obj: np.ndarray, k: np.ndarray, seed: int) -> np.ndarray:
    """G transit times (BJD(TCB) - 2455197.5, d) in the DR3 window, sorted per source.

    About half the transits follow the previous one by 106.5 min (the other field of view).
    """
    time = DR3_START + (DR3_END - DR3_START) * uniform(seed, 50, sid, k)
    time = time[np.lexsort((time, obj))]
    paired = (k % 2 == 1) & (uniform(seed, 51, sid, k) < 0.5)
    time[paired] = time[np.flatnonzero(paired) - 1] + FOV_DELAY_DAYS
    return time[np.lexsort((time, obj))]


def _band_fields(
    band: str, time: np.ndarray, true_mag: np.ndarray, sid: np.ndarray, k: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """One band's per-transit time, flux, flux error, flux/error and magnitude (plus G's n_obs).

    Fluxes are in e-/s, magnitudes Gaia (Vega) with the DR3 zero points; G transits without a
    flux keep their time, unavailable BP/RP transits have no time either (as in DR3).
    """
    stream = 100 + 10 * _GAIA_BANDS.index(band)  # distinct hash streams per band
    precision, faint = (0.0015, 0.012) if band == "g" else (0.006, 0.05)  # mag; faint: at mag 19
    magerr = precision + faint * 10 ** (0.4 * (true_mag - 19.0))
    flux_true = 10 ** (-0.4 * (true_mag - ZERO_POINT[band]))
    flux_error = flux_true * magerr * np.log(10) / 2.5
    flux = flux_true + flux_error * normal(seed, stream, sid, k)
    draw = uniform(seed, stream + 1, sid, k)
    missing = draw < (0.02 if band == "g" else 0.05)
    negative = (band != "g") & ~missing & (draw < 0.07)  # faint BP/RP transits below zero
    flux[negative] = -flux_error[negative] * uniform(seed, stream + 2, sid[negative], k[negative])
    flux[missing] = flux_error[missing] = np.nan
    with np.errstate(invalid="ignore"):  # no magnitude for a negative or missing flux
        mag = ZERO_POINT[band] - 2.5 * np.log10(np.where(flux > 0, flux, np.nan))
    prefix = _PREFIX[band]
    fields = {
        _TIME_FIELD[band]: np.where(missing & (band != "g"), np.nan, time),
        f"{prefix}_flux": flux,
        f"{prefix}_flux_error": flux_error,
        f"{prefix}_flux_over_error": (flux / flux_error).astype(np.float32),
        f"{prefix}_mag": mag,
    }
    if band == "g":  # CCDs (AF1-AF9) in the transit average: usually all nine
        fewer = (hash64(seed, stream + 3, sid, k) % np.uint64(3)).astype(np.int8)
        fields["g_transit_n_obs"] = np.where(uniform(seed, stream + 4, sid, k) < 0.1, 6 + fewer, 9).astype(
            np.int8
        )
    return fields


def _photometry_flags(
    sid: np.ndarray, k: np.ndarray, unavailable: dict[str, np.ndarray], seed: int
) -> dict[str, np.ndarray]:
    """The ``photometry_flag_*`` booleans: rare per-CCD losses and rejections; BP/RP consistent."""
    flags = {"photometry_flag_noisy_data": uniform(seed, 70, sid, k) < 0.01}
    ccds = ["sm", *(f"af{i}" for i in _AF_CCDS)]
    for state, stream in (("unavailable", 71), ("reject", 72)):
        for i, ccd in enumerate(ccds):
            flags[f"photometry_flag_{ccd}_{state}"] = uniform(seed, stream, sid, k, i) < 0.01
        for band in ("bp", "rp"):
            rare = uniform(seed, stream, sid, k, 20 + _GAIA_BANDS.index(band)) < 0.01
            flags[f"photometry_flag_{band}_{state}"] = unavailable[band] if state == "unavailable" else rare
    order = [
        "photometry_flag_noisy_data",
        *(f"photometry_flag_{ccd}_unavailable" for ccd in [*ccds, "bp", "rp"]),
        *(f"photometry_flag_{ccd}_reject" for ccd in [*ccds, "bp", "rp"]),
    ]
    return {name: flags[name] for name in order}


def build(sample: pd.DataFrame, out_dir: str | os.PathLike) -> Path:
    """The demo's Gaia snapshot: :func:`build_gaia_hats` with its defaults."""
    return build_gaia_hats(sample, out_dir)
