"""Pan-STARRS DR2 single-epoch light curves from STScI's HATS collections, read with lsdb.

As the Fornax original: each sample object is crossmatched with the nearest PS1 object of the
``otmo`` collection (ObjectThin + MeanObject) within ``radius_arcsec``; the ``detection``
collection is opened for the matched sky only and joined on ``objID``; ``psfFlux`` and
``psfFluxErr`` (Jy) become mJy, ``obsTime`` (MJD, TAI, mid-exposure) is the time and
``filterID`` 1-5 the band ``Pan-STARRS g`` ... ``Pan-STARRS y``. No quality cut is applied
(no ``infoFlag`` or ``psfQfPerfect`` selection), as in the original.

Where this module differs from the original, and why:

* The joined catalog is streamed one HEALPix partition at a time
  (:func:`mwlc.archives._lsdb.stream_partitions`), never computed as a whole.
* The detection catalog is opened with the matched pixels *grown by a ring* wider than
  ``radius_arcsec`` plus PS1's 1 arcsec detection-association radius, not with the bare
  ``PixelSearch(matched pixels)``. lsdb 0.11 turns a search filter into ``_healpix_29`` row
  filters applied to the catalog *and its margin*, so with the bare pixels an object near a
  pixel edge loses its detections that fall in an unmatched neighbouring pixel: they are held
  only by the margin, which that row filter empties.
* PS1's null value -999 in ``psfFlux`` or ``psfFluxErr`` becomes NaN (the MAST-era code did
  this; the HATS-era code would write -999 Jy as -999000 mJy). Rows whose flux or error is NaN
  are kept, as the original kept them: a detection without a valid PSF flux is still an epoch,
  and dropping it would be a quality cut. Drop them downstream with ``dropna(subset="flux")``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import partial

import lsdb
import numpy as np
import pandas as pd
import pyarrow as pa
from hats.pixel_math import HealpixPixel
from hats.pixel_math.healpix_shim import margin2order
from mocpy import MOC

from mwlc.archives import _lsdb, require_sample_columns
from mwlc.errors import ArchiveError, ConfigError
from mwlc.progress import Progress
from mwlc.schema import to_record_batch

log = logging.getLogger(__name__)

NAME = "panstarrs"
BANDS = ["Pan-STARRS g", "Pan-STARRS r", "Pan-STARRS i", "Pan-STARRS z", "Pan-STARRS y"]
#: PS1 ``filterID`` of each band.
FILTERIDS = {band: filterid for filterid, band in enumerate(BANDS, start=1)}
#: The real base URI, holding the ``otmo/`` and ``detection/`` collections.
DEFAULT_SOURCE = "s3://stpubdata/panstarrs/ps1/public/hats"
OTMO = "otmo"
DETECTION = "detection"
OTMO_COLUMNS = ["objID", "raMean", "decMean", "nStackDetections"]
DETECTION_COLUMNS = ["objID", "detectID", "obsTime", "filterID", "psfFlux", "psfFluxErr"]
#: PS1's "no value" in the database tables.
PS1_NULL = -999.0
JY_TO_MJY = 1e3
#: PS1 associates single-epoch detections with an object within 1 arcsec of it.
ASSOCIATION_RADIUS_ARCSEC = 1.0


def fetch(
    sample: pd.DataFrame,
    *,
    source: str,
    radius_arcsec: float = 1.0,
    bands: Sequence[str] = BANDS,
    threads: int = 1,
    mem_mb: int | None = None,
    storage_options: dict | None = None,
) -> Iterator[pa.RecordBatch]:
    """Pan-STARRS DR2 detections of the sample objects, one Arrow batch per joined partition.

    Parameters
    ----------
    sample : pandas.DataFrame
        ``objectid`` (int64), ``ra``, ``dec`` (deg, ICRS), ``label``.
    source : str
        Base URI holding the ``otmo/`` and ``detection/`` HATS collections: a local path,
        ``s3://`` or ``https://`` (the real one is :data:`DEFAULT_SOURCE`).
    radius_arcsec : float, default 1.0
        Match radius in arcsec; > 0, at most the otmo margin threshold and at most the detection
        margin threshold minus :data:`ASSOCIATION_RADIUS_ARCSEC` (9 arcsec for the real data).
    bands : sequence of str, default all of :data:`BANDS`
        Bands to fetch.
    threads : int, default 1
        Partitions read, crossmatched and joined concurrently.
    mem_mb : int, optional
        Memory budget in MB; lowers the partitions in flight if they would not fit.
    storage_options : dict, optional
        fsspec options passed to lsdb for remote sources (ignored for local paths). The standard
        ``AWS_ENDPOINT_URL`` environment variable works without them.

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy: one batch per joined partition with detections, in
        :data:`mwlc.schema.LIGHTCURVE_SCHEMA`; ``time`` is MJD (TAI, mid-exposure), ``flux`` and
        ``err`` are PSF fluxes in mJy (NaN where PS1 has no value). No match gives no batch.
        This call already opens both collections and plans the crossmatch and the join
        (metadata only, plus the sample's in-memory catalog); partitions are read while iterating.

    Raises
    ------
    ConfigError
        If ``radius_arcsec``, ``bands`` or ``threads`` is invalid, or the radius does not fit in
        the margins (checked before any partition is read).
    SampleError
        If ``sample`` lacks a column.
    ArchiveError
        If a collection is missing, unreadable or has no margin catalog (raised by this call,
        before any partition is read), or if a partition cannot be read (raised while iterating).
    """
    _check_params(sample, radius_arcsec, bands, threads)
    otmo_uri, detection_uri = collection_uris(source)
    otmo = _lsdb.open_hats(otmo_uri, columns=OTMO_COLUMNS, storage_options=storage_options)
    _lsdb.require_margin(otmo, otmo_uri, "Pan-STARRS otmo")
    _lsdb.check_radius(radius_arcsec, otmo_uri, otmo)
    if sample.empty or not bands:
        return iter(())
    objects = _lsdb.sample_catalog(sample)
    matched = _lsdb.crossmatch_nearest(objects, otmo, radius_arcsec=radius_arcsec, suffix="_ps1")
    if matched is None:
        log.info("no sample object lies in the coverage of %s: no rows", otmo_uri)
        return iter(())
    detection = _open_detection(detection_uri, matched, radius_arcsec, bands, storage_options)
    joined = _join(matched, detection) if detection is not None else None
    if joined is None:
        log.info("no detection partition of %s overlaps the matched objects: no rows", detection_uri)
        return iter(())
    in_flight = _lsdb.partitions_in_flight(threads, mem_mb, _partition_mib(otmo, detection))
    return _stream(joined, list(bands), source, radius_arcsec, objects.npartitions, in_flight)


def collection_uris(source: str) -> tuple[str, str]:
    """The ``otmo`` and ``detection`` collection URIs under the base URI ``source``."""
    base = str(source).rstrip("/")
    return f"{base}/{OTMO}", f"{base}/{DETECTION}"


def _open_detection(
    uri: str,
    matched: lsdb.Catalog,
    radius_arcsec: float,
    bands: Sequence[str],
    storage_options: dict | None,
) -> lsdb.Catalog | None:
    """The detection catalog (with margin) around the matched pixels, or None without coverage."""
    search = lsdb.MOCSearch(_grown_moc(matched.get_healpix_pixels(), radius_arcsec), fine=False)
    filters = None if set(bands) == set(BANDS) else [("filterID", "in", [FILTERIDS[b] for b in bands])]
    try:
        detection = _lsdb.open_hats(
            uri,
            columns=DETECTION_COLUMNS,
            filters=filters,
            storage_options=storage_options,
            search_filter=search,
        )
    except ArchiveError as err:
        if isinstance(err.__cause__, ValueError) and "has no coverage" in str(err.__cause__):
            return None
        raise
    _lsdb.require_margin(detection, uri, "Pan-STARRS detection")
    _check_detection_margin(radius_arcsec, uri, detection)
    return detection


def _grown_moc(pixels: list[HealpixPixel], radius_arcsec: float) -> MOC:
    """The MOC of ``pixels`` grown by a ring wider than the radius plus PS1's association radius.

    Every detection of an object whose sample position lies in ``pixels`` is inside it.
    """
    ring_order = int(margin2order((radius_arcsec + ASSOCIATION_RADIUS_ARCSEC) / 60.0))
    orders = np.array([pixel.order for pixel in pixels])
    npix = np.array([pixel.pixel for pixel in pixels])
    finer = orders > ring_order  # pixels finer than the ring: their parent at the ring order
    npix[finer] >>= 2 * (orders[finer] - ring_order)
    orders[finer] = ring_order
    return MOC.from_healpix_cells(npix, orders, ring_order).add_neighbours()


def _check_detection_margin(radius_arcsec: float, uri: str, detection: lsdb.Catalog) -> None:
    """A detection may lie radius + 1 arcsec from the sample position: the margin must hold it."""
    threshold = _lsdb.margin_threshold_arcsec(detection)
    if threshold is not None and radius_arcsec + ASSOCIATION_RADIUS_ARCSEC > threshold:
        limit = threshold - ASSOCIATION_RADIUS_ARCSEC
        raise ConfigError(
            f"radius_arcsec={radius_arcsec} plus PS1's {ASSOCIATION_RADIUS_ARCSEC:g} arcsec association "
            f"radius exceeds the margin threshold of {uri} ({threshold:g} arcsec); "
            f"use radius_arcsec <= {limit:g}"
        )


def _join(matched: lsdb.Catalog, detection: lsdb.Catalog) -> lsdb.Catalog | None:
    """Lazy join of the matched objects with their detections on ``objID`` (None: no overlap)."""
    try:
        return matched.join(
            detection,
            left_on="objID",
            right_on="objID",
            suffixes=("", "_det"),
            suffix_method="overlapping_columns",
            log_changes=False,
        )
    except RuntimeError as err:  # lsdb 0.11: no aligned pixel at all ("Catalogs do not overlap")
        if "do not overlap" not in str(err):
            raise
        return None


def _partition_mib(otmo: lsdb.Catalog, detection: lsdb.Catalog) -> float | None:
    """Estimated on-disk MiB read per joined partition: one otmo and one detection partition."""
    sizes = [_lsdb.estimated_partition_mib(catalog) for catalog in (otmo, detection)]
    known = [size for size in sizes if size is not None]
    return sum(known) if known else None


def _stream(
    joined: lsdb.Catalog,
    bands: list[str],
    source: str,
    radius_arcsec: float,
    sample_partitions: int,
    in_flight: int,
) -> Iterator[pa.RecordBatch]:
    """The batches of the joined catalog, partition by partition (lazy)."""
    total = joined.npartitions
    log.info(
        "joining %d sample partitions with %s within %g arcsec, bands %s: %d partitions, %d in flight",
        sample_partitions,
        source,
        radius_arcsec,
        bands,
        total,
        in_flight,
    )
    transform = partial(_detections, bands=bands)
    stream = _lsdb.stream_partitions(
        joined, transform, in_flight=in_flight, description=f"Pan-STARRS at {source}"
    )
    n_rows = n_objects = 0
    progress = Progress(total, "partitions")
    for done, (pixel, (batch, objects_with_rows)) in enumerate(stream, start=1):
        n_rows += batch.num_rows
        n_objects += objects_with_rows
        log.info(
            "%s (%s): %d objects, %d rows", progress.line(done), pixel, objects_with_rows, batch.num_rows
        )
        if batch.num_rows:
            yield batch
    log.info("done: %d partitions, %d objects with detections, %d rows", total, n_objects, n_rows)


def _detections(joined: pd.DataFrame, bands: list[str]) -> tuple[pa.RecordBatch, int]:
    """One joined partition -> (light-curve batch of its detections in ``bands``, objects in it)."""
    band_of = np.full(256, "", dtype=object)
    for band in bands:
        band_of[FILTERIDS[band]] = band
    filterid = joined["filterID"].to_numpy(dtype=np.float64, na_value=0).astype(np.int64)
    band = band_of[np.clip(filterid, 0, 255)]
    keep = band != ""
    frame = pd.DataFrame(
        {
            "objectid": joined["objectid"].to_numpy(dtype=np.int64)[keep],
            "label": joined["label"].to_numpy(dtype=object)[keep],
            "band": band[keep],
            "time": joined["obsTime"].to_numpy(dtype=np.float64, na_value=np.nan)[keep],
            "flux": ps1_flux_to_mjy(joined["psfFlux"])[keep],
            "err": ps1_flux_to_mjy(joined["psfFluxErr"])[keep],
        }
    )
    return to_record_batch(frame), int(frame["objectid"].nunique())


def ps1_flux_to_mjy(flux_jy: pd.Series | np.ndarray) -> np.ndarray:
    """PS1 flux (Jy) to mJy as float64; missing values and PS1's null -999 become NaN."""
    values = pd.Series(flux_jy).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(values == PS1_NULL, np.nan, values * JY_TO_MJY)


def _check_params(sample: pd.DataFrame, radius_arcsec: float, bands: Sequence[str], threads: int) -> None:
    """Validate what needs no I/O."""
    require_sample_columns(sample, "Pan-STARRS")
    if not radius_arcsec > 0:
        raise ConfigError(f"radius_arcsec must be > 0 arcsec, got {radius_arcsec}")
    if isinstance(bands, str):
        raise ConfigError(f"bands must be a list of band names, got the string {bands!r}")
    unknown = [band for band in bands if band not in FILTERIDS]
    if unknown:
        raise ConfigError(f"unknown Pan-STARRS band(s) {unknown}; known bands: {BANDS}")
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
