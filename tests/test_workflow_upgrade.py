"""A run that an older mwlc started goes on after an upgrade without refetching finished shards.

Two things used to make Snakemake redo them: params that no longer are params (the archives'
request settings, recorded by runs made before 2026-12-07), and the rule scripts' mtime (an
upgrade that edits a script makes every finished job of that rule older than it)."""

from __future__ import annotations

import ast
import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from mwlc.archives.registry import get_archive
from mwlc.preflight import settings_key
from tests.test_workflow import ARCHIVES as DEMO_ARCHIVES
from tests.test_workflow import N_SHARDS, REPO, edit_demo_config, job_counts, snakemake
from tests.test_workflow_preflight import copy_of_run

pytestmark = pytest.mark.workflow

#: The demo archives whose request settings were params before 2026-12-07.
REQUEST_ARCHIVES = ("heasarc", "wise")


def record_as_an_older_mwlc(workdir: Path, archive: str) -> int:
    """Rewrite the records of ``archive``'s fetch jobs as mwlc wrote them before 2026-12-07: its
    request settings (config.yaml's defaults) among the params, the preflight report named with
    them (the report renamed so, and recorded with those params, as in such a run). Returns the
    fetch records rewritten."""
    described = get_archive(archive)
    reading = described.reading_params(described.defaults())
    source = f"resources/demo/{archive}"
    rewritten = 0
    shards = [
        path
        for path in (workdir / ".snakemake/metadata").iterdir()
        if f"/archive={archive}/" in base64.urlsafe_b64decode(path.name).decode()
    ]
    for path in shards:
        record = json.loads(path.read_text())
        assert record["rule"] == "fetch_lightcurves"
        new, old = with_request_settings(record, reading)
        (report,) = [name for name in record["input"] if "/preflight/" in name]
        old_report = f"results/demo/preflight/{archive}-{settings_key(source, old, None)}.txt"
        assert report == f"results/demo/preflight/{archive}-{settings_key(source, new, None)}.txt"
        record["input"] = [old_report if name == report else name for name in record["input"]]
        path.write_text(json.dumps(record))
        if (workdir / report).exists():  # the run never had today's report: it is renamed
            (workdir / report).rename(workdir / old_report)
            report_record = json.loads(metadata_path(workdir, report).read_text())
            with_request_settings(report_record, reading)
            metadata_path(workdir, old_report).write_text(json.dumps(report_record))
            metadata_path(workdir, report).unlink()
        rewritten += 1
    return rewritten


def with_request_settings(record: dict, reading: dict) -> tuple[dict, dict]:
    """Put ``reading`` into the archive params of a job's record (in place), as a checked config
    ordered them (sorted keys); returns the params before and after."""
    (params,) = [text for text in record["params"] if text.startswith("{")]
    new = ast.literal_eval(params)
    old = dict(sorted({**new, **reading}.items()))
    record["params"] = sorted([text for text in record["params"] if text != params] + [repr(old)])
    return new, old


def metadata_path(workdir: Path, output: str) -> Path:
    """Where Snakemake keeps the record of ``output`` (relative to ``workdir``)."""
    return workdir / ".snakemake/metadata" / base64.urlsafe_b64encode(output.encode()).decode()


def test_shards_recorded_with_request_settings_as_params_are_not_fetched_again(local_demo_run, tmp_path):
    old = copy_of_run(local_demo_run, tmp_path / "old")
    for archive in REQUEST_ARCHIVES:
        assert record_as_an_older_mwlc(old, archive) == N_SHARDS
    until_merge = ("-n", "--quiet", "rules", "--until", "merge_lightcurves")
    assert job_counts(snakemake(old, *until_merge)) == {}
    # a fetch forced on purpose is not put off by a preflight that runs first (its params, too,
    # are those its report was recorded with)
    forced = job_counts(snakemake(old, *until_merge, "--forcerun", "fetch_lightcurves"))
    assert forced["fetch_lightcurves"] == N_SHARDS * len(DEMO_ARCHIVES) and "preflight" not in forced

    # raising a timeout in the middle of such a run refetches nothing either
    patient = {"heasarc": {"timeout_s": 1200, "retries": 6}, "wise": {"batch_rows": 500}}
    edit_demo_config(old, {"archives": patient})
    assert job_counts(snakemake(old, *until_merge)) == {}

    # a science key does: that archive's shards, with today's params
    fermi = {"FERMIGTRIG": {"max_error_radius_arcsec": 1800}}
    edit_demo_config(old, {"archives": {"heasarc": {"catalogs": fermi}}})
    counts = job_counts(snakemake(old, *until_merge))
    assert counts["fetch_lightcurves"] == N_SHARDS and counts["preflight"] == 1


def aged_copy_of_run(run: Path, target: Path, years: float = 10) -> Path:
    """A copy of a finished demo run (config, results, demo snapshots, records) whose every file
    is ``years`` older, in the same order: the rule scripts are then newer than every output, as
    after an upgrade that edits them all."""
    target.mkdir()
    for part in ("config", "results", "resources", ".snakemake/metadata"):
        shutil.copytree(run / part, target / part)  # copy2: the times are kept
    shift = years * 365.25 * 86400
    for path in sorted(target.rglob("*")):
        stat = path.lstat()
        os.utime(path, (stat.st_atime - shift, stat.st_mtime - shift), follow_symlinks=False)
    return target


def test_an_upgrade_that_edits_the_rule_scripts_redoes_no_finished_job(local_demo_run, tmp_path):
    aged = aged_copy_of_run(local_demo_run, tmp_path / "aged")
    dry_run = ("-n", "--quiet", "rules", "--until", "merge_lightcurves")
    # Snakemake's own default: every job whose script is newer than its output runs again
    default = job_counts(snakemake(aged, *dry_run, "--workflow-profile", "none"))
    assert default["fetch_lightcurves"] == len(list((aged / "results/demo/lightcurves.parquet").glob("*/*")))
    # the workflow profile's rerun triggers (and mwlc.run's) leave out the scripts' code
    profile = str(REPO / "profiles" / "default")
    assert job_counts(snakemake(aged, *dry_run, "--workflow-profile", profile)) == {}


def test_a_cluster_job_step_refetches_an_older_shard_without_looking_for_a_report(local_demo_run, tmp_path):
    """A SLURM job's own step (``--mode remote``) finds the shard of an older run gone when an
    earlier attempt removed it: it must not then ask for a preflight report of other settings
    (the main process ran the preflight before submitting the job)."""
    old = copy_of_run(local_demo_run, tmp_path / "old")
    record_as_an_older_mwlc(old, "heasarc")
    shard = "results/demo/lightcurves.parquet/archive=heasarc/shard-0000.parquet"
    (old / shard).unlink()
    metadata_path(old, shard).unlink()
    job = (
        "--target-jobs",
        "fetch_lightcurves:archive=heasarc,shard=0000",
        "--allowed-rules",
        "fetch_lightcurves",
    )
    snakemake(old, "--mode", "remote", *job, "--force", "--nolock", "--cores", "1")
    assert (old / shard).stat().st_size > 0


def test_a_new_note_or_patience_with_the_sample_services_rebuilds_no_sample_and_refetches_nothing(
    local_demo_run, tmp_path
):
    import pyarrow.parquet as pq

    run = copy_of_run(local_demo_run, tmp_path / "noted")
    until_merge = ("-n", "--quiet", "rules", "--until", "merge_lightcurves")
    # the note and the services' URLs are recorded, and so compared (a param function that took
    # the job's output would be "derived": neither recorded nor compared)
    note = edit_demo_config(run, {})["provenance_note"]
    shard = "results/demo/lightcurves.parquet/archive=wise/shard-0001.parquet"
    for output in (shard, "results/demo/sample.ecsv", "resources/demo/wise"):
        assert repr(note) in json.loads(metadata_path(run, output).read_text())["params"], output
    (services,) = [
        text
        for text in json.loads(metadata_path(run, "results/demo/sample.ecsv").read_text())["params"]
        if "ned_url" in text
    ]
    assert "timeout_s" not in services
    # a sample recorded before 2026-12-07 holds how hard its services were asked: still built
    older = {**ast.literal_eval(services), "timeout_s": 60, "retries": 3, "retry_backoff_s": 10}
    shards = [f"results/demo/sample_shards/shard-{i:04d}.parquet" for i in range(N_SHARDS)]
    for output in ("results/demo/sample.ecsv", *shards):  # the record of each of the job's outputs
        record = json.loads(metadata_path(run, output).read_text())
        record["params"] = sorted([text for text in record["params"] if text != services] + [repr(older)])
        metadata_path(run, output).write_text(json.dumps(record))
    edit_demo_config(run, {"services": {"timeout_s": 600, "retries": 8, "retry_backoff_s": 30}})
    assert job_counts(snakemake(run, *until_merge)) == {}
    edit_demo_config(run, {"provenance_note": "DEMO RUN, noted again on day 3"})
    counts = job_counts(snakemake(run, *until_merge))
    assert counts == {"gather_archive": len(DEMO_ARCHIVES), "merge_lightcurves": 1}

    # a shard fetched from now on writes the new note, and is then as finished as the others
    (run / shard).unlink()
    snakemake(run, "--cores", "1", shard)
    provenance = json.loads(pq.read_schema(run / shard).metadata[b"mwlc.provenance"])
    assert provenance["note"] == "DEMO RUN, noted again on day 3"
    counts = job_counts(snakemake(run, *until_merge))
    assert counts == {"gather_archive": len(DEMO_ARCHIVES), "merge_lightcurves": 1}

    # another service is another sample (then every shard is fetched again)
    edit_demo_config(run, {"services": {"ned_url": "https://ned.example.org"}})
    counts = job_counts(snakemake(run, *until_merge))
    assert counts["sample"] == 1 and counts["fetch_lightcurves"] == N_SHARDS * len(DEMO_ARCHIVES)
