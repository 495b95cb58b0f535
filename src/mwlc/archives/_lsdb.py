"""Helpers shared by the archives read with lsdb (ZTF, Gaia; Pan-STARRS later).

The pattern is the original's (sample catalog -> ``crossmatch`` against a HATS catalog), but the
matched catalog is never ``compute()``-d as a whole: :func:`stream_partitions` computes one HEALPix
partition at a time (at most ``in_flight`` at once, in worker threads, each with dask's
synchronous scheduler) and yields them in partition order. A fetch job's memory is thus bounded
by a few partitions, not by its shard or the sample. No dask cluster, dashboard or progress bar
is started; parallelism comes from the job's ``threads``, never from the machine's core count.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import lsdb
import numpy as np
import pandas as pd
from hats.pixel_math import HealpixPixel
from lsdb.core.search.abstract_search import AbstractSearch

from mwlc.archives import _dask
from mwlc.errors import ArchiveError, ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Memory per on-disk byte of a partition while it is read, crossmatched and flattened. Measured
#: on the synthetic ZTF collection: a filtered read of a 24 MB partition file alone takes about
#: 6x its size (decompression, Arrow -> pandas); 10x leaves room for the crossmatch and flattening.
MEMORY_PER_DISK_BYTE = 10.0


def is_local(uri: str | os.PathLike) -> bool:
    """Whether ``uri`` is a local path (no scheme, or ``file://``)."""
    return urlparse(str(uri)).scheme in ("", "file")


def storage_options_for(uri: str | os.PathLike, storage_options: dict | None) -> dict | None:
    """The fsspec options to open ``uri`` with: ``storage_options`` for remote URIs, None locally.

    A workflow passes one set of options (e.g. an S3 endpoint) to every archive; local sources
    ignore them (fsspec's local filesystem would only warn about them), and so do ``http(s)://``
    sources: fsspec's HTTP filesystem hands its options to aiohttp, which refuses S3 ones
    (``ClientSession.__init__() got an unexpected keyword argument 'endpoint_url'``).
    """
    if is_local(uri) or urlparse(str(uri)).scheme in ("http", "https"):
        return None
    return storage_options


def open_hats(
    uri: str,
    *,
    columns: Sequence[str] | None = None,
    filters: list[tuple] | None = None,
    storage_options: dict | None = None,
    search_filter: AbstractSearch | None = None,
) -> lsdb.Catalog:
    """Open a HATS catalog or collection lazily (metadata only), with its margin if it has one.

    Parameters
    ----------
    uri : str
        Local path, ``s3://...`` or ``https://...``. S3 is read anonymously (hats' default); the
        endpoint comes from ``storage_options`` or the standard ``AWS_ENDPOINT_URL`` variable.
    columns, filters
        Passed to :func:`lsdb.open_catalog` (column projection, pyarrow row filters).
    storage_options : dict, optional
        fsspec options, e.g. ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:5000"}}``.
    search_filter : lsdb.core.search.abstract_search.AbstractSearch, optional
        Passed to :func:`lsdb.open_catalog`: only the partitions (and margin partitions) it
        selects are opened, e.g. ``lsdb.PixelSearch(pixels)``. A filter that selects nothing
        raises (lsdb: "The selected sky region has no coverage").

    Raises
    ------
    ArchiveError
        If a local path does not exist (checked before anything else), or the source cannot be
        opened or read as HATS; the message names the URI and the cause.
    """
    local_path = Path(str(uri).removeprefix("file://"))
    if is_local(uri) and not local_path.exists():
        raise ArchiveError(f"HATS source {uri} does not exist (local path not found)")
    try:
        with warnings.catch_warnings():
            # hats 0.11 resolves a collection's inner catalog names as local UPaths *with* the
            # storage options, and universal_pathlib warns that it ignores them: harmless noise.
            warnings.filterwarnings("ignore", "PosixUPath .* ignores protocol and storage_options")
            return lsdb.open_catalog(
                uri,
                columns=list(columns) if columns else None,
                filters=filters,
                storage_options=storage_options_for(uri, storage_options),
                search_filter=search_filter,
            )
    except Exception as err:  # any failure to open is an unreadable archive; keep the cause
        raise ArchiveError(f"cannot open HATS source {uri}: {type(err).__name__}: {err}") from err


def margin_threshold_arcsec(catalog: lsdb.Catalog) -> float | None:
    """The margin threshold (arcsec) of ``catalog``'s margin catalog, or None without a margin."""
    if catalog.margin is None:
        return None
    return float(catalog.margin.hc_structure.catalog_info.margin_threshold)


def sample_catalog(sample: pd.DataFrame) -> lsdb.Catalog:
    """The sample (``objectid, ra, dec, label``; deg) as an in-memory lsdb catalog.

    No margin is generated: an inner crossmatch uses only the right catalog's margin (lsdb reads
    the left margin for ``how="outer"`` only).
    """
    return lsdb.from_dataframe(
        sample[["objectid", "ra", "dec", "label"]],
        ra_column="ra",
        dec_column="dec",
        catalog_name="sample",
        margin_threshold=None,
    )


def estimated_partition_mib(catalog: lsdb.Catalog) -> float | None:
    """Mean on-disk size (MiB) of one partition's loaded columns, from the HATS metadata."""
    size_kib = catalog.est_size()
    if size_kib is None or catalog.npartitions == 0:
        return None
    return size_kib / catalog.npartitions / 1024


def partitions_in_flight(threads: int, mem_mb: int | None = None, partition_mib: float | None = None) -> int:
    """How many partitions to read and crossmatch at once.

    Parameters
    ----------
    threads : int
        The job's threads (Snakemake ``threads``); the upper limit.
    mem_mb : int, optional
        The job's memory budget in MB (Snakemake ``resources.mem_mb``).
    partition_mib : float, optional
        Estimated on-disk size of one partition (MiB); in memory it takes about
        :data:`MEMORY_PER_DISK_BYTE` times that.

    Returns
    -------
    int
        ``threads``, lowered so that the partitions in flight fit in ``mem_mb``; at least 1.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if mem_mb is None or not partition_mib:
        return threads
    fits = int(mem_mb // (partition_mib * MEMORY_PER_DISK_BYTE))
    return max(1, min(threads, fits))


def stream_partitions(
    catalog: lsdb.Catalog,
    transform: Callable[[pd.DataFrame], T],
    *,
    in_flight: int = 1,
    description: str = "catalog",
) -> Iterator[tuple[HealpixPixel, T]]:
    """Compute ``catalog`` one partition at a time and yield ``(pixel, transform(partition))``.

    Parameters
    ----------
    catalog : lsdb.Catalog
        A lazy catalog, e.g. a crossmatch result. Never computed as a whole.
    transform : callable
        Applied to each computed partition in the worker thread; should shrink it (e.g. to an
        Arrow batch) so that only its result waits to be consumed.
    in_flight : int, default 1
        Partitions computed concurrently (worker threads). Each partition's task graph runs on
        dask's synchronous scheduler inside its worker, so total parallelism is ``in_flight``.
        Inside :func:`mwlc.archives._dask.attached`, the attached Dask cluster computes the
        partitions and their transforms instead, with at least as many in flight as it has
        worker threads.
    description : str
        Names the data in error messages (e.g. ``"ZTF ztf_g at s3://..."``).

    Yields
    ------
    (HealpixPixel, T)
        In the catalog's partition order. At any time at most ``in_flight`` partitions are in
        the pool (being computed, or transformed and waiting their turn) and one result is held
        by the consumer.

    Raises
    ------
    ArchiveError
        If reading or crossmatching a partition fails; names the partition and the cause.
    """
    pixels = catalog.get_healpix_pixels()
    partitions = catalog.to_delayed()

    def read_error(index: int, err: BaseException) -> ArchiveError:
        return ArchiveError(
            f"reading {description}, partition {pixels[index]} failed: {type(err).__name__}: {err}"
        )

    client = _dask.attached_client()
    if client is not None:  # inside mwlc.archives._dask.attached(): the cluster computes
        in_flight = max(in_flight, _dask.cluster_threads(client))
        results = _dask.compute_in_order(
            client, partitions, transform, in_flight=in_flight, read_error=read_error
        )
        yield from zip(pixels, results, strict=True)
        return

    def compute(index: int) -> T:
        try:
            frame = partitions[index].compute(scheduler="sync")
        except Exception as err:  # an unreadable partition is an archive failure; keep the cause
            raise read_error(index, err) from err
        return transform(frame)

    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="mwlc-partition") as pool:
        pending: deque[Future[T]] = deque()
        try:
            for index in range(len(partitions)):
                pending.append(pool.submit(compute, index))
                if len(pending) >= in_flight:
                    yield pixels[index - in_flight + 1], pending.popleft().result()
            for index in range(len(partitions) - len(pending), len(partitions)):
                yield pixels[index], pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def require_margin(catalog: lsdb.Catalog, source: str, archive: str) -> None:
    """Refuse a catalog without a margin: matches across partition boundaries would be lost.

    Raises
    ------
    ArchiveError
        If ``catalog`` has no margin catalog; names ``archive`` and ``source``.
    """
    if catalog.margin is None:
        raise ArchiveError(
            f"{archive} source {source} has no margin catalog; matches across partition boundaries "
            "would be lost (open the collection root, not the catalog inside it)"
        )


def check_radius(radius_arcsec: float, source: str, catalog: lsdb.Catalog | None) -> None:
    """The crossmatch radius (arcsec) must fit in the margin, or matches near partition edges are lost.

    Raises
    ------
    ConfigError
        If ``radius_arcsec`` exceeds the margin threshold of ``catalog`` (checked from metadata only).
    """
    threshold = margin_threshold_arcsec(catalog) if catalog is not None else None
    if threshold is not None and radius_arcsec > threshold:
        raise ConfigError(
            f"radius_arcsec={radius_arcsec} exceeds the margin threshold of {source} "
            f"({threshold:g} arcsec); use radius_arcsec <= {threshold:g}"
        )


def crossmatch_nearest(
    objects: lsdb.Catalog, catalog: lsdb.Catalog, *, radius_arcsec: float, suffix: str
) -> lsdb.Catalog | None:
    """Lazy inner crossmatch: each sample object with its nearest ``catalog`` row within the radius.

    Parameters
    ----------
    objects : lsdb.Catalog
        The sample (:func:`sample_catalog`): its columns keep their names.
    catalog : lsdb.Catalog
        The archive catalog, with a margin (``require_right_margin=True``).
    radius_arcsec : float
        Match radius, arcsec.
    suffix : str
        Appended to the archive's columns whose names the sample also uses (e.g. ``"_gaia"``).

    Returns
    -------
    lsdb.Catalog or None
        The matched catalog (one row per matched object, plus ``_dist_arcsec``), or None when no
        sample partition overlaps the catalog's coverage at all (lsdb 0.11 raises then).
    """
    try:
        return objects.crossmatch(
            catalog,
            radius_arcsec=radius_arcsec,
            n_neighbors=1,
            require_right_margin=True,
            suffixes=("", suffix),
            suffix_method="overlapping_columns",
            log_changes=False,
        )
    except RuntimeError as err:  # lsdb 0.11: no aligned pixel at all ("Catalogs do not overlap")
        if "do not overlap" not in str(err):
            raise
        return None


#: Order of the MOC cells that cover the sample's match circles (cell side about 6.4 arcsec).
COVER_ORDER = 15
#: Most ``_healpix_29`` ranges pushed into a parquet read (the smallest gaps are merged beyond).
MAX_COVER_RANGES = 100


def cover_ranges(
    sample: pd.DataFrame, radius_arcsec: float, max_ranges: int = MAX_COVER_RANGES
) -> np.ndarray:
    """``_healpix_29`` ranges ``[start, end)`` that hold every catalog row within the radius.

    The union of the circles of ``radius_arcsec`` around the sample objects as a MOC (mocpy;
    every cell of order :data:`COVER_ORDER` that overlaps a circle), as sorted disjoint ranges of
    the HATS spatial index; beyond ``max_ranges`` the smallest gaps are closed, so the ranges only
    grow (as lsdb does for its own search filters).

    Parameters
    ----------
    sample : pandas.DataFrame
        ``ra``, ``dec`` (deg, ICRS); at least one row.
    radius_arcsec : float
        Match radius, arcsec.
    max_ranges : int
        Upper limit on the number of ranges (pyarrow evaluates one OR term per range).

    Returns
    -------
    numpy.ndarray
        int64, shape (n, 2), ``n <= max_ranges``.
    """
    import astropy.units as u
    from mocpy import MOC

    moc = MOC.from_cones(
        lon=sample["ra"].to_numpy(np.float64) * u.deg,
        lat=sample["dec"].to_numpy(np.float64) * u.deg,
        radius=radius_arcsec * u.arcsec,
        max_depth=COVER_ORDER,
        union_strategy="large_cones",
    )
    ranges = np.asarray(moc.to_depth29_ranges, dtype=np.int64)
    if len(ranges) > max_ranges:
        gaps = ranges[1:, 0] - ranges[:-1, 1]
        breaks = np.sort(np.argpartition(gaps, -(max_ranges - 1))[-(max_ranges - 1) :])
        starts = np.concatenate(([ranges[0, 0]], ranges[breaks + 1, 0]))
        ends = np.concatenate((ranges[breaks, 1], [ranges[-1, 1]]))
        ranges = np.column_stack([starts, ends])
    return ranges


def cover_filters(
    ranges: np.ndarray, base: Sequence[tuple] = (), column: str = "_healpix_29"
) -> list[list[tuple]]:
    """pyarrow DNF row filters: ``base`` and ``column`` in one of ``ranges`` (``[start, end)``)."""
    return [[*base, (column, ">=", int(start)), (column, "<", int(end))] for start, end in ranges]
