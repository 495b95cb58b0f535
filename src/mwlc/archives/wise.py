"""unWISE neo7 time-domain light curves (W1, W2) from IRSA's hive-partitioned parquet dataset.

The catalog (the unTimely catalog, Meisner et al. 2023, AJ 165, 36) is partitioned by HEALPix
order-5 NEST pixel (``healpix_k0=K0/healpix_k5=K5/part0.snappy.parquet``). For a shard:

1. every order-5 pixel within ``radius_arcsec`` of any sample object is computed at once
   (:func:`pixels_within`, a union of cone coverages; inclusive, so no pixel is missed);
2. the dataset is opened from its ``_metadata`` file and scanned **once** over all those
   pixels, keeping ``primary == 1``, ``flux > 0`` and the requested bands (the Fornax original
   ran one scan per pixel: 3,813 scans and 2.5 hours for 500k objects);
3. each streamed batch is matched to the sample (a HEALPix-cell lookup discards detections far
   from every object, a KD-tree on unit vectors matches the rest exactly): **every** detection
   within ``radius_arcsec`` of an object is kept, as the original's ``search_around_sky`` did.
   This is deliberately not nearest-only: two detections of one epoch within the radius both
   appear, and a detection within the radius of two objects appears under both;
4. fluxes in Vega nanomaggies become mJy: m_Vega = 22.5 - 2.5 log10(flux),
   m_AB = m_Vega + 2.699 (W1) or 3.339 (W2), mJy from m_AB with the 3630.78 Jy AB zero point;
   ``dflux`` is scaled by the same (linear) factor; ``time`` is the epoch coadd's ``MJDMEAN``.

Memory is bounded by the batches in flight (and the parquet row groups being decoded for them),
never by the shard or the sample. Remote reads use pyarrow's own
S3 client, which ignores ``AWS_ENDPOINT_URL``: the endpoint is taken from ``storage_options``
or that variable and passed on explicitly (:func:`mwlc.storage.arrow_filesystem`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Unpack

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from cdshealpix.nested import lonlat_to_healpix
from mocpy import MOC
from scipy.spatial import cKDTree

from mwlc.archives import require_sample_columns
from mwlc.archives._preflight import Finding, check_columns
from mwlc.archives.base import JobOptions, job_options
from mwlc.archives.descriptors.wise import ARCHIVE
from mwlc.errors import ArchiveError
from mwlc.photometry import ab_mag_to_mjy
from mwlc.schema import to_record_batch
from mwlc.sky import ARCSEC_PER_DEG, search_chord, separation_deg, unit_vectors
from mwlc.storage import arrow_filesystem, arrow_s3_attempts

log = logging.getLogger(__name__)

NAME = ARCHIVE.name
BANDS = list(ARCHIVE.bands)
#: The real dataset (bucket ``nasa-irsa-wise``, region ``us-west-2``, anonymous access).
SOURCE = ARCHIVE.default_source
S3_REGION = "us-west-2"
#: ``band`` value of each band in the catalog.
BAND_CODES = {"WISE_W1": 1, "WISE_W2": 2}
#: Vega -> AB magnitude offset of each band (mag).
VEGA_TO_AB_MAG = {"WISE_W1": 2.699, "WISE_W2": 3.339}
#: Vega magnitude of a flux of 1 nanomaggy.
NANOMAGGY_VEGA_MAG = 22.5
#: HEALPix order (NEST) of the ``healpix_k5`` partitions.
PARTITION_ORDER = 5
#: Catalog columns read (plus ``primary`` and ``healpix_k5`` in the filter).
COLUMNS = ["ra", "dec", "band", "MJDMEAN", "flux", "dflux"]
#: Default rows per scanned batch (pyarrow's default).
BATCH_ROWS = ARCHIVE.param("batch_rows").default
#: Estimated memory per batch row in flight: decoded columns plus matching temporaries (bytes).
BYTES_PER_ROW = 256
_MIN_BATCH_ROWS = 1024


def fetch(
    sample: pd.DataFrame,
    *,
    source: str = SOURCE,
    radius_arcsec: float = 1.0,
    bands: Sequence[str] = BANDS,
    batch_rows: int = BATCH_ROWS,
    **job: Unpack[JobOptions],
) -> Iterator[pa.RecordBatch]:
    """unWISE W1/W2 light curves of the sample objects, streamed from one filtered scan.

    Parameters
    ----------
    sample, **job
        As every reader's (:meth:`mwlc.archives.base.Reader.fetch`).
        ``threads``: files and batches read ahead, and pyarrow's CPU pool (1 scans serially);
        ``mem_mb`` lowers ``batch_rows`` to fit; ``storage_options``: ``anon`` (default True), an
        endpoint (else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, else AWS), ``region_name``
        (default ``us-west-2``).
    source : str, default :data:`SOURCE`
        Root of the hive dataset (the directory holding ``_metadata``): a local path, a
        ``file://`` URI, or ``s3://bucket/key``.
    radius_arcsec : float, default 1.0
        Match radius (arcsec, > 0, finite). Every detection within it is kept (inclusive).
    bands : sequence of str, default :data:`BANDS`
        Bands to fetch, from ``WISE_W1``, ``WISE_W2``.
    batch_rows : int, default 131072
        Rows per scanned batch (upper bound); lowered to fit ``mem_mb``.

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy; batches in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`, only those with rows. ``time``
        is MJDMEAN (MJD), ``flux`` and ``err`` are mJy; rows are ordered by objectid, band and
        time within a batch. pyarrow's CPU pool is capped at ``threads`` until the iterator is
        exhausted or closed.

    Raises
    ------
    SampleError
        If ``sample`` lacks a column.
    ConfigError
        If a parameter is invalid (the message names it), before any I/O.
    ArchiveError
        If the dataset cannot be opened or lacks a needed column (raised by this call), or a
        file cannot be read (raised while iterating).
    """
    threads, mem_mb, storage_options = job_options(job, NAME)
    require_sample_columns(sample, "WISE")
    checked = ARCHIVE.check_params({"radius_arcsec": radius_arcsec, "bands": bands, "batch_rows": batch_rows})
    radius_arcsec, bands = float(checked["radius_arcsec"]), checked["bands"]
    if sample.empty:
        return iter(())
    dataset = open_dataset(source, storage_options)
    pixels = pixels_within(
        sample["ra"].to_numpy(float), sample["dec"].to_numpy(float), radius_arcsec, threads=threads
    )
    scan = scan_options(threads, mem_mb, batch_rows)
    tried = _tried(source, storage_options)
    return _stream(sample, dataset, source, pixels, radius_arcsec, bands, scan, threads, tried)


def _tried(source: str, storage_options: dict | None) -> str:
    """`` after N attempt(s)`` when pyarrow's S3 client retries each request of ``source``, else ""."""
    attempts = arrow_s3_attempts(source, storage_options)
    return "" if attempts is None else f" after {attempts} attempt(s)"


# --------------------------------------------------------------------------- locate and open


def pixels_within(
    ra: np.ndarray,
    dec: np.ndarray,
    radius_arcsec: float,
    *,
    order: int = PARTITION_ORDER,
    threads: int = 1,
) -> np.ndarray:
    """Every HEALPix NEST pixel of ``order`` within ``radius_arcsec`` of any of the positions.

    Parameters
    ----------
    ra, dec : numpy.ndarray
        Positions (deg, ICRS).
    radius_arcsec : float
        Cone radius (arcsec).
    order : int, default 5
        HEALPix order (5: the dataset's ``healpix_k5`` partitions).
    threads : int, default 1
        Threads used to compute the coverage.

    Returns
    -------
    numpy.ndarray of int64
        Sorted unique pixels. Inclusive: a pixel touched by any cone is included (the union of
        the cones' coverages, computed two orders deeper, as hpgeom's ``inclusive=True``).
    """
    if len(ra) == 0:
        return np.empty(0, np.int64)
    moc = MOC.from_cones(
        lon=np.asarray(ra, float) * u.deg,
        lat=np.asarray(dec, float) * u.deg,
        radius=radius_arcsec * u.arcsec,
        max_depth=order,
        delta_depth=2,
        union_strategy="small_cones",
        n_threads=threads,
    )
    return np.unique(moc.flatten().astype(np.int64))


def open_dataset(source: str, storage_options: dict | None = None) -> ds.Dataset:
    """The hive dataset at ``source`` opened from its ``_metadata`` file.

    The partition keys ``healpix_k0`` and ``healpix_k5`` come from the paths, as int64.

    Raises
    ------
    ArchiveError
        If ``_metadata`` cannot be read, or the dataset lacks a column the fetch needs.
    """
    filesystem, root = arrow_filesystem(
        source, storage_options, default_region=S3_REGION, what="unWISE source"
    )
    partitioning = ds.partitioning(
        pa.schema([("healpix_k0", pa.int64()), ("healpix_k5", pa.int64())]), flavor="hive"
    )
    try:
        dataset = ds.parquet_dataset(f"{root}/_metadata", filesystem=filesystem, partitioning=partitioning)
    except (OSError, pa.ArrowException) as err:
        tried = _tried(source, storage_options)
        raise ArchiveError(f"cannot open unWISE source {source}{tried}: {type(err).__name__}: {err}") from err
    missing = [name for name in [*COLUMNS, "primary"] if name not in dataset.schema.names]
    if missing:
        raise ArchiveError(f"unWISE source {source} lacks column(s) {missing}")
    return dataset


# --------------------------------------------------------------------------- scan


def scan_options(threads: int, mem_mb: int | None, batch_rows: int) -> dict:
    """Keyword arguments of :meth:`pyarrow.dataset.Dataset.to_batches` for a thread budget.

    Up to ``threads`` files are read ahead with ``threads`` batches each, so about
    ``threads**2 + 1`` batches are in flight; with ``mem_mb`` the batch size is lowered so they
    fit in half the budget at :data:`BYTES_PER_ROW` (never below 1024 rows).
    """
    in_flight = threads * threads + 1
    if mem_mb is not None:
        fitting = int(mem_mb * 1_000_000 / 2 / (in_flight * BYTES_PER_ROW))  # mem_mb: 10**6 bytes
        batch_rows = max(_MIN_BATCH_ROWS, min(batch_rows, fitting))
    return {
        "batch_size": batch_rows,
        "batch_readahead": threads,
        "fragment_readahead": threads,
        "use_threads": threads > 1,
    }


def scan_filter(pixels: np.ndarray, bands: Sequence[str]) -> ds.Expression:
    """Rows of the given pixels, primary, with positive flux, in the given bands."""
    codes = [BAND_CODES[band] for band in bands]
    return (
        pc.field("healpix_k5").isin(pa.array(pixels, pa.int64()))
        & (pc.field("primary") == 1)
        & pc.field("band").isin(codes)
        & (pc.field("flux") > 0)
    )


@contextmanager
def _cpu_pool(threads: int) -> Iterator[None]:
    """Cap pyarrow's CPU pool at ``threads`` for the scan, then restore it."""
    before = pa.cpu_count()
    pa.set_cpu_count(threads)
    try:
        yield
    finally:
        pa.set_cpu_count(before)


def _stream(
    sample: pd.DataFrame,
    dataset: ds.Dataset,
    source: str,
    pixels: np.ndarray,
    radius_arcsec: float,
    bands: list[str],
    scan: dict,
    threads: int,
    tried: str = "",
) -> Iterator[pa.RecordBatch]:
    """The matched batches of one scan over ``pixels`` (lazy); ``tried`` ends a read failure's
    message with the attempts made (:func:`_tried`)."""
    matcher = _Matcher(sample, radius_arcsec, threads)
    log.info(
        "scanning %d HEALPix order-5 pixels of %s once for %d objects within %g arcsec "
        "(%s; %d rows per batch)",
        len(pixels),
        source,
        len(sample),
        radius_arcsec,
        ", ".join(bands),
        scan["batch_size"],
    )
    n_scanned = n_rows = n_batches = 0
    objects: set[int] = set()
    with _cpu_pool(threads):
        batches = dataset.to_batches(filter=scan_filter(pixels, bands), columns=COLUMNS, **scan)
        for batch in _archive_errors(batches, source, tried):
            n_scanned += batch.num_rows
            n_batches += 1
            out = matcher.match(batch)
            if out is None:
                continue
            n_rows += out.num_rows
            objects.update(np.unique(out.column("objectid").to_numpy()).tolist())
            log.info("batch %d: %d detections scanned, %d rows kept", n_batches, batch.num_rows, out.num_rows)
            yield out
    log.info(
        "done: %d pixels, %d batches, %d detections scanned, %d objects matched, %d rows",
        len(pixels),
        n_batches,
        n_scanned,
        len(objects),
        n_rows,
    )


def _archive_errors(
    batches: Iterator[pa.RecordBatch], source: str, tried: str = ""
) -> Iterator[pa.RecordBatch]:
    """``batches``, with read failures raised as :class:`ArchiveError` naming the source (and,
    in ``tried``, the attempts)."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as err:
            # pyarrow does not retry a missing file: no attempts to tell of
            attempts = "" if isinstance(err, FileNotFoundError) else tried
            raise ArchiveError(
                f"reading unWISE source {source} failed{attempts}: {type(err).__name__}: {err}"
            ) from err
        yield batch


# --------------------------------------------------------------------------- match and convert


class _Matcher:
    """All (object, detection) pairs within a radius.

    A detection is a candidate only if its HEALPix cell (at an order whose cells are about
    twice the radius) is in the sample's inclusive cone coverage at that order: a C-speed
    lookup that discards almost every scanned detection. Candidates are then matched by the rule
    of :mod:`mwlc.sky`: a KD-tree on the sample's unit vectors, then the angular separation
    (inclusive).
    """

    def __init__(self, sample: pd.DataFrame, radius_arcsec: float, threads: int = 1) -> None:
        ra, dec = sample["ra"].to_numpy(float), sample["dec"].to_numpy(float)
        self.objectid = sample["objectid"].to_numpy(np.int64)
        self.label = sample["label"].astype(str).to_numpy()
        self.ra, self.dec = ra, dec
        self.tree = cKDTree(unit_vectors(ra, dec))
        self.radius_deg = radius_arcsec / ARCSEC_PER_DEG
        self.order = cell_order(radius_arcsec)
        self.cells = pixels_within(ra, dec, radius_arcsec, order=self.order, threads=threads)
        self.threads = threads

    def pairs(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices (object, detection) of every pair within the radius (inclusive)."""
        cell = _healpix(ra, dec, self.order, self.threads)
        slot = np.minimum(np.searchsorted(self.cells, cell), len(self.cells) - 1)
        near = np.flatnonzero(self.cells[slot] == cell)
        if len(near) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        lists = self.tree.query_ball_point(
            unit_vectors(ra[near], dec[near]), search_chord(self.radius_deg), workers=self.threads
        )
        counts = np.fromiter(map(len, lists), np.int64, len(lists))
        obj = np.concatenate(lists).astype(np.int64)
        det = near[np.repeat(np.arange(len(near)), counts)]
        inside = separation_deg(self.ra[obj], self.dec[obj], ra[det], dec[det]) <= self.radius_deg
        return obj[inside], det[inside]

    def match(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        """The light-curve rows of a scanned batch's detections near sample objects, or None."""
        obj, det = self.pairs(_column(batch, "ra"), _column(batch, "dec"))
        if len(obj) == 0:
            return None
        band = np.where(_column(batch, "band", np.int64)[det] == BAND_CODES["WISE_W1"], "WISE_W1", "WISE_W2")
        flux, err = vega_nanomaggy_to_mjy(_column(batch, "flux")[det], _column(batch, "dflux")[det], band)
        time = _column(batch, "MJDMEAN")[det]
        order = np.lexsort((time, band, self.objectid[obj]))
        frame = pd.DataFrame(
            {
                "objectid": self.objectid[obj],
                "label": self.label[obj],
                "band": band,
                "time": time,
                "flux": flux,
                "err": err,
            }
        )
        return to_record_batch(frame.iloc[order])


def vega_nanomaggy_to_mjy(
    flux: np.ndarray, dflux: np.ndarray, band: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vega-nanomaggy flux and error to mJy, per band.

    Parameters
    ----------
    flux, dflux : numpy.ndarray
        Flux (> 0) and its 1-sigma error, Vega nanomaggies.
    band : numpy.ndarray of str
        ``WISE_W1`` or ``WISE_W2`` per row.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Flux and error in mJy: m_AB = 22.5 - 2.5 log10(flux) + Vega-to-AB offset; the error is
        scaled by the same factor (the conversion is linear in flux).
    """
    flux = np.asarray(flux, np.float64)
    offset = np.select([band == name for name in VEGA_TO_AB_MAG], list(VEGA_TO_AB_MAG.values()), np.nan)
    mjy = ab_mag_to_mjy(NANOMAGGY_VEGA_MAG - 2.5 * np.log10(flux) + offset)
    return mjy, np.asarray(dflux, np.float64) * (mjy / flux)


def cell_order(radius_arcsec: float) -> int:
    """The HEALPix order (5-20) whose cells are about twice ``radius_arcsec`` across (at least)."""
    size_order0_arcsec = np.degrees(np.sqrt(4 * np.pi / 12)) * 3600  # 211,076"
    return int(np.clip(np.floor(np.log2(size_order0_arcsec / (2 * radius_arcsec))), PARTITION_ORDER, 20))


def _healpix(ra: np.ndarray, dec: np.ndarray, order: int, threads: int) -> np.ndarray:
    """NEST pixels (int64) of positions in degrees; -1 where a position is not finite."""
    finite = np.isfinite(ra) & np.isfinite(dec)
    if finite.all():
        return lonlat_to_healpix(ra * u.deg, dec * u.deg, order, num_threads=threads).astype(np.int64)
    cell = np.full(len(ra), -1, np.int64)
    cell[finite] = _healpix(ra[finite], dec[finite], order, threads)
    return cell


def _column(batch: pa.RecordBatch, name: str, dtype: type = np.float64) -> np.ndarray:
    """A batch column as a numpy array of ``dtype``."""
    return batch.column(name).to_numpy(zero_copy_only=False).astype(dtype, copy=False)


# --------------------------------------------------------------------------- preflight

#: Kind of the values of the columns the scan reads and filters on.
COLUMN_KINDS = {
    "ra": "number",
    "dec": "number",
    "band": "integer",
    "MJDMEAN": "number",
    "flux": "number",
    "dflux": "number",
    "primary": "integer",
}


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """Read the dataset's schema from its ``_metadata`` file, through the filesystem :func:`fetch`
    uses: one finding per missing column or column of another kind, or one if it cannot be read."""
    import pyarrow.parquet as pq

    try:
        filesystem, root = arrow_filesystem(
            source, storage_options, default_region=S3_REGION, what="unWISE source"
        )
        schema = pq.read_schema(f"{root}/_metadata", filesystem=filesystem)
    except (ArchiveError, OSError, pa.ArrowException) as err:
        return [
            Finding(NAME, source, "a parquet dataset with a _metadata file", f"{type(err).__name__}: {err}")
        ]
    return check_columns(schema, COLUMN_KINDS, archive=NAME, source=source)
