"""HEASARC event catalogs: Fermi GBM triggers, BeppoSAX GRBM bursts and IceCube neutrinos.

As the Fornax original (``heasarc_get_lightcurves``), each sample object gets one row per
catalogued event that could have come from it; what matches in which table is defined in
:mod:`.catalogs`. Two ways to read the catalogs, chosen by ``source``:

* an ``http(s)://`` URL: a TAP service (HEASARC's, by default), queried with pyvo ``run_sync``,
  the sample uploaded in chunks of ``chunk_rows`` objects, one query per catalog and chunk
  (:mod:`.tap`);
* an existing directory holding local copies ``<table>.parquet`` of the tables: the same
  selection is computed locally with a KD-tree, chunk by chunk, so memory is bounded by a chunk
  (:mod:`.local`).

Both give identical rows, sorted the same way. One batch is yielded per catalog and chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa

from mwlc.archives import require_sample_columns
from mwlc.archives.base import JobOptions, job_options
from mwlc.archives.descriptors.heasarc import ARCHIVE
from mwlc.archives.heasarc.catalogs import (
    DEFAULT_CATALOGS,
    MARKER_FLUX,
    Catalog,
    ErrorCircleCatalog,
    Matcher,
    NeutrinoCatalog,
    parse_catalogs,
)
from mwlc.archives.heasarc.local import PAIR_BUDGET, LocalTable, local_matcher
from mwlc.archives.heasarc.preflight import preflight
from mwlc.archives.heasarc.tap import tap_matcher
from mwlc.errors import ArchiveError, SampleError
from mwlc.net import RetryPolicy
from mwlc.schema import to_record_batch

__all__ = [
    "BANDS",
    "DEFAULT_CATALOGS",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_SOURCE",
    "MARKER_FLUX",
    "NAME",
    "PAIR_BUDGET",
    "ErrorCircleCatalog",
    "LocalTable",
    "NeutrinoCatalog",
    "fetch",
    "parse_catalogs",
    "preflight",
]

log = logging.getLogger(__name__)

NAME = ARCHIVE.name
BANDS = list(ARCHIVE.bands)
#: HEASARC's TAP service (Xamin), the one astroquery's ``Heasarc`` uses.
DEFAULT_SOURCE = ARCHIVE.default_source
#: Objects per TAP upload (the original's limit).
DEFAULT_CHUNK_ROWS = ARCHIVE.param("chunk_rows").default


def fetch(
    sample: pd.DataFrame,
    *,
    source: str = DEFAULT_SOURCE,
    catalogs: Mapping[str, Any] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    timeout_s: float = 600.0,
    retries: int = 3,
    retry_backoff_s: float = 10.0,
    maxrec: int | None = None,
    **job: Unpack[JobOptions],
) -> Iterator[pa.RecordBatch]:
    """HEASARC event rows of the sample objects, one Arrow batch per catalog and chunk.

    Parameters
    ----------
    sample
        As every reader's (:meth:`mwlc.archives.base.Reader.fetch`).
    source : str, default :data:`DEFAULT_SOURCE`
        An ``http(s)://`` TAP service URL, or an existing directory with ``<table>.parquet``
        copies of the tables (file names matched case-insensitively).
    catalogs : mapping, optional
        Tables and their settings (see :func:`parse_catalogs`); default :data:`DEFAULT_CATALOGS`.
    chunk_rows : int, default 50000
        Objects per TAP upload (and per local-copy chunk). Also the unit of one batch.
    timeout_s : float, default 600
        Connect/read timeout of each TAP request, seconds.
    retries : int, default 3
        Attempts after the first one when a TAP request fails transiently (connection error,
        timeout, HTTP 429/5xx).
    retry_backoff_s : float, default 10
        Base of the exponential wait between attempts, seconds.
    maxrec : int, optional
        ``MAXREC`` sent with each TAP query (None: the service's default row limit). A truncated
        answer (``QUERY_STATUS=OVERFLOW``) is never kept: the chunk is split in two and re-queried.
    **job
        Checked (``threads`` an integer >= 1, ``mem_mb`` > 0), then unused: queries run one at a
        time (HEASARC is a shared service) and a chunk's memory is bounded by :data:`PAIR_BUDGET`.

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy; one batch per catalog and chunk that has rows, in
        :data:`mwlc.schema.LIGHTCURVE_SCHEMA`: ``time`` is the event's MJD; bands ``FERMIGTRIG``
        and ``SAXGRBMGRB`` have flux = err = 0.1 (markers), band ``IceCube`` has
        flux = log10(E / GeV), err = 0. Rows are sorted by objectid, then time (markers) or
        descending energy (IceCube).

    Raises
    ------
    mwlc.errors.ConfigError
        For an invalid parameter (before any I/O).
    mwlc.errors.SampleError
        If ``sample`` lacks a column, repeats an objectid or has a non-finite position.
    mwlc.errors.ArchiveError
        If ``source`` is neither a URL nor a directory, or a local copy is missing or lacks a
        column (raised by this call); if a TAP query still fails after the retries, answers with
        an error, or lacks a column (raised while iterating; the message names the service, the
        catalog and the chunk).
    """
    job_options(job, NAME)  # checked, then unused (see above)
    chosen = parse_catalogs(catalogs)
    ARCHIVE.check_params({"chunk_rows": chunk_rows, "maxrec": maxrec})
    policy = ARCHIVE.retry_policy(
        {"timeout_s": timeout_s, "retries": retries, "retry_backoff_s": retry_backoff_s}
    )
    _check_sample(sample)
    matcher = _matcher(source, chosen, policy, maxrec)
    if sample.empty:
        return iter(())
    return _stream(sample, chosen, matcher, chunk_rows, source)


def _check_sample(sample: pd.DataFrame) -> None:
    require_sample_columns(sample, "HEASARC")
    if sample["objectid"].duplicated().any():
        raise SampleError("HEASARC fetch: sample objectids are not unique")
    positions = sample[["ra", "dec"]].to_numpy(dtype=np.float64)
    if not np.isfinite(positions).all():
        raise SampleError("HEASARC fetch: sample has non-finite ra/dec")


def _matcher(source: str, catalogs: list[Catalog], policy: RetryPolicy, maxrec: int | None) -> Matcher:
    """The matching function for ``source``: TAP for a URL, local copies for a directory."""
    if str(source).startswith(("http://", "https://")):
        return tap_matcher(str(source), policy, maxrec)
    directory = Path(source)
    if not directory.is_dir():
        raise ArchiveError(
            f"HEASARC source {source!r} is neither an http(s) TAP URL nor an existing "
            "directory of local table copies"
        )
    return local_matcher(directory, catalogs)


def _stream(
    sample: pd.DataFrame, catalogs: list[Catalog], matcher: Matcher, chunk_rows: int, source: str
) -> Iterator[pa.RecordBatch]:
    """Batches of every catalog and chunk, in turn."""
    n_chunks = -(-len(sample) // chunk_rows)
    for catalog in catalogs:
        n_rows = 0
        for index in range(n_chunks):
            chunk = sample.iloc[index * chunk_rows : (index + 1) * chunk_rows]
            what = (
                f"{catalog.table} chunk {index + 1}/{n_chunks}, objectids "
                f"{chunk['objectid'].iloc[0]}..{chunk['objectid'].iloc[-1]}"
            )
            started = time.monotonic()
            rows = catalog.rows(matcher(catalog, chunk, what))
            log.info(
                "HEASARC %s from %s: %d objects, %d rows in %.1f s",
                what,
                source,
                len(chunk),
                len(rows),
                time.monotonic() - started,
            )
            n_rows += len(rows)
            if len(rows):
                yield _batch(rows, chunk, what)
        log.info("HEASARC %s: done: %d chunks, %d rows", catalog.table, n_chunks, n_rows)


def _batch(rows: pd.DataFrame, chunk: pd.DataFrame, what: str) -> pa.RecordBatch:
    """Rows with the objects' labels, as a light-curve batch."""
    labels = pd.Series(chunk["label"].astype(str).to_numpy(), index=chunk["objectid"].to_numpy())
    label = labels.reindex(rows["objectid"].to_numpy())
    if label.isna().any():
        raise ArchiveError(f"HEASARC {what}: the answer names objectids that were not uploaded")
    return to_record_batch(rows.assign(label=label.to_numpy()).reset_index(drop=True))
