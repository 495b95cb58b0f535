"""Rule `monitor_resources`: sample the machine and every running job until the run ends."""

import sys

from mwlc.joblog import start_job_log
from mwlc.monitor import StopRules, run_monitor

params = snakemake.params
start_job_log(snakemake.log[0], job="monitor_resources", provenance_note=params.provenance_note)
rules = StopRules(
    targets=list(params.targets),
    idle_grace_s=params.idle_grace_s,
    max_hours=params.max_hours,
    final_wait_s=params.final_wait_s,
)
sys.exit(run_monitor(snakemake.output.usage, rules, interval_s=params.interval_s))
