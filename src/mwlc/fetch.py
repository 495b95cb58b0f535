"""One fetch job: light curves of one sample shard from one archive, into one parquet file."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mwlc.archives._dask import attached
from mwlc.archives.registry import get_archive
from mwlc.io import file_sha256, write_lightcurve_shard
from mwlc.jitcache import cache_jitted_functions, compile_counts
from mwlc.joblog import redact, redact_params
from mwlc.limits import JobMemoryLimit, MemoryWatchdog, job_memory_limit
from mwlc.memory_record import MemoryFailure, limit_raised, read_failure, smaller_batches, write_failure
from mwlc.net import RetryPolicy
from mwlc.sample.build import read_shard
from mwlc.schema import file_metadata
from mwlc.storage import DEFAULT_POLICY, is_local, storage_options

if TYPE_CHECKING:
    from mwlc.archives.base import Archive

log = logging.getLogger(__name__)


def params_sha256(source: str, params: dict) -> str:
    """Hex SHA-256 of an archive's source and parameters (canonical JSON; equal settings, equal hash)."""
    canonical = json.dumps({"source": source, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def worker_source(source: str, dask_scheduler: str | None) -> str:
    """``source`` as Dask workers must name it: with a scheduler, a relative local path is made
    absolute (workers run in their own folder); otherwise, and for URIs, unchanged."""
    if not dask_scheduler or urlparse(source).scheme not in ("", "file"):
        return source
    return str(Path(source.removeprefix("file://")).resolve())


def fetch_shard(
    archive: str,
    *,
    shard_path: str,
    output_path: str,
    source: str,
    params: dict,
    threads: int = 1,
    mem_mb: int | None = None,
    s3_endpoint_url: str | None = None,
    provenance_note: str = "",
    dask_scheduler: str | None = None,
    reading: Mapping[str, Any] | None = None,
    read_policy: RetryPolicy = DEFAULT_POLICY,
    memory_record: str | os.PathLike | None = None,
) -> int:
    """Fetch one shard's light curves from ``archive`` and write them to ``output_path``.

    Parameters
    ----------
    archive : str
        Archive name (see :mod:`mwlc.archives.registry`).
    shard_path : str
        The sample shard (parquet: objectid, ra, dec, label).
    output_path : str
        The shard's light-curve file; written atomically, with zero rows if nothing matched.
    source : str
        Where the archive is read from (URI or local path).
    params : dict
        The archive's parameters from config (radii in arcsec): its Snakemake params
        (:meth:`mwlc.archives.base.Archive.job_params`), or its whole config section. Keys that
        only say how to read are used where ``reading`` lacks them.
    threads, mem_mb : int
        The job's CPU threads and memory (MB); the archive sizes its parallelism from these.
        With ``mem_mb``, the job fails with :class:`mwlc.limits.MemoryLimitExceeded` (its log
        naming the limit) as soon as its resident memory exceeds it.
    s3_endpoint_url : str, optional
        Custom S3 endpoint for ``s3://`` sources.
    provenance_note : str
        Recorded in the file metadata (e.g. that the source is synthetic demo data).
    dask_scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``): the HATS archives read
        their leaf files on its workers (:mod:`mwlc.archives._dask`); the others ignore it.
    reading : mapping, optional
        The archive's config keys that say how it is read, not what
        (:meth:`mwlc.archives.base.Archive.reading_params`: ``read_batch_rows``, ``timeout_s``,
        ``retries``, ``chunk_rows``...; their defaults where absent). Neither Snakemake params nor
        hashed into the provenance, so changing them never refetches.
    read_policy : mwlc.net.RetryPolicy, default :data:`mwlc.storage.DEFAULT_POLICY`
        How the archives read remote (S3, HTTP) files: per-read timeout, retries and backoff
        (config ``storage.timeout_s``, ``storage.retries``, ``storage.retry_backoff_s``; see
        :mod:`mwlc.storage_retry`). Like ``read_batch_rows``, how to read, not what: never
        hashed nor a param, so changing it never refetches.
    memory_record : path, optional
        Where an attempt stopped over ``mem_mb`` records its batch sizes, so that the shard's
        next attempt reads with half of them (:mod:`mwlc.memory_record`; the rows are the same).
        Removed once the shard is written.

    Returns
    -------
    int
        Rows written.
    """
    described = get_archive(archive)
    described.reader_module()  # imported first: the cache is given to the functions imported so far
    cache_jitted_functions()  # before the archive's first crossmatch compiles hats' code
    sample = read_shard(shard_path)
    # how to read comes from `reading`, else from `params` (a whole config section); the params
    # then keep only what changes the rows (a shard's record may still hold the others)
    reading = {**described.reading_params(params), **(reading or {})}
    params = described.job_params(params)
    # Credentials never reach the log or the file metadata (a token in the URL, a key in params).
    log.info(
        "%s: %d objects in %s, source %s, params %s",
        described.name,
        len(sample),
        shard_path,
        redact(source),
        redact_params(params),
    )
    if reading:
        log.info("%s: read with %s (how, not what: no params)", described.name, redact_params(reading))
    provenance = {
        "source": redact(source),
        "params": redact_params(params),
        "params_sha256": params_sha256(source, params),
        "sample_shard_sha256": file_sha256(shard_path),
        "note": provenance_note,
    }
    if not is_local(source):
        log.info(
            "%s: storage reads time out after %g s, retried %d times (backoff %g s x 2^k)",
            described.name,
            read_policy.timeout_s,
            read_policy.retries,
            read_policy.backoff_s,
        )
    started = time.monotonic()
    limit = None if mem_mb is None else job_memory_limit(mem_mb)
    if limit is not None and limit.limit_mb < mem_mb:
        log.info("%s: memory limit %s", described.name, limit.text)
    sizes = _batch_sizes(described, reading, mem_mb, memory_record)
    reading = {**reading, **sizes}
    on_exceeded = _record_failure(described.name, mem_mb, sizes, memory_record)
    with (
        _memory_limit(limit, described.name, shard_path, on_exceeded) as watchdog,
        attached(dask_scheduler),
    ):
        batches = described.fetch(
            sample,
            source=worker_source(source, dask_scheduler),
            threads=threads,
            mem_mb=None if limit is None else int(limit.limit_mb),
            storage_options=storage_options(s3_endpoint_url, read_policy),
            **params,
            **reading,
        )
        rows = write_lightcurve_shard(
            batches, output_path, file_metadata(described.name, list(described.bands), provenance)
        )
    log.info(
        "%s: %d rows for %d objects in %.1f s -> %s",
        described.name,
        rows,
        len(sample),
        time.monotonic() - started,
        output_path,
    )
    if watchdog is not None:
        log.info(
            "%s: peak resident memory %.0f MB of %s", described.name, watchdog.peak_mb, watchdog.limit_text
        )
    counts = compile_counts()
    if any(counts):
        log.info("%s: numba code loaded from the cache %d times, compiled %d times", described.name, *counts)
    if memory_record is not None:
        Path(memory_record).unlink(missing_ok=True)
    return rows


def _batch_sizes(
    described: Archive,
    reading: Mapping[str, Any],
    mem_mb: int | None,
    memory_record: str | os.PathLike | None,
) -> dict[str, int]:
    """The sizes that bound this attempt's memory: the configured ones, or half of those an
    earlier attempt of the shard at no more ``mem_mb`` went over its memory with
    (:mod:`mwlc.memory_record`)."""
    configured = described.batch_sizes(reading)
    failure = None if memory_record is None or not configured else read_failure(memory_record)
    if failure is None:
        return configured
    sizes = smaller_batches(configured, failure, mem_mb)
    earlier = (
        f"{described.name}: an earlier attempt went over its memory ({failure.peak_mb:.0f} MB > "
        f"{failure.limit_mb:.0f} MB) reading {dict(failure.batches)}"
    )
    if limit_raised(failure, mem_mb):
        log.info("%s; this one has more memory: it reads the config's %s", earlier, sizes)
    elif sizes == {key: failure.batches.get(key) for key in sizes}:
        log.warning(
            "%s, the smallest already: its memory is not in its batches; raise the job's memory", earlier
        )
    else:
        log.warning("%s; this one reads %s (the same rows, in smaller batches)", earlier, sizes)
    return sizes


def _record_failure(
    archive: str,
    mem_mb: int | None,
    batches: Mapping[str, int],
    memory_record: str | os.PathLike | None,
) -> Callable[[float], None] | None:
    """What the watchdog does when this attempt goes over its memory: record its batch sizes
    so that the next attempt reads with half of them (None where there is nothing to halve)."""
    if mem_mb is None or memory_record is None or not batches:
        return None

    def record(rss_mb: float) -> None:
        write_failure(memory_record, MemoryFailure(mem_mb, rss_mb, dict(batches)))
        log.warning(
            "%s: recorded %s in %s: an attempt of the shard with more memory reads them, one with no "
            "more reads half of them",
            archive,
            dict(batches),
            memory_record,
        )

    return record


def _memory_limit(
    limit: JobMemoryLimit | None,
    archive: str,
    shard_path: str,
    on_exceeded: Callable[[float], None] | None = None,
) -> MemoryWatchdog | nullcontext:
    """The job's memory watchdog (see :mod:`mwlc.limits`), or a no-op without a limit."""
    if limit is None:
        return nullcontext()
    return MemoryWatchdog(
        limit.limit_mb,
        limit_text=limit.text,
        on_exceeded=on_exceeded,
        job=f"fetching {archive} light curves of {shard_path}",
        advice=(
            f"the job's memory (config fetch_mem_mb: {{{archive}: <MB>}}, or snakemake --set-resources "
            "fetch_lightcurves:mem_mb=<MB>; a run's own mem_mb caps it: mwlc.run sets it to the memory "
            "free, --resources mem_mb=<MB> on the command line), or cut the sample into more shards "
            "(n_shards)"
        ),
    )
