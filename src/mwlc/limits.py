"""A job's memory limit, enforced: a watchdog fails the job with a message naming the limit.

Snakemake's ``resources.mem_mb`` is only a scheduling hint: a job that outgrows it keeps going
until the kernel's OOM killer ends it (or a neighbour) with no word in any log, as the Fornax
original lost 2.5 hours of ZTF downloads. :class:`MemoryWatchdog` polls the resident memory (RSS)
of the job's process and its children and, when it exceeds ``mem_mb``:

1. logs one CRITICAL line naming the job, the limit, the RSS and what to raise;
2. raises :class:`MemoryLimitExceeded` in the main thread (a signal sent to that thread, again
   every :data:`RESEND_S` seconds in case code that swallows exceptions caught it), so the job
   unwinds normally: temporary files are removed and the traceback reaches the log;
3. if the process is still alive ``grace_s`` seconds later (stuck in C code, or waiting for
   worker threads at exit), ends it with :data:`EXIT_MEMORY` after flushing the log.

On a SLURM node the job's allocation also holds the job's own Snakemake processes (two of ~200 MB
each under the SLURM executor), which the watchdog does not watch: :func:`job_memory_limit`
lowers the limit by what they hold when the job starts, so that the watchdog speaks before
SLURM's OOM kill, which says only ``OUT_OF_MEMORY``.

Why not a kernel limit (``RLIMIT_AS`` / ``RLIMIT_DATA``): they count *reserved* memory, not used
memory. Importing lsdb, dask, numba and pyvo alone reserves 1.9 GB of address space and 1.45 GB of
private data mappings for 0.33 GB resident (measured; numba/LLVM and thread arenas reserve large
regions they never touch), so a limit near ``mem_mb`` would kill healthy jobs at import, and one
far above it would not say which job grew. A poll can miss an allocation faster than its interval;
the limit is a guard against steady growth (the common case: a shard that is too large), not a
hard cap.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Self

import psutil

from mwlc.errors import ConfigError, MwlcError

log = logging.getLogger(__name__)

#: Exit status of a job ended by the watchdog after the grace period.
EXIT_MEMORY = 75
#: Seconds between two signals to the main thread while the job has not ended.
RESEND_S = 2.0
#: Signal sent to the main thread to raise :class:`MemoryLimitExceeded` there.
INTERRUPT_SIGNAL = signal.SIGUSR1
_MB = 1_000_000
#: SLURM's memory unit (``--mem``, ``SLURM_MEM_PER_NODE``): what it calls a megabyte is a MiB.
_SLURM_MB = 1_048_576
#: The process that starts a SLURM job's steps; the processes below it share the job's memory.
SLURM_LAUNCHER = "slurmstepd"


class MemoryLimitExceeded(MwlcError):
    """The job's resident memory went above its ``mem_mb`` limit."""


def tree_rss_mb(process: psutil.Process) -> float:
    """Resident memory (MB = 10**6 bytes) of ``process`` and all its descendants."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # a child that just ended
            continue
    return total / _MB


def slurm_allocation_mb(
    environ: Mapping[str, str] = os.environ, *, show_job: Callable[[str], str] | None = None
) -> float | None:
    """The memory SLURM allocated to this job on this node, MB (10**6 bytes).

    From ``SLURM_MEM_PER_NODE`` (``--mem``, MiB), or ``SLURM_MEM_PER_CPU`` times
    ``SLURM_CPUS_ON_NODE``, as a batch script sees them; a step started by ``srun`` (as the
    Snakemake executor starts a job's) has neither, and the job's allocated ``mem`` is read from
    ``scontrol show job`` (``show_job``: its output for a job id). None outside a SLURM job, when
    the job has the node's whole memory (``--mem=0``), or when SLURM does not say.
    """
    per_node = environ.get("SLURM_MEM_PER_NODE", "")
    per_cpu, cpus = environ.get("SLURM_MEM_PER_CPU", ""), environ.get("SLURM_CPUS_ON_NODE", "")
    if per_node.isdigit():
        mib = float(per_node)
    elif per_cpu.isdigit() and cpus.isdigit():
        mib = float(per_cpu) * int(cpus)
    elif environ.get("SLURM_JOB_ID", "").isdigit():
        mib = _allocated_mem_mib((show_job or _show_job)(environ["SLURM_JOB_ID"]))
    else:
        return None
    return mib * _SLURM_MB / _MB if mib else None


def _show_job(job_id: str) -> str:
    """``scontrol show job <job_id>`` (one line), or "" if it cannot be had within 10 s."""
    try:
        return subprocess.run(
            ["scontrol", "--oneliner", "show", "job", job_id],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _allocated_mem_mib(show_job_output: str) -> float:
    """One node's share of the ``mem`` of a job's allocated TRES in ``scontrol show job``'s output
    (``AllocTRES=``, or ``TRES=``, by Slurm version), MiB; 0 if absent:
    ``TRES=cpu=2,mem=3000M,node=1`` gives 3000, ``mem=8G,node=2`` 4096."""
    tres = re.search(r"(?:^|\s)(?:Alloc)?TRES=(\S+)", show_job_output)
    mem = re.search(r"(?:^|,)mem=(\d+(?:\.\d+)?)([KMGT]?)(?:,|$)", tres[1]) if tres else None
    if mem is None:
        return 0.0
    nodes = re.search(r"(?:^|,)node=(\d+)(?:,|$)", tres[1])
    mib = float(mem[1]) * 1024.0 ** ("KMGT".index(mem[2] or "M") - 1)
    return mib / max(1, int(nodes[1]) if nodes else 1)  # the job's total: this node's share


def in_slurm_executor_job(process: psutil.Process) -> bool:
    """Whether ``process`` is run by a Snakemake job step of a cluster executor (a parent Snakemake
    in ``--mode remote``) on a SLURM compute node (below ``slurmstepd``).

    Not so for a local run inside an allocation (``sbatch --wrap "snakemake --cores 16"``): its
    jobs share the allocation with each other, which Snakemake's own ``mem_mb`` accounts for.
    """
    remote = False
    try:
        for parent in process.parents():
            if parent.name() == SLURM_LAUNCHER:
                return remote
            arguments = parent.cmdline()
            remote = remote or "--mode remote" in " ".join(arguments)
    except psutil.Error:  # a parent that just ended
        return False
    return False


def job_neighbours_rss_mb(process: psutil.Process, job_id: str) -> float:
    """Resident memory (MB) of the other processes of SLURM job ``job_id`` on this node: this
    user's processes whose environment names the job, outside ``process`` and its children, and
    not SLURM's own ``slurmstepd``.

    The SLURM executor runs a job as two Snakemake processes of ~200 MB each: one in the batch
    step, which starts the job's step with ``srun``, and one in that step, which runs the script.
    Both count in the job's allocation; neither is a child of the script.
    """
    own = {process.pid, *(child.pid for child in process.children(recursive=True))}
    uid = os.getuid()
    total = 0
    for proc in psutil.process_iter(["uids", "name"]):
        uids = proc.info["uids"]
        if proc.pid in own or proc.info["name"] == SLURM_LAUNCHER or uids is None or uids.real != uid:
            continue
        try:
            if proc.environ().get("SLURM_JOB_ID") == job_id:
                total += proc.memory_info().rss
        except psutil.Error:  # ended, or not ours to read
            continue
    return total / _MB


@dataclass(frozen=True)
class JobMemoryLimit:
    """The memory limit a job's watchdog enforces, MB, and why it is that number."""

    limit_mb: float
    #: How the limit reads in a message, e.g. ``mem_mb=3000 MB``.
    text: str


def job_memory_limit(
    mem_mb: float, *, environ: Mapping[str, str] = os.environ, process: psutil.Process | None = None
) -> JobMemoryLimit:
    """The limit for a job given ``mem_mb`` (MB): ``mem_mb``, or in a SLURM executor's job
    (:func:`in_slurm_executor_job`) its allocation on this node less what the job's other
    processes hold (:func:`job_neighbours_rss_mb`, measured once, here), if that is lower.

    SLURM ends a job whose processes together pass its allocation, and the job's Snakemake
    processes (not watched: they are not the script's children) count in it.
    """
    plain = JobMemoryLimit(float(mem_mb), f"mem_mb={mem_mb:.0f} MB")
    process = process or psutil.Process()
    job_id = environ.get("SLURM_JOB_ID", "")
    if not job_id or not in_slurm_executor_job(process):
        return plain
    allocation_mb = slurm_allocation_mb(environ)
    if allocation_mb is None:
        return plain
    neighbours_mb = job_neighbours_rss_mb(process, job_id)
    if allocation_mb - neighbours_mb >= mem_mb:
        return plain
    limit_mb = max(allocation_mb - neighbours_mb, 1.0)  # an allocation too small fails at once
    return JobMemoryLimit(
        limit_mb,
        f"{limit_mb:.0f} MB (SLURM's allocation of {allocation_mb:.0f} MB on this node less "
        f"{neighbours_mb:.0f} MB held by the job's other processes, its Snakemake among them)",
    )


class MemoryWatchdog:
    """Fail the job when its resident memory exceeds ``mem_mb`` (a context manager).

    Parameters
    ----------
    mem_mb : float
        The limit in MB (10**6 bytes, as Snakemake's ``mem_mb``), on the RSS of this process and
        its children.
    job : str
        What the job is, for the message (e.g. ``"fetch_lightcurves archive=ztf shard=0003"``).
    advice : str
        What to raise or change, for the message (e.g. ``"resources.mem_mb of rule
        fetch_lightcurves"``).
    interval_s : float, default 0.2
        Seconds between two memory polls.
    grace_s : float, default 10
        Seconds the job has to unwind after :class:`MemoryLimitExceeded` is raised before the
        process is ended with :data:`EXIT_MEMORY`.
    limit_text : str, optional
        How the limit reads in the message (see :func:`job_memory_limit`); default
        ``mem_mb=<mem_mb> MB``.
    on_exceeded : callable, optional
        Called once with the resident memory (MB) when the limit is exceeded, in the watchdog's
        thread, before the job is stopped (e.g. to leave a record for the next attempt,
        :mod:`mwlc.memory_record`); what it raises is logged, and the job is stopped all the same.

    Attributes
    ----------
    peak_mb : float
        Largest RSS (MB) seen so far.
    exceeded : str or None
        The message, once the limit was exceeded.

    Raises
    ------
    mwlc.errors.ConfigError
        If ``mem_mb`` is not a number > 0.
    """

    def __init__(
        self,
        mem_mb: float,
        *,
        job: str = "this job",
        advice: str = "resources.mem_mb",
        interval_s: float = 0.2,
        grace_s: float = 10.0,
        limit_text: str | None = None,
        on_exceeded: Callable[[float], None] | None = None,
    ) -> None:
        if isinstance(mem_mb, bool) or not isinstance(mem_mb, (int, float)) or not mem_mb > 0:
            raise ConfigError(f"mem_mb must be a number > 0 (MB), got {mem_mb!r}")
        self.mem_mb = float(mem_mb)
        self.limit_text = limit_text or f"mem_mb={self.mem_mb:.0f} MB"
        self.job = job
        self.advice = advice
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.on_exceeded = on_exceeded
        self.peak_mb = 0.0
        self.exceeded: str | None = None
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_handler: signal.Handlers | None = None
        self._main_ident = threading.main_thread().ident

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(INTERRUPT_SIGNAL, self._raise_in_main)
        self._thread = threading.Thread(target=self._watch, name="mwlc-memory-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.exceeded is None:  # past the limit, the watchdog stays on until the process ends
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
        if self._previous_handler is not None:
            signal.signal(INTERRUPT_SIGNAL, self._previous_handler)
            self._previous_handler = None

    # -- watching --------------------------------------------------------------------------
    def message(self, rss_mb: float) -> str:
        """The message of a job whose RSS reached ``rss_mb``."""
        return (
            f"{self.job} exceeded its memory limit: resident memory {rss_mb:.0f} MB > "
            f"{self.limit_text}; raise {self.advice}"
        )

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s if self.peak_mb else 0.0):
            rss_mb = tree_rss_mb(self._process)
            self.peak_mb = max(self.peak_mb, rss_mb)
            if rss_mb > self.mem_mb:
                self._fail(rss_mb)
                return

    def _fail(self, rss_mb: float) -> None:
        """Log, raise in the main thread, and end the process if it does not end by itself."""
        self.exceeded = self.message(rss_mb)
        log.critical("%s", self.exceeded)
        if self.on_exceeded is not None:
            try:
                self.on_exceeded(rss_mb)
            except Exception:  # the job must still be stopped
                log.exception("%s: what follows a memory failure could not be done", self.job)
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline:
            # Again every RESEND_S: an exception raised inside a C callback (numba compiling,
            # say) is printed and dropped there, and the main thread carries on.
            if self._previous_handler is not None:
                signal.pthread_kill(self._main_ident, INTERRUPT_SIGNAL)
            time.sleep(min(RESEND_S, max(0.0, deadline - time.monotonic())))
        log.critical(
            "%s; still running %.0f s later: ending the process (exit status %d)",
            self.job,
            self.grace_s,
            EXIT_MEMORY,
        )
        logging.shutdown()
        os._exit(EXIT_MEMORY)

    def _raise_in_main(self, signum: int, frame: FrameType | None) -> None:
        if isinstance(sys.exc_info()[1], MemoryLimitExceeded):
            return  # already unwinding from it: let the cleanup run
        raise MemoryLimitExceeded(self.exceeded or self.message(self.peak_mb))
