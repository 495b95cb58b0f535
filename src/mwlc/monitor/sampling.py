"""One sample of the machine, of the Snakemake process and of every job process tree under it.

Units: times are UTC ISO 8601 strings; ``cpu_percent`` is 100 for one fully busy core (for
``kind=system`` too, so job rows add up to at most the system row); memory in MiB
(2**20 bytes); ``load1`` is the 1-minute load average (runnable processes).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil

from mwlc.monitor.jobs import JobName, identify_job

#: Columns of the usage table, in order (the top.txt importer writes the same table).
USAGE_COLUMNS = [
    "time",
    "kind",
    "job",
    "rule",
    "wildcards",
    "pid",
    "n_pids",
    "cpu_percent",
    "rss_mib",
    "load1",
    "mem_used_mib",
    "mem_available_mib",
    "swap_used_mib",
]
MIB = 2**20


@dataclass
class _JobState:
    """What the sampler remembers about one job between samples."""

    name: JobName
    cpu_s: float
    time_s: float
    attempts: int = 1


class Sampler:
    """Takes one sample of the machine and of every job under a Snakemake process.

    Parameters
    ----------
    main : psutil.Process
        The Snakemake main process; each of its children is one job.
    exclude : iterable of int
        Roots of process trees that are not jobs (the monitor's own).
    """

    def __init__(self, main: psutil.Process, exclude: Iterable[int] = ()) -> None:
        self.main = main
        self.exclude = set(exclude)
        self.n_cpus = psutil.cpu_count() or 1
        self._jobs: dict[tuple[int, float], _JobState] = {}
        self._procs: dict[int, psutil.Process] = {}
        self._main_cpu: tuple[float, float] | None = None
        psutil.cpu_percent(interval=None)  # starts the system CPU interval

    def sample(self) -> list[dict]:
        """One row per :data:`USAGE_COLUMNS` for the system, Snakemake and each running job.

        Raises
        ------
        psutil.NoSuchProcess
            When the Snakemake main process is gone.
        """
        if self.main.status() == psutil.STATUS_ZOMBIE:
            raise psutil.NoSuchProcess(self.main.pid)
        now_s = time.time()
        stamp = datetime.fromtimestamp(now_s, UTC).isoformat(timespec="milliseconds")
        trees = self._job_trees()
        rows = [self._job_row(stamp, now_s, root, tree) for root, tree in trees.items()]
        rows = [row for row in rows if row is not None]
        self._jobs = {key: state for key, state in self._jobs.items() if key[0] in trees}
        rows.insert(0, self._main_row(stamp, now_s))
        rows.insert(0, self._system_row(stamp, 1 + sum(row["n_pids"] for row in rows[1:])))
        return rows

    def _process(self, pid: int) -> psutil.Process:
        """A cached Process object (CPU counters need the same object across samples)."""
        proc = self._procs.get(pid)
        if proc is None or not proc.is_running():
            proc = self._procs[pid] = psutil.Process(pid)
        return proc

    def _job_trees(self) -> dict[int, list[psutil.Process]]:
        """Every job's process tree (root first), keyed by root PID."""
        children: dict[int, list[int]] = {}
        for proc in psutil.process_iter(["ppid"]):
            children.setdefault(proc.info["ppid"], []).append(proc.pid)
        trees = {}
        for root in children.get(self.main.pid, []):
            if root in self.exclude:
                continue
            tree, queue = [], [root]
            while queue:
                pid = queue.pop(0)
                queue.extend(children.get(pid, []))
                try:
                    tree.append(self._process(pid))
                except psutil.NoSuchProcess:  # ended since the listing
                    continue
            if tree and tree[0].pid == root:
                trees[root] = tree
        live = {p.pid for tree in trees.values() for p in tree} | {self.main.pid}
        self._procs = {pid: proc for pid, proc in self._procs.items() if pid in live}
        return trees

    def _job_row(self, stamp: str, now_s: float, root: int, tree: list[psutil.Process]) -> dict | None:
        """The row of one job; None once its root process has exited (zombie or gone)."""
        try:
            if tree[0].status() == psutil.STATUS_ZOMBIE:
                return None
            key = (root, tree[0].create_time())
        except psutil.Error:
            return None
        cpu_s, rss = _tree_usage(tree)
        if rss == 0:  # every process of the tree ended while it was measured: no sample
            return None
        state = self._jobs.get(key)
        if state is None:
            state = self._jobs[key] = _JobState(identify_job(tree), 0.0, key[1])
        elif not state.name.certain and state.attempts < 5:
            state.name, state.attempts = identify_job(tree), state.attempts + 1
        elapsed = max(now_s - state.time_s, 1e-3)
        percent = max(cpu_s - state.cpu_s, 0.0) / elapsed * 100
        state.cpu_s, state.time_s = cpu_s, now_s
        return _row(
            stamp, "job", state.name, pid=root, n_pids=len(tree), cpu_percent=percent, rss_mib=rss / MIB
        )

    def _main_row(self, stamp: str, now_s: float) -> dict:
        with self.main.oneshot():
            times = self.main.cpu_times()
            rss = self.main.memory_info().rss
            start_s = self.main.create_time()
        cpu_s = times.user + times.system  # children (jobs) have rows of their own
        last_cpu, last_time = self._main_cpu or (0.0, start_s)
        percent = max(cpu_s - last_cpu, 0.0) / max(now_s - last_time, 1e-3) * 100
        self._main_cpu = (cpu_s, now_s)
        return _row(
            stamp,
            "snakemake",
            JobName("snakemake", "snakemake"),
            pid=self.main.pid,
            n_pids=1,
            cpu_percent=percent,
            rss_mib=rss / MIB,
        )

    def _system_row(self, stamp: str, n_pids: int) -> dict:
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        return _row(
            stamp,
            "system",
            JobName(""),
            n_pids=n_pids,
            cpu_percent=psutil.cpu_percent(interval=None) * self.n_cpus,
            load1=psutil.getloadavg()[0],
            mem_used_mib=memory.used / MIB,
            mem_available_mib=memory.available / MIB,
            swap_used_mib=swap.used / MIB,
        )


def _tree_usage(tree: Iterable[psutil.Process]) -> tuple[float, int]:
    """Cumulative CPU seconds (incl. reaped children) and summed RSS (bytes) of a process tree.

    Summing each process's user+system time and its ``children_*`` times counts every process
    that ever ran in the tree once, so short-lived helpers are not lost between samples. RSS is
    summed too: pages shared between forked workers are counted once per process, as ``top``
    users did.
    """
    cpu_s, rss = 0.0, 0
    for proc in tree:
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                cpu_s += times.user + times.system + times.children_user + times.children_system
                if proc.status() != psutil.STATUS_ZOMBIE:
                    rss += proc.memory_info().rss
        except psutil.Error:
            continue
    return cpu_s, rss


def _row(stamp: str, kind: str, name: JobName, **values: float) -> dict:
    row = dict.fromkeys(USAGE_COLUMNS, "")
    row.update(time=stamp, kind=kind, job=name.job, rule=name.rule, wildcards=name.wildcards)
    for key, value in values.items():
        row[key] = round(value, 3) if isinstance(value, float) else value
    return row
