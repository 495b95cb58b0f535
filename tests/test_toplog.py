"""The top.txt importer on an excerpt of the real 2024 run (tests/data/demo-logs-2024/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mwlc.monitor import USAGE_COLUMNS, JobName
from mwlc.toplog import main, pid_names_from_logs, read_top, split_snapshots

DATA = Path(__file__).parent / "data" / "demo-logs-2024"
TOP = DATA / "top.txt"
FULL_TOP = Path(__file__).resolve().parents[2] / "shared" / "mission" / "demo-logs-2024" / "top.txt"
GIB = 1024.0  # MiB


@pytest.fixture(scope="module")
def usage() -> pd.DataFrame:
    return read_top(TOP, pid_names=pid_names_from_logs(DATA), n_cpus=16)


def rows_of(usage: pd.DataFrame, pid: int) -> pd.DataFrame:
    return usage[(usage["kind"] == "job") & (usage["pid"] == pid)]


def test_the_table_has_the_monitor_columns(usage):
    assert list(usage.columns) == USAGE_COLUMNS
    assert set(usage["kind"]) == {"system", "job"}
    assert (usage["kind"] == "system").sum() == 124  # every snapshot of the excerpt


def test_first_snapshot_values(usage):
    first = usage.iloc[0]
    assert first["time"] == "2024-03-01T20:31:28.000+00:00"
    assert first["kind"] == "system"
    assert first["load1"] == pytest.approx(0.12)
    assert first["mem_used_mib"] == pytest.approx(1.3 * GIB)
    assert first["mem_available_mib"] == pytest.approx(59.8 * GIB)
    assert first["swap_used_mib"] == 0
    assert first["cpu_percent"] == pytest.approx((100 - 93.8) * 16)  # %Cpu(s) of 16 CPUs
    sample = usage.iloc[1]
    assert (sample["kind"], sample["pid"], sample["job"], sample["rule"]) == ("job", 3289, "sample", "sample")
    assert sample["cpu_percent"] == pytest.approx(106.7)
    assert sample["rss_mib"] == pytest.approx(0.3 * GIB)


def test_every_pid_is_found_and_named_from_the_logs(usage):
    jobs = usage[usage["kind"] == "job"].drop_duplicates("pid").set_index("pid")
    assert sorted(jobs.index) == [3289, 3968, 3972, 3976, 3980, 3984, *range(13387, 13395)]
    assert jobs.loc[3968, "job"] == "lightcurves[archive=gaia]"
    assert jobs.loc[3972, "wildcards"] == "archive=heasarc"
    assert jobs.loc[3976, "rule"] == "lightcurves"
    # WISE and ZTF have no log in the excerpt: named from scale_up.sh.log's "[pid=N] WISE started."
    assert jobs.loc[3980, "job"] == "lightcurves[archive=wise]"
    assert jobs.loc[3984, "job"] == "lightcurves[archive=ztf]"
    assert jobs.loc[13390, "job"] == "python (pid 13390)"  # ZTF workers: no log names them


def test_memory_peaks_of_the_2024_run(usage):
    assert rows_of(usage, 3976)["rss_mib"].max() / GIB == pytest.approx(34.5)  # IceCube
    ztf = rows_of(usage, 3984)
    assert ztf["rss_mib"].max() / GIB == pytest.approx(54.9)  # the explode before the OOM kill
    assert ztf["time"].max() == "2024-03-01T23:07:02.000+00:00"
    system = usage[usage["kind"] == "system"]
    assert system["mem_available_mib"].min() / GIB == pytest.approx(2.2)
    assert system.loc[system["mem_available_mib"].idxmin(), "time"] == "2024-03-01T23:07:00.000+00:00"


def test_time_tags_and_short_batches(tmp_path):
    text = (TOP.read_text().split("----\n")[1]).splitlines()
    tagged = "----\n" + "\n".join(text) + "\n----explode\n" + "\n".join(text) + "\n----\nbroken\n"
    assert [tag for tag, _ in split_snapshots(tagged)] == ["", "explode", ""]
    path = tmp_path / "top.txt"
    path.write_text(tagged)
    table = read_top(path)
    assert list(table.loc[table["kind"] == "tag", "job"]) == ["explode"]
    assert (table["kind"] == "system").sum() == 2  # the 1-line batch is skipped
    assert table.loc[table["kind"] == "system", "cpu_percent"].isna().all()  # no n_cpus given
    assert table.loc[table["kind"] == "job", "job"].iloc[0] == "python (pid 3289)"  # no names given


def test_worker_lines_and_explicit_names(tmp_path):
    (tmp_path / "ztf.log").write_text(
        "[pid=13387] dask worker started\n[pid=3984] Starting build=lightcurves, archive=ztf\n"
    )
    names = pid_names_from_logs(tmp_path)
    assert names[13387] == JobName("ztf-worker", "worker", "archive=ztf")
    assert names[3984] == JobName("lightcurves[archive=ztf]", "lightcurves", "archive=ztf")


def test_command_line_writes_the_usage_csv(tmp_path):
    output = tmp_path / "usage.csv"
    assert main([str(TOP), "-o", str(output), "--name", "13387=ztf-worker-1"]) == 0
    table = pd.read_csv(output)
    assert list(table.columns) == USAGE_COLUMNS
    assert set(table.loc[table["pid"] == 13387, "job"]) == {"ztf-worker-1"}
    assert set(table.loc[table["pid"] == 3968, "job"]) == {"lightcurves[archive=gaia]"}  # logs beside top.txt


def test_module_runs_as_a_command(tmp_path):
    output = tmp_path / "usage.csv"
    result = subprocess.run(
        [sys.executable, "-m", "mwlc.toplog", str(TOP), "-o", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "124 snapshots, 14 PIDs (6 named from logs)" in result.stderr
    assert output.exists()


@pytest.mark.skipif(not FULL_TOP.exists(), reason="the full 2024 top.txt is not beside this checkout")
def test_full_2024_file_matches_the_documented_baseline():
    table = read_top(FULL_TOP, pid_names=pid_names_from_logs(FULL_TOP.parent))
    system = table[table["kind"] == "system"]
    assert len(system) == 816
    assert system["load1"].max() == pytest.approx(3.75)
    assert system["mem_used_mib"].max() / GIB == pytest.approx(58.9)
    gaia = rows_of(table, 3968)
    assert gaia["rss_mib"].max() / GIB == pytest.approx(7.7)
    assert gaia["cpu_percent"].max() == pytest.approx(453.3)
