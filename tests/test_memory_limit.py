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

from mwlc.limits import in_slurm_executor_job, job_memory_limit, slurm_allocation_mb

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
        ("TRES=cpu=4,mem=8G,node=2,billing=4", 4096),  # the job's total: this node's share
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
    if in_slurm_executor_job(psutil.Process()):
        pytest.skip("these tests run inside a SLURM job")
    for environ in ({"SLURM_MEM_PER_NODE": "3000", "SLURM_JOB_ID": "7"}, {}):
        limit = job_memory_limit(3000, environ=environ)  # no slurmstepd above pytest
        assert (limit.limit_mb, limit.text) == (3000.0, "mem_mb=3000 MB")


#: A process holding ~``argv[1]`` MB until its stdin closes.
_HOLD = """
    import sys
    import numpy as np
    held = np.ones(int(sys.argv[1]) * 1_000_000 // 8)
    print("ready", flush=True)
    sys.stdin.read()
"""
#: Under a copy of sh named slurmstepd: the job's Snakemake in the step, holding ~300 MB, runs the
#: script, which starts a child of its own (~100 MB: not the job's other processes) and prints
#: what it measures.
_STEP_SNAKEMAKE = """
    import subprocess, sys
    import numpy as np
    held = np.ones(300_000_000 // 8)
    subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]], check=True)
"""
_SCRIPT = """
    import json, os, subprocess, sys
    import psutil
    from mwlc.limits import job_memory_limit, job_neighbours_rss_mb
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], "100"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    me = psutil.Process()
    job = os.environ["SLURM_JOB_ID"]
    limits = {
        mem_mb: vars(job_memory_limit(mem_mb, environ={"SLURM_MEM_PER_NODE": "3000", "SLURM_JOB_ID": job}))
        for mem_mb in (2000, 3000)
    }
    print(json.dumps({
        "neighbours_mb": job_neighbours_rss_mb(me, job),
        "step_snakemake_mb": me.parent().memory_info().rss / 1e6,
        "limits": limits,
    }))
    child.stdin.close()
"""


@pytest.fixture(scope="module")
def in_a_slurm_job(tmp_path_factory) -> dict:
    """What the script measures in a SLURM executor's job (its Snakemake in ``--mode remote``)
    whose batch step's Snakemake holds ~200 MB, beside a process of another job holding ~150 MB."""
    return _measured_in_a_slurm_job(tmp_path_factory, ["--mode", "remote"])


@pytest.fixture(scope="module")
def in_a_local_run_in_an_allocation(tmp_path_factory) -> dict:
    """The same below a local Snakemake (``sbatch --wrap "snakemake --cores 16"``)."""
    return _measured_in_a_slurm_job(tmp_path_factory, [])


def _measured_in_a_slurm_job(tmp_path_factory, mode: list[str]) -> dict:
    job_id = str(900_000 + os.getpid() + len(mode))
    hold = textwrap.dedent(_HOLD)
    holders = {}
    for name, job, mb in (("batch_snakemake", job_id, 200), ("other_job", job_id + "1", 150)):
        holders[name] = subprocess.Popen(
            [sys.executable, "-c", hold, str(mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "SLURM_JOB_ID": job},
        )
        assert holders[name].stdout.readline().strip() == "ready"
    try:
        launcher = tmp_path_factory.mktemp("slurm") / "slurmstepd"
        shutil.copy("/bin/sh", launcher)
        step = [sys.executable, "-c", textwrap.dedent(_STEP_SNAKEMAKE), textwrap.dedent(_SCRIPT), hold, *mode]
        result = subprocess.run(
            [str(launcher), "-c", shlex.join(step) + "; true"],  # `; true`: sh must not exec python
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SLURM_JOB_ID": job_id},
        )
        assert result.returncode == 0, result.stderr
        measured = json.loads(result.stdout)
        measured["batch_snakemake_mb"] = (
            psutil.Process(holders["batch_snakemake"].pid).memory_info().rss / 1e6
        )
    finally:
        for holder in holders.values():
            holder.communicate()
    return measured


def test_the_jobs_other_processes_are_measured(in_a_slurm_job):
    """Both Snakemake processes of the job count (the step's, a parent of the script, and the
    batch step's, which is not); the script's own child, another job's process and slurmstepd
    do not."""
    expected_mb = in_a_slurm_job["step_snakemake_mb"] + in_a_slurm_job["batch_snakemake_mb"]
    assert in_a_slurm_job["neighbours_mb"] == pytest.approx(expected_mb, abs=10)
    assert in_a_slurm_job["neighbours_mb"] > 500


def test_in_a_slurm_job_the_limit_leaves_room_for_the_jobs_own_snakemake(in_a_slurm_job):
    """SLURM counts the job's Snakemake processes against the allocation: with --mem=3000
    (3,146 MB), a script limited at 3,000 MB would meet SLURM's OOM kill before its watchdog."""
    neighbours_mb = in_a_slurm_job["neighbours_mb"]
    lowered = in_a_slurm_job["limits"]["3000"]
    assert lowered["limit_mb"] == pytest.approx(3000 * MIB_IN_MB - neighbours_mb, abs=5)
    assert lowered["text"] == (
        f"{lowered['limit_mb']:.0f} MB (SLURM's allocation of 3146 MB on this node less "
        f"{neighbours_mb:.0f} MB held by the job's other processes, its Snakemake among them)"
    )
    unchanged = in_a_slurm_job["limits"]["2000"]  # room enough
    assert unchanged == {"limit_mb": 2000.0, "text": "mem_mb=2000 MB"}


def test_the_fetch_jobs_watchdog_enforces_the_lowered_limit():
    from mwlc.fetch import _memory_limit
    from mwlc.limits import JobMemoryLimit, MemoryWatchdog

    lowered = JobMemoryLimit(2943.2, "2943 MB (SLURM's allocation of 3146 MB on this node less ...)")
    watchdog = _memory_limit(lowered, "ztf", "shard-0000.parquet")
    assert isinstance(watchdog, MemoryWatchdog)
    assert (watchdog.mem_mb, watchdog.limit_text) == (2943.2, lowered.text)
    assert watchdog.message(3000.0).startswith(
        "fetching ztf light curves of shard-0000.parquet exceeded its memory limit: resident memory "
        f"3000 MB > {lowered.text}; raise the job's memory"
    )


def test_a_local_run_inside_an_allocation_keeps_mem_mb(in_a_local_run_in_an_allocation):
    """Its jobs share the allocation with each other, as Snakemake's mem_mb accounts: one job's
    limit is not lowered by what the others hold when it starts."""
    assert in_a_local_run_in_an_allocation["limits"]["3000"] == {"limit_mb": 3000.0, "text": "mem_mb=3000 MB"}
