"""The archives: one descriptor and one reader module per archive, the same small interface.

An archive is declared by its descriptor, an :class:`mwlc.archives.base.Archive` (name,
aliases, bands with units and time systems, parameters with defaults and limits, whether it is
per-object, demo builder), listed by :mod:`mwlc.archives.registry`. Its reader module defines

``fetch(sample, *, source, **params, **job)``
    (:meth:`mwlc.archives.base.Reader.fetch`; ``job``: :class:`mwlc.archives.base.JobOptions`)
    light curves of the objects in ``sample`` (a pandas frame with ``objectid, ra, dec, label``;
    ra/dec in degrees, ICRS), streamed as an iterator of ``pyarrow.RecordBatch`` in
    :data:`mwlc.schema.LIGHTCURVE_SCHEMA`;
``preflight(source, params, *, storage_options=None)``
    the source opened as ``fetch`` opens it, reading no light curve: a list of
    :class:`mwlc.archives._preflight.Finding`, one per problem or note (see :mod:`mwlc.preflight`).

The HATS readers (:mod:`~mwlc.archives.ztf`, :mod:`~mwlc.archives.gaia`,
:mod:`~mwlc.archives.panstarrs`) behave alike. Besides ``sample`` and the job options, their
``fetch`` takes

``radius_arcsec`` : float, default 1.0
    Match radius in arcsec; > 0 and at most the catalog's margin threshold.
``read_batch_rows`` : int, default: the descriptor's (``DEFAULT_READ_BATCH_ROWS`` of the module)
    Catalog rows decoded at a time (memory: about 4x their decoded size); a value that cannot
    fit ``mem_mb`` is refused before any data is read.

``threads`` leaf files are located and decoded concurrently. They return an iterator of
``pyarrow.RecordBatch`` that is lazy (no match at all gives no batch) and raise

* :class:`~mwlc.errors.ConfigError` for an invalid parameter or a radius beyond the catalog's
  margin threshold (raised by the call, before any data is read; ``read_batch_rows`` against
  ``mem_mb`` when iterating, before any data is read);
* :class:`~mwlc.errors.SampleError` if the sample lacks a column;
* :class:`~mwlc.errors.ArchiveError` if a catalog is missing, unreadable or lacks a column
  (raised by the call), or if a leaf file cannot be read (raised while iterating).
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
