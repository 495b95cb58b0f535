"""Crossmatch a sample shard with a HATS catalog, reading each partition once, in bounded memory.

This is the reader of the HATS archives (ZTF, Gaia, Pan-STARRS). It gives the rows lsdb's
``crossmatch(..., n_neighbors=1, require_right_margin=True)`` gives, but reads the catalog
itself, with pyarrow, in two passes over the leaf files the shard touches:

1. **Locate** (:func:`locate`): the small columns (position, band, ``_healpix_29``, a few
   more) of the row groups that can hold a row within the radius of a shard object, decoded a
   batch at a time and kept only for rows inside the shard's cover (a MOC of its match circles);
   then, per partition and band, a k-d tree over those candidates finds each object's nearest
   row within the radius (or every row within it, ``match="all"``).
2. **Read** (:func:`stream_matched`): the heavy columns (a nested light curve) of exactly the
   matched rows, one batch at a time, from the row groups that hold them.

Each leaf file is opened once per pass and the passes read disjoint columns, so a job reads each
byte it needs once, for every band at a time; memory is bounded by ``batch_rows`` rows of the
columns read, whatever the size of a partition or of its row groups.

Partitions, margins and ties are as lsdb's: an object is matched against the partition that
holds its position plus that partition's margin, candidates in that order (main rows, then
margin rows) in a k-d tree built as lsdb builds it. A catalog **without a margin** is matched
against every partition that its objects' circles reach (the neighbouring partitions' rows near
the edge), which finds the same rows as a margin would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hats.pixel_math import HealpixPixel

from mwlc import sky
from mwlc.archives import _parquet
from mwlc.archives._hats import SPATIAL_INDEX_COLUMN, HatsCatalog
from mwlc.archives._parquet import LeafFile
from mwlc.errors import ArchiveError, ConfigError, MwlcError

log = logging.getLogger(__name__)

#: Order of the MOC cells that cover the sample's match circles (cell side about 6.4 arcsec).
COVER_ORDER = 15
#: Most ``_healpix_29`` ranges in one partition's cover (the smallest gaps are merged beyond).
MAX_COVER_RANGES = 100
#: Memory of one batch in flight, as a multiple of its decoded size: the decoded batch, the
#: matched rows taken from it, and their light-curve rows (measured: see benchmarks/README.md).
BATCH_MEMORY_FACTOR = 4.0
MATCH_MODES = ("nearest", "all")


@dataclass(frozen=True)
class Query:
    """What a crossmatch looks for.

    Attributes
    ----------
    radius_arcsec : float
        Match radius, arcsec.
    band_column : str, optional
        A column whose values split the catalog into independent bands (ZTF ``filterid``): the
        nearest row is chosen per band. None: one match per object.
    bands : sequence of int
        Wanted values of ``band_column`` (all rows when empty).
    extra_columns : sequence of str
        Small columns read in the first pass and returned for the matched rows (e.g. an id).
    match : str
        ``"nearest"`` (one row per object and band) or ``"all"`` (every row within the radius).
    """

    radius_arcsec: float
    band_column: str | None = None
    bands: Sequence[int] = ()
    extra_columns: Sequence[str] = ()
    match: str = "nearest"


@dataclass
class Matches:
    """Matched (sample object, catalog row) pairs, sorted by leaf file and row.

    Attributes
    ----------
    leaves : list of LeafFile
        The files holding matched rows.
    metadata : list of pyarrow.parquet.FileMetaData
        Their footers (read once, in the first pass).
    leaf, row, obj, band : numpy.ndarray
        Per pair: index into ``leaves``, row position in that file, index of the sample object,
        value of the query's band column (0 without one).
    dist_arcsec : numpy.ndarray
        Angular distance of the pair, arcsec.
    extra : dict of str to numpy.ndarray
        The query's extra columns, per pair.
    """

    leaves: list[LeafFile]
    metadata: list[pq.FileMetaData]
    leaf: np.ndarray
    row: np.ndarray
    obj: np.ndarray
    band: np.ndarray
    dist_arcsec: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.row)


@dataclass
class _Candidates:
    """First-pass rows of one leaf file: positions (deg), band, extra columns and file rows."""

    ra: np.ndarray
    dec: np.ndarray
    band: np.ndarray
    row: np.ndarray
    extra: dict[str, np.ndarray]


@dataclass
class _Leaf:
    """A leaf file to read for a group of sample objects, with its footer and row groups."""

    file: LeafFile
    group: int
    metadata: pq.FileMetaData | None = None
    row_groups: list[int] = field(default_factory=list)
    candidates: _Candidates | None = None


def spatial_index(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """The HATS spatial index (``_healpix_29``, nested) of positions in degrees."""
    from hats.pixel_math.spatial_index import compute_spatial_index

    return compute_spatial_index(np.asarray(ra_deg, np.float64), np.asarray(dec_deg, np.float64))


def cover_ranges(
    ra_deg: np.ndarray, dec_deg: np.ndarray, radius_arcsec: float, max_ranges: int = MAX_COVER_RANGES
) -> np.ndarray:
    """``_healpix_29`` ranges ``[start, end)`` holding every point within the radius of the positions.

    The union of the circles as a MOC (mocpy; every cell of order :data:`COVER_ORDER` that
    overlaps a circle), as sorted disjoint ranges of the HATS spatial index; beyond
    ``max_ranges`` the smallest gaps are closed, so the ranges only grow (as lsdb does for its
    own search filters).

    Returns
    -------
    numpy.ndarray
        int64, shape (n, 2), ``n <= max_ranges``.
    """
    import astropy.units as u
    from mocpy import MOC

    moc = MOC.from_cones(
        lon=np.asarray(ra_deg, np.float64) * u.deg,
        lat=np.asarray(dec_deg, np.float64) * u.deg,
        radius=radius_arcsec * u.arcsec,
        max_depth=COVER_ORDER,
        union_strategy="large_cones",
        n_threads=1,  # called once per partition group: mocpy's default starts a thread pool per call
    )
    ranges = np.asarray(moc.to_depth29_ranges, dtype=np.int64)
    if len(ranges) > max_ranges:
        gaps = ranges[1:, 0] - ranges[:-1, 1]
        breaks = np.sort(np.argpartition(gaps, -(max_ranges - 1))[-(max_ranges - 1) :])
        starts = np.concatenate(([ranges[0, 0]], ranges[breaks + 1, 0]))
        ends = np.concatenate((ranges[breaks, 1], [ranges[-1, 1]]))
        ranges = np.column_stack([starts, ends])
    return ranges


def locate(
    catalog: HatsCatalog,
    ra_deg: np.ndarray,
    dec_deg: np.ndarray,
    query: Query,
    *,
    batch_rows: int,
    threads: int = 1,
    check_batch: Callable[[list[pq.FileMetaData]], None] | None = None,
) -> Matches:
    """First pass: the catalog rows matching each sample position (see the module docstring).

    Parameters
    ----------
    catalog : HatsCatalog
        The catalog (metadata opened by :func:`mwlc.archives._hats.open_catalog`).
    ra_deg, dec_deg : numpy.ndarray
        The sample's positions (deg, ICRS); pairs refer to them by index.
    query : Query
        Radius, band column and wanted bands, extra columns, match mode.
    batch_rows : int
        Rows decoded at a time.
    threads : int
        Leaf files read concurrently.
    check_batch : callable, optional
        Called with the footers of every leaf file to be read, before any data is read (e.g. to
        refuse a batch that cannot fit the job's memory).

    Returns
    -------
    Matches
        Sorted by leaf and row.
    """
    if query.match not in MATCH_MODES:
        raise ConfigError(f"match must be one of {list(MATCH_MODES)}, got {query.match!r}")
    ra_deg, dec_deg = np.asarray(ra_deg, np.float64), np.asarray(dec_deg, np.float64)
    groups, leaves = _plan(catalog, ra_deg, dec_deg, query.radius_arcsec)
    covers = [cover_ranges(ra_deg[members], dec_deg[members], query.radius_arcsec) for members in groups]
    log.info(
        "%s: %d objects in %d partition group(s) of %s: %d leaf files to read%s",
        catalog.archive,
        len(ra_deg),
        len(groups),
        catalog.uri,
        len(leaves),
        "" if catalog.has_margin else " (no margin catalog: neighbouring partitions are read instead)",
    )
    _in_threads(lambda leaf: _read_footer(leaf, covers[leaf.group]), leaves, threads, "mwlc-footer")
    leaves = [leaf for leaf in leaves if leaf.row_groups]
    if check_batch is not None:
        check_batch([leaf.metadata for leaf in leaves])
    columns = _first_pass_columns(catalog, query)
    _in_threads(
        lambda leaf: _read_candidates(leaf, catalog, query, columns, covers, batch_rows),
        leaves,
        threads,
        "mwlc-locate",
    )
    return _match(leaves, groups, ra_deg, dec_deg, catalog, query)


def _in_threads(work: Callable[[_Leaf], None], leaves: Sequence[_Leaf], threads: int, name: str) -> None:
    """``work(leaf)`` for every leaf, ``threads`` at a time; the first failure is raised at once.

    The leaves not yet started are then skipped, so a job whose source fails for good ends
    after the failing read's attempts, not after every other leaf's too.
    """
    failed = threading.Event()

    def guarded(leaf: _Leaf) -> None:
        if failed.is_set():
            return
        try:
            work(leaf)
        except BaseException:
            failed.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=name) as pool:
        futures = [pool.submit(guarded, leaf) for leaf in leaves]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _plan(
    catalog: HatsCatalog, ra_deg: np.ndarray, dec_deg: np.ndarray, radius_arcsec: float
) -> tuple[list[np.ndarray], list[_Leaf]]:
    """Groups of sample objects matched together, and the leaf files each group needs.

    With a margin, a group is the objects of one partition (main leaves, then margin leaves, as
    lsdb concatenates them). Objects outside every partition but inside a margin partition form a
    group of that margin partition alone (lsdb aligns margin-only pixels too). Without a margin,
    all objects form one group with every partition their match circles reach.
    """
    index29 = spatial_index(ra_deg, dec_deg)
    if not catalog.has_margin:
        members = np.arange(len(ra_deg))
        reached = catalog.pixels.overlapping(cover_ranges(ra_deg, dec_deg, radius_arcsec))
        leaves = [
            _Leaf(leaf, 0)
            for position in reached
            for leaf in catalog.leaf_files(catalog.pixels.pixels[position])
        ]
        return ([members] if len(members) else []), leaves
    home = catalog.pixels.locate(index29)
    margin_home = catalog.margin_pixels.locate(index29)
    margin_of = {pixel: position for position, pixel in enumerate(catalog.margin_pixels.pixels)}
    groups: list[np.ndarray] = []
    leaves: list[_Leaf] = []
    keys = [(0, position) for position in np.unique(home[home >= 0])]
    keys += [(1, position) for position in np.unique(margin_home[(home < 0) & (margin_home >= 0)])]
    for only_margin, position in keys:
        if only_margin:
            pixel = catalog.margin_pixels.pixels[position]
            members = np.flatnonzero((home < 0) & (margin_home == position))
        else:
            pixel = catalog.pixels.pixels[position]
            members = np.flatnonzero(home == position)
        group = len(groups)
        groups.append(members)
        if not only_margin:
            leaves += [_Leaf(leaf, group) for leaf in catalog.leaf_files(pixel)]
        if pixel in margin_of:
            leaves += [_Leaf(leaf, group) for leaf in catalog.leaf_files(pixel, margin=True)]
    return groups, leaves


def _read_footer(leaf: _Leaf, cover: np.ndarray) -> None:
    """Read a leaf's footer and choose the row groups that may hold a row of ``cover``."""
    try:
        with _parquet.open_parquet(leaf.file) as parquet:
            leaf.metadata = parquet.metadata
    except MwlcError:  # already says which file, and the attempts
        raise
    except Exception as err:  # an unreadable leaf is an archive failure; keep the cause
        raise ArchiveError(f"reading the footer of {leaf.file} failed: {type(err).__name__}: {err}") from err
    leaf.row_groups = _parquet.row_groups_in_ranges(leaf.metadata, SPATIAL_INDEX_COLUMN, cover)


def _first_pass_columns(catalog: HatsCatalog, query: Query) -> list[str]:
    columns = [catalog.ra_column, catalog.dec_column, SPATIAL_INDEX_COLUMN]
    if query.band_column:
        columns.append(query.band_column)
    columns += [c for c in query.extra_columns if c not in columns]
    catalog.require_columns(columns)
    return columns


def _read_candidates(
    leaf: _Leaf,
    catalog: HatsCatalog,
    query: Query,
    columns: list[str],
    covers: list[np.ndarray],
    batch_rows: int,
) -> None:
    """Read the small columns of a leaf's row groups; keep the rows in its group's cover and bands."""
    parts: list[tuple[np.ndarray, pa.RecordBatch]] = []
    cover = covers[leaf.group]
    bands = np.asarray(query.bands)
    try:
        with _parquet.open_parquet(leaf.file, leaf.metadata) as parquet:
            for rows, batch in _parquet.iter_batches(parquet, columns, leaf.row_groups, batch_rows):
                keep = _parquet.in_ranges(_numpy(batch, SPATIAL_INDEX_COLUMN), cover)
                if query.band_column and len(bands):
                    keep &= np.isin(_numpy(batch, query.band_column), bands)
                if keep.any():
                    mask = pa.array(keep)
                    parts.append((rows[keep], batch.filter(mask)))
    except MwlcError:  # already says which file, and the attempts
        raise
    except Exception as err:  # an unreadable leaf is an archive failure; keep the cause
        raise ArchiveError(f"reading {leaf.file} failed: {type(err).__name__}: {err}") from err
    table = pa.Table.from_batches([batch for _, batch in parts], schema=_schema_of(parts, columns))
    leaf.candidates = _Candidates(
        ra=_numpy(table, catalog.ra_column),
        dec=_numpy(table, catalog.dec_column),
        band=_numpy(table, query.band_column) if query.band_column else np.zeros(table.num_rows, np.int64),
        row=np.concatenate([rows for rows, _ in parts]) if parts else np.zeros(0, np.int64),
        extra={name: _numpy(table, name) for name in query.extra_columns},
    )


def _schema_of(parts: list[tuple[np.ndarray, pa.RecordBatch]], columns: list[str]) -> pa.Schema | None:
    """The batches' schema, or an all-null schema of ``columns`` when there is no batch."""
    if parts:
        return parts[0][1].schema
    return pa.schema([(name, pa.null()) for name in columns])


def _numpy(data: pa.RecordBatch | pa.Table, name: str) -> np.ndarray:
    """A flat column as numpy, in its own dtype (nulls of a float column become NaN)."""
    column = data.column(name)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.to_numpy(zero_copy_only=False)


def _match(
    leaves: list[_Leaf],
    groups: list[np.ndarray],
    ra_deg: np.ndarray,
    dec_deg: np.ndarray,
    catalog: HatsCatalog,
    query: Query,
) -> Matches:
    """Per group and band, each object's nearest candidate (or all of them) within the radius."""
    from scipy.spatial import KDTree

    # sky's vectors keep the input's dtype, as lsdb's: float32 catalog positions give its distances
    chord = sky.chord_from_angle(query.radius_arcsec / 3600.0)
    pairs: dict[str, list[np.ndarray]] = {k: [] for k in ("leaf", "row", "obj", "band", "dist", "pick")}
    extras: dict[str, list[np.ndarray]] = {name: [] for name in query.extra_columns}
    for group, members in enumerate(groups):
        mine = [i for i, leaf in enumerate(leaves) if leaf.group == group and len(leaf.candidates.row)]
        if not mine:
            continue
        cand = {
            key: np.concatenate([getattr(leaves[i].candidates, key) for i in mine])
            for key in ("ra", "dec", "band", "row")
        }
        cand_leaf = np.concatenate([np.full(len(leaves[i].candidates.row), i) for i in mine])
        cand_extra = {
            name: np.concatenate([leaves[i].candidates.extra[name] for i in mine]) for name in extras
        }
        objects = sky.unit_vectors(ra_deg[members], dec_deg[members])
        for band in np.unique(cand["band"]):
            in_band = np.flatnonzero(cand["band"] == band)
            tree = KDTree(
                sky.unit_vectors(cand["ra"][in_band], cand["dec"][in_band]),
                compact_nodes=True,
                balanced_tree=True,
            )
            obj, pick, dist = _neighbours(tree, objects, chord, query.match)
            chosen = in_band[pick]
            pairs["leaf"].append(cand_leaf[chosen])
            pairs["row"].append(cand["row"][chosen])
            pairs["obj"].append(members[obj])
            pairs["band"].append(np.full(len(obj), band))
            pairs["dist"].append(sky.angle_from_chord(dist) * 3600.0)
            for name in extras:
                extras[name].append(cand_extra[name][chosen])
    if not pairs["row"]:
        empty = np.zeros(0, np.int64)
        return Matches([], [], empty, empty, empty, empty, np.zeros(0), {name: empty for name in extras})
    flat = {key: np.concatenate(values) for key, values in pairs.items() if values}
    order = np.lexsort((flat["obj"], flat["row"], flat["leaf"]))
    used, leaf_index = np.unique(flat["leaf"][order], return_inverse=True)
    return Matches(
        leaves=[leaves[i].file for i in used],
        metadata=[leaves[i].metadata for i in used],
        leaf=leaf_index.astype(np.int64),
        row=flat["row"][order],
        obj=flat["obj"][order],
        band=flat["band"][order],
        dist_arcsec=flat["dist"][order],
        extra={name: np.concatenate(values)[order] for name, values in extras.items()},
    )


def _neighbours(tree, objects: np.ndarray, chord: float, match: str) -> tuple[np.ndarray, ...]:
    """(object index, candidate index, chord distance) of the matches within ``chord``."""
    if match == "nearest":
        dist, pick = tree.query(objects, k=1, distance_upper_bound=chord)
        found = np.isfinite(dist)
        return np.flatnonzero(found), pick[found], dist[found]
    near = tree.query_ball_point(objects, r=chord, return_sorted=True)
    obj = np.repeat(np.arange(len(objects)), [len(n) for n in near])
    pick = np.concatenate([np.asarray(n, np.int64) for n in near]) if len(obj) else np.zeros(0, np.int64)
    dist = np.linalg.norm(tree.data[pick] - objects[obj], axis=1) if len(obj) else np.zeros(0)
    return obj, pick, dist


def decoded_bytes_per_row(metadata: pq.FileMetaData, columns: Sequence[str]) -> float:
    """Largest decoded (uncompressed) bytes per row of ``columns`` over a file's row groups.

    Nested fields (``"lightcurve.mag"``) count every leaf column under them.
    """
    paths = set(_parquet.physical_columns(metadata, columns))
    leaves = [i for i in range(metadata.num_columns) if metadata.schema.column(i).path in paths]
    worst = 0.0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        if row_group.num_rows:
            size = sum(row_group.column(i).total_uncompressed_size for i in leaves)
            worst = max(worst, size / row_group.num_rows)
    return worst


def batch_memory_check(
    archive: str, columns: Sequence[str], batch_rows: int, mem_mb: int | None, *, key: str
) -> Callable[[list[pq.FileMetaData]], None]:
    """A ``check_batch`` for :func:`locate`: refuse ``batch_rows`` if a batch cannot fit ``mem_mb``.

    A batch in flight takes about :data:`BATCH_MEMORY_FACTOR` times its decoded size (the largest
    bytes per row of ``columns`` in any touched row group, from the footers); it must fit in
    ``mem_mb`` beside the job's memory at the time of the check.

    Raises
    ------
    ConfigError
        Naming the numbers and the config key ``key`` to lower.
    """

    def check(footers: list[pq.FileMetaData]) -> None:
        if mem_mb is None or not footers:
            return
        import psutil

        per_row = max(decoded_bytes_per_row(metadata, columns) for metadata in footers)
        needed_mb = batch_rows * per_row * BATCH_MEMORY_FACTOR / 1e6
        in_use_mb = psutil.Process().memory_info().rss / 1e6
        if needed_mb > mem_mb - in_use_mb:
            fits = int(max(0.0, mem_mb - in_use_mb) * 1e6 / (per_row * BATCH_MEMORY_FACTOR))
            raise ConfigError(
                f"{archive}: {key}={batch_rows} rows x up to {per_row / 1e3:.1f} kB per row of "
                f"{list(columns)} (from the partitions' metadata) x {BATCH_MEMORY_FACTOR:g} needs "
                f"~{needed_mb:,.0f} MB, but mem_mb={mem_mb} leaves {mem_mb - in_use_mb:,.0f} MB beside the "
                f"job's {in_use_mb:,.0f} MB; set {key} <= {fits:,} or raise the job's memory (fetch_mem_mb)"
            )
        log.info(
            "%s: batches of %d rows x up to %.1f kB per row: ~%.0f MB in flight (mem_mb=%d)",
            archive,
            batch_rows,
            per_row / 1e3,
            needed_mb,
            mem_mb,
        )

    return check


def pixel_of(leaf: LeafFile) -> HealpixPixel | None:
    """The partition (``Norder=K/.../Npix=N``) a leaf file belongs to, from its path."""
    import re

    found = re.search(r"Norder=(\d+)/Dir=\d+/Npix=(\d+)", leaf.path)
    return HealpixPixel(int(found.group(1)), int(found.group(2))) if found else None


@dataclass(frozen=True)
class Pairs:
    """What a transform needs about each matched pair: the sample object and the band.

    Attributes
    ----------
    objectid : numpy.ndarray
        int64 sample objectid of each pair.
    label : numpy.ndarray
        Its label (str).
    band : numpy.ndarray
        The value of the query's band column (0 without one).
    extra : dict of str to numpy.ndarray
        The query's extra columns.
    """

    objectid: np.ndarray
    label: np.ndarray
    band: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, matches: Matches, objectid: np.ndarray, label: np.ndarray) -> Pairs:
        """The pairs of ``matches``, given the sample's ``objectid`` and ``label`` arrays."""
        return cls(
            np.asarray(objectid, np.int64)[matches.obj],
            np.asarray(label)[matches.obj],
            matches.band,
            matches.extra,
        )

    def __getitem__(self, index: np.ndarray | slice) -> Pairs:
        return Pairs(
            self.objectid[index],
            self.label[index],
            self.band[index],
            {k: v[index] for k, v in self.extra.items()},
        )

    def __len__(self) -> int:
        return len(self.objectid)


#: ``transform(rows, pairs)``: the matched rows of a batch (second-pass columns) and their pairs
#: -> a light-curve batch. Must be picklable to run on a Dask cluster (a module-level function
#: or a ``functools.partial`` of one).
Transform = Callable[[pa.RecordBatch, Pairs], pa.RecordBatch]


def stream_matched(
    matches: Matches,
    pairs: Pairs,
    columns: Sequence[str],
    transform: Transform,
    *,
    batch_rows: int,
    threads: int = 1,
    archive: str,
) -> Iterator[pa.RecordBatch]:
    """Second pass: the light-curve batches of the matched rows, leaf file after leaf file (lazy).

    See :func:`run_leaf_tasks` for where the reading runs and what is logged.
    """
    bounds = np.searchsorted(matches.leaf, np.arange(len(matches.leaves) + 1))
    spans = [(int(bounds[i]), int(bounds[i + 1])) for i in range(len(matches.leaves))]
    tasks = [
        MatchedRows(
            leaf, metadata, matches.row[first:last], list(columns), batch_rows, pairs[first:last], transform
        )
        for leaf, metadata, (first, last) in zip(matches.leaves, matches.metadata, spans, strict=True)
    ]
    return run_leaf_tasks(tasks, threads=threads, archive=archive)


class LeafTask(Protocol):
    """Reading one leaf file into light-curve rows: locally a batch at a time, or as a Dask task."""

    leaf: LeafFile

    def batches(self, use_threads: bool = False) -> Iterator[pa.RecordBatch]: ...

    def __call__(self) -> pa.Table: ...


def run_leaf_tasks(tasks: Sequence[LeafTask], *, threads: int = 1, archive: str) -> Iterator[pa.RecordBatch]:
    """The light-curve batches of ``tasks``, in order (lazy), with one progress line per leaf file.

    Locally, the tasks run one after the other, each holding one decoded batch at a time. Inside
    :func:`mwlc.archives._dask.attached`, each task runs on the attached cluster instead (as many
    in flight as it has worker threads), and the results come back in order.
    """
    from mwlc.archives import _dask
    from mwlc.progress import Progress

    progress = Progress(len(tasks), "leaf files")
    client = _dask.attached_client()
    if client is None:
        results = (task.batches(use_threads=threads > 1) for task in tasks)
    else:
        results = (table.to_batches() for table in _dask.run_in_order(client, tasks))
    n_rows, objects = 0, set()
    for done, (task, batches) in enumerate(zip(tasks, results, strict=True), start=1):
        rows, leaf_objects = 0, set()
        for batch in batches:
            rows += batch.num_rows
            if batch.num_rows:
                leaf_objects.update(np.unique(batch.column("objectid").to_numpy()).tolist())
                yield batch
        n_rows += rows
        objects |= leaf_objects
        log.info(
            "%s: %s (%s): %d objects, %d rows",
            archive,
            progress.line(done),
            pixel_of(task.leaf),
            len(leaf_objects),
            rows,
        )
    log.info(
        "%s: done: %d leaf files, %d objects with rows, %d rows", archive, len(tasks), len(objects), n_rows
    )


@dataclass(frozen=True)
class MatchedRows:
    """Read the matched rows of one leaf file and transform them (a Dask task when called)."""

    leaf: LeafFile
    metadata: pq.FileMetaData
    rows: np.ndarray
    columns: list[str]
    batch_rows: int
    pairs: Pairs
    transform: Transform

    def batches(self, use_threads: bool = False) -> Iterator[pa.RecordBatch]:
        """The light-curve batches of the rows, one read batch at a time (lazy)."""
        try:
            with _parquet.open_parquet(self.leaf, self.metadata) as parquet:
                for taken, batch in _parquet.take_rows(
                    parquet, self.columns, self.rows, self.batch_rows, use_threads=use_threads
                ):
                    yield self.transform(batch, self.pairs[taken])
        except (OSError, pa.ArrowException) as err:  # an unreadable leaf is an archive failure
            raise ArchiveError(f"reading {self.leaf} failed: {type(err).__name__}: {err}") from err

    def __call__(self) -> pa.Table:
        """All the light-curve rows as one table (run on a Dask worker)."""
        from mwlc.schema import LIGHTCURVE_SCHEMA

        return pa.Table.from_batches(list(self.batches()), LIGHTCURVE_SCHEMA)
