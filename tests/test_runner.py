"""mwlc.run's guard before it unlocks a run (the runs themselves: tests/test_workflow.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mwlc.run_plan import write_run_plan
from mwlc.runner import _refuse_if_running


def test_rerun_incomplete_is_refused_while_another_process_runs_the_run(tmp_path):
    _refuse_if_running(tmp_path)  # no run.json: a run begun before mwlc wrote one, or none
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        plan = write_run_plan(tmp_path, run_id="r", archives=["ztf"], n_shards=1)
        _refuse_if_running(tmp_path)  # this process started it, and its run has ended
        plan.write_text(json.dumps({**json.loads(plan.read_text()), "pid": other.pid}))
        with pytest.raises(RuntimeError, match=rf"still running \(pid {other.pid}, started "):
            _refuse_if_running(tmp_path)
    finally:
        other.kill()
        other.wait()
    _refuse_if_running(tmp_path)  # that process is gone: a killed run


def test_the_profiles_cap_the_services_as_mwlc_run_does():
    """One set of numbers: both profiles' ``resources`` are DEFAULT_CAPS, which mwlc.run applies
    (it reads no profile: before, a notebook run had no service cap at all)."""
    from pathlib import Path

    import yaml

    from mwlc.archives.services import DEFAULT_CAPS, SERVICES
    from mwlc.runner import RERUN_TRIGGERS

    assert set(DEFAULT_CAPS) == set(SERVICES)
    for profile in ("default", "slurm"):
        config = yaml.safe_load(
            (Path(__file__).parents[1] / "profiles" / profile / "config.yaml").read_text()
        )
        resources = config["resources"]
        assert {name: int(value) for name, value in resources.items()} == DEFAULT_CAPS, profile
        assert config["keep-going"] is True, profile
        assert config["rerun-triggers"] == list(RERUN_TRIGGERS), profile
    assert (
        "cpus_per_task"
        not in yaml.safe_load((Path(__file__).parents[1] / "profiles/slurm/config.yaml").read_text())[
            "default-resources"
        ]
    )


def test_mwlc_run_gives_snakemake_the_service_caps_and_keeps_going(monkeypatch, tmp_path):
    import snakemake.api

    from mwlc.machine import HEAD_RESERVE_MB
    from mwlc.runner import run, service_caps

    seen = {}

    class Api:
        def __init__(self, output_settings):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def workflow(self, **settings):
            seen["resources"] = dict(settings["resource_settings"].resources)
            seen["cores"] = settings["resource_settings"].cores
            return self

        def dag(self, dag_settings=None):
            seen["rerun_triggers"] = {trigger.name for trigger in dag_settings.rerun_triggers}
            return self

        def execute_workflow(self, execution_settings):
            seen["keep_going"] = execution_settings.keep_going

    monkeypatch.setattr(snakemake.api, "SnakemakeApi", Api)
    # a notebook server of 4 CPUs with 14 GB free in its container: its limits, not the node's
    monkeypatch.setattr("mwlc.runner.usable_cpus", lambda: 4)
    monkeypatch.setattr("mwlc.machine.available_memory_mb", lambda **where: 14_000.0)
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text("run_id: r\n")
    run(workdir=tmp_path, resources={"heasarc_tap": 1})
    assert seen == {
        "resources": {**service_caps(), "heasarc_tap": 1, "mem_mb": 14_000 - HEAD_RESERVE_MB},
        "cores": 4,
        "keep_going": True,
        # no CODE: an upgrade that edits a rule's script does not redo its finished jobs
        "rerun_triggers": {"MTIME", "PARAMS", "INPUT", "SOFTWARE_ENV"},
    }
    run(workdir=tmp_path, cores=2, resources={"mem_mb": 6000})
    assert seen["resources"] == {**service_caps(), "mem_mb": 6000} and seen["cores"] == 2
    with pytest.raises(ValueError, match=r"\['heasarc'\] are not services"):
        service_caps({"heasarc": 1})
    for bad in (0, -5, 1.5, True, None):
        with pytest.raises(ValueError, match=rf"mem_mb={bad!r} is not a whole number >= 1"):
            service_caps({"mem_mb": bad})


def test_the_sample_rule_is_never_retried_and_fetch_jobs_get_more_time_on_retries():
    """The profiles' ``retries: 1`` would rerun a refused sample (querying every source again);
    a fetch job killed at its time limit is given more on its next attempt."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    from mwlc.runner import SNAKEFILE, default_workdir

    workdir = default_workdir()
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[workdir / "config/demo.yaml"]),
            snakefile=SNAKEFILE,
            workdir=workdir,
        )._workflow
        # the rule's own setting, which wins over --retries (Rule.restart_times reads it first)
        assert workflow.get_rule("sample")._restart_times == 0
        runtime = workflow.globals["fetch_runtime"]
        assert [runtime({"archive": "hcv"}, attempt=k) for k in (1, 2, 3)] == [240, 480, 720]


def test_the_monitor_holds_no_core_and_no_memory_of_the_run():
    """Snakemake lowers a job's mem_mb to the run's global one (mwlc.run sets it): such a job
    could never start beside a monitor that held memory of its own, nor a job of --cores 1 beside
    one that held a core. The monitor would then see no job and fail the run."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    from mwlc.runner import SNAKEFILE, default_workdir

    workdir = default_workdir()
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(cores=1, resources={"mem_mb": 3000}),
            config_settings=ConfigSettings(configfiles=[workdir / "config/demo.yaml"]),
            snakefile=SNAKEFILE,
            workdir=workdir,
        )._workflow
        monitor = workflow.get_rule("monitor_resources")
        assert monitor.resources["mem_mb"] == 0 and monitor.resources["_cores"] == 0
