"""The observability rules in a real demo run: monitor table, benchmark table, figures, report.

Runs the workflow's Snakefile (``MWLC_TEST_SNAKEFILE`` may point at another copy, e.g. a
scratch copy with the monitor/report includes added).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mwlc.benchmarks import BENCHMARK_COLUMNS
from mwlc.monitor import USAGE_COLUMNS
from tests.test_status import mark_incomplete

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = Path(os.environ.get("MWLC_TEST_SNAKEFILE", REPO / "workflow" / "Snakefile"))
N_SHARDS = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["n_shards"]
RESULTS = "results/demo"

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(
        "rules/report.smk" not in SNAKEFILE.read_text(),
        reason=f"{SNAKEFILE} does not include rules/monitor.smk and rules/report.smk yet",
    ),
]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Snakemake on the demo config (a later ``--configfile`` replaces it)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        "config/demo.yaml",
        *args,
    ]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="module")
def demo(local_demo_run) -> Path:
    """The session's complete local demo run (with the monitor; tests/fixtures_workflow.py), and
    its report."""
    snakemake(local_demo_run, "--report", f"{RESULTS}/report.html")
    return local_demo_run


def enabled_archives(workdir: Path) -> list[str]:
    return sorted(pd.read_csv(workdir / RESULTS / "summary.csv")["archive"].unique())


def test_monitor_names_every_job_of_the_run(demo):
    usage = pd.read_csv(demo / RESULTS / "monitor/usage.csv", keep_default_na=False, na_values=[""])
    assert list(usage.columns) == USAGE_COLUMNS
    assert {"system", "snakemake", "job"} <= set(usage["kind"])
    jobs = usage[usage["kind"] == "job"]
    fetches = set(jobs.loc[jobs["rule"] == "fetch_lightcurves", "wildcards"])
    assert fetches == {f"archive={a},shard={s:04d}" for a in enabled_archives(demo) for s in range(N_SHARDS)}
    # A job shorter than the sampling interval may end between two samples (the demo's merge
    # takes ~0.8 s); every job that lasts two intervals is seen and named as its benchmark names it.
    interval_s = yaml.safe_load((demo / "config/demo.yaml").read_text())["monitor"]["interval_s"]
    benchmarks = pd.read_csv(demo / RESULTS / "benchmarks.csv")
    long_jobs = set(benchmarks.loc[benchmarks["wall_s"] >= 2 * interval_s, "job"])
    assert len(long_jobs) >= len(fetches) and long_jobs <= set(jobs["job"])
    assert "monitor_resources" not in set(jobs["rule"])  # it does not record itself
    assert (jobs["rss_mib"] > 0).all()
    log = (demo / "logs/demo/monitor_resources.log").read_text()
    assert "final outputs written: monitoring done" in log
    assert float(re.search(r"= ([\d.]+) % of one core", log).group(1)) < 2.0


def test_benchmark_table_has_every_job_up_to_the_merge(demo):
    table = pd.read_csv(demo / RESULTS / "benchmarks.csv", keep_default_na=False, na_values=[""])
    assert list(table.columns) == BENCHMARK_COLUMNS
    archives = enabled_archives(demo)
    counts = table["rule"].value_counts().to_dict()
    assert counts["fetch_lightcurves"] == len(archives) * N_SHARDS
    assert counts["gather_archive"] == len(archives)
    assert counts["sample"] == counts["merge_lightcurves"] == 1
    assert (table["wall_s"] > 0).all()
    fetch = table[table["rule"] == "fetch_lightcurves"]
    assert set(fetch["job"]) == {
        f"fetch_lightcurves[archive={a},shard={s:04d}]" for a in archives for s in range(N_SHARDS)
    }


def test_figures_are_written(demo):
    figures = demo / RESULTS / "figures"
    for name in ("resources.png", "benchmarks.png", "coverage.png", "sky.png"):
        assert (figures / name).read_bytes()[:4] == b"\x89PNG", name
    curves = sorted((figures / "lightcurves").glob("lightcurve-*.png"))
    assert 1 <= len(curves) <= 5
    assert "synthetic" in (demo / "logs/demo/plot_lightcurves.log").read_text().lower()


def test_report_holds_the_figures_and_says_the_data_are_synthetic(demo):
    html = (demo / RESULTS / "report.html").read_text()
    for name in (
        "resources.png",
        "benchmarks.png",
        "coverage.png",
        "sky.png",
        "lightcurve-",
        "benchmarks.csv",
    ):
        assert name in html, name
    assert html.count("DEMO RUN - synthetic light curves") >= 7  # workflow description + every caption
    assert "This run is not complete" not in html


def test_report_after_the_sample_only_says_what_is_missing(demo, tmp_path):
    """A run stopped after `--until sample`: the report renders what exists and names the rest."""
    workdir = tmp_path / "partial"
    shutil.copytree(demo / "config", workdir / "config")
    shutil.copytree(demo / RESULTS / "sample_shards", workdir / RESULTS / "sample_shards")
    shutil.copy2(demo / RESULTS / "sample.ecsv", workdir / RESULTS / "sample.ecsv")
    shutil.copytree(demo / ".snakemake" / "metadata", workdir / ".snakemake" / "metadata")
    result = snakemake(workdir, "--report", f"{RESULTS}/report.html")
    assert "the report leaves out 7 item(s) not made yet" in result.stderr
    html = (workdir / RESULTS / "report.html").read_text()
    assert "This run is not complete" in html
    for name in ("coverage.png (rule plot_coverage)", "benchmarks.csv (rule gather_benchmarks)"):
        assert name in html, name
    assert "Light curves (not made yet)" in html
    assert not (workdir / RESULTS / "figures").exists()  # nothing was run for it


def test_report_after_a_kill_leaves_out_the_files_being_written(demo, tmp_path):
    """Killed mid-run (here: after the whole run, as a rerun is killed): the monitor's table and a
    shard being written exist but are marked incomplete; the report renders without them."""
    workdir = tmp_path / "killed"
    shutil.copytree(demo / "config", workdir / "config")
    shutil.copytree(demo / RESULTS, workdir / RESULTS, ignore=shutil.ignore_patterns("report.html"))
    shutil.copytree(demo / ".snakemake" / "metadata", workdir / ".snakemake" / "metadata")
    being_written = [
        f"{RESULTS}/monitor/usage.csv",
        f"{RESULTS}/lightcurves.parquet/archive=ztf/shard-0000.parquet",
    ]
    for path in being_written:
        mark_incomplete(workdir, path, time.time())
    result = snakemake(workdir, "--report", f"{RESULTS}/report.html", check=False)
    assert result.returncode == 0, result.stderr  # was: IncompleteFilesException
    assert "leaves out 1 item(s) not made yet: results/demo/monitor/usage.csv" in result.stderr
    html = (workdir / RESULTS / "report.html").read_text()
    assert "This run is not complete" in html
    assert "resources.png" in html and "lightcurves_by_object.parquet" in html  # made before


def test_nothing_to_do_after_the_run_and_the_report(demo):
    result = snakemake(demo, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_monitor_can_be_switched_off(demo):
    (demo / "config" / "no_monitor.yaml").write_text("monitor:\n  enabled: false\n")
    result = snakemake(
        demo,
        "-n",
        "--forceall",
        "--quiet",
        "rules",
        "--configfile",
        "config/demo.yaml",
        "config/no_monitor.yaml",
    )
    out = result.stdout + result.stderr
    assert "plot_benchmarks" in out
    assert "monitor_resources" not in out and "plot_resources" not in out
