"""What a fetch job that went over its memory limit leaves for its next attempt: smaller batches.

Snakemake retries a failed job with the same resources (and lowers every attempt to the run's
``mem_mb`` alike), so a shard whose batches did not fit failed again on every retry and every
later invocation, until someone edited the config. When the memory watchdog
(:class:`mwlc.limits.MemoryWatchdog`) stops a fetch job, the job writes a small record beside
its log: its ``mem_mb``, the peak and the batch sizes it read with (the archive's keys that
bound memory: the HATS readers' ``read_batch_rows``, which they use as given). The next attempt
of that shard, in this invocation or a later one, reads with half of each, as long as its
``mem_mb`` is not raised (a raised one starts again from the configured sizes), down to a
sixteenth of the configured size (:data:`MAX_HALVINGS`: below that, the memory is not in the
batches). A successful attempt removes the record.

unWISE's ``batch_rows`` and HEASARC's ``chunk_rows`` are not halved: unWISE lowers its batch to
fit the job's memory itself (its rows have one size), and a HEASARC chunk is capped by the shard.

Batch sizes say how an archive is read, never what (no params): halving them never changes the
rows, only the time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mwlc.io import atomic_path

log = logging.getLogger(__name__)

#: A ``mem_mb`` at least this much larger than the failed attempt's is a raised one.
RAISED_LIMIT = 1.05
#: Halvings at the most, from the configured size: a job that still goes over its memory at a
#: sixteenth of its batch holds its memory elsewhere.
MAX_HALVINGS = 4
#: The record's name beside a job's log ``<stem>.log``: ``<stem>.memory.json``.
SUFFIX = ".memory.json"


@dataclass(frozen=True)
class MemoryFailure:
    """One attempt stopped by the memory watchdog: its ``mem_mb`` as asked of Snakemake (not
    the limit measured in a SLURM job, which varies between attempts) and its resident memory
    then (``limit_mb``, ``peak_mb``: MB = 10**6 bytes), and the batch sizes it read with
    (``batches``: catalog rows, per key)."""

    limit_mb: float
    peak_mb: float
    batches: Mapping[str, int] = field(default_factory=dict)


def record_path(log_path: str | os.PathLike) -> Path:
    """Where the record of a job whose log is ``log_path`` lives (``shard-0003.log`` ->
    ``shard-0003.memory.json``)."""
    path = Path(log_path)
    return path.with_name(path.stem + SUFFIX)


def write_failure(path: str | os.PathLike, failure: MemoryFailure) -> None:
    """Write ``failure`` to ``path`` (atomically: a job ended mid-write leaves the old record)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(asdict(failure), sort_keys=True))


def read_failure(path: str | os.PathLike) -> MemoryFailure | None:
    """The failure recorded at ``path``, or None if there is none (or it cannot be read: logged)."""
    try:
        data = json.loads(Path(path).read_text())
        failure = MemoryFailure(
            float(data["limit_mb"]),
            float(data["peak_mb"]),
            {str(key): int(value) for key, value in data["batches"].items()},
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        log.warning("ignoring the memory record %s, which cannot be read (%s)", path, error)
        return None
    return failure


def limit_raised(failure: MemoryFailure, limit_mb: float | None) -> bool:
    """Whether an attempt limited to ``limit_mb`` (None: unlimited) has more memory than ``failure``."""
    return limit_mb is None or limit_mb >= failure.limit_mb * RAISED_LIMIT


def smaller_batches(
    configured: Mapping[str, int], failure: MemoryFailure | None, limit_mb: float | None
) -> dict[str, int]:
    """The batch sizes an attempt reads with, after ``failure`` (the previous one's, or None).

    Half of each size the failed attempt read with (never above the configured size, nor below
    its ``2**-MAX_HALVINGS``, nor below 1), unless this attempt's ``mem_mb`` is raised
    (:func:`limit_raised`); without a failure, or with a raised ``mem_mb``, the ``configured`` sizes.
    """
    if failure is None or limit_raised(failure, limit_mb):
        return dict(configured)
    return {
        key: max(1, size >> MAX_HALVINGS, min(size, failure.batches.get(key, size) // 2))
        for key, size in configured.items()
    }
