"""Shared machinery of the per-object archives (TESS/Kepler/K2, HCV): services that answer one
sky position per request.

* :func:`map_objects` runs one function per sample object in a thread pool of ``threads``
  workers, keeps at most ``2 * threads`` objects in flight (memory bounded by the window, not by
  the shard), yields results in sample order, logs a progress line every ``progress_every``
  objects and stops at the first failure (the job fails; a rerun resumes from the cache).
* :class:`ResponseCache` stores every raw answer on disk under a hash of the request, written
  atomically, so a rerun (or a Snakemake retry of a failed job) requests nothing twice; "no match"
  answers are cached too.
* :func:`frames_to_batches` groups the per-object rows into light-curve batches;
  :func:`object_batches` runs the whole chain and keeps a :class:`Tally` for the final log line.

The readers built on it (:mod:`~mwlc.archives.hcv`, :mod:`~mwlc.archives.tess_kepler`) take
the same request keywords in their ``**job`` (:class:`ObjectJobOptions`, defaults from the
archive's descriptor: :func:`mwlc.archives.base.request_params`,
:func:`~mwlc.archives.base.progress_param`), checked by :func:`object_job`,
and raise :class:`~mwlc.errors.ConfigError` for an invalid parameter (before any request) and
:class:`~mwlc.errors.SampleError` for a sample without the needed columns, repeated objectids or
invalid positions.

Concurrency across jobs is not limited here: the workflow gives each fetch job of these archives
a share of a global Snakemake resource equal to its ``threads``, so the pool size of every job
(= ``threads``) sums to at most the global cap of concurrent requests to MAST.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from mwlc.archives import require_sample_columns
from mwlc.archives.base import Archive, JobOptions, job_options
from mwlc.errors import ArchiveError, SampleError
from mwlc.net import RetryPolicy
from mwlc.progress import Progress
from mwlc.schema import to_record_batch

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Rows gathered before a batch is handed to the writer.
ROWS_PER_BATCH = 50_000


@dataclass(frozen=True)
class ObjectJob:
    """How a per-object fetch job runs: its retry policy, pool size and progress interval."""

    policy: RetryPolicy
    threads: int
    progress_every: int


class ObjectJobOptions(JobOptions, total=False):
    """The ``**job`` keywords of a per-object reader: the :class:`~mwlc.archives.base.JobOptions`
    and how each request is made. A keyword left out takes the default of the archive's descriptor.

    timeout_s : float
        Timeout of each request, s.
    retries : int
        Attempts after the first on a transient failure (connection error, timeout, 429/5xx).
    retry_backoff_s : float
        Base of the exponential wait between attempts, s: the k-th retry waits
        ``retry_backoff_s * 2**k``.
    progress_every : int
        Objects between two progress lines in the log.

    ``threads`` is the thread-pool size: objects in flight.
    """

    timeout_s: float
    retries: int
    retry_backoff_s: float
    progress_every: int


#: The request keywords of :class:`ObjectJobOptions` (parameters of the archive's descriptor).
REQUEST_KEYS = ("timeout_s", "retries", "retry_backoff_s", "progress_every")


def object_job(job: Mapping[str, Any], archive: Archive) -> ObjectJob:
    """How a per-object fetch job runs, from its ``**job`` keywords (:class:`ObjectJobOptions`),
    checked against ``archive``'s descriptor; a request keyword left out takes its default.

    Raises
    ------
    TypeError
        For a keyword that is neither a request keyword nor a job option (a misspelt parameter).
    ConfigError
        Naming the first invalid value (``archives.<name>.<key>``, or ``threads``).
    """
    request = {key: job.get(key, archive.param(key).default) for key in REQUEST_KEYS}
    threads, _, _ = job_options({k: v for k, v in job.items() if k not in REQUEST_KEYS}, archive.name)
    progress_every = archive.check_params({"progress_every": request["progress_every"]})["progress_every"]
    return ObjectJob(archive.retry_policy(request), threads, progress_every)  # retry_policy checks its keys


def check_sample(sample: pd.DataFrame, archive: str) -> None:
    """Raise :class:`SampleError` for a missing column, a repeated objectid or a bad position."""
    require_sample_columns(sample, archive)
    if sample["objectid"].duplicated().any():
        raise SampleError(f"{archive} fetch: sample objectids are not unique")
    positions = sample[["ra", "dec"]].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(positions).all(axis=1) | (np.abs(positions[:, 1]) > 90)
    if bad.any():
        first = sample["objectid"].to_numpy()[bad][0]
        raise SampleError(
            f"{archive} fetch: objectid {first} has an invalid ra/dec ({int(bad.sum())} such rows)"
        )


# -- concurrency ------------------------------------------------------------------------------
def map_objects(
    objects: pd.DataFrame, work: Callable[[Any], T], *, threads: int, archive: str, progress_every: int
) -> Iterator[tuple[Any, T]]:
    """Call ``work(row)`` for every row of ``objects`` in a pool of ``threads`` threads.

    Parameters
    ----------
    objects : pandas.DataFrame
        One row per object; rows are passed as namedtuples (``row.objectid``, ``row.ra``...).
    work : callable
        The per-object job; it may raise, which stops the run.
    threads : int
        Pool size: the number of concurrent per-object requests of this job.
    archive : str
        Name for the progress lines.
    progress_every : int
        A progress line (done/total, rate, ETA) is logged after every ``progress_every`` objects
        and after the last one.

    Yields
    ------
    (row, result)
        In the order of ``objects``; at most ``2 * threads`` objects are in flight.

    Raises
    ------
    Exception
        The first exception raised by ``work``, after the pending objects are cancelled.
    """
    total = len(objects)
    progress = Progress(total, "objects")
    rows = objects.itertuples(index=False)
    window: deque[tuple[Any, Future[T]]] = deque()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"{archive}-object") as pool:
        try:
            for done in range(1, total + 1):
                while len(window) < 2 * threads:
                    row = next(rows, None)
                    if row is None:
                        break
                    window.append((row, pool.submit(work, row)))
                row, future = window.popleft()
                result = future.result()
                if done % progress_every == 0 or done == total:
                    log.info("%s: %s", archive, progress.line(done))
                yield row, result
        finally:
            for _, future in window:
                future.cancel()


# -- on-disk cache ----------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename,
    so a reader never sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def request_key(request: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a request described as a JSON-serialisable mapping (key order ignored)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache:
    """Raw answers on disk, one file per request: ``<directory>/<kind>/<h[:2]>/<h>.<suffix>``.

    Parameters
    ----------
    directory : str or path
        Root of the cache; created on first write.

    Attributes
    ----------
    hits, misses : int
        Answers served from disk / fetched, since creation (thread-safe counters).
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def path(self, kind: str, request: Mapping[str, Any], suffix: str) -> Path:
        """Where the answer to ``request`` is stored."""
        key = request_key(request)
        return self.directory / kind / key[:2] / f"{key}.{suffix}"

    def get_or_fetch(
        self,
        kind: str,
        request: Mapping[str, Any],
        fetch: Callable[[], bytes],
        read: Callable[[bytes], T],
        suffix: str = "bin",
    ) -> T:
        """``read`` of the cached answer to ``request``, or of ``fetch()``, stored once read.

        An answer is stored only after ``read`` accepted it, so an error page or a truncated
        answer is never kept. A stored answer that ``read`` now refuses (:class:`ArchiveError`,
        e.g. one stored before answers were read first) is logged, fetched again and replaced.
        """
        path = self.path(kind, request, suffix)
        try:
            cached = path.read_bytes()
        except FileNotFoundError:
            cached = None
        if cached is not None:
            try:
                value = read(cached)
            except ArchiveError as exc:
                # not removed: the answer fetched below replaces it atomically, so another thread
                # reading it meanwhile sees the old or the new bytes, never a missing file
                log.warning("the cached answer %s cannot be read (%s); asking again", path, exc)
            else:
                with self._lock:
                    self.hits += 1
                return value
        data = fetch()
        value = read(data)
        write_atomic(path, data)
        with self._lock:
            self.misses += 1
        return value


# -- batches ----------------------------------------------------------------------------------
@dataclass
class Tally:
    """What :func:`object_batches` has yielded so far: light-curve rows and objects with rows."""

    rows: int = 0
    objects: int = 0


def object_batches(
    sample: pd.DataFrame, work: Callable[[Any], pd.DataFrame], job: ObjectJob, archive: str, tally: Tally
) -> Iterator[pa.RecordBatch]:
    """The light-curve batches of ``work(row)`` over the objects of ``sample``, counted in ``tally``.

    :func:`map_objects` (``job.threads`` workers, a progress line every ``job.progress_every``
    objects) feeding :func:`frames_to_batches`; ``work`` returns one object's rows.
    """
    results = map_objects(
        sample, work, threads=job.threads, archive=archive, progress_every=job.progress_every
    )
    for batch in frames_to_batches(rows for _, rows in results):
        tally.rows += batch.num_rows
        tally.objects += len(set(batch.column("objectid").to_pylist()))
        yield batch


def frames_to_batches(
    frames: Iterable[pd.DataFrame], rows_per_batch: int = ROWS_PER_BATCH
) -> Iterator[pa.RecordBatch]:
    """Concatenate light-curve frames (the six schema columns) into batches of about
    ``rows_per_batch`` rows; empty frames are skipped."""
    pending: list[pd.DataFrame] = []
    n_rows = 0
    for frame in frames:
        if frame.empty:
            continue
        pending.append(frame)
        n_rows += len(frame)
        if n_rows >= rows_per_batch:
            yield to_record_batch(pd.concat(pending, ignore_index=True))
            pending, n_rows = [], 0
    if pending:
        yield to_record_batch(pd.concat(pending, ignore_index=True))
