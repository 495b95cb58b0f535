"""Read ``sample.ecsv`` one shard at a time, without holding the whole sample.

astropy's ECSV reader holds the whole table and every line of the file while it parses (about
0.9 kB an object: 430 MB for 500,000 objects), and the merge needs only one shard's objects at a
time. The file is the one :func:`mwlc.sample.build.write_sample` writes: a YAML header of ``#``
lines, then space-separated values with astropy's CSV quoting, rows in objectid order and so
grouped by shard. Its data lines are read with pyarrow's streaming CSV reader, a block at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from mwlc.errors import SampleError

#: The data columns of ``sample.ecsv``, in the file's order, and their types.
ECSV_COLUMNS = {
    "objectid": pa.int64(),
    "coord.ra": pa.float64(),  # deg, ICRS
    "coord.dec": pa.float64(),  # deg, ICRS
    "label": pa.string(),
    "labels": pa.string(),
    "shard": pa.int64(),
}
#: Bytes of the file parsed at a time.
BLOCK_BYTES = 4 << 20


def iter_shard_objects(
    ecsv_path: str | os.PathLike, shards: Sequence[int], *, block_bytes: int = BLOCK_BYTES
) -> Iterator[pd.DataFrame]:
    """The objects of each of ``shards`` (ascending), read from ``sample.ecsv`` as they come.

    Memory: one shard's objects and one block of the file.

    Yields
    ------
    pandas.DataFrame
        Per shard of ``shards``, in order: ``objectid`` (int64), ``ra``, ``dec`` (deg, ICRS),
        ``label``, ``labels``, sorted by objectid; no rows for a shard without objects.

    Raises
    ------
    mwlc.errors.SampleError
        If the file's columns are not :data:`ECSV_COLUMNS`, or its rows are not grouped by shard
        in ascending order (naming the row).
    """
    if list(shards) != sorted(shards):
        raise ValueError(f"shards must be ascending, got {list(shards)}")
    groups = _shard_groups(ecsv_path, block_bytes)
    group = next(groups, None)
    for shard in shards:
        while group is not None and group[0] < shard:
            group = next(groups, None)
        if group is not None and group[0] == shard:
            yield group[1]
            group = next(groups, None)
        else:
            yield _objects(pa.Table.from_batches([], schema=_schema()))


def _shard_groups(ecsv_path: str | os.PathLike, block_bytes: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(shard, objects)`` for every shard with objects, in the file's order."""
    with open(ecsv_path, "rb") as file:
        _skip_header(file, ecsv_path)
        try:
            reader = pacsv.open_csv(
                file,
                read_options=pacsv.ReadOptions(block_size=block_bytes, use_threads=False),
                # A quoted label may hold a line break in a sample written before labels were
                # checked for them: blocks must then not be cut inside quotes.
                parse_options=pacsv.ParseOptions(
                    delimiter=" ", quote_char='"', double_quote=True, newlines_in_values=True
                ),
                convert_options=pacsv.ConvertOptions(column_types=ECSV_COLUMNS, strings_can_be_null=False),
            )
            if reader.schema.names != list(ECSV_COLUMNS):
                raise SampleError(
                    f"{ecsv_path}: columns {reader.schema.names}, expected {list(ECSV_COLUMNS)}"
                )
            yield from _group_by_shard(reader, ecsv_path)
        except pa.ArrowInvalid as error:
            raise SampleError(f"{ecsv_path} cannot be read as the sample file: {error}") from error


def _group_by_shard(
    batches: Iterable[pa.RecordBatch], ecsv_path: str | os.PathLike
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Consecutive rows of one shard gathered, a shard at a time (rows must come in shard order)."""
    pending: list[pa.RecordBatch] = []
    current, rows_before = None, 0
    for batch in batches:
        if batch.num_rows == 0:  # pyarrow may yield one for a block that ends a row
            continue
        shard = batch.column("shard").to_numpy()
        starts = [0, *(np.flatnonzero(np.diff(shard)) + 1).tolist(), len(shard)]
        for start, stop in zip(starts[:-1], starts[1:], strict=True):
            if current is not None and shard[start] != current:
                if shard[start] < current:
                    raise SampleError(
                        f"{ecsv_path}: data row {rows_before + start + 1} is in shard {shard[start]} after "
                        f"shard {current}; the rows must be grouped by shard, in ascending order"
                    )
                yield current, _objects(pa.Table.from_batches(pending))
                pending = []
            current = int(shard[start])
            pending.append(batch.slice(start, stop - start))
        rows_before += len(shard)
    if current is not None:
        yield current, _objects(pa.Table.from_batches(pending))


def _skip_header(file: BinaryIO, ecsv_path: str | os.PathLike) -> None:
    """Leave ``file`` at the line of column names, after the ``#`` header of an ECSV file."""
    first = file.readline()
    if not first.startswith(b"# %ECSV"):
        raise SampleError(f"{ecsv_path} is not an ECSV file (first line {first[:40]!r})")
    while True:
        position = file.tell()
        if not file.readline().startswith(b"#"):
            file.seek(position)
            return


def _schema() -> pa.Schema:
    return pa.schema(list(ECSV_COLUMNS.items()))


def _objects(table: pa.Table) -> pd.DataFrame:
    """A shard's rows as the merge uses them: ``coord.ra``/``coord.dec`` named ``ra``/``dec``."""
    frame = table.drop_columns(["shard"]).to_pandas()
    return frame.rename(columns={"coord.ra": "ra", "coord.dec": "dec"})
