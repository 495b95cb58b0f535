"""``mwlc status``: job states from Snakemake's markers, locks and the run plan; rows, benchmarks, ETA.

Synthetic run directories here; a killed real run in tests/test_workflow.py (the kill test) and
the finished shared demo run below.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mwlc import status as mwlc_status
from mwlc.run_plan import read_run_plan, write_run_plan

RUN = "results/r"
BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def mark_incomplete(workdir: Path, output: str, started: float, max_len: int = 255) -> None:
    """A marker as Snakemake writes it (snakemake.persistence.file: base64 pieces, "@" directories)."""
    encoded = base64.urlsafe_b64encode(output.encode()).decode()
    pieces = [encoded[i : i + max_len - 1] for i in range(0, len(encoded), max_len - 1)]
    path = workdir.joinpath(".snakemake", "incomplete", *(f"@{p}" for p in pieces[:-1]), pieces[-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"external_jobid": None}))
    os.utime(path, (started, started))


def write_shard(workdir: Path, archive: str, shard: str, rows: int, *, wall_s: float, rss: float, end: float):
    """A done fetch job: its shard file (``rows`` rows, written at ``end``), benchmark and log."""
    path = workdir / RUN / f"lightcurves.parquet/archive={archive}/shard-{shard}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"objectid": list(range(rows))}), path)
    os.utime(path, (end, end))
    benchmark = workdir / RUN / f"benchmarks/fetch_lightcurves/{archive}/shard-{shard}.tsv"
    benchmark.parent.mkdir(parents=True, exist_ok=True)
    benchmark.write_text(BENCHMARK_HEADER + f"{wall_s}\t0:00:10\t{rss}\t1\t1\t1\t0\t0\t50\t{wall_s / 2}\n")
    write_log(workdir, archive, shard, "2026-12-06T10:00:00Z INFO    mwlc: start")


def write_log(workdir: Path, archive: str, shard: str, *lines: str) -> None:
    log = workdir / f"logs/r/fetch_lightcurves/{archive}/shard-{shard}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(lines) + "\n")


def make_run(tmp_path: Path, now: float, *, plan: bool = True) -> Path:
    """ztf: 0000 done (5 rows, 10 s, 100 MiB), 0001 started 30 s ago, 0002 to do; gaia: 0000
    failed, 0001 done (7 rows, 20 s, 300 MiB), 0002 to do. The directory is locked."""
    workdir = tmp_path / "work"
    run_dir = workdir / RUN
    for shard in range(3):
        path = run_dir / f"sample_shards/shard-{shard:04d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"objectid": [4 * shard + i for i in range(4)]}), path)
    if plan:
        write_run_plan(run_dir, run_id="r", archives=["ztf", "gaia"], n_shards=3)
    write_shard(workdir, "ztf", "0000", 5, wall_s=10.0, rss=100.0, end=now - 100)
    mark_incomplete(workdir, f"{RUN}/lightcurves.parquet/archive=ztf/shard-0001.parquet", now - 30)
    write_log(workdir, "ztf", "0001", "2026-12-06T10:00:00Z INFO    mwlc: start")
    write_log(
        workdir,
        "gaia",
        "0000",
        "2026-12-06T10:00:00Z INFO    mwlc: start",
        "2026-12-06T10:00:05Z CRITICAL mwlc: job failed: ArchiveError: gaia: 503 from https://data.lsdb.io",
        "Traceback (most recent call last):",
    )
    write_shard(workdir, "gaia", "0001", 7, wall_s=20.0, rss=300.0, end=now - 50)
    locks = workdir / ".snakemake/locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text(f"{RUN}/summary.csv\n{RUN}/lightcurves.parquet/_metadata\n")
    return run_dir


def by_archive(status) -> dict[str, mwlc_status.ArchiveStatus]:
    return {archive.archive: archive for archive in status.archives}


def test_a_run_in_progress(tmp_path):
    now = time.time()
    status = mwlc_status.run_status(make_run(tmp_path, now), now=now)
    assert status.running and status.snakemake.startswith(f"running (pid {os.getpid()}")
    assert (status.n_objects, status.n_shards) == (12, 3)
    ztf, gaia = by_archive(status)["ztf"], by_archive(status)["gaia"]
    assert (ztf.done, ztf.failed, ztf.running, ztf.interrupted, ztf.to_do) == (1, 0, 1, 0, 1)
    assert (gaia.done, gaia.failed, gaia.running, gaia.interrupted, gaia.to_do) == (1, 1, 0, 0, 1)
    assert (ztf.rows, ztf.wall_s, ztf.max_rss_mib) == (5, 10.0, 100.0)
    assert (gaia.rows, gaia.wall_s, gaia.max_rss_mib) == (7, 20.0, 300.0)
    assert ztf.running_s == [pytest.approx(30, abs=1)]
    # busy 10 + 20 + 30 s over the 110 s since the first start: 1 job at a time
    assert status.parallel == 1.0
    assert ztf.eta_s == pytest.approx(10.0)  # the running job is past the mean: only 0002 counts
    assert gaia.eta_s == pytest.approx(20.0)
    assert status.eta_s == pytest.approx(30.0)
    [(job, log, error)] = status.failed_jobs
    assert (job, log) == (
        "fetch_lightcurves archive=gaia shard=0000",
        "logs/r/fetch_lightcurves/gaia/shard-0000.log",
    )
    assert error.endswith("job failed: ArchiveError: gaia: 503 from https://data.lsdb.io")
    text = mwlc_status.format_status(status)
    assert "sample: 12 objects in 3 shards" in text
    assert "fetch jobs: 3 left, ETA 0:00:30 (1.0 jobs at once, 15 s per shard so far)" in text
    assert "gather_archive: 0 of 2 done" in text and "merge_lightcurves: to do" in text
    header, ztf_row = (line.split() for line in text.splitlines()[2:4])
    assert header[:2] == ["archive", "shards"]
    assert ztf_row == ["ztf", "3", "1", "0", "1", "0", "1", "5", "10.0", "100", "0:00:10"]


def test_a_failed_preflight_is_listed_with_its_reason(tmp_path):
    """gaia's preflight failed with the current settings (an older settings' one had passed);
    ztf's passed. The failure used to show nowhere: gaia's fetch jobs just stayed "to do"."""
    now = time.time()
    run_dir = make_run(tmp_path, now)
    workdir = run_dir.parent.parent
    for name, lines, passed, age_s in [
        ("ztf-a1", ["INFO start"], True, 60),
        ("gaia-a1", ["INFO start"], True, 3600),
        (
            "gaia-b2",
            ["INFO start", "ERROR mwlc.preflight: gaia: http://x/gaia: expected HATS; found 503"],
            False,
            60,
        ),
    ]:
        log = workdir / f"logs/r/preflight/{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("\n".join(lines) + "\n")
        os.utime(log, (now - age_s, now - age_s))
        if passed:
            (run_dir / "preflight").mkdir(exist_ok=True)
            (run_dir / f"preflight/{name}.txt").write_text("ok\n")
    status = mwlc_status.run_status(run_dir, now=now)
    assert ("preflight archive=gaia", "logs/r/preflight/gaia-b2.log") in [
        job[:2] for job in status.failed_jobs
    ]
    (error,) = [job[2] for job in status.failed_jobs if job[0] == "preflight archive=gaia"]
    assert error.endswith("found 503")
    text = mwlc_status.format_status(status)
    assert "preflight: 1 of 2 passed, gaia failed" in text
    # the plan names each archive's current settings: back on a1, b2's failure is history
    write_run_plan(
        run_dir, run_id="r", archives=["ztf", "gaia"], n_shards=3, preflight_keys={"ztf": "a1", "gaia": "a1"}
    )
    status = mwlc_status.run_status(run_dir, now=now)
    assert not [job for job in status.failed_jobs if job[0].startswith("preflight")]
    assert "preflight: 2 of 2 passed" in mwlc_status.format_status(status)
    write_run_plan(
        run_dir, run_id="r", archives=["ztf", "gaia"], n_shards=3, preflight_keys={"ztf": "a1", "gaia": "c3"}
    )
    assert "preflight: 1 of 2 passed" in mwlc_status.format_status(mwlc_status.run_status(run_dir, now=now))


def test_a_killed_run_has_interrupted_jobs(tmp_path):
    now = time.time()
    run_dir = make_run(tmp_path, now)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    plan = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**plan, "pid": gone.pid}))
    status = mwlc_status.run_status(run_dir, now=now)
    assert not status.running
    assert status.snakemake == "not running, but the directory is still locked (killed)"
    ztf = by_archive(status)["ztf"]
    assert (ztf.done, ztf.running, ztf.interrupted, ztf.to_do) == (1, 0, 1, 1)
    # not running: the pace of the finished jobs only (30 s busy in 60 s -> 1 at a time)
    assert status.eta_s == pytest.approx(2 * 10.0 + 20.0)
    assert any("snakemake --unlock" in note for note in status.notes)
    assert "fetch jobs: 3 left, 0:00:40 at the pace so far" in mwlc_status.format_status(status)
    # Ctrl-C: Snakemake unlocked the directory on its way out, the markers stay
    (run_dir.parent.parent / ".snakemake/locks/0.output.lock").unlink()
    status = mwlc_status.run_status(run_dir, now=now)
    assert status.snakemake == "not running"
    assert status.notes == [
        "jobs were interrupted (their files are marked incomplete): run the same command with "
        "--rerun-incomplete (from Python: mwlc.run(..., rerun_incomplete=True))"
    ]


def test_a_recycled_pid_is_not_the_run(tmp_path):
    now = time.time()
    run_dir = make_run(tmp_path, now)
    plan = json.loads((run_dir / "run.json").read_text())
    long_ago = datetime.fromtimestamp(now - 10 * 86400, UTC).isoformat(timespec="seconds")
    (run_dir / "run.json").write_text(json.dumps({**plan, "started_utc": long_ago}))
    assert not mwlc_status.run_status(run_dir, now=now).running  # this process started after


def test_a_run_without_plan_shows_the_archives_seen(tmp_path):
    now = time.time()
    status = mwlc_status.run_status(make_run(tmp_path, now, plan=False), now=now)
    assert [a.archive for a in status.archives] == ["gaia", "ztf"]
    assert status.running  # only the lock tells
    assert any("no run.json" in note for note in status.notes)


def test_markers_split_into_directories_are_read(tmp_path):
    output = "results/r/" + "x" * 300 + ".parquet"
    mark_incomplete(tmp_path, output, 1000.0, max_len=64)
    (tmp_path / ".snakemake/incomplete/migration_underway").write_text("")
    assert mwlc_status.incomplete_outputs(tmp_path) == {output: 1000.0}


def test_the_plan_round_trips_and_bad_files_are_named(tmp_path):
    write_run_plan(tmp_path, run_id="r", archives=["ztf"], n_shards=4)
    plan = read_run_plan(tmp_path)
    assert (plan.run_id, plan.archives, plan.n_shards, plan.pid) == ("r", ["ztf"], 4, os.getpid())
    assert plan.host == socket.gethostname()
    (tmp_path / "run.json").write_text('{"run_id": "r"}')
    with pytest.raises(ValueError, match=r"run.json: not a run plan \(no key\(s\) \['archives'"):
        read_run_plan(tmp_path)
    assert read_run_plan(tmp_path / "nowhere") is None


def test_command_line(tmp_path, capsys, monkeypatch):
    now = time.time()
    make_run(tmp_path, now)
    (tmp_path / "work/results/older").mkdir()
    os.utime(tmp_path / "work/results/older", (now - 3600, now - 3600))
    monkeypatch.chdir(tmp_path / "work")
    assert mwlc_status.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("results/r (the most recently started of 2 runs in results/)")
    assert "ztf " in out and "failed jobs (1; each log says why):" in out
    assert mwlc_status.main(["results/none"]) == 2
    assert "results/none is not a run's directory" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert mwlc_status.main([]) == 2
    assert "no run under" in capsys.readouterr().err


@pytest.mark.workflow
def test_status_of_the_finished_demo(local_demo_run):
    status = mwlc_status.run_status(local_demo_run / "results/demo")
    assert not status.running and status.snakemake == "not running"
    summary = pd.read_csv(local_demo_run / "results/demo/summary.csv").groupby("archive")["rows"].sum()
    assert {a.archive: a.rows for a in status.archives} == summary.to_dict()
    for archive in status.archives:
        assert (archive.done, archive.failed, archive.running, archive.to_do) == (status.n_shards, 0, 0, 0)
        assert archive.benchmarked == status.n_shards and archive.wall_s > 0 and archive.max_rss_mib > 0
    assert status.failed_jobs == [] and status.notes == []
    result = subprocess.run(
        [sys.executable, "-m", "mwlc.cli", "status", "results/demo"],
        cwd=local_demo_run,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Snakemake not running" in result.stdout
    assert "merge_lightcurves: done" in result.stdout and "fetch jobs: none left" in result.stdout


def test_a_running_job_whose_log_has_been_quiet_for_an_hour_is_listed(tmp_path):
    """A week-long run: a job that stalled (or waits on a service) shows, with its last line."""
    now = time.time()
    run_dir = make_run(tmp_path, now)
    assert mwlc_status.run_status(run_dir, now=now).quiet_jobs == []  # its log was just written
    log = run_dir.parent.parent / "logs/r/fetch_lightcurves/ztf/shard-0001.log"
    os.utime(log, (now - 7200, now - 7200))
    status = mwlc_status.run_status(run_dir, now=now)
    assert status.quiet_jobs == [
        (
            "fetch_lightcurves archive=ztf shard=0001",
            "logs/r/fetch_lightcurves/ztf/shard-0001.log",
            pytest.approx(7200, abs=1),
            "2026-12-06T10:00:00Z INFO    mwlc: start",
        )
    ]
    text = mwlc_status.format_status(status)
    assert (
        "quiet jobs (1: running, but no log line for 1:00:00 or more; stalled, or waiting on a service?):"
        in text
    )
    quiet = "  fetch_lightcurves archive=ztf shard=0001: quiet for 2:00:00: "
    assert quiet + "logs/r/fetch_lightcurves/ztf/shard-0001.log" in text
    os.utime(log, (now - 3000, now - 3000))  # 50 min: a long step, not yet a question
    assert mwlc_status.run_status(run_dir, now=now).quiet_jobs == []


def test_the_eta_of_a_long_first_shard_comes_from_its_progress_lines(tmp_path):
    """A week-long run: no per-object shard has finished after hours, but their logs say how far
    they are; the ETA does not wait for one to finish."""
    now = time.time()
    workdir = tmp_path / "work"
    run_dir = workdir / RUN
    for shard in range(4):
        path = run_dir / f"sample_shards/shard-{shard:04d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"objectid": [shard]}), path)
    write_run_plan(run_dir, run_id="r", archives=["tess_kepler"], n_shards=4)
    (workdir / ".snakemake/locks").mkdir(parents=True)
    (workdir / ".snakemake/locks/0.output.lock").write_text(f"{RUN}/summary.csv\n")
    for shard, ran_s, line in (
        (
            "0000",
            3600,
            "2026-12-06T11:00:00Z INFO    mwlc.archives: TESS/Kepler: 2500/10000 objects, 0.69/s, ETA 3 h",
        ),
        (
            "0001",
            3600,
            "2026-12-06T11:00:00Z INFO    mwlc.archives: TESS/Kepler: 1000/10000 objects, 0.28/s, ETA 9 h",
        ),
        ("0002", 60, "2026-12-06T10:00:00Z INFO    mwlc: start"),  # no progress yet
    ):
        mark_incomplete(
            workdir, f"{RUN}/lightcurves.parquet/archive=tess_kepler/shard-{shard}.parquet", now - ran_s
        )
        write_log(workdir, "tess_kepler", shard, "2026-12-06T10:00:00Z INFO    mwlc: start", line)
    status = mwlc_status.run_status(run_dir, now=now)
    (tess,) = status.archives
    assert tess.running_done == [0.25, 0.1, None]
    # projected walls 14,400 s and 36,000 s: mean 25,200 s; left: 10,800 + 32,400 + (25,200 - 60)
    # for the running ones, 25,200 for shard 0003; 3 jobs at once (7,260 s busy over 3,600 s)
    left = 10_800 + 32_400 + 25_140 + 25_200
    assert status.parallel == pytest.approx(7_260 / 3_600, rel=1e-3)
    assert status.eta_s == pytest.approx(left / (7_260 / 3_600), rel=1e-3)
    text = mwlc_status.format_status(status)
    assert "from the running jobs' progress" in text and "ETA once one has finished" not in text


def test_the_disk_line_projects_the_shards_left_and_the_by_object_table(tmp_path, monkeypatch):
    """A week-long run must not meet a full disk by surprise: ``mwlc status`` projects what the
    shards left and the merge's by-object table will take, and says when it will not fit."""
    now = time.time()
    run_dir = make_run(tmp_path, now)
    sizes = {}
    for archive, shard, rows in (("ztf", "0000", 5), ("gaia", "0001", 7)):  # a few MB each
        path = run_dir / f"lightcurves.parquet/archive={archive}/shard-{shard}.parquet"
        mtime = path.stat().st_mtime
        pad = [os.urandom(300_000 * (1 + len(sizes))) for _ in range(rows)]
        pq.write_table(pa.table({"objectid": list(range(rows)), "pad": pad}), path, compression="none")
        os.utime(path, (mtime, mtime))
        sizes[archive] = path.stat().st_size
    written, left = sum(sizes.values()), 2 * sum(sizes.values())  # 1 of 3 shards done in each
    free = {"bytes": 10**12}
    monkeypatch.setattr(mwlc_status.shutil, "disk_usage", lambda path: type("U", (), {"free": free["bytes"]}))

    def megabytes(line: str) -> list[float]:
        return [float(x) for x in re.findall(r"([\d.]+) MB", line)]

    status = mwlc_status.run_status(run_dir, now=now)
    assert by_archive(status)["ztf"].bytes_written == sizes["ztf"]
    assert status.disk.startswith("disk: ") and status.disk.endswith("; 1,000.0 GB free")
    assert "for the merge's by-object table" in status.disk
    assert megabytes(status.disk) == pytest.approx(
        [n / 1e6 for n in (written, left, written + left)], abs=0.05
    )
    assert status.disk in mwlc_status.format_status(status).splitlines()
    assert not any("disk space" in note for note in status.notes)

    free["bytes"] = 2 * written  # less than the shards left and the table
    status = mwlc_status.run_status(run_dir, now=now)
    [note] = [note for note in status.notes if "disk space" in note]
    assert note.startswith(
        f"the run may run out of disk space: ~{(left + written + left) / 1e6:.1f} MB still"
    )
    assert f"note: {note}" in mwlc_status.format_status(status)

    (run_dir / mwlc_status.BY_OBJECT).write_bytes(b"merged")  # the table is written: only shards left
    status = mwlc_status.run_status(run_dir, now=now)
    assert "by-object" not in status.disk
    assert megabytes(status.disk) == pytest.approx([n / 1e6 for n in (written, left, 2 * written)], abs=0.05)
