"""Pan-STARRS DR2 single-epoch light curves from STScI's HATS collections.

As the Fornax original: each sample object is crossmatched with the nearest PS1 object of the
``otmo`` collection (ObjectThin + MeanObject) within ``radius_arcsec``; its detections are taken
from the ``detection`` collection by ``objID``; ``psfFlux`` and ``psfFluxErr`` (Jy) become mJy,
``obsTime`` (MJD, TAI, mid-exposure) is the time and ``filterID`` 1-5 the band
``Pan-STARRS g`` ... ``Pan-STARRS y``. No quality cut is applied (no ``infoFlag`` or
``psfQfPerfect`` selection), as in the original.

Where this module differs from the original, and why:

* Both collections are read by :mod:`mwlc.archives._crossmatch`, never computed as a whole:
  the otmo match reads the positions of the partitions holding the shard's objects (and their
  margins); the detections are then read from the ``detection`` partitions around the matched
  objects, in batches of ``read_batch_rows`` rows, keeping the rows of the matched ``objID``.
* A detection is looked for within :data:`DETECTION_SEARCH_ARCSEC` of its object's mean
  position, in whichever partition holds it. The original's recipe (``PixelSearch`` of the
  matched pixels, then a join on the partition plus its margin) loses the detections of an
  object near a partition edge that fall in the neighbouring partition: lsdb turns a search
  filter into row filters applied to the margin too, which empties it.
* PS1's null value -999 in ``psfFlux`` or ``psfFluxErr`` becomes NaN (the MAST-era code did
  this; the HATS-era code would write -999 Jy as -999000 mJy). Rows whose flux or error is NaN
  are kept, as the original kept them: a detection without a valid PSF flux is still an epoch,
  and dropping it would be a quality cut. Drop them downstream with ``dropna(subset="flux")``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mwlc.archives import _crossmatch, _hats, _parquet, require_sample_columns
from mwlc.archives._hats import SPATIAL_INDEX_COLUMN
from mwlc.archives._preflight import Finding, check_hats
from mwlc.archives.base import JobOptions, job_options
from mwlc.archives.descriptors.panstarrs import ARCHIVE
from mwlc.errors import ArchiveError, MwlcError
from mwlc.schema import dictionary_take, lightcurve_batch

log = logging.getLogger(__name__)

NAME = ARCHIVE.name
BANDS = list(ARCHIVE.bands)
#: PS1 ``filterID`` of each band.
FILTERIDS = {band: filterid for filterid, band in enumerate(BANDS, start=1)}
#: The real base URI, holding the ``otmo/`` and ``detection/`` collections.
DEFAULT_SOURCE = ARCHIVE.default_source
OTMO = "otmo"
DETECTION = "detection"
ID_COLUMN = "objID"
DETECTION_COLUMNS = ["objID", "obsTime", "filterID", "psfFlux", "psfFluxErr"]
#: PS1's "no value" in the database tables.
PS1_NULL = -999.0
JY_TO_MJY = 1e3
#: PS1 associates single-epoch detections with an object within 1 arcsec of it.
ASSOCIATION_RADIUS_ARCSEC = 1.0
#: Detections are looked for within this distance (arcsec) of their object's mean position:
#: twice the association radius, so that a detection 1 arcsec from a mean position that is itself
#: off by as much is still found.
DETECTION_SEARCH_ARCSEC = 2 * ASSOCIATION_RADIUS_ARCSEC
#: Detection rows decoded at a time (six small columns, ~50 bytes a row).
DEFAULT_READ_BATCH_ROWS = ARCHIVE.param("read_batch_rows").default


def fetch(
    sample: pd.DataFrame,
    *,
    source: str,
    radius_arcsec: float = 1.0,
    bands: Sequence[str] = BANDS,
    read_batch_rows: int = DEFAULT_READ_BATCH_ROWS,
    **job: Unpack[JobOptions],
) -> Iterator[pa.RecordBatch]:
    """Pan-STARRS DR2 detections of the sample objects, streamed a batch of catalog rows at a time.

    ``sample``, ``radius_arcsec`` (against the otmo catalog's margin), ``read_batch_rows``,
    ``**job`` and the errors raised are every HATS reader's (:mod:`mwlc.archives`).

    Parameters
    ----------
    source : str
        Base URI holding the ``otmo/`` and ``detection/`` HATS collections: a local path,
        ``s3://`` or ``https://`` (the real one is :data:`DEFAULT_SOURCE`).
    bands : sequence of str, default all of :data:`BANDS`
        Bands to fetch.

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy, in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`; ``time`` is MJD (TAI, mid-exposure),
        ``flux`` and ``err`` are PSF fluxes in mJy (NaN where PS1 has no value).
    """
    threads, mem_mb, storage_options = job_options(job, NAME)
    require_sample_columns(sample, "Pan-STARRS")
    checked = ARCHIVE.check_params(
        {"radius_arcsec": radius_arcsec, "bands": bands, "read_batch_rows": read_batch_rows}
    )
    radius_arcsec, bands = float(checked["radius_arcsec"]), checked["bands"]
    otmo_uri, detection_uri = collection_uris(source)
    otmo = _hats.open_catalog(otmo_uri, archive="Pan-STARRS otmo", storage_options=storage_options)
    otmo.check_radius(radius_arcsec)
    otmo.require_columns([ID_COLUMN])
    detection = _hats.open_catalog(
        detection_uri, archive="Pan-STARRS detection", storage_options=storage_options
    )
    detection.require_columns([*DETECTION_COLUMNS, SPATIAL_INDEX_COLUMN])
    if sample.empty:
        return iter(())
    return _stream(sample, otmo, detection, radius_arcsec, bands, read_batch_rows, threads, mem_mb)


#: Kind of the values of the ``detection`` columns the fetch reads.
DETECTION_KINDS = {
    "objID": "integer",
    "obsTime": "number",
    "filterID": "integer",
    "psfFlux": "number",
    "psfFluxErr": "number",
    SPATIAL_INDEX_COLUMN: "integer",
}


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """Open both collections as :func:`fetch` does (metadata only): one finding per problem or note.

    ``otmo``: HATS metadata, ``objID`` and positions, the margin (its absence is a note) and the
    radius against it; ``detection``: HATS metadata and the columns read, with their kinds.
    """
    otmo_uri, detection_uri = collection_uris(source)
    radius = params.get("radius_arcsec", ARCHIVE.param("radius_arcsec").default)
    _, findings = check_hats(
        otmo_uri,
        archive=NAME,
        label="Pan-STARRS otmo",
        columns={ID_COLUMN: "integer"},
        storage_options=storage_options,
        radius_arcsec=radius,
    )
    _, more = check_hats(
        detection_uri,
        archive=NAME,
        label="Pan-STARRS detection",
        columns=DETECTION_KINDS,
        storage_options=storage_options,
    )
    return findings + more


def collection_uris(source: str) -> tuple[str, str]:
    """The ``otmo`` and ``detection`` collection URIs under the base URI ``source``."""
    base = str(source).rstrip("/")
    return f"{base}/{OTMO}", f"{base}/{DETECTION}"


def _stream(
    sample: pd.DataFrame,
    otmo: _hats.HatsCatalog,
    detection: _hats.HatsCatalog,
    radius_arcsec: float,
    bands: list[str],
    read_batch_rows: int,
    threads: int,
    mem_mb: int | None,
) -> Iterator[pa.RecordBatch]:
    """Match the otmo objects, then stream their detections (lazy: nothing is read until iterated)."""
    matches = _crossmatch.locate(
        otmo,
        sample["ra"].to_numpy(),
        sample["dec"].to_numpy(),
        _crossmatch.Query(radius_arcsec, extra_columns=[ID_COLUMN, otmo.ra_column, otmo.dec_column]),
        batch_rows=read_batch_rows,
        threads=threads,
    )
    log.info(
        "Pan-STARRS: %d sample objects matched within %g arcsec, bands %s", len(matches), radius_arcsec, bands
    )
    if not len(matches):
        return
    ra, dec = matches.extra[otmo.ra_column], matches.extra[otmo.dec_column]
    cover = _crossmatch.cover_ranges(ra, dec, DETECTION_SEARCH_ARCSEC)
    reached = [detection.pixels.pixels[i] for i in detection.pixels.overlapping(cover)]
    pairs = _crossmatch.Pairs.of(matches, sample["objectid"].to_numpy(), sample["label"].to_numpy())
    order = np.argsort(matches.extra[ID_COLUMN], kind="stable")
    leaves = [leaf for pixel in reached for leaf in detection.leaf_files(pixel)]
    footers = [_footer(leaf) for leaf in leaves]
    _crossmatch.batch_memory_check(
        "Pan-STARRS", DETECTION_COLUMNS, read_batch_rows, mem_mb, key="archives.panstarrs.read_batch_rows"
    )(footers)
    tasks = [
        DetectionScan(
            leaf,
            metadata,
            cover,
            matches.extra[ID_COLUMN][order],
            pairs[order],
            [FILTERIDS[band] for band in bands],
            read_batch_rows,
        )
        for leaf, metadata in zip(leaves, footers, strict=True)
    ]
    yield from _crossmatch.run_leaf_tasks(tasks, threads=threads, archive="Pan-STARRS")


def _footer(leaf: _parquet.LeafFile) -> pq.FileMetaData:
    """The footer of a detection leaf file (read once, kept for its scan)."""
    try:
        with _parquet.open_parquet(leaf) as parquet:
            return parquet.metadata
    except MwlcError:  # already says which file, and the attempts
        raise
    except Exception as err:  # an unreadable leaf is an archive failure; keep the cause
        raise ArchiveError(f"reading the footer of {leaf} failed: {type(err).__name__}: {err}") from err


@dataclass(frozen=True)
class DetectionScan:
    """The detections of the matched objects held by one ``detection`` leaf file.

    Attributes
    ----------
    leaf : LeafFile
        The file.
    metadata : pyarrow.parquet.FileMetaData
        Its footer.
    cover : numpy.ndarray
        ``_healpix_29`` ranges around the matched objects; row groups outside are skipped.
    objid : numpy.ndarray
        The matched ``objID`` of each pair, sorted.
    pairs : Pairs
        The pairs, in the same order.
    filterids : list of int
        Wanted ``filterID`` values.
    batch_rows : int
        Rows decoded at a time.
    """

    leaf: _parquet.LeafFile
    metadata: pq.FileMetaData
    cover: np.ndarray
    objid: np.ndarray
    pairs: _crossmatch.Pairs
    filterids: list[int]
    batch_rows: int

    def batches(self, use_threads: bool = False) -> Iterator[pa.RecordBatch]:
        """Light-curve batches of the file's detections of the matched objects (lazy)."""
        columns = [*DETECTION_COLUMNS, SPATIAL_INDEX_COLUMN]
        try:
            with _parquet.open_parquet(self.leaf, self.metadata) as parquet:
                groups = _parquet.row_groups_in_ranges(parquet.metadata, SPATIAL_INDEX_COLUMN, self.cover)
                for _, batch in _parquet.iter_batches(
                    parquet, columns, groups, self.batch_rows, use_threads=use_threads
                ):
                    rows = self._rows(batch)
                    if rows.num_rows:
                        yield rows
        except (OSError, pa.ArrowException) as err:  # an unreadable leaf is an archive failure
            raise ArchiveError(f"reading {self.leaf} failed: {type(err).__name__}: {err}") from err

    def __call__(self) -> pa.Table:
        """All the rows as one table (run on a Dask worker)."""
        from mwlc.schema import LIGHTCURVE_SCHEMA

        return pa.Table.from_batches(list(self.batches()), LIGHTCURVE_SCHEMA)

    def _rows(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The light-curve rows of one batch: each detection once per pair of its objID."""
        objid = batch.column(ID_COLUMN).to_numpy(zero_copy_only=False)
        filterid = batch.column("filterID").to_numpy(zero_copy_only=False)
        first = np.searchsorted(self.objid, objid, side="left")
        count = np.searchsorted(self.objid, objid, side="right") - first
        count[~np.isin(filterid, self.filterids)] = 0
        detection = np.repeat(np.arange(batch.num_rows), count)
        pair = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
        band = np.asarray(BANDS, dtype=object)[filterid[detection].astype(np.int64) - 1]
        return lightcurve_batch(
            self.pairs.objectid[pair],
            dictionary_take(self.pairs.label, pair),
            dictionary_take(band, np.arange(len(band))),
            batch.column("obsTime").to_numpy(zero_copy_only=False)[detection],
            ps1_flux_to_mjy(batch.column("psfFlux").to_numpy(zero_copy_only=False)[detection]),
            ps1_flux_to_mjy(batch.column("psfFluxErr").to_numpy(zero_copy_only=False)[detection]),
        )


def ps1_flux_to_mjy(flux_jy: pd.Series | np.ndarray) -> np.ndarray:
    """PS1 flux (Jy) to mJy as float64; missing values and PS1's null -999 become NaN."""
    values = pd.Series(flux_jy).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(values == PS1_NULL, np.nan, values * JY_TO_MJY)
