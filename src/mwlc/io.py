"""Atomic, streaming parquet writing for light-curve shards, and file hashing.

A fetch job yields :class:`pyarrow.RecordBatch` objects in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`;
:func:`write_lightcurve_shard` writes them as they come (small ones gathered into row groups of
at least :data:`MIN_ROW_GROUP_ROWS` rows), so a job's memory is bounded by a batch, never by the
shard. The file is written under a temporary name in the same directory and
renamed only when complete: a killed job never leaves a file that reads as a finished shard.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from mwlc.schema import LIGHTCURVE_SCHEMA, schema_with_metadata

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Rows per parquet row group: large enough for fast scans, small enough to stream.
ROW_GROUP_ROWS = 1_000_000
#: Small batches are held until they add up to this many rows, then written as one row group
#: (a reader yields one batch per partition file it reads, some with a handful of rows).
MIN_ROW_GROUP_ROWS = 131_072


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling of ``path``; rename it to ``path`` only if the block succeeds.

    On any exception the temporary file is removed and ``path`` is left untouched. Temporary
    siblings that earlier writers of ``path`` left when they were killed (no ``finally`` runs
    then: up to a shard's size each) are removed first; Snakemake lets one job at a time write
    an output, so none of them is still in use by a job it runs.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    _remove_left_temporaries(final)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_left_temporaries(final: Path) -> None:
    """Remove the temporary siblings of ``final`` (``.<name>.tmp-<pid>``) that killed writers left."""
    for left in final.parent.glob(f".{glob.escape(final.name)}.tmp-*"):
        try:
            size = left.stat().st_size
            left.unlink()
        except FileNotFoundError:
            continue
        log.info("removed %s (%d bytes), left by a writer of %s that was killed", left.name, size, final.name)


def write_csv_atomic(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``table`` as CSV (no index) to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def write_lightcurve_shard(
    batches: Iterable[pa.RecordBatch],
    path: str | os.PathLike,
    metadata: dict[bytes, bytes],
) -> int:
    """Stream light-curve batches into one parquet file, atomically.

    Parameters
    ----------
    batches : iterable of pyarrow.RecordBatch
        Batches in :data:`~mwlc.schema.LIGHTCURVE_SCHEMA` (metadata may differ). Consumed lazily.
    path : path-like
        Final file path. Written only if every batch was consumed without error.
    metadata : dict
        Key-value metadata from :func:`mwlc.schema.file_metadata` (archive, band units, provenance).
        If ``batches`` is a :class:`mwlc.archives.Fetched`, its own ``metadata`` (known only once
        it is consumed) is added to the file's footer too.

    Returns
    -------
    int
        Number of rows written. A shard with no data is still written, with zero rows and the
        full schema: "no data" is a result, not a reason to query again.
    """
    schema = schema_with_metadata(metadata)
    n_rows = 0
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="snappy") as writer:
            pending: list[pa.RecordBatch] = []
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                if not batch.schema.equals(LIGHTCURVE_SCHEMA, check_metadata=False):
                    raise TypeError(f"batch schema differs from the light-curve schema:\n{batch.schema}")
                pending.append(batch)
                n_rows += batch.num_rows
                if sum(b.num_rows for b in pending) >= MIN_ROW_GROUP_ROWS:
                    _write(writer, pending, schema)
                    pending = []
            _write(writer, pending, schema)
            learned = getattr(batches, "metadata", None)  # see mwlc.archives.Fetched
            if learned:
                writer.add_key_value_metadata(learned)
    log.info("wrote %d rows to %s", n_rows, path)
    return n_rows


def _write(writer: pq.ParquetWriter, batches: list[pa.RecordBatch], schema: pa.Schema) -> None:
    """Write ``batches`` (possibly none) as row groups of at most :data:`ROW_GROUP_ROWS` rows."""
    if batches:
        writer.write_table(pa.Table.from_batches(batches, schema=schema), row_group_size=ROW_GROUP_ROWS)
