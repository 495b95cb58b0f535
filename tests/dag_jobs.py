"""The jobs of the workflow's DAG, as Snakemake builds them, without running anything."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.test_workflow import SNAKEFILE, new_workdir

#: Shards of the run in :func:`remote_run_dag`.
REMOTE_RUN_SHARDS = 20

# Every job of the DAG (--forceall) with its resources and whether it runs on the head node under
# a cluster executor, through Snakemake's API: a dry run prints neither for rules with a
# `message:`. One JSON line per job.
DAG_JOBS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings, DAGSettings, OutputSettings, Quietness, ResourceSettings,
    )

    snakefile, workdir, *configfiles = sys.argv[1:]
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=2),
            config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles]),
            snakefile=Path(snakefile),
            workdir=Path(workdir),
        )
        workflow_api.dag(DAGSettings())
        workflow = workflow_api._workflow
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        for job in workflow.dag.jobs:
            resources = {k: v for k, v in job.resources.items() if isinstance(v, int)}
            local = job.rule.name in workflow._localrules or job.rule.norun  # as Workflow.is_local
            print(json.dumps({"rule": job.rule.name, "wildcards": dict(job.wildcards.items()),
                              "resources": resources, "local": local}))
""")


def dag_jobs(workdir: Path, *configfiles: str) -> list[dict]:
    """``{"rule", "wildcards", "resources", "local"}`` of every job, Snakemake run in ``workdir``."""
    result = subprocess.run(
        [sys.executable, "-c", DAG_JOBS, str(SNAKEFILE), str(workdir), *configfiles],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="session")
def remote_run_dag(tmp_path_factory) -> list[dict]:
    """The DAG's jobs (:func:`dag_jobs`) of a real run's config: config.yaml's remote sources
    (HEASARC from a local copy), the demo's sample file, :data:`REMOTE_RUN_SHARDS` shards."""
    workdir = new_workdir(tmp_path_factory.mktemp("remote-dag"))
    (workdir / "config" / "remote.yaml").write_text(
        yaml.safe_dump(
            {
                "n_shards": REMOTE_RUN_SHARDS,
                "sample": {"sources": [{"source": "file", "path": "config/demo_sample.csv"}]},
                "archives": {"heasarc": {"source": "resources/heasarc"}},
            }
        )
    )
    return dag_jobs(workdir, "config/remote.yaml")
