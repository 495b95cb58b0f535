"""The workflow as a user runs it: snakemake as a subprocess on the demo config, offline."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from astropy.table import Table

from mwlc.archives.registry import get_archive
from mwlc.config import deep_merge
from mwlc.schema import BANDS
from mwlc.status import run_status
from tests.test_status import mark_incomplete

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
DEMO = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
N_SHARDS = DEMO["n_shards"]
ARCHIVES = DEMO["demo"]["archives"]

pytestmark = pytest.mark.workflow


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` on the demo config (``env``: its environment, default this
    process's); output captured as text."""
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
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def job_counts(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The job-stats table of `snakemake -n --quiet rules` as {rule: count}."""
    counts = {}
    for line in (result.stdout + result.stderr).splitlines():
        match = re.fullmatch(r"\s*([a-z_]+)\s+(\d+)\s*", line)
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def new_workdir(tmp_path: Path) -> Path:
    """A directory laid out like a checkout: the config folder and nothing else."""
    workdir = tmp_path / "run"
    shutil.copytree(REPO / "config", workdir / "config")
    return workdir


def edit_demo_config(workdir: Path, changes: dict) -> dict:
    """Merge ``changes`` into ``workdir``'s config/demo.yaml (mappings key by key, as Snakemake
    merges config files); returns the new config."""
    demo_yaml = workdir / "config" / "demo.yaml"
    config = deep_merge(yaml.safe_load(demo_yaml.read_text()), changes)
    demo_yaml.write_text(yaml.safe_dump(config, sort_keys=False))
    return config


def restrict_to_archives(workdir: Path, archives: Sequence[str], **changes) -> list[str]:
    """Switch every demo archive but ``archives`` off in ``workdir``'s config/demo.yaml (same
    sample, same shards), and merge ``changes``; returns the archives whose snapshots the run builds."""
    config = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
    unknown = set(archives) - set(config["archives"])
    assert not unknown, f"not demo archives: {unknown}"
    switched_off = {name: {"enabled": False} for name in config["archives"] if name not in archives}
    built = [name for name in config["demo"]["archives"] if name in archives]
    edit_demo_config(workdir, {"archives": switched_off, "demo": {"archives": built}, **changes})
    return built


@pytest.fixture
def demo_run(local_demo_run) -> Path:
    """The session's complete local demo run (tests/fixtures_workflow.py), shared with the SLURM
    and Dask comparisons: tests here only read its outputs or dry-run it."""
    return local_demo_run


def test_dry_run_has_one_fetch_job_per_archive_and_shard(tmp_path):
    counts = job_counts(snakemake(new_workdir(tmp_path), "-n", "--quiet", "rules"))
    assert counts == {
        "all": 1,
        "sample": 1,
        "build_demo_archive": len(ARCHIVES),
        "preflight": len(ARCHIVES),
        "fetch_lightcurves": len(ARCHIVES) * N_SHARDS,
        "gather_archive": len(ARCHIVES),
        "merge_lightcurves": 1,
        "monitor_resources": 1,
        "gather_benchmarks": 1,
        **{f"plot_{figure}": 1 for figure in ("resources", "benchmarks", "coverage", "sky", "lightcurves")},
    }


def test_dry_run_job_count_follows_n_shards(tmp_path):
    counts = job_counts(snakemake(new_workdir(tmp_path), "-n", "--quiet", "rules", "--config", "n_shards=7"))
    assert counts["fetch_lightcurves"] == 7 * len(ARCHIVES)


def test_n_shards_auto_follows_the_sample_file_before_it_is_read(tmp_path):
    workdir = new_workdir(tmp_path)
    rng = np.random.default_rng(3)
    rows = pd.DataFrame(
        {"ra": rng.uniform(150, 160, 25_001), "dec": rng.uniform(0, 10, 25_001), "label": "x"}
    )
    rows.to_csv(workdir / "config" / "big.csv", index=False)
    (workdir / "config" / "auto.yaml").write_text(
        "n_shards: auto\nsample:\n  sources: [{source: file, path: config/big.csv}]\n"
    )
    result = snakemake(workdir, "-n", "--quiet", "rules", "--configfile", "config/auto.yaml")
    defaults = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["archives"]
    enabled = [name for name, params in defaults.items() if params.get("enabled", True)]
    assert job_counts(result)["fetch_lightcurves"] == 3 * len(enabled)  # ceil(25,001 / 10,000) shards
    until = snakemake(
        workdir, "-n", "--quiet", "rules", "--configfile", "config/auto.yaml", "--until", "sample"
    )
    assert job_counts(until) == {"sample": 1}
    # Built with 5 shards, the sample keeps them when its source no longer counts as many
    # (edited, regenerated): fewer shards would leave objects out of the merge, more would refetch
    # all of them.
    built = workdir / "results" / "my-run"
    (built / "sample_shards").mkdir(parents=True)
    for i in range(5):
        (built / "sample_shards" / f"shard-{i:04d}.parquet").write_bytes(b"")
    (built / "sample.ecsv").write_text("# %ECSV 1.0\n")
    rows.head(10).to_csv(workdir / "config" / "big.csv", index=False)
    kept = snakemake(workdir, "-n", "--quiet", "rules", "--configfile", "config/auto.yaml")
    assert job_counts(kept)["fetch_lightcurves"] == 5 * len(enabled)
    assert "n_shards: auto keeps the 5 shards of the sample already built in results/my-run" in kept.stdout
    # An explicit lower count is refused before any job: Snakemake would keep the built sample (the
    # fewer shard files exist) and the merge would silently leave out shards 3 and 4.
    fewer = snakemake(
        workdir, "-n", "--configfile", "config/auto.yaml", "--config", "n_shards=3", check=False
    )
    assert fewer.returncode != 0
    assert "n_shards = 3 is below the 5 shards of the sample built in results/my-run" in fewer.stdout


def test_a_file_source_in_any_case_rebuilds_the_sample_when_the_file_changes(tmp_path):
    workdir = new_workdir(tmp_path)
    (workdir / "config" / "mine.csv").write_text("ra,dec,label\n10.0,2.0,a\n20.0,3.0,b\n")
    (workdir / "config" / "upper.yaml").write_text(
        "n_shards: 1\nsample:\n  sources: [{source: File, path: config/mine.csv}]\n"
    )
    args = ("--configfile", "config/upper.yaml", "--until", "sample")
    snakemake(workdir, "--cores", "1", *args)
    with open(workdir / "config" / "mine.csv", "a") as csv:
        csv.write("30.0,4.0,c\n")
    # `source: File` (README: source names are case-insensitive) was not an input: the edit was ignored
    assert job_counts(snakemake(workdir, "-n", "--quiet", "rules", *args)) == {"sample": 1}


def test_until_sample_runs_only_the_sample_job(tmp_path):
    workdir = new_workdir(tmp_path)
    result = snakemake(workdir, "--cores", "1", "--until", "sample")
    assert job_counts(snakemake(workdir, "-n", "--quiet", "rules", "--until", "sample")) == {}
    assert job_counts(result) == {"sample": 1}
    sample = Table.read(workdir / "results/demo/sample.ecsv", format="ascii.ecsv")
    assert sample.colnames[:3] == ["objectid", "coord", "label"]
    assert list(sample["objectid"]) == list(range(1, len(sample) + 1))
    assert sorted(p.name for p in (workdir / "results/demo/sample_shards").iterdir()) == [
        f"shard-{i:04d}.parquet" for i in range(N_SHARDS)
    ]
    assert not (workdir / "results/demo/lightcurves.parquet").exists()
    assert not (workdir / "resources").exists()
    # without the workflow profile (as here): told, but no fetch job is left to want a service cap
    assert "mwlc: this run redoes a finished job when its rule's code changes" in result.stderr
    assert "no cap on the service" not in result.stderr and "may use" not in result.stderr
    # fetch jobs that may pass the machine's memory: no warning when none of them will run; with
    # the workflow profile, nothing at all
    (workdir / "config/big.yaml").write_text("fetch_mem_mb: {default: 100000000}\n")
    demo_and_big = ("--configfile", "config/demo.yaml", "config/big.yaml")  # one flag: the last wins
    with_profile = ("--workflow-profile", str(REPO / "profiles" / "default"))
    big = snakemake(
        workdir, "--cores", "4", *with_profile, *demo_and_big, "--until", "sample", "--forcerun", "sample"
    )
    assert job_counts(big) == {"sample": 1}
    assert "mwlc: " not in big.stderr, big.stderr


BAD_CONFIGS = {
    "n_shards: 0\n": "config key 'n_shards': 0 is less than the minimum of 1",
    "archives:\n  gaia: {search_radius: 1.0, radius_arcsec: 0.0002}\n": (
        "config key 'archives.gaia.search_radius'"
    ),
    "archives:\n  ztf: {radius_arcsec: 0.0002}\n": (
        "config key 'archives.ztf.radius_arcsec': 0.0002 looks like degrees"
    ),
    "sample:\n  sources: [{source: file, path: config/nowhere.csv}]\n": "config/nowhere.csv",
    "n_shards: [1\n": "Config file is not valid JSON or YAML",  # Snakemake's own check, before ours
}


@pytest.mark.parametrize("text", list(BAD_CONFIGS), ids=["n_shards", "old+new", "degrees", "no file", "yaml"])
def test_bad_config_stops_before_any_job(tmp_path, text):
    workdir = new_workdir(tmp_path)
    (workdir / "config" / "bad.yaml").write_text(text)
    result = snakemake(workdir, "--cores", "1", "--configfile", "config/bad.yaml", check=False)
    assert result.returncode != 0
    assert BAD_CONFIGS[text] in result.stderr
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()


def test_an_empty_sample_stops_the_run_before_any_archive_job(tmp_path):
    workdir = new_workdir(tmp_path)
    # Every fetch job waits for the sample: one archive shows it. Without the monitor, which would
    # wait its idle_grace_s after the failure before it ends.
    # fetch jobs of more memory than this machine has: the run says so as it starts
    restrict_to_archives(
        workdir, ["heasarc"], monitor={"enabled": False}, fetch_mem_mb={"default": 100_000_000}
    )
    (workdir / "config/demo_sample.csv").write_text("name,ra,dec,label\n")
    result = snakemake(workdir, "--cores", "2", "--keep-going", check=False)
    assert result.returncode != 0
    assert re.search(
        r"mwlc: a fetch job may use 100,000,000 MB, more than the [\d,]+ MB free for jobs on this "
        r"machine \(or container\)",
        result.stderr,
    ), result.stderr
    assert "--resources mem_mb=" in result.stderr and "lower --cores" not in result.stderr
    log = (workdir / "logs/demo/sample.log").read_text()
    assert "sample is empty" in log
    assert not (workdir / "results/demo/sample.ecsv").exists()
    assert not (workdir / "results/demo/lightcurves.parquet").exists()


def test_demo_writes_the_dataset_in_the_original_layout(demo_run):
    frame = pd.read_parquet(demo_run / "results/demo/lightcurves.parquet")
    assert frame.index.names == ["objectid", "label", "band", "time"]
    assert list(frame.columns) == ["flux", "err", "archive"]
    assert set(frame["archive"]) == set(ARCHIVES)
    for archive, rows in frame.groupby("archive", observed=True):
        assert set(rows.index.get_level_values("band")) <= set(get_archive(archive).bands)
    ztf = frame[frame["archive"] == "ztf"]
    assert (ztf["flux"] > 0).all() and (ztf["err"] > 0).all()
    sample = Table.read(demo_run / "results/demo/sample.ecsv", format="ascii.ecsv")
    assert set(frame.index.get_level_values("objectid")) <= set(sample["objectid"])
    for archive in ARCHIVES:
        shards = sorted(
            (demo_run / f"results/demo/lightcurves.parquet/archive={archive}").glob("shard-*.parquet")
        )
        assert len(shards) == N_SHARDS


def test_demo_summary_matches_the_dataset(demo_run):
    frame = pd.read_parquet(demo_run / "results/demo/lightcurves.parquet").reset_index()
    summary = pd.read_csv(demo_run / "results/demo/summary.csv").set_index("band")
    for band, rows in frame.groupby("band", observed=True):
        assert summary.loc[band, "rows"] == len(rows)
        assert summary.loc[band, "objects"] == rows["objectid"].nunique()
        assert summary.loc[band, "unit"] == BANDS[band].unit


def test_demo_by_object_table_holds_every_object_once(demo_run):
    by_object = pq.read_table(demo_run / "results/demo/lightcurves_by_object.parquet").to_pandas()
    sample = Table.read(demo_run / "results/demo/sample.ecsv", format="ascii.ecsv")
    assert list(by_object["objectid"]) == list(sample["objectid"])
    flat = pd.read_parquet(demo_run / "results/demo/lightcurves.parquet")
    assert by_object["n_points"].sum() == len(flat)


def test_demo_logs_say_the_data_are_synthetic(demo_run):
    logs = list((demo_run / "logs/demo").rglob("*.log"))
    assert len(logs) == 1 + len(ARCHIVES) * (N_SHARDS + 3) + 1 + 7  # + monitor, benchmarks, 5 plots
    for log in logs:
        assert "synthetic" in log.read_text().lower(), log


def test_every_job_has_a_benchmark(demo_run):
    tsvs = list((demo_run / "results/demo/benchmarks").rglob("*.tsv"))
    data_jobs = 1 + len(ARCHIVES) * (N_SHARDS + 3) + 1  # sample, demo build, preflight, fetch, gather, merge
    assert len(tsvs) == data_jobs + 6  # gather_benchmarks and 5 plots; the monitor has none
    assert all(t.read_text().startswith("s\th:m:s\tmax_rss") for t in tsvs)


#: Archives read by mwlc's own HATS partition reader (mwlc.archives._crossmatch), not lsdb's crossmatch.
HATS_ARCHIVES = ("ztf", "gaia", "panstarrs")


def test_hats_fetch_jobs_compile_no_numba_code(demo_run):
    """The demo build's lsdb writes compile hats' code once into .snakemake/numba_cache; the fetch
    jobs' partition reader runs no numba code, so none of them pays a compilation."""
    indexes = [p.name for p in (demo_run / ".snakemake/numba_cache").rglob("*.nbi")]
    assert any(name.startswith("pixel_alignment.perform_align_trees-") for name in indexes), indexes
    pattern = re.compile(r"numba code loaded from the cache (\d+) times, compiled (\d+) times")
    logs = [
        log
        for archive in HATS_ARCHIVES
        for log in sorted((demo_run / f"logs/demo/fetch_lightcurves/{archive}").glob("*.log"))
    ]
    assert len(logs) == len(HATS_ARCHIVES) * N_SHARDS
    compiled = {log.name: int(found[2]) for log in logs for found in pattern.finditer(log.read_text())}
    assert not any(compiled.values()), compiled
    assert all("leaf files to read" in log.read_text() for log in logs)


def test_second_run_has_nothing_to_do(demo_run):
    result = snakemake(demo_run, "-n", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_changed_radius_refetches_only_that_archive_and_how_to_read_nothing(demo_run):
    """A science parameter refetches its archive; how hard remote files are read (the storage
    section's timeout and retries) and how an archive is asked (HEASARC's timeouts, retries and
    chunks, unWISE's scan batches) refetch no archive."""
    changed = yaml.safe_load((demo_run / "config/demo.yaml").read_text())
    changed["archives"]["ztf"]["radius_arcsec"] = 1.5
    changed.setdefault("storage", {}).update(timeout_s=7.5, retries=1, retry_backoff_s=0.25)
    heasarc = {"timeout_s": 1200, "retries": 6, "retry_backoff_s": 1, "chunk_rows": 7, "maxrec": 9}
    changed["archives"]["heasarc"].update(heasarc)
    changed["archives"]["wise"].update(batch_rows=1000)
    (demo_run / "config/demo_ztf15.yaml").write_text(yaml.safe_dump(changed))
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(demo_run),
        "--configfile",
        "config/demo_ztf15.yaml",
        "-n",
        "--cores",
        "2",
    ]
    result = subprocess.run(cmd, cwd=demo_run, capture_output=True, text=True, timeout=300, check=True)
    output = result.stdout + result.stderr
    assert job_counts(result)["fetch_lightcurves"] == N_SHARDS
    assert set(re.findall(r"Fetching (\w+) light curves", output)) == {"ztf"}
    assert "Params have changed since last execution" in output
    assert "sample" not in job_counts(result) and job_counts(result)["gather_archive"] == 1


def readme_notebook_example() -> str:
    """The README's notebook example (the python block that calls ``mwlc.run``)."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return next(block for block in blocks if "mwlc.run(" in block)


def test_readme_notebook_example_runs_after_the_demo(demo_run):
    result = subprocess.run(
        [sys.executable, "-c", readme_notebook_example()],
        cwd=demo_run,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Nothing to be done" in result.stdout + result.stderr  # mwlc.run resumed a finished run
    assert (demo_run / "lightcurve-2.png").stat().st_size > 10_000


def test_run_from_python_stops_after_the_sample_and_counts_steps(tmp_path):
    workdir = new_workdir(tmp_path)
    code = "import mwlc; print(mwlc.run(configfile='config/demo.yaml', until='sample', cores=1))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(workdir / "results" / "demo")
    assert re.search(r"1 of \d+ steps \(\d+%\) done", result.stderr)
    assert (workdir / "results/demo/sample.ecsv").exists()
    assert not (workdir / "results/demo/lightcurves.parquet").exists()
    # A kernel killed while the sample was written: the directory stays locked and the sample is
    # marked incomplete. rerun_incomplete unlocks (the run's process is gone) and writes it again.
    ecsv = "results/demo/sample.ecsv"
    (workdir / ".snakemake/locks").mkdir(parents=True, exist_ok=True)
    (workdir / ".snakemake/locks/0.output.lock").write_text(f"{workdir / ecsv}\n")
    mark_incomplete(workdir, ecsv, time.time())
    resumed = []
    for rerun_incomplete in (False, True):
        code = (
            "import mwlc; mwlc.run(configfile='config/demo.yaml', until='sample', cores=1, "
            f"rerun_incomplete={rerun_incomplete})"
        )
        resumed.append(
            subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True)
        )
    assert resumed[0].returncode != 0
    assert "Incomplete files:\nresults/demo/sample.ecsv" in resumed[0].stderr
    assert resumed[1].returncode == 0, resumed[1].stderr
    assert job_counts(resumed[1]) == {"sample": 1}
    assert not (workdir / ".snakemake/locks/0.output.lock").exists()  # unlocked


def test_reading_one_archive_of_the_demo_opens_no_other_partition(demo_run, tmp_path):
    import mwlc

    shutil.copytree(demo_run / "results/demo/lightcurves.parquet", tmp_path / "lightcurves.parquet")
    for path in (tmp_path / "lightcurves.parquet").glob("archive=*/shard-*.parquet"):
        if path.parent.name != "archive=ztf":
            path.write_bytes(b"not parquet: must never be opened")
    frame = mwlc.load_lightcurves(tmp_path, archives=["ztf"], objectids=[1, 2, 3])
    everything = pd.read_parquet(demo_run / "results/demo/lightcurves.parquet")
    ids = everything.index.get_level_values("objectid")
    expected = everything[(everything["archive"] == "ztf") & ids.isin([1, 2, 3])]
    assert len(frame) == len(expected) > 0
    assert rows_of(frame) == rows_of(expected)


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    """A light-curve frame's rows as sorted plain tuples (category dictionaries differ by read)."""
    flat = frame.reset_index()[["objectid", "label", "band", "time", "flux", "err"]]
    return sorted(flat.astype({"label": str, "band": str}).itertuples(index=False, name=None))


#: The kill test's archives: two whose jobs are short (what is tested is Snakemake's bookkeeping and
#: the shard files' atomic writes, the same for every archive).
KILL_ARCHIVES = ("wise", "heasarc")


def test_a_killed_run_redoes_only_unfinished_jobs(tmp_path):
    workdir = new_workdir(tmp_path)
    restrict_to_archives(workdir, KILL_ARCHIVES)
    snakemake(workdir, "--cores", "1", "--until", "build_demo_archive", "sample")
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
        "--cores",
        "1",
    ]
    log = (workdir / "run.log").open("w")
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    dataset = workdir / "results/demo/lightcurves.parquet"
    total = len(KILL_ARCHIVES) * N_SHARDS
    deadline = time.monotonic() + 300
    # Kill Snakemake and its jobs as soon as it has recorded one finished fetch job.
    while (
        "(Rule: fetch_lightcurves)" not in (workdir / "run.log").read_text() and time.monotonic() < deadline
    ):
        assert proc.poll() is None, (workdir / "run.log").read_text()
        time.sleep(0.1)
    status_during = run_status(workdir / "results/demo")  # mwlc status: checked in the block below
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    status_killed = run_status(workdir / "results/demo")
    finished = {p: p.stat().st_mtime_ns for p in dataset.glob("archive=*/shard-*.parquet")}
    assert 1 <= len(finished) < total, f"{len(finished)} of {total} shards finished before the kill"
    partial = pd.read_parquet(dataset)  # a half-written shard is never read as data
    assert len(partial) == sum(pq.read_metadata(path).num_rows for path in finished)
    snakemake(workdir, "--unlock")
    counts = job_counts(snakemake(workdir, "-n", "--quiet", "rules", "--rerun-incomplete"))
    assert "sample" not in counts and "build_demo_archive" not in counts
    # Only jobs without a recorded, complete output run again (a job killed between its rename
    # and Snakemake's bookkeeping is legitimately redone).
    assert total - len(finished) <= counts["fetch_lightcurves"] < total
    snakemake(workdir, "--cores", "2", "--rerun-incomplete", "--until", "merge_lightcurves")
    kept = [path for path, mtime in finished.items() if path.stat().st_mtime_ns == mtime]
    assert len(kept) == total - counts["fetch_lightcurves"]
    assert (workdir / "results/demo/summary.csv").exists()

    # --- mwlc status (issue 16.4) on this run: while it went on, after the kill, at the end ------
    assert status_during.running and status_during.archives and status_during.n_shards == N_SHARDS
    assert sum(a.done for a in status_during.archives) >= 1
    assert all(a.failed == a.interrupted == 0 and a.to_do >= 0 for a in status_during.archives)
    assert not status_killed.running and "killed" in status_killed.snakemake
    assert sorted(a.archive for a in status_killed.archives) == sorted(KILL_ARCHIVES)
    assert sum(a.running + a.failed for a in status_killed.archives) == 0
    # what status calls left is exactly what Snakemake reran
    assert sum(a.to_do + a.interrupted for a in status_killed.archives) == counts["fetch_lightcurves"]
    assert sum(a.rows for a in status_killed.archives) <= len(partial)
    final = run_status(workdir / "results/demo")
    assert not final.running and final.failed_jobs == []
    assert all(a.done == N_SHARDS for a in final.archives)
    assert "merge_lightcurves: done" in final.stages


def test_lint_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--configfile", "config/demo.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_is_clean():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    result = subprocess.run([str(snakefmt), "--check", "workflow/"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
