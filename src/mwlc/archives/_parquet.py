"""Read parts of one parquet file in bounded memory.

A HATS leaf file may be a few hundred kB or several GB, in one row group or many. The functions
here never hold more than one decoded batch of the requested columns: the file is opened
without pre-buffering (pyarrow would otherwise load whole column chunks, i.e. a whole
single-row-group file) and read through a buffered stream, row groups whose ``_healpix_29``
statistics lie outside the wanted ranges are skipped (never fetched), and the rest are decoded
``batch_rows`` rows at a time. Rows are identified by their position in the file, so a second
read of other columns can take exactly the rows a first read selected. A remote file with a
read policy is read through :class:`mwlc.storage_retry.RetryingFile`: each read that meets a
transient fault is retried at its offset, so the batches come out as without the fault.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mwlc.net import RetryPolicy
from mwlc.storage_retry import RetryingFile, protocols

#: Bytes pyarrow reads from the file at a time (its buffered input stream).
STREAM_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True)
class LeafFile:
    """One parquet file of a HATS leaf: where it is, and how to open it.

    Attributes
    ----------
    path : str
        Path as ``fs`` names it (no scheme for local files and S3 keys; the URL over HTTP).
    fs : fsspec.AbstractFileSystem
        The file system holding it (pickles, so the file can be read on a Dask worker).
    archive : str
        The archive it belongs to, for messages (e.g. ``"ZTF"``).
    policy : mwlc.net.RetryPolicy, optional
        How reads of a remote file are retried (:mod:`mwlc.storage_retry`); None: as the file
        system reads, once.
    """

    path: str
    fs: fsspec.AbstractFileSystem
    archive: str = ""
    policy: RetryPolicy | None = None

    @property
    def is_local(self) -> bool:
        """Whether pyarrow can open the path itself (native reads, no Python file object)."""
        return "file" in protocols(self.fs)

    def __str__(self) -> str:
        return self.path if self.is_local else self.fs.unstrip_protocol(self.path)


@contextmanager
def open_parquet(leaf: LeafFile, metadata: pq.FileMetaData | None = None) -> Iterator[pq.ParquetFile]:
    """``leaf`` opened for streaming reads: no pre-buffering, a buffered input stream.

    ``metadata``, the file's footer from an earlier read, saves reading it again. A remote
    ``leaf`` with a read policy is read through a :class:`~mwlc.storage_retry.RetryingFile`.

    Raises
    ------
    mwlc.errors.ArchiveError
        When a read still fails after the policy's last attempt (naming the file, the attempts
        and the last error).
    """
    if leaf.is_local or leaf.policy is None:
        with pq.ParquetFile(
            leaf.path,
            filesystem=None if leaf.is_local else leaf.fs,
            metadata=metadata,
            pre_buffer=False,
            buffer_size=STREAM_BUFFER_BYTES,
        ) as parquet:
            yield parquet
        return
    service = f"{leaf.archive} leaf file".strip()
    with RetryingFile(leaf.fs, leaf.path, service=service, policy=leaf.policy) as source:
        with pq.ParquetFile(
            source, metadata=metadata, pre_buffer=False, buffer_size=STREAM_BUFFER_BYTES
        ) as parquet:
            yield parquet


def row_group_starts(metadata: pq.FileMetaData) -> np.ndarray:
    """File row position of each row group's first row, and the row count last (length n + 1)."""
    counts = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])


def row_groups_in_ranges(metadata: pq.FileMetaData, column: str, ranges: np.ndarray) -> list[int]:
    """Row groups whose ``column`` statistics overlap one of ``ranges`` (``[start, end)``, sorted).

    A row group without min/max statistics for ``column`` is kept (it may hold anything).
    """
    paths = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    index = paths.index(column) if column in paths else -1
    kept = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(index).statistics if index >= 0 else None
        if statistics is None or not statistics.has_min_max:
            kept.append(group)
            continue
        # the first range ending after the group's minimum must start at or before its maximum
        first = np.searchsorted(ranges[:, 1], statistics.min, side="right")
        if first < len(ranges) and ranges[first, 0] <= statistics.max:
            kept.append(group)
    return kept


def in_ranges(values: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Boolean mask: ``values`` inside one of ``ranges`` (``[start, end)``, sorted, disjoint)."""
    slot = np.searchsorted(ranges[:, 0], values, side="right") - 1
    inside = slot >= 0
    inside[inside] = values[inside] < ranges[slot[inside], 1]
    return inside


def leaf_columns(metadata: pq.FileMetaData) -> list[tuple[str, str]]:
    """``(logical name, parquet path)`` of every leaf column, in the file's column order.

    The logical name joins struct field names with dots and skips list levels, so that
    ``lightcurve.mag`` names the leaf ``lightcurve.mag.list.element`` of a struct of lists and
    ``epoch_photometry.g_transit_time`` the leaf ``epoch_photometry.list.element.g_transit_time``
    of a list of structs.
    """
    logical: list[str] = []

    def walk(kind: pa.DataType, name: str) -> None:
        if pa.types.is_struct(kind):
            for child in kind:
                walk(child.type, f"{name}.{child.name}")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            walk(kind.value_type, name)
        elif pa.types.is_map(kind):
            walk(kind.key_type, f"{name}.key")
            walk(kind.item_type, f"{name}.value")
        else:
            logical.append(name)

    for field_ in metadata.schema.to_arrow_schema():
        walk(field_.type, field_.name)
    physical = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    if len(logical) != len(physical):  # an encoding this walk does not know: names as stored
        logical = physical
    return list(zip(logical, physical, strict=True))


def physical_columns(metadata: pq.FileMetaData, names: Sequence[str]) -> list[str]:
    """The parquet leaf paths of ``names`` (top-level columns or dotted nested fields, logical)."""
    return [
        path
        for logical, path in leaf_columns(metadata)
        if any(logical == name or logical.startswith(name + ".") for name in names)
    ]


def iter_batches(
    parquet: pq.ParquetFile,
    columns: Sequence[str],
    row_groups: Sequence[int],
    batch_rows: int,
    *,
    use_threads: bool = False,
) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """``(row positions, batch)`` of ``columns`` over ``row_groups``, ``batch_rows`` rows at a time.

    Positions are the rows' indices in the file. Nested fields are named with dots, logically
    (``"lightcurve.mag"``, see :func:`leaf_columns`): the batch then holds the nested column with
    only those fields.
    """
    starts = row_group_starts(parquet.metadata)
    columns = physical_columns(parquet.metadata, columns)
    for group in row_groups:
        offset = int(starts[group])
        for batch in parquet.iter_batches(
            batch_size=batch_rows, row_groups=[group], columns=columns, use_threads=use_threads
        ):
            yield np.arange(offset, offset + batch.num_rows, dtype=np.int64), batch
            offset += batch.num_rows


def take_rows(
    parquet: pq.ParquetFile,
    columns: Sequence[str],
    rows: np.ndarray,
    batch_rows: int,
    *,
    use_threads: bool = False,
) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """The rows at file positions ``rows`` (sorted, repeats allowed), ``columns`` only.

    Only the row groups holding one of ``rows`` are read, decoded ``batch_rows`` rows at a time;
    yields ``(indices into rows, batch of those rows)`` in file order, never an empty batch.
    """
    starts = row_group_starts(parquet.metadata)
    groups = np.unique(np.searchsorted(starts, rows, side="right") - 1)
    for positions, batch in iter_batches(
        parquet, columns, groups.tolist(), batch_rows, use_threads=use_threads
    ):
        low, high = np.searchsorted(rows, [positions[0], positions[-1] + 1])
        if low == high:
            continue
        wanted = np.arange(low, high)
        yield wanted, batch.take(pa.array(rows[wanted] - positions[0]))
