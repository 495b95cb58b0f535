"""The monitor's loop: sample, write, and stop when the run is done, gone, failed or stalled."""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil

from mwlc.monitor.jobs import find_snakemake_process, own_job_root
from mwlc.monitor.sampling import MIB, USAGE_COLUMNS, Sampler
from mwlc.monitor.snakemake_log import FailureWatch, find_snakemake_log

log = logging.getLogger(__name__)

#: Exit codes of :func:`run_monitor`.
#: (4 was ``max_hours``, which now ends the sampling with 0: the run goes on.)
EXIT_DONE, EXIT_SNAKEMAKE_GONE, EXIT_IDLE, EXIT_FAILED = 0, 2, 3, 5
#: Folder next to the usage table that keeps a copy of every invocation's samples
#: (``usage-<UTC start>.csv``): Snakemake deletes the table when it runs the monitor again (after
#: a kill, or a changed monitor setting), and a week-long run's figure must show all of it.
HISTORY_DIR = "history"


def history_path(output_csv: str | os.PathLike, started_utc: datetime) -> str:
    """The history copy of ``output_csv`` for an invocation started at ``started_utc``."""
    folder = os.path.join(os.path.dirname(os.path.abspath(output_csv)), HISTORY_DIR)
    return os.path.join(folder, f"usage-{started_utc:%Y%m%dT%H%M%SZ}.csv")


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
    max_hours: float = 336.0
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
    main_pid: int | None = None,
    exclude: set[int] | None = None,
    snakemake_log: str | None = None,
) -> int:
    """Sample every ``interval_s`` seconds into ``output_csv`` until the run ends.

    Stop conditions (checked after each sample):

    * all ``rules.targets`` exist and were written during the run → finish the jobs running
      then (at most ``final_wait_s``), exit :data:`EXIT_DONE` (0);
    * the Snakemake process is gone → :data:`EXIT_SNAKEMAKE_GONE`;
    * Snakemake's log reports a job failed for good (no retry left) and no job has run for two
      samples in a row: Snakemake will start nothing more and waits only for the monitor →
      :data:`EXIT_FAILED` at once, not after ``idle_grace_s`` (with ``--keep-going`` the
      monitor records the jobs that still run first);
    * no job process for ``idle_grace_s`` (a job failed and Snakemake waits for its running
      jobs, or the run stalled) → :data:`EXIT_IDLE`; but if the targets already existed at the
      start and no job ever ran, there was nothing to monitor → exit 0 with the rows taken;
    * ``max_hours`` passed → sampling stops with :data:`EXIT_DONE` (0) and a warning: the run
      goes on, unrecorded from then on (the limit failed the run before).

    A non-zero exit makes Snakemake delete the partial CSV, so the next run monitors again.

    Parameters
    ----------
    output_csv : str
        Destination, written row by row (flushed every sample: watch it with ``tail -f``); the
        same rows go to :func:`history_path`, which Snakemake never deletes.
    rules : StopRules
        Targets, grace period and limits.
    interval_s : float
        Seconds between samples.
    main : psutil.Process, optional
        The Snakemake main process (default: found among this process's ancestors).
    main_pid : int, optional
        Without ``main``: the pid of the process that started the run, when that is not a
        ``snakemake`` command (:func:`mwlc.run`; see
        :func:`~mwlc.monitor.jobs.find_snakemake_process`).
    exclude : set of int, optional
        Job roots not to record (default: the monitor's own job).
    snakemake_log : str, optional
        Snakemake's log of the run (default: the ``.snakemake/log/*.snakemake.log`` file ``main``
        holds open); without one, failures are noticed only by ``idle_grace_s``.

    Returns
    -------
    int
        The exit code.
    """
    main = main or find_snakemake_process(main_pid=main_pid)
    exclude = exclude if exclude is not None else {own_job_root(main.pid)}
    sampler = Sampler(main, exclude)
    snakemake_log = snakemake_log or find_snakemake_log(main)
    failures = FailureWatch(snakemake_log) if snakemake_log else None
    if failures is None:
        log.warning("Snakemake's log file not found: a failed job is noticed after idle_grace_s only")
    log.info(
        "monitoring Snakemake pid %d every %.1f s until %d target(s) exist",
        main.pid,
        interval_s,
        len(rules.targets),
    )
    if all(mtime is not None for mtime in _mtimes(rules.targets).values()):
        log.warning("all targets exist already: recording until they are rewritten or no job runs")
    started, cpu_at_start = time.monotonic(), _own_cpu_s()
    history = history_path(output_csv, datetime.now(UTC))
    os.makedirs(os.path.dirname(history), exist_ok=True)
    with open(output_csv, "w", newline="") as stream, open(history, "w", newline="") as kept:
        writers = [csv.DictWriter(out, USAGE_COLUMNS) for out in (stream, kept)]
        for writer in writers:
            writer.writeheader()

        def write(rows: list[dict]) -> None:
            for writer, out in zip(writers, (stream, kept), strict=True):
                writer.writerows(rows)
                out.flush()

        code = _loop(sampler, write, rules, interval_s, failures)
    _log_overhead(started, cpu_at_start)
    return code


def _loop(
    sampler: Sampler, write, rules: StopRules, interval_s: float, failures: FailureWatch | None = None
) -> int:
    """Sample, write and check the stop conditions until one holds; returns the exit code."""
    initial = _mtimes(rules.targets)
    started = last_job = time.monotonic()
    ever_ran, finishing, quiet_after_failure = False, None, 0
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
        failed = failures.poll() if failures is not None and finishing is None else 0
        # two quiet samples in a row: a retry is logged right after its error and starts at once
        quiet_after_failure = quiet_after_failure + 1 if failed and not running else 0
        if finishing is not None:
            if not running & finishing[0] or tick >= finishing[1]:
                log.info("final outputs written: monitoring done")
                return EXIT_DONE
        elif quiet_after_failure >= 2:
            log.error(
                "Snakemake reports %d failed job(s) (%s) and no job runs: stopping now so that it can "
                "exit (see its log for the error)",
                failed,
                failures.path,
            )
            return EXIT_FAILED
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
            # the run goes on: a limit on the record must not fail a week-long run
            log.warning(
                "monitor ran for max_hours=%g h: sampling stops here while the run goes on "
                "(raise monitor.max_hours to record a longer run)",
                rules.max_hours,
            )
            return EXIT_DONE
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
