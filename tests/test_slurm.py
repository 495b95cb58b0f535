"""The demo workflow on a real single-node SLURM cluster, through ``--workflow-profile profiles/slurm``.

The cluster (munged, slurmctld, slurmd from Debian's slurm-wlm) is started by
tests/servers/slurm.py; its data must equal the local run's, job for job. The run holds one of the
demo's archives (ZTF, read through lsdb), every shard, the merge and the report's figures: what is
proven is that each job runs as an sbatch job and changes no byte. More archives would only repeat
that, while every round of dependent jobs waits 12-33 s for the executor's next status check.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter

import pytest
import yaml

from tests.dag_jobs import REMOTE_RUN_SHARDS
from tests.fixtures_workflow import RUN, assert_same_data, workdir_for_archives
from tests.servers.slurm import slurm_cluster  # noqa: F401  (fixture)
from tests.test_workflow import N_SHARDS, REPO, snakemake

pytestmark = pytest.mark.workflow

PROFILE = REPO / "profiles" / "slurm"
#: The archives of the SLURM run: their demo snapshots come from the local run.
ARCHIVES = ("ztf",)
#: Jobs that run on the cluster: sample, preflight and fetch per archive (and shard), merge.
CLUSTER_JOBS = 1 + len(ARCHIVES) * (1 + N_SHARDS) + 1
#: Jobs on the head node: gather per archive, the benchmark table, four figures (no monitor).
LOCAL_JOBS = len(ARCHIVES) + 1 + 4


def test_profile_keeps_site_keys_out_and_status_on_squeue():
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"  # sacct hangs without slurmdbd
    assert profile["slurm-efficiency-report"] is True
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    assert not {"slurm_partition", "slurm_account"} & set(profile["default-resources"])
    text = (PROFILE / "config.yaml").read_text()
    assert "# slurm_partition:" in text and "# slurm_account:" in text  # the two keys a site sets


def test_only_sample_preflight_fetch_and_merge_jobs_go_to_the_cluster(remote_run_dag):
    """One sbatch job per fetch (archive x shard), plus the sample, one preflight per archive (it
    opens the source from where the fetch jobs will) and the merge; the gather, plot and
    benchmark-table jobs run on the head node."""
    archives = {job["wildcards"]["archive"] for job in remote_run_dag if job["rule"] == "fetch_lightcurves"}
    submitted = Counter(job["rule"] for job in remote_run_dag if not job["local"])
    assert submitted == {
        "sample": 1,
        "preflight": len(archives),
        "fetch_lightcurves": len(archives) * REMOTE_RUN_SHARDS,
        "merge_lightcurves": 1,
    }
    local = {job["rule"] for job in remote_run_dag if job["local"]}
    assert local == {"gather_archive", "gather_benchmarks", "monitor_resources", "all"} | {
        f"plot_{figure}" for figure in ("resources", "benchmarks", "coverage", "sky", "lightcurves")
    }


def test_sbatch_runs_a_job_on_the_node(slurm_cluster, tmp_path):  # noqa: F811
    out = tmp_path / "job.out"
    submit = subprocess.run(
        ["sbatch", "--parsable", "--wait", "-o", str(out), "--wrap", "echo on $SLURMD_NODENAME"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert submit.returncode == 0, submit.stderr + slurm_cluster.daemon_logs()
    assert out.read_text() == "on localhost\n"


def test_demo_workflow_on_slurm_equals_the_local_run(slurm_cluster, local_demo_run, tmp_path):  # noqa: F811
    workdir = workdir_for_archives(local_demo_run, tmp_path, ARCHIVES)
    started = time.monotonic()
    try:
        result = snakemake(
            workdir,
            "--workflow-profile",
            str(PROFILE),
            "--slurm-init-seconds-before-status-checks",
            "1",  # the profile's 20 s is for real queues
            timeout=600,
        )
    except (AssertionError, subprocess.TimeoutExpired) as err:
        raise AssertionError(f"{err}\n{slurm_cluster.daemon_logs()}") from None
    print(f"demo on SLURM: {time.monotonic() - started:.1f} s")
    output = result.stdout + result.stderr
    job_ids = re.findall(r"submitted with SLURM jobid (\d+)", output)
    assert len(job_ids) == CLUSTER_JOBS, output
    states = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i %T %C %k", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    jobs = [line.split() for line in states if line]
    assert sorted(f"{job} {state}" for job, state, _, _ in jobs) == sorted(
        f"{job} COMPLETED" for job in job_ids
    )
    # each job asks SLURM for its rule's threads: a fetch job 2 CPUs (the profile's default of 1 did)
    cpus = {comment.split("_wildcards_")[0].removeprefix("rule_"): int(n) for _, _, n, comment in jobs}
    assert cpus["fetch_lightcurves"] == 2 and cpus["merge_lightcurves"] == 1, jobs
    assert_same_data(workdir, local_demo_run, archives=ARCHIVES)
    # SLURM counts each job's own Snakemake against its allocation: the watchdog leaves room for it
    fetch_logs = sorted(workdir.glob("logs/*/fetch_lightcurves/*/shard-*.log"))
    assert len(fetch_logs) == len(ARCHIVES) * N_SHARDS
    for log in fetch_logs:
        text = log.read_text()
        lowered = re.search(
            r"memory limit (\d+ MB \(SLURM's allocation of 3146 MB on this node less (\d+) MB held by "
            r"the job's other processes, its Snakemake among them\))",
            text,
        )
        assert lowered and int(lowered[2]) > 300, text  # its two Snakemake processes
        assert re.search(rf"peak resident memory \d+ MB of {re.escape(lowered[1])}", text), text  # watched
    # Each job's benchmark is written where it ran. The monitor, which only sees this machine, is off,
    # so the local jobs are the gathers, gather_benchmarks and four plots (no resource overview).
    assert len(list((workdir / RUN / "benchmarks").rglob("*.tsv"))) == CLUSTER_JOBS + LOCAL_JOBS
    assert not (workdir / RUN / "monitor").exists()
    assert not (workdir / RUN / "figures/resources.png").exists()
