"""The preflight jobs in the workflow: a broken source stops the run before any fetch job, and a
preflight never makes a finished fetch job run again (nor does its arrival, for older runs)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import yaml

from mwlc.archives.registry import ARCHIVES
from tests.test_workflow import ARCHIVES as DEMO_ARCHIVES
from tests.test_workflow import N_SHARDS, job_counts, new_workdir, snakemake

pytestmark = pytest.mark.workflow


def test_a_preflight_failure_stops_the_run_before_any_fetch_job(tmp_path):
    workdir = new_workdir(tmp_path)
    broken = {
        "run_id": "broken",
        "n_shards": 2,
        "fetch_retries": 0,
        "monitor": {"enabled": False},
        "demo": {"archives": []},
        "archives": {
            **{name: {"enabled": False} for name in ARCHIVES},
            "heasarc": {"enabled": True, "source": "resources/no-such-copies"},
        },
    }
    (workdir / "config/broken.yaml").write_text(yaml.safe_dump(broken))
    configs = ("--configfile", "config/demo.yaml", "config/broken.yaml")
    result = snakemake(workdir, "--cores", "2", "--keep-going", *configs, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    problem = (
        "heasarc: resources/no-such-copies: expected an http(s) TAP URL or a directory of "
        "<table>.parquet copies; found neither"
    )
    assert problem in output  # in Snakemake's own output, not only in the job's log
    (log,) = (workdir / "logs/broken/preflight").glob("heasarc-*.log")
    assert problem in log.read_text()
    assert "Fetching" not in output and not (workdir / "logs/broken/fetch_lightcurves").exists()
    assert (workdir / "results/broken/sample.ecsv").exists()  # --keep-going: the rest went on


def test_a_preflight_that_runs_again_reruns_no_fetch_job(local_demo_run):
    counts = job_counts(snakemake(local_demo_run, "-n", "--quiet", "rules", "--forcerun", "preflight"))
    assert counts["preflight"] == len(DEMO_ARCHIVES)
    assert not {"fetch_lightcurves", "gather_archive", "merge_lightcurves"} & set(counts)


def copy_of_run(run: Path, target: Path) -> Path:
    """A copy of a finished demo run's results, benchmarks and records (the demo snapshots linked)."""
    target.mkdir()
    shutil.copytree(run / "config", target / "config")
    shutil.copytree(run / "results", target / "results")
    shutil.copytree(run / ".snakemake" / "metadata", target / ".snakemake" / "metadata")
    (target / "resources").symlink_to(run / "resources")
    return target


def drop_recorded_preflight(workdir: Path) -> int:
    """Rewrite the fetch jobs' records as Snakemake wrote them before preflight jobs existed."""
    changed = 0
    for path in (workdir / ".snakemake" / "metadata").iterdir():
        record = json.loads(path.read_text())
        if record.get("rule") == "fetch_lightcurves":
            record["input"] = [name for name in record["input"] if "/preflight/" not in name]
            path.write_text(json.dumps(record))
            changed += 1
    return changed


def test_shards_recorded_before_preflights_existed_are_not_fetched_again(local_demo_run, tmp_path):
    old = copy_of_run(local_demo_run, tmp_path / "old")
    key = base64.urlsafe_b64encode(
        b"results/demo/lightcurves.parquet/archive=ztf/shard-0000.parquet"
    ).decode()
    recorded_input = json.loads((old / ".snakemake/metadata" / key).read_text())["input"]
    assert any(name.startswith("results/demo/preflight/ztf-") for name in recorded_input)
    assert drop_recorded_preflight(old) == len(DEMO_ARCHIVES) * N_SHARDS
    shutil.rmtree(old / "results/demo/preflight")
    assert job_counts(snakemake(old, "-n", "--quiet", "rules", "--until", "merge_lightcurves")) == {}

    # A run recorded with its preflights has nothing to do either when their reports are deleted.
    recorded = copy_of_run(local_demo_run, tmp_path / "recorded")
    shutil.rmtree(recorded / "results/demo/preflight")
    assert job_counts(snakemake(recorded, "-n", "--quiet", "rules", "--until", "merge_lightcurves")) == {}
