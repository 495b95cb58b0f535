"""Rule `monitor_resources`: sample the machine and every running job until the run ends."""

import os
import sys

from mwlc.joblog import start_job_log
from mwlc.monitor import StopRules, run_monitor
from mwlc.run_plan import read_run_plan

params = snakemake.params
start_job_log(snakemake.log[0], job="monitor_resources", provenance_note=params.provenance_note)
rules = StopRules(
    targets=list(params.targets),
    idle_grace_s=params.idle_grace_s,
    max_hours=params.max_hours,
    final_wait_s=params.final_wait_s,
)
# results/<run_id>/monitor/usage.csv: the run's plan names the process that started it (which is
# not a `snakemake` command when mwlc.run() runs the workflow in a notebook or a script).
plan = read_run_plan(os.path.dirname(os.path.dirname(snakemake.output.usage)))
main_pid = plan.pid if plan else None
sys.exit(run_monitor(snakemake.output.usage, rules, interval_s=params.interval_s, main_pid=main_pid))
