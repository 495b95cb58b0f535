"""A psutil sidecar that records what a running Snakemake workflow costs, job by job.

It replaces the original's ``top -b`` capture: every ``interval_s`` seconds it writes one row
for the machine (``kind=system``), one for the Snakemake process itself (``kind=snakemake``)
and one per running job (``kind=job``) to a long-format CSV with the columns of
:data:`USAGE_COLUMNS`. A job is a process tree under the Snakemake main process, named after
its rule and wildcards.

Modules: :mod:`~mwlc.monitor.jobs` (which job a process tree runs, which process is
Snakemake), :mod:`~mwlc.monitor.sampling` (one sample of the machine and every job; units),
:mod:`~mwlc.monitor.snakemake_log` (jobs failed for good, from Snakemake's
log), :mod:`~mwlc.monitor.loop` (the loop and its stop conditions).

The monitor runs as the rule ``monitor_resources`` (``threads: 0``) and stops by itself:
see :func:`run_monitor` for the stop conditions and exit codes.
"""

from __future__ import annotations

from mwlc.monitor.jobs import (
    JobName,
    find_snakemake_process,
    identify_job,
    is_snakemake_main,
    job_name,
    own_job_root,
    read_script_job,
)
from mwlc.monitor.loop import (
    EXIT_DONE,
    EXIT_FAILED,
    EXIT_IDLE,
    EXIT_SNAKEMAKE_GONE,
    HISTORY_DIR,
    StopRules,
    history_path,
    run_monitor,
    targets_done,
)
from mwlc.monitor.sampling import MIB, USAGE_COLUMNS, Sampler

__all__ = [
    "EXIT_DONE",
    "EXIT_FAILED",
    "EXIT_IDLE",
    "EXIT_SNAKEMAKE_GONE",
    "MIB",
    "USAGE_COLUMNS",
    "JobName",
    "Sampler",
    "StopRules",
    "find_snakemake_process",
    "HISTORY_DIR",
    "history_path",
    "identify_job",
    "is_snakemake_main",
    "job_name",
    "own_job_root",
    "read_script_job",
    "run_monitor",
    "targets_done",
]
