"""The archives: one descriptor and one reader module per archive, the same small interface.

An archive is declared by its descriptor, an :class:`mwlc.archives.base.Archive` (name,
aliases, bands with units and time systems, parameters with defaults and limits, whether it is
per-object, demo builder), listed by :mod:`mwlc.archives.registry`. Its reader module defines

``fetch(sample, *, source, threads=1, mem_mb=None, storage_options=None, **params)``
    light curves of the objects in ``sample`` (a pandas frame with ``objectid, ra, dec, label``;
    ra/dec in degrees, ICRS), streamed as an iterator of ``pyarrow.RecordBatch`` in
    :data:`mwlc.schema.LIGHTCURVE_SCHEMA`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

from mwlc.errors import SampleError

#: Columns every archive's ``fetch`` needs in its sample.
SAMPLE_COLUMNS = ("objectid", "ra", "dec", "label")


def require_sample_columns(sample, archive: str) -> None:
    """Raise :class:`~mwlc.errors.SampleError` naming ``archive`` if ``sample`` lacks a column."""
    missing = [column for column in SAMPLE_COLUMNS if column not in sample.columns]
    if missing:
        raise SampleError(f"{archive} fetch: sample lacks column(s) {missing}")


class Fetched(Iterator[pa.RecordBatch]):
    """An archive's light-curve batches, and key-value metadata it learns while they are read.

    :func:`mwlc.io.write_lightcurve_shard` writes :attr:`metadata` into the shard file's footer
    once every batch is consumed (e.g. which catalog objects were matched to which sample object).
    """

    def __init__(self, batches: Iterable[pa.RecordBatch], metadata: dict[bytes, bytes] | None = None):
        self._batches = iter(batches)
        self.metadata: dict[bytes, bytes] = {} if metadata is None else metadata

    def __next__(self) -> pa.RecordBatch:
        return next(self._batches)
