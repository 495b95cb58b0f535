"""A psutil sidecar that records what a running Snakemake workflow costs, job by job.

It replaces the original's ``top -b`` capture: every ``interval_s`` seconds it writes one row
for the machine (``kind=system``), one for the Snakemake process itself (``kind=snakemake``)
and one per running job (``kind=job``) to a long-format CSV with the columns of
:data:`USAGE_COLUMNS`. A job is a process tree under the Snakemake main process; it is named
after its rule and wildcards, read from the script Snakemake generated for it, so nobody has
to match PIDs printed in logs.

Units: times are UTC ISO 8601 strings; ``cpu_percent`` is 100 for one fully busy core (for
``kind=system`` too, so job rows add up to at most the system row); memory in MiB
(2**20 bytes); ``load1`` is the 1-minute load average (runnable processes).

The monitor runs as the rule ``monitor_resources`` (``threads: 0``) and stops by itself:
see :func:`run_monitor` for the stop conditions and exit codes.
"""

from __future__ import annotations

import ast
import csv
import logging
import os
import pickle
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil

log = logging.getLogger(__name__)

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

#: Exit codes of :func:`run_monitor`.
EXIT_DONE, EXIT_SNAKEMAKE_GONE, EXIT_IDLE, EXIT_TIMEOUT = 0, 2, 3, 4

_SCRIPT_RE = re.compile(r"(?:^|/)\.snakemake/scripts/tmp[^/]*\.py$")
_PREAMBLE_END = b"######## snakemake preamble end"


@dataclass(frozen=True)
class JobName:
    """What a job process tree is running.

    Parameters
    ----------
    job : str
        Display name, ``rule[key=value,...]`` (or a fallback, see :func:`identify_job`).
    rule : str
        Snakemake rule name; empty when it could not be read.
    wildcards : str
        ``key=value`` pairs joined by commas; empty for rules without wildcards.
    """

    job: str
    rule: str = ""
    wildcards: str = ""

    @property
    def certain(self) -> bool:
        """True when rule and wildcards come from the job's Snakemake script."""
        return bool(self.rule)


def job_name(rule: str, wildcards: Mapping[str, object]) -> JobName:
    """The :class:`JobName` of rule ``rule`` run with ``wildcards``."""
    text = ",".join(f"{key}={value}" for key, value in wildcards.items())
    return JobName(f"{rule}[{text}]" if text else rule, rule, text)


def read_script_job(path: str) -> JobName | None:
    """Rule and wildcards of a Snakemake ``script:`` job, from the script it runs.

    Snakemake runs a Python ``script:`` job as ``python .snakemake/scripts/tmpXXXX.<name>.py``,
    a copy of the script whose first line (the "preamble") holds the job's pickled
    ``snakemake`` object. Only the bytes literal passed to ``pickle.loads`` is evaluated, with
    :func:`ast.literal_eval`; it is unpickled with the running Snakemake's classes. Read
    only scripts of the workflow being monitored (same user, its ``.snakemake/``).

    Returns
    -------
    JobName or None
        None when the file is gone (the job ended) or has no Snakemake preamble.
    """
    try:
        with open(path, "rb") as stream:
            head = b"".join(_preamble_lines(stream))
    except OSError:
        return None
    payload = _pickled_payload(head.decode("utf-8", errors="replace"))
    if payload is None:
        return None
    try:
        job = pickle.loads(payload)  # noqa: S301 - the workflow's own job script, see docstring
        return job_name(job.rule, dict(job.wildcards.items()))
    except Exception as error:  # a script from another Snakemake version: fall back
        log.debug("cannot read the job of %s: %s", path, error)
        return None


def _preamble_lines(stream, max_lines: int = 5) -> Iterable[bytes]:
    for _ in range(max_lines):
        line = stream.readline()
        if not line or line.startswith(_PREAMBLE_END):
            return
        yield line


def _pickled_payload(source: str) -> bytes | None:
    """The bytes literal passed to ``pickle.loads(...)`` in a preamble, without running it."""
    for line in source.splitlines():
        if "pickle.loads(" not in line:
            continue
        try:
            tree = ast.parse(line)
        except SyntaxError:
            return None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "loads"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, bytes)
            ):
                return node.args[0].value
    return None


def identify_job(tree: Sequence[psutil.Process]) -> JobName:
    """Name a job from its process tree (root first).

    In order: the rule and wildcards in the Snakemake script a process runs
    (:func:`read_script_job`); else the first ``.log`` file a process has open (``shell:``
    jobs that redirect to their ``log:``), relative to the job's working directory; else the
    root's command name and PID.
    """
    for proc in tree:
        script = _script_path(proc)
        if script is not None:
            named = read_script_job(script)
            if named is not None:
                return named
    for proc in tree:
        try:
            for opened in proc.open_files():
                if opened.path.endswith(".log"):
                    return JobName(os.path.relpath(opened.path, proc.cwd()))
        except (psutil.Error, OSError):
            continue
    root = tree[0]
    try:
        return JobName(f"{root.name()} (pid {root.pid})")
    except psutil.Error:
        return JobName(f"pid {root.pid}")


def _script_path(proc: psutil.Process) -> str | None:
    try:
        cmdline, cwd = proc.cmdline(), proc.cwd()
    except (psutil.Error, OSError):
        return None
    for arg in cmdline[1:3]:
        if _SCRIPT_RE.search(arg):
            return os.path.join(cwd, arg)
    return None


def is_snakemake_main(cmdline: Sequence[str]) -> bool:
    """True for the command line of a Snakemake main process (CLI or ``python -m snakemake``)."""
    if "-m" in cmdline[:3] and "snakemake" in cmdline[:4]:
        return True
    return any(
        os.path.basename(arg) == "snakemake" or arg.endswith(os.path.join("snakemake", "__main__.py"))
        for arg in cmdline[:2]
    )


def find_snakemake_process(start: psutil.Process | None = None) -> psutil.Process:
    """The nearest ancestor of ``start`` (default: this process) that is Snakemake's main process.

    Raises
    ------
    RuntimeError
        When no ancestor is a Snakemake process (the monitor was not started by Snakemake).
    """
    proc = (start or psutil.Process()).parent()
    while proc is not None:
        try:
            if is_snakemake_main(proc.cmdline()):
                return proc
        except psutil.Error:
            pass
        proc = proc.parent()
    raise RuntimeError(
        "no Snakemake process among this process's ancestors: run the monitor as a Snakemake job"
    )


def own_job_root(main_pid: int, proc: psutil.Process | None = None) -> int:
    """PID of the child of ``main_pid`` whose tree holds ``proc`` (default: this process)."""
    proc = proc or psutil.Process()
    while proc.ppid() != main_pid:
        parent = proc.parent()
        if parent is None:
            raise RuntimeError(f"process {proc.pid} does not descend from {main_pid}")
        proc = parent
    return proc.pid


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


@dataclass
class StopRules:
    """When the monitor stops.

    Parameters
    ----------
    targets : sequence of str
        The workflow's final files; the monitor ends (exit 0) once all exist and are new.
    idle_grace_s : float
        Seconds without any job process after which the run is taken as failed or stalled.
    max_hours : float
        Hard limit on the monitor's own run time, in hours.
    final_wait_s : float
        After the targets appear, keep sampling up to this many seconds while the jobs running
        at that moment finish (so their end is recorded).
    """

    targets: Sequence[str]
    idle_grace_s: float = 60.0
    max_hours: float = 48.0
    final_wait_s: float = 15.0


def _mtimes(paths: Sequence[str]) -> dict[str, int | None]:
    result = {}
    for path in paths:
        try:
            result[path] = os.stat(path).st_mtime_ns
        except OSError:
            result[path] = None
    return result


def targets_done(initial: Mapping[str, int | None], current: Mapping[str, int | None]) -> bool:
    """True when every target exists and was (re)written since the monitor started.

    A target that already existed at the start counts only once its modification time has
    changed: with ``--forcerun`` the old outputs stay until their job starts again.
    """
    return all(now is not None and now != initial[path] for path, now in current.items())


def run_monitor(
    output_csv: str,
    rules: StopRules,
    *,
    interval_s: float = 2.0,
    main: psutil.Process | None = None,
    exclude: set[int] | None = None,
) -> int:
    """Sample every ``interval_s`` seconds into ``output_csv`` until the run ends.

    Stop conditions (checked after each sample):

    * all ``rules.targets`` exist and were written during the run → finish the jobs running
      then (at most ``final_wait_s``), exit :data:`EXIT_DONE` (0);
    * the Snakemake process is gone → :data:`EXIT_SNAKEMAKE_GONE`;
    * no job process for ``idle_grace_s`` (a job failed and Snakemake waits for its running
      jobs, or the run stalled) → :data:`EXIT_IDLE`; but if the targets already existed at the
      start and no job ever ran, there was nothing to monitor → exit 0 with the rows taken;
    * ``max_hours`` passed → :data:`EXIT_TIMEOUT`.

    A non-zero exit makes Snakemake delete the partial CSV, so the next run monitors again.

    Parameters
    ----------
    output_csv : str
        Destination, written row by row (flushed every sample: watch it with ``tail -f``).
    rules : StopRules
        Targets, grace period and limits.
    interval_s : float
        Seconds between samples.
    main : psutil.Process, optional
        The Snakemake main process (default: found among this process's ancestors).
    exclude : set of int, optional
        Job roots not to record (default: the monitor's own job).

    Returns
    -------
    int
        The exit code.
    """
    main = main or find_snakemake_process()
    exclude = exclude if exclude is not None else {own_job_root(main.pid)}
    sampler = Sampler(main, exclude)
    log.info(
        "monitoring Snakemake pid %d every %.1f s until %d target(s) exist",
        main.pid,
        interval_s,
        len(rules.targets),
    )
    if all(mtime is not None for mtime in _mtimes(rules.targets).values()):
        log.warning("all targets exist already: recording until they are rewritten or no job runs")
    started, cpu_at_start = time.monotonic(), _own_cpu_s()
    os.makedirs(os.path.dirname(os.path.abspath(output_csv)), exist_ok=True)
    with open(output_csv, "w", newline="") as stream:
        writer = csv.DictWriter(stream, USAGE_COLUMNS)
        writer.writeheader()
        code = _loop(sampler, lambda rows: (writer.writerows(rows), stream.flush()), rules, interval_s)
    _log_overhead(started, cpu_at_start)
    return code


def _loop(sampler: Sampler, write, rules: StopRules, interval_s: float) -> int:
    """Sample, write and check the stop conditions until one holds; returns the exit code."""
    initial = _mtimes(rules.targets)
    started = last_job = time.monotonic()
    ever_ran, finishing = False, None
    while True:
        tick = time.monotonic()
        try:
            rows = sampler.sample()
        except psutil.NoSuchProcess:
            log.error("the Snakemake process %d is gone: stopping", sampler.main.pid)
            return EXIT_SNAKEMAKE_GONE
        write(rows)
        running = {row["pid"] for row in rows if row["kind"] == "job"}
        if running:
            ever_ran, last_job = True, tick
        if finishing is None and targets_done(initial, _mtimes(rules.targets)):
            finishing = (running, tick + rules.final_wait_s)
        if finishing is not None:
            if not running & finishing[0] or tick >= finishing[1]:
                log.info("final outputs written: monitoring done")
                return EXIT_DONE
        elif tick - last_job >= rules.idle_grace_s:
            if not ever_ran and all(m is not None for m in initial.values()):
                log.warning("no job ran and the final outputs already existed: nothing to monitor")
                return EXIT_DONE
            log.error(
                "no job has run for %.0f s (a job failed, or the run stalled): stopping so that "
                "Snakemake can finish. (Jobs on a cluster are invisible here: there, set "
                "monitor: {enabled: false}.)",
                tick - last_job,
            )
            return EXIT_IDLE
        if tick - started >= rules.max_hours * 3600:
            log.error("monitor ran for max_hours=%g h: stopping", rules.max_hours)
            return EXIT_TIMEOUT
        time.sleep(max(interval_s - (time.monotonic() - tick), 0.05))


def _own_cpu_s() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def _log_overhead(started: float, cpu_at_start: float) -> None:
    """Log the monitor's own cost: CPU seconds while sampling (and for start-up), as a
    percentage of one core over its wall time, and its RSS (MiB)."""
    wall = max(time.monotonic() - started, 1e-3)
    sampling = _own_cpu_s() - cpu_at_start
    log.info(
        "monitor overhead: %.2f s CPU sampling in %.0f s = %.2f %% of one core (start-up %.2f s CPU); "
        "RSS %.0f MiB",
        sampling,
        wall,
        sampling / wall * 100,
        cpu_at_start,
        psutil.Process().memory_info().rss / MIB,
    )
