"""A job's memory limit on a SLURM node: the allocation less the job's own Snakemake processes."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap

import psutil
import pytest

from mwlc.limits import job_memory_limit, launched_parents_rss_mb, slurm_allocation_mb

MIB_IN_MB = 1.048576


@pytest.mark.parametrize(
    ("environ", "expected_mb"),
    [
        ({"SLURM_MEM_PER_NODE": "3000"}, 3000 * MIB_IN_MB),  # --mem=3000: MiB
        ({"SLURM_MEM_PER_CPU": "1000", "SLURM_CPUS_ON_NODE": "2"}, 2000 * MIB_IN_MB),
        ({"SLURM_MEM_PER_NODE": "0"}, None),  # --mem=0: the node's whole memory
        ({"SLURM_MEM_PER_CPU": "1000"}, None),  # CPUs unknown
        ({}, None),  # not a SLURM job
    ],
)
def test_the_slurm_allocation_is_read_from_the_job_environment(environ, expected_mb):
    assert slurm_allocation_mb(environ) == (None if expected_mb is None else pytest.approx(expected_mb))


#: ``scontrol --oneliner show job`` of a running job, cut (Slurm 22.05 writes ``TRES=``).
_SHOW_JOB = (
    "JobId=3 JobName=python JobState=RUNNING NumCPUs=2 ReqTRES=cpu=1,mem=100M,node=1 {tres} "
    "MinMemoryNode=3000M"
)


@pytest.mark.parametrize(
    ("tres", "expected_mib"),
    [
        ("TRES=cpu=2,mem=3000M,node=1,billing=2", 3000),
        ("AllocTRES=cpu=2,mem=2.5G,node=1", 2560),
        ("TRES=cpu=2,node=1", None),  # no memory allocated: the request (ReqTRES) is not read
    ],
)
def test_a_job_step_without_the_memory_variables_asks_scontrol(tres, expected_mib):
    """A step started by srun (as the SLURM executor starts a job's Snakemake) has no
    SLURM_MEM_PER_NODE: the allocation is read from ``scontrol show job``."""
    asked = []

    def show_job(job_id: str) -> str:
        asked.append(job_id)
        return _SHOW_JOB.format(tres=tres)

    allocation_mb = slurm_allocation_mb({"SLURM_JOB_ID": "3"}, show_job=show_job)
    assert asked == ["3"]
    assert allocation_mb == (None if expected_mib is None else pytest.approx(expected_mib * MIB_IN_MB))
    assert slurm_allocation_mb({"SLURM_MEM_PER_NODE": "100", "SLURM_JOB_ID": "3"}, show_job=show_job)
    assert asked == ["3"]  # the batch environment's variables need no question


def test_outside_slurm_the_limit_is_mem_mb():
    assert launched_parents_rss_mb(psutil.Process()) is None  # no slurmstepd above pytest
    limit = job_memory_limit(3000, environ={"SLURM_MEM_PER_NODE": "3000"})
    assert (limit.limit_mb, limit.text) == (3000.0, "mem_mb=3000 MB")
    assert job_memory_limit(2500, environ={}).text == "mem_mb=2500 MB"


#: Run under a copy of sh named slurmstepd: a parent (the job's Snakemake) holding ~300 MB starts
#: the script, which prints what it measures.
_PARENT = """
    import subprocess, sys
    import numpy as np
    held = np.ones(300_000_000 // 8)
    subprocess.run([sys.executable, "-c", sys.argv[1]], check=True)
"""
_SCRIPT = """
    import json, psutil
    from mwlc.limits import job_memory_limit, launched_parents_rss_mb
    me = psutil.Process()
    limits = {
        mem_mb: vars(job_memory_limit(mem_mb, environ={"SLURM_MEM_PER_NODE": "3000"}))
        for mem_mb in (2000, 3000)
    }
    print(json.dumps({
        "parents_mb": launched_parents_rss_mb(me),
        "parent_rss_mb": me.parent().memory_info().rss / 1e6,
        "limits": limits,
    }))
"""


@pytest.fixture(scope="module")
def under_slurmstepd(tmp_path_factory) -> dict:
    launcher = tmp_path_factory.mktemp("slurm") / "slurmstepd"
    shutil.copy("/bin/sh", launcher)
    parent = [sys.executable, "-c", textwrap.dedent(_PARENT), textwrap.dedent(_SCRIPT)]
    command = shlex.join(parent) + "; true"  # `; true`: sh must not exec python in its place
    result = subprocess.run(
        [str(launcher), "-c", command], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_parents_below_slurmstepd_are_measured(under_slurmstepd):
    # the job's Snakemake holds ~300 MB; sh itself (slurmstepd here) is not counted
    assert under_slurmstepd["parents_mb"] == pytest.approx(under_slurmstepd["parent_rss_mb"], abs=5)
    assert under_slurmstepd["parents_mb"] > 300


def test_in_a_slurm_job_the_limit_leaves_room_for_the_jobs_own_snakemake(under_slurmstepd):
    """SLURM counts the job's Snakemake against the allocation: with --mem=3000 (3,146 MB), a
    script limited at 3,000 MB would meet SLURM's OOM kill before its watchdog."""
    parents_mb = under_slurmstepd["parents_mb"]
    limits = under_slurmstepd["limits"]
    lowered = limits["3000"]
    assert lowered["limit_mb"] == pytest.approx(3000 * MIB_IN_MB - parents_mb, abs=5)
    assert lowered["text"] == (
        f"{lowered['limit_mb']:.0f} MB (SLURM's allocation of 3146 MB less {parents_mb:.0f} MB used "
        "by the job's own Snakemake processes)"
    )
    assert limits["2000"] == {"limit_mb": 2000.0, "text": "mem_mb=2000 MB"}  # room enough: unchanged
