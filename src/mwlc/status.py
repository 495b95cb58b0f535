"""How far a run is: ``mwlc status [results/<run_id>]``, while Snakemake runs and after.

Per archive: fetch jobs done / failed / running / interrupted / to do, rows so far, wall time
and peak memory of its finished jobs (from their benchmark files) and an ETA; then the
preflights, the gathers, the merge and the report's files; then every failed job with its log's
last error (a failed preflight holds back all its archive's fetch jobs).

A job's state comes from files only, so it reads the same from any shell on the machine, during
the run, after it, and after a kill:

running
    Snakemake marked the job's output incomplete (``.snakemake/incomplete/``: written when the
    job starts, removed when it ends, the marker's time is the job's start) and the run's
    Snakemake process is alive (``results/<run_id>/run.json``, written at its start, names it)
    with the directory locked (``.snakemake/locks/``).
interrupted
    marked incomplete, but Snakemake is gone (killed): ``snakemake --unlock``, then the same
    command with ``--rerun-incomplete`` redoes it.
done
    its output exists and is not marked.
failed
    no output and no mark, but a log: the job ran and failed (Snakemake deletes a failed job's
    output and its mark; the log stays).
to do
    none of these.

A running job whose log has not grown for :data:`QUIET_S` is listed as quiet, with its last line.

The ETA is the work left (each shard still to do at its archive's mean wall time so far, less
what running jobs have done) divided by the parallelism observed so far (the fetch jobs' busy
time over the time since the first one started); failed jobs are not counted (they run again
only when the run is restarted). A running job whose log reports its progress
(``4200/10000 objects``, at least :data:`MIN_PROGRESS` done) counts with the wall time that
projects to, and its own time left: a per-object shard takes hours, and the first ETA does not
wait for one to finish.
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from mwlc.benchmarks import read_benchmark
from mwlc.run_plan import PLAN_NAME, RunPlan, read_run_plan

FETCH = "fetch_lightcurves"
#: Jobs listed among the failed ones at most (the rest are counted).
MAX_LISTED_FAILURES = 10
#: The merge's by-object table, in the run's directory.
BY_OBJECT = "lightcurves_by_object.parquet"
#: A running fetch job whose log has not grown for this long (s) is listed as quiet: every fetch
#: job logs as it goes (a per-object job every ``progress_every`` objects, a few minutes), so an
#: hour of silence on a week-long run is a job to look at (stalled, or waiting on a service).
QUIET_S = 3600.0


@dataclass
class ArchiveStatus:
    """The fetch jobs of one archive.

    ``wall_s`` and ``max_rss_mib`` (s, MiB) are over the done jobs with a benchmark file
    (``benchmarked`` of them; ``done_spans`` their start and end, s since the epoch);
    ``running_s`` how long each running job has run (s) and ``running_done`` the fraction of its
    work its log's last progress line reports (None without one); ``eta_s`` this archive's work
    left at the run's parallelism (s).
    """

    archive: str
    shards: int
    done: int = 0
    failed: int = 0
    running: int = 0
    interrupted: int = 0
    rows: int = 0
    wall_s: float = 0.0
    max_rss_mib: float = math.nan
    benchmarked: int = 0
    running_s: list[float] = field(default_factory=list)
    running_done: list[float | None] = field(default_factory=list)
    done_spans: list[tuple[float, float]] = field(default_factory=list)
    eta_s: float | None = None
    #: On-disk size of the done jobs' shard files, bytes.
    bytes_written: int = 0

    @property
    def to_do(self) -> int:
        return self.shards - self.done - self.failed - self.running - self.interrupted

    @property
    def mean_wall_s(self) -> float | None:
        return self.wall_s / self.benchmarked if self.benchmarked else None


@dataclass
class RunStatus:
    """Everything ``mwlc status`` prints; see the module docstring for how states are known.

    ``parallel`` is the fetch jobs' observed parallelism (jobs at once, on average), ``eta_s``
    the whole run's fetch ETA (s); both None before a fetch job has finished.
    """

    run_dir: Path
    run_id: str
    snakemake: str
    running: bool
    n_objects: int | None
    n_shards: int | None
    archives: list[ArchiveStatus]
    stages: list[str]
    failed_jobs: list[tuple[str, str, str]]
    quiet_jobs: list[tuple[str, str, float, str]] = field(default_factory=list)
    parallel: float | None = None
    eta_s: float | None = None
    notes: list[str] = field(default_factory=list)
    #: The light curves' disk space so far and to come, against the space free (see :func:`_disk`).
    disk: str | None = None


# --- what Snakemake left on disk ---------------------------------------------------------------


def incomplete_outputs(workdir: Path) -> dict[str, float]:
    """Outputs Snakemake has marked incomplete (paths relative to ``workdir``) -> the time their
    job started (s since the epoch: the marker's modification time).

    Snakemake names a marker after the output's path in URL-safe base64, cut into pieces of at
    most the filesystem's name length, every piece but the last prefixed with ``@`` as a
    directory (``snakemake.persistence.file``).
    """
    root = workdir / ".snakemake" / "incomplete"
    marks = {}
    for directory, _, names in os.walk(root):
        pieces = Path(directory).relative_to(root).parts
        if not all(piece.startswith("@") for piece in pieces):
            continue
        for name in names:
            encoded = "".join(piece[1:] for piece in pieces) + name
            try:
                key = base64.urlsafe_b64decode(encoded).decode()
            except (ValueError, UnicodeDecodeError):  # not a marker (e.g. migration_underway)
                continue
            marks[key] = os.path.getmtime(os.path.join(directory, name))
    return marks


def locked_outputs(workdir: Path) -> set[str]:
    """Outputs that a Snakemake process has locked (``.snakemake/locks/*.output.lock``)."""
    locked: set[str] = set()
    for lock in (workdir / ".snakemake" / "locks").glob("*.output.lock"):
        try:
            locked.update(line.strip() for line in lock.read_text().splitlines() if line.strip())
        except OSError:
            continue
    return locked


def snakemake_alive(plan: RunPlan | None) -> bool | None:
    """Whether the plan's Snakemake process still runs: None when that cannot be told here
    (no plan, or a plan written on another host)."""
    if plan is None or plan.host != socket.gethostname():
        return None
    try:
        process = psutil.Process(plan.pid)
        started = datetime.fromisoformat(plan.started_utc).timestamp()
        # a recycled PID belongs to a process started after the plan was written
        return process.create_time() <= started + 1 and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError):
        return False


def last_error_line(log: Path) -> str:
    """The log's last ERROR or CRITICAL line (else its last line; empty if unreadable)."""
    try:
        lines = [line.rstrip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
    return (errors or lines or [""])[-1]


# --- the status ------------------------------------------------------------------------------


def _log_tail(log: Path, size: int = 65536) -> str:
    """The last ``size`` bytes of a log as text (empty if it cannot be read)."""
    try:
        with open(log, "rb") as text:
            text.seek(0, 2)
            text.seek(max(text.tell() - size, 0))
            return text.read().decode(errors="replace")
    except OSError:
        return ""


def last_line(log: Path) -> str:
    """The log's last line (empty if it has none or cannot be read)."""
    lines = _log_tail(log, 4096).splitlines()
    return lines[-1].strip() if lines else ""


#: A progress line of a fetch job's log (:class:`mwlc.progress.Progress`): ``4200/10000 objects``.
_PROGRESS = re.compile(r"(\d+)/(\d+) (?:objects|leaf files), ")


def progress_fraction(log: Path) -> float | None:
    """The fraction of its work a job's log reports done in its last progress line, if any."""
    found = _PROGRESS.findall(_log_tail(log))
    if not found:
        return None
    done, total = (int(n) for n in found[-1])
    return done / total if total else None


def _silent_s(log: Path, started: float | None, now: float) -> float:
    """Seconds since a running job last wrote its log (since it started, if it wrote none)."""
    try:
        written = log.stat().st_mtime
    except OSError:
        written = started if started is not None else now
    return max(now - written, 0.0)


def run_status(run_dir: str | os.PathLike, *, now: float | None = None) -> RunStatus:
    """The status of the run in ``run_dir`` (``results/<run_id>`` inside the workflow's directory).

    Parameters
    ----------
    run_dir : path
        The run's results directory; the workflow's working directory is two levels up.
    now : float, optional
        Current time (s since the epoch), for tests.

    Raises
    ------
    FileNotFoundError
        When ``run_dir`` is not a run's results directory.
    """
    run_dir = Path(run_dir).resolve()
    if not run_dir.is_dir() or run_dir.parent.name != "results":
        raise FileNotFoundError(f"{run_dir} is not a run's directory (expected results/<run_id>)")
    now = time.time() if now is None else now
    workdir, run_id = run_dir.parent.parent, run_dir.name
    plan = read_run_plan(run_dir)
    notes: list[str] = []
    marks = incomplete_outputs(workdir)
    locked = any(path.startswith(f"results/{run_id}/") for path in locked_outputs(workdir))
    alive = snakemake_alive(plan)
    running = locked if alive is None else alive and locked
    snakemake = _describe_snakemake(plan, alive, locked, running)
    if plan is None:
        notes.append(f"no {PLAN_NAME} (a run begun before mwlc wrote one): only the archives seen so far")
    elif locked and not running:
        notes.append(
            "Snakemake was killed: run `snakemake --unlock` once, then the same command with "
            "--rerun-incomplete (from Python: mwlc.run(..., rerun_incomplete=True))"
        )
    elif not running and any(path.startswith(f"results/{run_id}/") for path in marks):
        notes.append(
            "jobs were interrupted (their files are marked incomplete): run the same command with "
            "--rerun-incomplete (from Python: mwlc.run(..., rerun_incomplete=True))"
        )

    shard_files = sorted((run_dir / "sample_shards").glob("shard-*.parquet"))
    shards = [path.stem.removeprefix("shard-") for path in shard_files]
    if not shards and plan is not None:
        shards = [f"{i:04d}" for i in range(plan.n_shards)]
    n_objects = _count_rows(shard_files) if shard_files else None
    archives = plan.archives if plan is not None else _archives_seen(run_dir, workdir, run_id, marks)

    state = _JobStates(workdir, run_id, marks, running)
    failed: list[tuple[str, str, str]] = []
    quiet: list[tuple[str, str, float, str]] = []
    statuses = [_archive_status(state, run_dir, archive, shards, now, failed, quiet) for archive in archives]
    stages = _stages(state, run_dir, archives, failed, plan)
    status = RunStatus(
        run_dir=run_dir,
        run_id=run_id,
        snakemake=snakemake,
        running=running,
        n_objects=n_objects,
        n_shards=len(shards) or None,
        archives=statuses,
        stages=stages,
        failed_jobs=failed,
        quiet_jobs=sorted(quiet, key=lambda job: -job[2]),
        notes=notes,
    )
    _estimate(status, now)
    _disk(status)
    return status


class _JobStates:
    """The state of a job from its output, its log and Snakemake's markers."""

    def __init__(self, workdir: Path, run_id: str, marks: dict[str, float], running: bool) -> None:
        self.workdir, self.run_id, self.marks, self.snakemake_running = workdir, run_id, marks, running

    def __call__(self, output: str, log: str) -> tuple[str, float | None]:
        """(state, start time of a running/interrupted job) of the job writing ``output``."""
        if output in self.marks:
            return ("running" if self.snakemake_running else "interrupted"), self.marks[output]
        if (self.workdir / output).exists():
            return "done", None
        if (self.workdir / log).exists():
            return "failed", None
        return "to do", None

    def failure(self, job: str, log: str) -> tuple[str, str, str]:
        return job, log, last_error_line(self.workdir / log)


def _archive_status(
    state: _JobStates,
    run_dir: Path,
    archive: str,
    shards: Sequence[str],
    now: float,
    failed: list,
    quiet: list,
) -> ArchiveStatus:
    result = ArchiveStatus(archive, len(shards))
    results, logs = f"results/{state.run_id}", f"logs/{state.run_id}"
    done_files = []
    for shard in shards:
        output = f"{results}/lightcurves.parquet/archive={archive}/shard-{shard}.parquet"
        log = f"{logs}/{FETCH}/{archive}/shard-{shard}.log"
        job_state, started = state(output, log)
        if job_state == "done":
            result.done += 1
            done_files.append(state.workdir / output)
            benchmark = run_dir / "benchmarks" / FETCH / archive / f"shard-{shard}.tsv"
            if benchmark.exists():
                row = read_benchmark(str(benchmark)).iloc[-1]
                end = (state.workdir / output).stat().st_mtime
                result.done_spans.append((end - float(row["wall_s"]), end))
                result.wall_s += float(row["wall_s"])
                result.max_rss_mib = float(max(result.max_rss_mib, row["max_rss_mib"], key=_nan_low))
                result.benchmarked += 1
        elif job_state == "running":
            result.running += 1
            result.running_s.append(max(now - (started or now), 0.0))
            result.running_done.append(progress_fraction(state.workdir / log))
            silent_s = _silent_s(state.workdir / log, started, now)
            if silent_s >= QUIET_S:
                job = f"{FETCH} archive={archive} shard={shard}"
                quiet.append((job, log, silent_s, last_line(state.workdir / log)))
        elif job_state == "interrupted":
            result.interrupted += 1
        elif job_state == "failed":
            result.failed += 1
            failed.append(state.failure(f"{FETCH} archive={archive} shard={shard}", log))
    result.rows = _count_rows(done_files)
    result.bytes_written = sum(path.stat().st_size for path in done_files)
    return result


def _stages(
    state: _JobStates, run_dir: Path, archives: Sequence[str], failed: list, plan: RunPlan | None
) -> list[str]:
    """One line each for the preflights, the gathers, the merge, the benchmark table and the
    figures; their failed jobs are added to ``failed``."""
    results, logs = f"results/{state.run_id}", f"logs/{state.run_id}"
    gathers = {
        archive: state(f"{results}/summary/{archive}.csv", f"{logs}/gather_archive/{archive}.log")[0]
        for archive in archives
    }
    for archive, job_state in gathers.items():
        if job_state == "failed":
            log = f"{logs}/gather_archive/{archive}.log"
            failed.append(state.failure(f"gather_archive archive={archive}", log))
    keys = plan.preflight_keys if plan is not None else {}
    preflights = {archive: _preflight_state(state, archive, keys.get(archive)) for archive in archives}
    for archive, (job_state, log) in preflights.items():
        if job_state == "failed":
            failed.append(state.failure(f"preflight archive={archive}", log))
    merge = state(f"{results}/summary.csv", f"{logs}/merge_lightcurves.log")[0]
    if merge == "failed":
        failed.append(state.failure("merge_lightcurves", f"{logs}/merge_lightcurves.log"))
    done = sum(job_state == "done" for job_state in gathers.values())
    figures = sorted(path.name for path in (run_dir / "figures").glob("*.png"))
    passed = sum(job_state == "done" for job_state, _ in preflights.values())
    return [
        f"preflight: {passed} of {len(preflights)} passed"
        + "".join(f", {archive} {s}" for archive, (s, _) in preflights.items() if s not in ("done", "to do")),
        f"gather_archive: {done} of {len(gathers)} done"
        + "".join(f", {archive} {s}" for archive, s in gathers.items() if s not in ("done", "to do")),
        f"merge_lightcurves: {merge}",
        f"benchmarks.csv: {'written' if (run_dir / 'benchmarks.csv').exists() else 'not yet'}",
        f"figures: {', '.join(figures) if figures else 'none yet'}",
    ]


def _preflight_state(state: _JobStates, archive: str, key: str | None) -> tuple[str, str]:
    """(state, log) of the archive's preflight job for the settings ``key`` of the run plan, or,
    in a plan without keys, of its latest preflight log (settings are a hash of the config)."""
    logs_dir = state.workdir / f"logs/{state.run_id}/preflight"
    if key is None:
        logs = sorted(logs_dir.glob(f"{archive}-*.log"), key=lambda path: path.stat().st_mtime)
        if not logs:
            return "to do", ""
        key = logs[-1].stem.removeprefix(f"{archive}-")
    log = f"logs/{state.run_id}/preflight/{archive}-{key}.log"
    return state(f"results/{state.run_id}/preflight/{archive}-{key}.txt", log)[0], log


#: A running job's progress counts for the ETA once it reports this fraction of its work done.
MIN_PROGRESS = 0.02


def _estimate(status: RunStatus, now: float) -> None:
    """Set the parallelism and the ETAs (see the module docstring)."""
    done_walls = [a.wall_s for a in status.archives if a.benchmarked]
    projected = {a.archive: _projected_walls(a) for a in status.archives}
    walls = done_walls + [wall for walls in projected.values() for wall in walls]
    if not walls:
        return
    counted = sum(a.benchmarked for a in status.archives) + sum(len(w) for w in projected.values())
    overall_mean = sum(walls) / counted
    busy = sum(done_walls) + sum(sum(a.running_s) for a in status.archives)
    window = _fetch_window(status, now)
    status.parallel = max(busy / window, 1.0) if window > 0 else 1.0
    total = 0.0
    for archive in status.archives:
        walls = projected[archive.archive]
        mean = archive.mean_wall_s or (sum(walls) / len(walls) if walls else overall_mean)
        running_left = sum(
            _left_s(ran_s, fraction, mean)
            for ran_s, fraction in zip(archive.running_s, archive.running_done, strict=True)
        )
        left = (archive.to_do + archive.interrupted) * mean + running_left
        archive.eta_s = left / status.parallel
        total += left
    status.eta_s = total / status.parallel


def _disk(status: RunStatus) -> None:
    """Set the disk line: the shard files so far, what the shards left will take at each archive's
    size per shard so far, and the merge's by-object table (about as large as the shards: 0.84 x
    in the demo) if not written yet, against the space free where the run writes; a note when
    that space falls short."""
    written = sum(a.bytes_written for a in status.archives)
    if not written:
        return
    left = sum(a.bytes_written / a.done * (a.shards - a.done) for a in status.archives if a.done)
    merged = (status.run_dir / BY_OBJECT).exists()
    to_write = left + (0 if merged else written + left)
    free = shutil.disk_usage(status.run_dir).free
    status.disk = (
        f"disk: {_gb(written)} of shard files so far, ~{_gb(left)} more for the shards left at this pace"
    )
    if not merged:
        status.disk += f", then ~{_gb(written + left)} for the merge's by-object table"
    status.disk += f"; {_gb(free)} free"
    if to_write > free:
        status.notes.append(
            f"the run may run out of disk space: ~{_gb(to_write)} still to write, {_gb(free)} free on "
            f"the filesystem of {_shown(status.run_dir)}: make room before it does (a job that meets "
            "a full disk fails; a rerun then redoes only the jobs that failed)"
        )


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:,.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:,.1f} MB"


def _projected_wall_s(ran_s: float, fraction: float | None) -> float | None:
    """The whole wall time (s) of a running job that has run ``ran_s`` s and reports ``fraction``
    of its work done; None before :data:`MIN_PROGRESS` (a per-object shard takes hours, so the
    first ETA need not wait for one to finish)."""
    return ran_s / fraction if fraction is not None and fraction >= MIN_PROGRESS else None


def _projected_walls(archive: ArchiveStatus) -> list[float]:
    """:func:`_projected_wall_s` of each running job of ``archive`` far enough along to tell."""
    walls = map(_projected_wall_s, archive.running_s, archive.running_done)
    return [wall for wall in walls if wall is not None]


def _left_s(ran_s: float, fraction: float | None, mean_s: float) -> float:
    """Seconds a running job has left: from its progress when it reports some, else the mean."""
    wall_s = _projected_wall_s(ran_s, fraction)
    return wall_s - ran_s if wall_s is not None else max(mean_s - ran_s, 0.0)


def _fetch_window(status: RunStatus, now: float) -> float:
    """Seconds from the first fetch job's start to now (running) or to the last one's end."""
    spans = [span for archive in status.archives for span in archive.done_spans]
    starts = [start for start, _ in spans] + [now - s for a in status.archives for s in a.running_s]
    if not starts:
        return 0.0
    last = now if status.running else max([end for _, end in spans] or [now])
    return max(last - min(starts), 0.0)


def _count_rows(paths: Sequence[Path]) -> int:
    return sum(pq.read_metadata(path).num_rows for path in paths)


def _nan_low(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _archives_seen(run_dir: Path, workdir: Path, run_id: str, marks: dict[str, float]) -> list[str]:
    """Archives with a shard file, a fetch log or a running job, for runs without a plan."""
    seen = {
        path.name.removeprefix("archive=") for path in (run_dir / "lightcurves.parquet").glob("archive=*")
    }
    seen |= {path.name for path in (workdir / "logs" / run_id / FETCH).glob("*") if path.is_dir()}
    prefix = f"results/{run_id}/lightcurves.parquet/archive="
    seen |= {key[len(prefix) :].split("/", 1)[0] for key in marks if key.startswith(prefix)}
    return sorted(seen)


def _describe_snakemake(plan: RunPlan | None, alive: bool | None, locked: bool, running: bool) -> str:
    if plan is not None and alive is None:
        where = f"on {plan.host}; cannot see it from here"
        return f"{'locked' if locked else 'not locked'} ({where}, pid {plan.pid})"
    if running:
        return f"running (pid {plan.pid}, since {plan.started_utc})" if plan else "running (directory locked)"
    if locked:
        return "not running, but the directory is still locked (killed)"
    return "not running"


# --- output ----------------------------------------------------------------------------------

#: The table's columns: wall_s is summed over the done jobs (s), max_rss_mib their largest peak (MiB).
_COLUMNS = (
    "archive",
    "shards",
    "done",
    "failed",
    "running",
    "interrupted",
    "to do",
    "rows",
    "wall_s",
    "max_rss_mib",
    "eta",
)


def format_status(status: RunStatus) -> str:
    """The status as the text ``mwlc status`` prints: a header, one table row per archive and a
    total, then the other stages, the ETA, notes and the failed jobs."""
    lines = [f"run {status.run_id} ({_shown(status.run_dir)}): Snakemake {status.snakemake}"]
    if status.n_objects is not None:
        lines.append(f"sample: {status.n_objects:,} objects in {status.n_shards} shards")
    elif status.n_shards:
        lines.append(f"sample: not made yet ({status.n_shards} shards planned)")
    else:
        lines.append("sample: not made yet")
    rows = [_row(a.archive, a) for a in status.archives]
    if len(status.archives) > 1:
        rows.append(_total_row(status))
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(_COLUMNS)]
    for row in [list(_COLUMNS), *rows]:
        cells = [value.rjust(width) for value, width in zip(row, widths, strict=True)]
        lines.append("  ".join([row[0].ljust(widths[0]), *cells[1:]]))
    lines += status.stages
    lines.append(_eta_line(status))
    if status.disk:
        lines.append(status.disk)
    lines += [f"note: {note}" for note in status.notes]
    if status.quiet_jobs:
        lines.append(
            f"quiet jobs ({len(status.quiet_jobs)}: running, but no log line for {_duration(QUIET_S)} or "
            "more; stalled, or waiting on a service?):"
        )
        for job, log, silent_s, line in status.quiet_jobs[:MAX_LISTED_FAILURES]:
            lines.append(f"  {job}: quiet for {_duration(silent_s)}: {log}")
            if line:
                lines.append(f"      {line}")
        if len(status.quiet_jobs) > MAX_LISTED_FAILURES:
            lines.append(f"  ... and {len(status.quiet_jobs) - MAX_LISTED_FAILURES} more")
    if status.failed_jobs:
        lines.append(f"failed jobs ({len(status.failed_jobs)}; each log says why):")
        for job, log, error in status.failed_jobs[:MAX_LISTED_FAILURES]:
            lines.append(f"  {job}: {log}")
            if error:
                lines.append(f"      {error}")
        if len(status.failed_jobs) > MAX_LISTED_FAILURES:
            lines.append(f"  ... and {len(status.failed_jobs) - MAX_LISTED_FAILURES} more")
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when inside it, else absolute."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


def _row(name: str, a: ArchiveStatus) -> list[str]:
    rss = "" if math.isnan(a.max_rss_mib) else f"{a.max_rss_mib:,.0f}"
    return [
        name,
        str(a.shards),
        str(a.done),
        str(a.failed),
        str(a.running),
        str(a.interrupted),
        str(a.to_do),
        f"{a.rows:,}",
        f"{a.wall_s:,.1f}" if a.benchmarked else "",
        rss,
        _duration(a.eta_s) if a.to_do + a.interrupted + a.running else "",
    ]


def _total_row(status: RunStatus) -> list[str]:
    total = ArchiveStatus("all", sum(a.shards for a in status.archives))
    for a in status.archives:
        for name in ("done", "failed", "running", "interrupted", "rows", "wall_s", "benchmarked"):
            setattr(total, name, getattr(total, name) + getattr(a, name))
        total.max_rss_mib = max(total.max_rss_mib, a.max_rss_mib, key=_nan_low)
    total.eta_s = status.eta_s
    return _row("all", total)


def _eta_line(status: RunStatus) -> str:
    left = sum(a.to_do + a.interrupted + a.running for a in status.archives)
    if not left:
        return "fetch jobs: none left"
    if status.eta_s is None:
        return f"fetch jobs: {left} left; ETA once one has finished or logged its progress"
    benchmarked = sum(a.benchmarked for a in status.archives)
    if benchmarked:
        per_shard = sum(a.wall_s for a in status.archives) / benchmarked
        pace = f"{status.parallel:.1f} jobs at once, {per_shard:,.0f} s per shard so far"
    else:
        pace = f"{status.parallel:.1f} jobs at once, from the running jobs' progress"
    if status.running:
        return f"fetch jobs: {left} left, ETA {_duration(status.eta_s)} ({pace})"
    return f"fetch jobs: {left} left, {_duration(status.eta_s)} at the pace so far ({pace}); not running"


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else str(timedelta(seconds=round(seconds)))


# --- command line ----------------------------------------------------------------------------


def find_run_dir(results: Path = Path("results")) -> tuple[Path, str]:
    """The run to report on when none is given: the only one under ``results/``, or the one most
    recently started (its ``run.json``, else its directory); with a sentence saying which.

    Raises
    ------
    FileNotFoundError
        When ``results/`` holds no run.
    """
    runs = [path for path in results.glob("*") if path.is_dir()] if results.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"no run under {results.resolve()}/: give its directory, results/<run_id>")

    def started(path: Path) -> float:
        plan = path / PLAN_NAME
        return (plan if plan.exists() else path).stat().st_mtime

    chosen = max(runs, key=started)
    return chosen, "" if len(runs) == 1 else f"(the most recently started of {len(runs)} runs in {results}/)"


def main(argv: Sequence[str] | None = None) -> int:
    """``mwlc status [results/<run_id>]``."""
    parser = argparse.ArgumentParser(
        prog="mwlc status",
        description="How far a run is: per archive, shards done / failed / running / to do, rows, "
        "wall time and memory of the jobs so far, and an ETA. Works while Snakemake runs and after.",
    )
    parser.add_argument("run_dir", nargs="?", help="the run's directory, results/<run_id> (default: latest)")
    args = parser.parse_args(argv)
    try:
        if args.run_dir:
            run_dir, which = Path(args.run_dir), ""
        else:
            run_dir, which = find_run_dir()
        status = run_status(run_dir)
    except (FileNotFoundError, ValueError) as error:
        print(f"mwlc status: {error}", file=sys.stderr)
        return 2
    if which:
        print(f"{run_dir} {which}")
    print(format_status(status))
    return 0
