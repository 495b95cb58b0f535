"""Gaia DR3 epoch photometry from LINCC's HATS collection, crossmatched with lsdb.

As the Fornax original: the nearest Gaia DR3 source with epoch photometry within
``radius_arcsec`` of each sample object is found, its transits are flattened to one row each, and
a transit's flux in mJy is ``ab_mag_to_mjy(mag)`` of its Gaia magnitude, with error
``flux_mJy * flux_error / flux`` (from the e-/s columns). Gaia magnitudes are Vega magnitudes:
treating them as AB, as the original does, is kept for comparability (for G the AB - Vega offset
is about 0.1 mag, i.e. fluxes are ~10% off in absolute terms; light-curve shapes are unaffected).

Differences from the original (see design.md §9):

* **Time.** Gaia times are BJD(TCB) - 2455197.5 d and JD 2455197.5 is MJD 55197.0, so
  ``time = transit time + 55197.0`` (:data:`MJD_OF_GAIA_TIME_ZERO`); the original adds 55197.5,
  half a day late. The time system stays TCB, barycentric.
* **Bands.** ``Gaia_G`` by default, as the original today; ``Gaia_BP`` and ``Gaia_RP`` (as in the
  2024 version) on request, converted the same way from ``bp_mag``/``rp_mag`` with times
  ``bp_obs_time``/``rp_obs_time``.
* **Rows dropped.** A transit is kept in a band when its time, flux (e-/s) and magnitude are all
  present (the original drops NaN ``g_transit_flux`` only; a NaN magnitude, e.g. of a negative BP
  flux, would give a NaN mJy flux) and, when the collection has the field, its
  ``variability_flag_<band>_reject`` is not set (outliers rejected by DR3's variability
  processing; null counts as not set).
* **Streaming.** The matched catalog is read one HEALPix partition at a time
  (:func:`mwlc.archives._lsdb.stream_partitions`); each partition becomes one Arrow batch holding
  every requested band, so memory never grows with the shard or the sample.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import lsdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mwlc.archives import _lsdb, require_sample_columns
from mwlc.errors import ConfigError
from mwlc.photometry import ab_mag_to_mjy
from mwlc.progress import Progress
from mwlc.schema import to_record_batch

log = logging.getLogger(__name__)

NAME = "gaia"
BANDS = ["Gaia_G", "Gaia_BP", "Gaia_RP"]
#: Bands fetched unless ``bands`` says otherwise (the original's current behaviour).
DEFAULT_BANDS = ("Gaia_G",)
#: The real collection (LINCC, served over HTTPS).
DEFAULT_SOURCE = "https://data.lsdb.io/hats/gaia_dr3_epoch_phot/"
#: MJD of Gaia time zero: Gaia epochs are BJD(TCB) - 2455197.5 d, and JD 2455197.5 = MJD 55197.0.
MJD_OF_GAIA_TIME_ZERO = 55197.0
#: The nested column holding each source's transits.
NESTED = "epoch_photometry"


@dataclass(frozen=True)
class BandFields:
    """Names of one band's fields in the nested ``epoch_photometry`` column.

    Attributes
    ----------
    time : str
        Observation time, d (BJD(TCB) - 2455197.5).
    flux, flux_error : str
        Flux and its 1-sigma error, e-/s.
    mag : str
        Gaia (Vega) magnitude.
    reject : str
        Boolean: rejected by the DR3 variability processing.
    """

    time: str
    flux: str
    flux_error: str
    mag: str
    reject: str


FIELDS: dict[str, BandFields] = {
    "Gaia_G": BandFields(
        "g_transit_time",
        "g_transit_flux",
        "g_transit_flux_error",
        "g_transit_mag",
        "variability_flag_g_reject",
    ),
    **{
        f"Gaia_{b.upper()}": BandFields(
            f"{b}_obs_time", f"{b}_flux", f"{b}_flux_error", f"{b}_mag", f"variability_flag_{b}_reject"
        )
        for b in ("bp", "rp")
    },
}


def fetch(
    sample: pd.DataFrame,
    *,
    source: str,
    radius_arcsec: float = 1.0,
    bands: Sequence[str] = DEFAULT_BANDS,
    threads: int = 1,
    mem_mb: int | None = None,
    storage_options: dict | None = None,
) -> Iterator[pa.RecordBatch]:
    """Gaia DR3 epoch photometry of the sample objects, one Arrow batch per matched partition.

    Parameters
    ----------
    sample : pandas.DataFrame
        ``objectid`` (int64), ``ra``, ``dec`` (deg, ICRS), ``label``.
    source : str
        URI of the Gaia DR3 epoch-photometry HATS collection: a local path, ``https://``,
        ``http://`` or ``s3://`` (the real one is :data:`DEFAULT_SOURCE`).
    radius_arcsec : float, default 1.0
        Match radius in arcsec; > 0 and at most the collection's margin threshold.
    bands : sequence of str, default ``("Gaia_G",)``
        Bands to fetch, any of :data:`BANDS`.
    threads : int, default 1
        Partitions read and crossmatched concurrently.
    mem_mb : int, optional
        Memory budget in MB; lowers the partitions in flight if they would not fit.
    storage_options : dict, optional
        fsspec options passed to lsdb for remote sources (ignored for local paths).

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy: one batch per crossmatched partition with kept transits, in
        :data:`mwlc.schema.LIGHTCURVE_SCHEMA`; ``time`` is MJD (TCB, barycentric), ``flux`` and
        ``err`` are mJy. No match at all gives no batch.

    Raises
    ------
    ConfigError
        If ``radius_arcsec``, ``bands`` or ``threads`` is invalid, or the radius exceeds the
        collection's margin threshold (checked before any partition is read).
    SampleError
        If ``sample`` lacks a column.
    ArchiveError
        If ``source`` is missing, unreadable, or has no margin catalog (raised by this call,
        before any partition is read), or if a partition cannot be read (raised while iterating).
    """
    bands = _check_params(sample, radius_arcsec, bands, threads)
    gaia, reject_fields = _open(source, bands, storage_options)
    _lsdb.check_radius(radius_arcsec, source, gaia)
    if sample.empty:
        return iter(())
    return _stream(sample, gaia, source, radius_arcsec, bands, reject_fields, threads, mem_mb)


def gaia_time_to_mjd(time: np.ndarray) -> np.ndarray:
    """Gaia epoch time (BJD(TCB) - 2455197.5, d) to MJD in the same (TCB, barycentric) system."""
    return np.asarray(time, dtype=np.float64) + MJD_OF_GAIA_TIME_ZERO


def _stream(
    sample: pd.DataFrame,
    gaia: lsdb.Catalog,
    source: str,
    radius_arcsec: float,
    bands: list[str],
    reject_fields: frozenset[str],
    threads: int,
    mem_mb: int | None,
) -> Iterator[pa.RecordBatch]:
    """Crossmatch the sample with the collection and stream the kept transits (lazy)."""
    objects = _lsdb.sample_catalog(sample)
    matched = _lsdb.crossmatch_nearest(objects, gaia, radius_arcsec=radius_arcsec, suffix="_gaia")
    if matched is None:
        log.info("no sample object lies in the coverage of %s: no rows", source)
        return
    in_flight = _lsdb.partitions_in_flight(threads, mem_mb, _lsdb.estimated_partition_mib(gaia))
    total = matched.npartitions
    log.info(
        "crossmatching %d sample partitions with %s within %g arcsec, bands %s: %d partitions, %d in flight",
        objects.npartitions,
        source,
        radius_arcsec,
        bands,
        total,
        in_flight,
    )
    transform = partial(_transits, bands=bands, reject_fields=reject_fields)
    stream = _lsdb.stream_partitions(matched, transform, in_flight=in_flight, description=f"Gaia at {source}")
    n_rows = n_objects = 0
    progress = Progress(total, "partitions")
    for done, (pixel, (batch, matched_objects)) in enumerate(stream, start=1):
        n_rows += batch.num_rows
        n_objects += matched_objects
        log.info(
            "%s (%s): %d objects matched, %d rows",
            progress.line(done),
            pixel,
            matched_objects,
            batch.num_rows,
        )
        if batch.num_rows:
            yield batch
    log.info("done: %d partitions, %d objects matched, %d rows", total, n_objects, n_rows)


def _transits(
    matched: pd.DataFrame, bands: list[str], reject_fields: frozenset[str]
) -> tuple[pa.RecordBatch, int]:
    """One crossmatched partition -> (light-curve batch of its kept transits, objects matched)."""
    photometry = matched[NESTED]
    per_source = np.asarray(photometry.nest.len(), dtype=np.int64)
    objectid = np.repeat(matched["objectid"].to_numpy(dtype=np.int64), per_source)
    label = np.repeat(matched["label"].to_numpy(dtype=object), per_source)
    transits = photometry.nest.to_flat()
    frames = [_band_rows(transits, band, objectid, label, reject_fields) for band in bands]
    return to_record_batch(pd.concat(frames, ignore_index=True)), len(matched)


def _band_rows(
    transits: pd.DataFrame, band: str, objectid: np.ndarray, label: np.ndarray, reject_fields: frozenset[str]
) -> pd.DataFrame:
    """One band's kept transits as light-curve rows (time MJD, flux and err mJy)."""
    fields = FIELDS[band]
    column = lambda name: transits[name].to_numpy(dtype=np.float64, na_value=np.nan)  # noqa: E731
    time, flux, flux_error, mag = (
        column(name) for name in (fields.time, fields.flux, fields.flux_error, fields.mag)
    )
    keep = np.isfinite(time) & np.isfinite(flux) & np.isfinite(mag)
    if fields.reject in reject_fields:
        keep &= ~transits[fields.reject].to_numpy(dtype=bool, na_value=False)
    flux_mjy = ab_mag_to_mjy(mag[keep])
    return pd.DataFrame(
        {
            "objectid": objectid[keep],
            "label": label[keep],
            "band": band,
            "time": gaia_time_to_mjd(time[keep]),
            "flux": flux_mjy,
            "err": flux_mjy * flux_error[keep] / flux[keep],
        }
    )


def _open(source: str, bands: list[str], storage_options: dict | None) -> tuple[lsdb.Catalog, frozenset[str]]:
    """The collection (with margin) with the needed columns, and the reject flags it has.

    The variability flags are read only if the collection's schema has them (their presence in
    the real collection is unconfirmed), which costs a second metadata-only open.
    """
    needed = [f"{NESTED}.{name}" for band in bands for name in _value_fields(FIELDS[band])]
    gaia = _lsdb.open_hats(
        source, columns=["source_id", "ra", "dec", *needed], storage_options=storage_options
    )
    _lsdb.require_margin(gaia, source, "Gaia")
    available = _nested_fields(gaia.original_schema)
    reject = frozenset(FIELDS[band].reject for band in bands) & available
    missing = sorted({FIELDS[band].reject for band in bands} - reject)
    if missing:
        log.warning("%s has no %s: transits rejected by DR3 variability processing are kept", source, missing)
    if reject:
        columns = ["source_id", "ra", "dec", *needed, *(f"{NESTED}.{name}" for name in sorted(reject))]
        gaia = _lsdb.open_hats(source, columns=columns, storage_options=storage_options)
    return gaia, reject


def _value_fields(fields: BandFields) -> tuple[str, ...]:
    """The fields of a band that every collection has (all but the reject flag)."""
    return fields.time, fields.flux, fields.flux_error, fields.mag


def _nested_fields(schema: pa.Schema) -> frozenset[str]:
    """Field names of the nested ``epoch_photometry`` column (struct of lists, or list of structs)."""
    if NESTED not in schema.names:
        return frozenset()
    kind = schema.field(NESTED).type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return frozenset(kind.field(i).name for i in range(kind.num_fields))


def _check_params(
    sample: pd.DataFrame, radius_arcsec: float, bands: Sequence[str], threads: int
) -> list[str]:
    """Validate what needs no I/O; return the bands as a list without duplicates."""
    require_sample_columns(sample, "Gaia")
    if not radius_arcsec > 0:
        raise ConfigError(f"radius_arcsec must be > 0 arcsec, got {radius_arcsec}")
    if isinstance(bands, str):
        raise ConfigError(f"bands must be a list of band names, got the string {bands!r}")
    unknown = [band for band in bands if band not in FIELDS]
    if unknown:
        raise ConfigError(f"unknown Gaia band(s) {unknown}; known bands: {BANDS}")
    if not bands:
        raise ConfigError(f"bands is empty; give at least one of {BANDS}")
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    return list(dict.fromkeys(bands))
