"""The resource monitor: job naming, sampling of process trees, stop conditions, and the
monitor_resources rule in a tiny Snakemake workflow under --cores 1 and 2 (and a failing job)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import psutil
import pytest

from mwlc import monitor
from mwlc.monitor import USAGE_COLUMNS, JobName, Sampler, StopRules, run_monitor
from mwlc.monitor.snakemake_log import FailureWatch, find_snakemake_log

REPO = Path(__file__).resolve().parents[1]

# A stand-in for Snakemake's main process: starts each JSON argv read from stdin as a child.
FAKE_MAIN = textwrap.dedent("""
    import json, subprocess, sys, time
    children = [subprocess.Popen(json.loads(line)) for line in sys.stdin]
    time.sleep(600)
""")

# A job script as Snakemake writes it: the pickled `snakemake` object in the first line.
BUSY_JOB = textwrap.dedent("""
    import subprocess, time
    helper = subprocess.Popen(["sleep", "30"])
    end = time.time() + {seconds}
    while time.time() < end:
        pass
    helper.kill()
""")


def write_job_script(directory: Path, rule: str, wildcards: dict, body: str) -> str:
    """A `.snakemake/scripts/tmpXXXX.<name>.py` file with a Snakemake-style preamble."""
    payload = pickle.dumps(SimpleNamespace(rule=rule, wildcards=wildcards), protocol=4)
    preamble = (
        f"import sys; sys.path.extend([]); import pickle; snakemake = pickle.loads({payload!r}); "
        "from snakemake.logging import logger;"
    )
    path = directory / ".snakemake" / "scripts" / f"tmp1a2b3c.{rule}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "######## snakemake preamble start (automatically inserted, do not edit) ########\n"
        f"{preamble}\n######## snakemake preamble end #########\n{body}"
    )
    return os.path.relpath(path, directory)


class FakeSnakemake:
    """A parent process whose children play Snakemake jobs."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FAKE_MAIN], stdin=subprocess.PIPE, text=True, cwd=cwd
        )
        self.process = psutil.Process(self.proc.pid)

    def start(self, *argv: str) -> None:
        self.proc.stdin.write(json.dumps(list(argv)) + "\n")
        self.proc.stdin.flush()

    def wait_for_children(self, n: int, timeout: float = 10.0) -> list[psutil.Process]:
        deadline = time.monotonic() + timeout
        while len(self.process.children()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.process.children()

    def stop(self) -> None:
        """Kill the fake and its children; either may be gone already (a test's own stop)."""
        try:
            children = self.process.children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def fake(tmp_path):
    fake = FakeSnakemake(tmp_path)
    yield fake
    if fake.proc.poll() is None:
        fake.stop()


def test_job_names_and_snakemake_command_lines():
    assert monitor.job_name("fetch_lightcurves", {"archive": "ztf", "shard": "0001"}) == JobName(
        "fetch_lightcurves[archive=ztf,shard=0001]", "fetch_lightcurves", "archive=ztf,shard=0001"
    )
    assert monitor.job_name("merge_lightcurves", {}).job == "merge_lightcurves"
    assert monitor.is_snakemake_main(["/venv/bin/python", "-m", "snakemake", "--cores", "1"])
    assert monitor.is_snakemake_main(["/venv/bin/python3", "/venv/bin/snakemake", "--cores", "1"])
    assert monitor.is_snakemake_main(["python", "/venv/lib/python3.11/site-packages/snakemake/__main__.py"])
    assert not monitor.is_snakemake_main(["python", "/w/.snakemake/scripts/tmpab.monitor_resources.py"])
    assert not monitor.is_snakemake_main(["bash", "-c", "python /w/.snakemake/scripts/tmpab.x.py"])


def test_script_jobs_are_read_without_running_them(tmp_path):
    script = tmp_path / write_job_script(
        tmp_path, "fetch", {"archive": "ztf"}, "raise SystemExit('never run')\n"
    )
    assert monitor.read_script_job(str(script)) == JobName("fetch[archive=ztf]", "fetch", "archive=ztf")
    assert monitor.read_script_job(str(tmp_path / "gone.py")) is None
    (tmp_path / "plain.py").write_text("print('no preamble')\n")
    assert monitor.read_script_job(str(tmp_path / "plain.py")) is None


def test_shell_jobs_are_named_after_their_open_log(fake):
    (fake.cwd / "logs").mkdir()
    fake.start(sys.executable, "-c", "import time; log = open('logs/job.log', 'w'); time.sleep(30)")
    child = fake.wait_for_children(1)[0]
    deadline = time.monotonic() + 10
    while not any(f.path.endswith("job.log") for f in child.open_files()) and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the job has opened its log (under load, after its imports)
    assert monitor.identify_job([child]) == JobName(os.path.join("logs", "job.log"))


def test_targets_done_needs_new_files():
    assert monitor.targets_done({"a": None}, {"a": 5})
    assert not monitor.targets_done({"a": None, "b": None}, {"a": 5, "b": None})
    assert not monitor.targets_done({"a": 5}, {"a": 5})  # existed before the run: wait for its rewrite
    assert monitor.targets_done({"a": 5}, {"a": 6})


def test_sampler_names_jobs_and_sums_their_process_trees(fake):
    script = write_job_script(fake.cwd, "work", {"i": "3"}, BUSY_JOB.format(seconds=20))
    fake.start(sys.executable, script)
    fake.start("sleep", "30")
    fake.wait_for_children(2)
    sampler = Sampler(fake.process)
    sampler.sample()
    time.sleep(1.0)
    rows = pd.DataFrame(sampler.sample(), columns=USAGE_COLUMNS)
    assert rows["kind"].tolist()[:2] == ["system", "snakemake"]
    system = rows.iloc[0]
    assert system["load1"] >= 0 and system["mem_available_mib"] > 0 and system["mem_used_mib"] > 0
    jobs = rows[rows["kind"] == "job"].set_index("rule")
    work = jobs.loc["work"]
    assert (work["job"], work["wildcards"]) == ("work[i=3]", "i=3")
    assert work["n_pids"] == 2  # the script and its helper child
    assert work["cpu_percent"] > 30  # a busy loop: close to 100 % of one core when a core is free
    assert work["rss_mib"] > 5
    other = rows[(rows["kind"] == "job") & (rows["rule"] == "")].iloc[0]
    assert re.fullmatch(r"sleep \(pid \d+\)", other["job"]) and other["n_pids"] == 1
    assert system["n_pids"] == 1 + 2 + 1  # every process under the "Snakemake" process, itself included


def test_a_job_that_ends_while_it_is_measured_gives_no_row(fake, monkeypatch):
    """A tree whose processes all exit between the listing and the measurement has no memory to
    report: no row, rather than a job at 0 MiB."""
    fake.start("sleep", "30")
    fake.wait_for_children(1)
    sampler = Sampler(fake.process)
    monkeypatch.setattr("mwlc.monitor.sampling._tree_usage", lambda tree: (0.0, 0))
    rows = sampler.sample()
    assert [row["kind"] for row in rows] == ["system", "snakemake"]
    assert rows[0]["n_pids"] == 1


def test_monitor_stops_when_the_targets_are_written(fake, tmp_path):
    fake.start("sleep", "30")
    fake.wait_for_children(1)
    target = tmp_path / "final.txt"
    threading.Timer(1.0, target.write_text, args=["done"]).start()
    output = tmp_path / "usage.csv"
    rules = StopRules(targets=[str(target)], idle_grace_s=10, final_wait_s=0.5)
    started = time.monotonic()
    assert (
        run_monitor(str(output), rules, interval_s=0.2, main=fake.process, exclude=set()) == monitor.EXIT_DONE
    )
    assert time.monotonic() - started < 5
    usage = pd.read_csv(output)
    assert list(usage.columns) == USAGE_COLUMNS
    assert (usage["kind"] == "system").sum() >= 5
    assert usage.loc[usage["kind"] == "job", "job"].str.startswith("sleep (pid").all()
    # the same rows are kept where Snakemake never deletes them (it deletes usage.csv to rerun)
    [kept] = (tmp_path / "history").glob("usage-*.csv")
    assert kept.read_text() == output.read_text()
    assert re.fullmatch(r"usage-\d{8}T\d{6}Z\.csv", kept.name)


def test_monitor_exits_non_zero_when_snakemake_is_gone(fake, tmp_path):
    stopping = threading.Timer(0.8, fake.stop)
    stopping.start()
    rules = StopRules(targets=[str(tmp_path / "never")], idle_grace_s=30)
    code = run_monitor(str(tmp_path / "usage.csv"), rules, interval_s=0.2, main=fake.process, exclude=set())
    stopping.join()  # the fixture's teardown then finds the fake stopped, not half-way
    assert code == monitor.EXIT_SNAKEMAKE_GONE


def test_monitor_exits_non_zero_when_no_job_runs(fake, tmp_path):
    fake.start("sleep", "0.5")  # a job that ends without writing the target (a failed job)
    rules = StopRules(targets=[str(tmp_path / "never")], idle_grace_s=1.0)
    started = time.monotonic()
    code = run_monitor(str(tmp_path / "usage.csv"), rules, interval_s=0.2, main=fake.process, exclude=set())
    assert code == monitor.EXIT_IDLE
    assert time.monotonic() - started < 5


def test_reaching_max_hours_stops_the_record_not_the_run(fake, tmp_path, caplog):
    """The limit used to exit 4, which failed the run (the monitor has no retries): a local
    run of more than 48 h stopped at hour 48."""
    fake.start("sleep", "30")
    fake.wait_for_children(1)
    rules = StopRules(targets=[str(tmp_path / "never")], idle_grace_s=30, max_hours=1.0 / 3600)
    with caplog.at_level(logging.WARNING, logger="mwlc.monitor"):
        code = run_monitor(
            str(tmp_path / "usage.csv"), rules, interval_s=0.2, main=fake.process, exclude=set()
        )
    assert code == monitor.EXIT_DONE
    assert "monitor ran for max_hours=0.000277778 h: sampling stops here while the run goes on" in caplog.text
    assert len((tmp_path / "usage.csv").read_text().splitlines()) > 2


def test_monitor_with_nothing_to_monitor_exits_zero(fake, tmp_path):
    target = tmp_path / "final.txt"
    target.write_text("from an earlier run")
    rules = StopRules(targets=[str(target)], idle_grace_s=0.5)
    assert (
        run_monitor(str(tmp_path / "usage.csv"), rules, interval_s=0.2, main=fake.process, exclude=set())
        == monitor.EXIT_DONE
    )


def test_monitor_waits_for_existing_targets_to_be_rewritten(fake, tmp_path):
    target = tmp_path / "final.txt"
    target.write_text("from an earlier run")
    fake.start("sleep", "30")
    fake.wait_for_children(1)
    threading.Timer(1.0, lambda: (target.unlink(), target.write_text("new"))).start()
    rules = StopRules(targets=[str(target)], idle_grace_s=10, final_wait_s=0.2)
    started = time.monotonic()
    assert (
        run_monitor(str(tmp_path / "usage.csv"), rules, interval_s=0.2, main=fake.process, exclude=set())
        == monitor.EXIT_DONE
    )
    assert 0.9 < time.monotonic() - started < 5


SNAKEMAKE_LOG_FAILED = """Select jobs to execute...
Error in rule a:
    jobid: 1
    output: out1
Trying to restart job 1.
Error in rule a:
    jobid: 1
    output: out1
"""


def test_failure_watch_counts_errors_without_a_restart(tmp_path):
    path = tmp_path / "run.snakemake.log"
    restart = SNAKEMAKE_LOG_FAILED.index("Trying to restart")
    path.write_text(SNAKEMAKE_LOG_FAILED[:restart])
    watch = FailureWatch(str(path))
    assert watch.poll() == 1  # an error, its restart line not written yet
    with path.open("a") as stream:
        stream.write(SNAKEMAKE_LOG_FAILED[restart : restart + 10])  # half a line
    assert watch.poll() == 1
    with path.open("a") as stream:
        stream.write(SNAKEMAKE_LOG_FAILED[restart + 10 :])
    assert watch.poll() == 1 and (watch.errors, watch.restarts) == (2, 1)


def test_the_snakemake_log_is_the_file_its_process_holds_open(tmp_path):
    logdir = tmp_path / ".snakemake" / "log"
    logdir.mkdir(parents=True)
    code = "import time; f = open('.snakemake/log/2026-01-01T000000.snakemake.log', 'w'); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path)
    try:
        process, deadline = psutil.Process(proc.pid), time.monotonic() + 10
        while find_snakemake_log(process) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until the process has opened its log (after its start-up)
        assert find_snakemake_log(process) == str(logdir / "2026-01-01T000000.snakemake.log")
    finally:
        proc.kill()
        proc.wait()
    assert find_snakemake_log(psutil.Process()) is None


@pytest.mark.parametrize(
    ("snakemake_log", "expected"),
    [
        ("Error in rule fetch:\n    jobid: 3\n", monitor.EXIT_FAILED),
        # a retried job is no failure: the idle rule applies, as without one
        ("Error in rule fetch:\n    jobid: 3\nTrying to restart job 3.\n", monitor.EXIT_IDLE),
    ],
    ids=["failed", "retried"],
)
def test_monitor_stops_at_once_when_snakemake_reports_a_failed_job(fake, tmp_path, snakemake_log, expected):
    fake.start("sleep", "0.5")  # the job that fails
    log = tmp_path / "run.snakemake.log"
    log.write_text(snakemake_log)
    rules = StopRules(targets=[str(tmp_path / "never")], idle_grace_s=2.5)
    started = time.monotonic()
    code = run_monitor(
        str(tmp_path / "usage.csv"),
        rules,
        interval_s=0.2,
        main=fake.process,
        exclude=set(),
        snakemake_log=str(log),
    )
    assert code == expected
    if expected == monitor.EXIT_FAILED:
        assert time.monotonic() - started < 2.5  # before idle_grace_s


# --- the rule, in a tiny workflow --------------------------------------------------------------

TINY_SNAKEFILE = """
config.update({{"provenance_note": "", "monitor": {{"interval_s": 0.5, "idle_grace_s": {idle}, "max_hours": 1,
                                                   "final_wait_s": 3}}}})
RESULTS = "results/t"
LOGS = "logs/t"


def data_outputs():
    return [f"{{RESULTS}}/final.txt"]


include: "{monitor_smk}"


onstart:
    from mwlc.run_plan import write_run_plan

    write_run_plan(RESULTS, run_id="t", archives=[], n_shards=0)


rule all:
    input:
        f"{{RESULTS}}/final.txt",
        f"{{RESULTS}}/monitor/usage.csv",


rule work:
    output:
        f"{{RESULTS}}/work-{{{{i}}}}.txt",
    params:
        seconds={seconds},
        fail_on="{fail_on}",
    script:
        "work.py"


rule final:
    input:
        expand(f"{{RESULTS}}/work-{{{{i}}}}.txt", i=[0, 1]),
    output:
        f"{{RESULTS}}/final.txt",
    shell:
        "cat {{input}} > {{output}}"
"""

WORK_SCRIPT = """
import sys, time
end = time.time() + snakemake.params.seconds
while time.time() < end:
    pass
if snakemake.wildcards.i == snakemake.params.fail_on:
    sys.exit("failing on purpose")
open(snakemake.output[0], "w").write("done")
"""


#: Snakemake run inside a Python program, through its API, as mwlc.run() does in a notebook.
IN_PROCESS_RUN = """
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(cores={cores}), snakefile=Path("Snakefile"), workdir=Path(".")
    )
    workflow.dag().execute_workflow()
"""


def run_tiny(
    tmp_path: Path,
    cores: int,
    *,
    seconds: float = 3.0,
    fail_on: str = "",
    idle: float = 20,
    in_process: bool = False,
):
    """Run the tiny workflow with the monitor: ``snakemake`` on the command line, or with
    ``in_process`` through the API inside a ``python -c`` program (no ``snakemake`` process)."""
    (tmp_path / "Snakefile").write_text(
        TINY_SNAKEFILE.format(
            idle=idle,
            seconds=seconds,
            fail_on=fail_on,
            monitor_smk=REPO / "workflow" / "rules" / "monitor.smk",
        )
    )
    (tmp_path / "work.py").write_text(WORK_SCRIPT)
    cli = ["-m", "snakemake", "--cores", str(cores), "--snakefile", "Snakefile", "--directory", "."]
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, *(["-c", IN_PROCESS_RUN.format(cores=cores)] if in_process else cli)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return result, time.monotonic() - started


def job_rows(tmp_path: Path) -> pd.DataFrame:
    usage = pd.read_csv(tmp_path / "results/t/monitor/usage.csv", keep_default_na=False, na_values=[""])
    return usage[usage["kind"] == "job"]


def overhead_percent(tmp_path: Path) -> float:
    log = (tmp_path / "logs/t/monitor_resources.log").read_text()
    return float(re.search(r"monitor overhead: .* = ([\d.]+) % of one core", log).group(1))


@pytest.mark.workflow
def test_rule_with_one_core_runs_beside_the_jobs(tmp_path):
    result, _ = run_tiny(tmp_path, cores=1)
    assert result.returncode == 0, result.stderr
    jobs = job_rows(tmp_path)
    named = jobs[jobs["rule"] == "work"].groupby("job")["time"].agg(["min", "max"])
    assert list(named.index) == ["work[i=0]", "work[i=1]"]
    assert named["max"].min() < named["min"].max()  # one core: one job after the other
    assert set(jobs.loc[jobs["rule"] == "work", "wildcards"]) == {"i=0", "i=1"}
    assert jobs.loc[jobs["rule"] == "work", "cpu_percent"].max() > 30
    assert "final outputs written: monitoring done" in (tmp_path / "logs/t/monitor_resources.log").read_text()
    assert overhead_percent(tmp_path) < 5  # 0.5 s interval here; the default is 2 s


@pytest.mark.workflow
def test_rule_monitors_a_run_made_inside_a_python_program(tmp_path):
    # mwlc.run() in a notebook: the jobs' ancestor is the kernel, not a `snakemake` command; the
    # run's plan (run.json) names it. The monitor failed such runs at their start.
    result, _ = run_tiny(tmp_path, cores=1, seconds=2.0, in_process=True)
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "results/t/run.json").read_text())
    log = (tmp_path / "logs/t/monitor_resources.log").read_text()
    assert f"monitoring Snakemake pid {plan['pid']} every 0.5 s" in log
    assert set(job_rows(tmp_path)["job"]) >= {"work[i=0]", "work[i=1]"}


@pytest.mark.workflow
def test_rule_with_two_cores_sees_jobs_run_together(tmp_path):
    result, _ = run_tiny(tmp_path, cores=2)
    assert result.returncode == 0, result.stderr
    jobs = job_rows(tmp_path)
    together = jobs[jobs["rule"] == "work"].groupby("time")["job"].nunique()
    assert together.max() == 2
    assert (tmp_path / "results/t/final.txt").exists()


@pytest.mark.workflow
def test_a_failing_job_ends_the_run_with_an_error(tmp_path):
    result, elapsed = run_tiny(tmp_path, cores=1, seconds=1.0, fail_on="0", idle=300)
    assert result.returncode != 0
    assert elapsed < 90  # the monitor read the failure in Snakemake's log: no idle_grace_s wait
    log = (tmp_path / "logs/t/monitor_resources.log").read_text()
    assert "Snakemake reports 1 failed job(s)" in log
    assert not (tmp_path / "results/t/monitor/usage.csv").exists()  # the next run monitors again


def test_a_monitor_without_a_time_limit_is_a_year_for_the_scheduler(tmp_path):
    """``max_hours: .inf`` (sample as long as the run goes) once failed the workflow's parse."""
    from tests.dag_jobs import dag_jobs
    from tests.test_workflow import new_workdir

    workdir = new_workdir(tmp_path)
    (workdir / "config" / "forever.yaml").write_text("monitor:\n  max_hours: .inf\n")
    jobs = dag_jobs(workdir, "config/demo.yaml", "config/forever.yaml")
    (monitor_job,) = [job for job in jobs if job["rule"] == "monitor_resources"]
    assert monitor_job["resources"]["runtime"] == 365 * 24 * 60
