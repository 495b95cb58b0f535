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
from tests.test_workflow import N_SHARDS, REPO, edit_demo_config, job_counts, snakemake
from tests.test_workflow_preflight import copy_of_run

pytestmark = pytest.mark.workflow

#: The demo archives whose request settings were params before 2026-12-07.
REQUEST_ARCHIVES = ("heasarc", "wise")


def record_as_an_older_mwlc(workdir: Path, archive: str) -> int:
    """Rewrite the records of ``archive``'s fetch jobs as mwlc wrote them before 2026-12-07: its
    request settings (config.yaml's defaults) among the params, the preflight report named with
    them (the report itself there too, as it is in such a run). Returns the records rewritten."""
    described = get_archive(archive)
    reading = described.reading_params(described.defaults())
    source = f"resources/demo/{archive}"
    rewritten = 0
    for path in (workdir / ".snakemake/metadata").iterdir():
        output = base64.urlsafe_b64decode(path.name).decode()
        record = json.loads(path.read_text())
        if record.get("rule") != "fetch_lightcurves" or f"archive={archive}/" not in output:
            continue
        (params,) = [text for text in record["params"] if text.startswith("{")]
        new = ast.literal_eval(params)
        old = dict(sorted({**new, **reading}.items()))  # a checked config's keys are sorted
        record["params"] = sorted([text for text in record["params"] if text != params] + [repr(old)])
        (report,) = [name for name in record["input"] if "/preflight/" in name]
        old_report = f"results/demo/preflight/{archive}-{settings_key(source, old, None)}.txt"
        assert report == f"results/demo/preflight/{archive}-{settings_key(source, new, None)}.txt"
        record["input"] = [old_report if name == report else name for name in record["input"]]
        if not (workdir / old_report).exists():
            shutil.copy2(workdir / report, workdir / old_report)
        path.write_text(json.dumps(record))
        rewritten += 1
    return rewritten


def test_shards_recorded_with_request_settings_as_params_are_not_fetched_again(local_demo_run, tmp_path):
    old = copy_of_run(local_demo_run, tmp_path / "old")
    for archive in REQUEST_ARCHIVES:
        assert record_as_an_older_mwlc(old, archive) == N_SHARDS
    until_merge = ("-n", "--quiet", "rules", "--until", "merge_lightcurves")
    assert job_counts(snakemake(old, *until_merge)) == {}

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
