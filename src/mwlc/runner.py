"""Run the workflow from Python (a notebook) through Snakemake's own API.

>>> import mwlc
>>> run_dir = mwlc.run(configfile="config/demo.yaml", cores=2)   # doctest: +SKIP
>>> sample = mwlc.load_sample(run_dir)                            # doctest: +SKIP

This is ``snakemake --cores N --configfile F [--until ...]`` without a shell: Snakemake's log,
with its ``N of M steps (P%) done`` counter, goes to the cell's output, every job still writes
its own log and benchmark, and a rerun does only what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mwlc.config import DEFAULTS_PATH, WORKFLOW_DIR, deep_merge
from mwlc.machine import jobs_memory_mb, usable_cpus

#: The workflow's Snakefile (package data, see :data:`mwlc.config.WORKFLOW_DIR`).
SNAKEFILE = WORKFLOW_DIR / "Snakefile"
#: What makes Snakemake redo a finished job: newer input (``mtime``), changed params or input
#: files, a changed software environment; not ``code``. The rule scripts are thin (the code is
#: in this package, whose changes Snakemake never sees), and ``code`` reran every job whose
#: script an upgrade edited (its mtime newer than the job's output): a whole run's shards
#: refetched. The profiles set the same (``rerun-triggers``); ``--forcerun`` redoes a rule.
RERUN_TRIGGERS = ("mtime", "params", "input", "software-env")


def run(
    configfile: str | os.PathLike | None = None,
    until: str | Iterable[str] | None = None,
    cores: int | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    workdir: str | os.PathLike | None = None,
    keep_going: bool = True,
    rerun_incomplete: bool = False,
    resources: Mapping[str, int] | None = None,
) -> Path:
    """Run (or resume) the workflow and return the run's results directory.

    Parameters
    ----------
    configfile : path-like, optional
        The run's config, merged onto ``config/config.yaml`` (as ``--configfile``). Relative
        paths are taken from ``workdir``.
    until : str or iterable of str, optional
        Rule names to stop after (as ``--until``), e.g. ``"sample"``.
    cores : int, optional
        CPU cores Snakemake may use; by default all this process may use: in a container (a
        science platform's notebook server) its CPU limit, not the node's CPUs
        (:func:`mwlc.machine.usable_cpus`).
    config : mapping, optional
        Values that override the config files (as ``--config``), e.g. ``{"n_shards": 4}``.
    workdir : path-like, optional
        Where ``results/``, ``logs/`` and ``benchmarks/`` are written and the config files are
        read from (it must hold ``config/config.yaml``). By default the current directory if it
        holds one (as for the ``snakemake`` command), else the checkout holding ``workflow/``.
    keep_going : bool, default True
        Go on with independent jobs when one fails (as ``--keep-going``, which the profiles
        set): a failed shard does not stop a long run; a rerun then does what is missing.
    rerun_incomplete : bool
        After a crash or a kill (a kernel restarted mid-run): unlock the working directory and
        run again the jobs that were running then (as ``snakemake --unlock``, then
        ``--rerun-incomplete``). Refused while the run's Snakemake process still runs.
    resources : mapping of str to int, optional
        Service caps to change (as ``--resources``), e.g. ``{"heasarc_tap": 1}``; the others
        keep :data:`mwlc.archives.services.DEFAULT_CAPS`, the profiles' numbers. ``mem_mb``
        is the memory (MB) the jobs running at once may ask for together; by default the memory
        free when the run starts (in a container, within its limit) less 500 MB
        (:func:`mwlc.machine.jobs_memory_mb`), so that the kernel's OOM killer, which may pick
        this notebook's kernel, is not met by jobs that each kept to their own limit.

    Returns
    -------
    pathlib.Path
        ``<workdir>/results/<run_id>``.

    Raises
    ------
    snakemake.exceptions.WorkflowError
        If a job fails (its log is shown above the error) or the config is invalid.
    RuntimeError
        With ``rerun_incomplete``, if the process that started the run (its ``run.json``) still
        runs it.
    """
    from snakemake.api import SnakemakeApi
    from snakemake.settings.enums import RerunTrigger
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        ExecutionSettings,
        OutputSettings,
        ResourceSettings,
    )

    workdir = Path(workdir or default_workdir()).resolve()
    configfiles = [_resolve(configfile, workdir)] if configfile else []
    until_rules = frozenset([until] if isinstance(until, str) else until or ())
    run_dir = workdir / "results" / run_id(configfiles, config)
    settings = {
        "resource_settings": ResourceSettings(
            cores=cores or usable_cpus(), resources={"mem_mb": jobs_memory_mb(), **service_caps(resources)}
        ),
        "config_settings": ConfigSettings(configfiles=configfiles, config=dict(config or {})),
        "snakefile": SNAKEFILE,
        "workdir": workdir,
    }
    if rerun_incomplete:
        _refuse_if_running(run_dir)
        with SnakemakeApi(OutputSettings(show_failed_logs=True)) as api:
            api.workflow(**settings).dag().unlock()
    with SnakemakeApi(OutputSettings(show_failed_logs=True)) as api:
        dag = api.workflow(**settings).dag(
            dag_settings=DAGSettings(
                until=until_rules,
                force_incomplete=rerun_incomplete,
                rerun_triggers=RerunTrigger.parse_choices_set(list(RERUN_TRIGGERS)),
            )
        )
        dag.execute_workflow(execution_settings=ExecutionSettings(keep_going=keep_going))
    return run_dir


def service_caps(changes: Mapping[str, int] | None = None) -> dict[str, int]:
    """:data:`~mwlc.archives.services.DEFAULT_CAPS` with ``changes`` applied (and ``mem_mb``,
    if ``changes`` has it).

    Raises
    ------
    ValueError
        For a name that is neither a service nor ``mem_mb``, or a value that is not a whole
        number >= 1.
    """
    from mwlc.archives.services import DEFAULT_CAPS

    unknown = sorted(set(changes or {}) - set(DEFAULT_CAPS) - {"mem_mb"})
    if unknown:
        raise ValueError(
            f"resources: {unknown} are not services; the services are {sorted(DEFAULT_CAPS)} (and "
            "mem_mb is the jobs' memory)"
        )
    for name, value in (changes or {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"resources: {name}={value!r} is not a whole number >= 1")
    return {**DEFAULT_CAPS, **(changes or {})}


def _refuse_if_running(run_dir: Path) -> None:
    """Raise :class:`RuntimeError` while the process that started the run in ``run_dir`` runs
    (another one: a run this process started has ended, or we would not be here)."""
    from mwlc.run_plan import read_run_plan
    from mwlc.status import snakemake_alive

    plan = read_run_plan(run_dir)
    if plan is not None and plan.pid != os.getpid() and snakemake_alive(plan):
        raise RuntimeError(
            f"the run in {run_dir} is still running (pid {plan.pid}, started {plan.started_utc}): "
            "wait for it or stop it before rerunning its incomplete jobs"
        )


def default_workdir() -> Path:
    """The current directory if it holds ``config/config.yaml``, else the folder holding the
    workflow (the checkout, when the package runs from one)."""
    return Path.cwd() if (Path.cwd() / "config" / "config.yaml").is_file() else WORKFLOW_DIR.parent


def run_id(configfiles: Iterable[Path] = (), config: Mapping[str, Any] | None = None) -> str:
    """The ``run_id`` the workflow will use: the last config that sets it wins."""
    merged = yaml.safe_load(DEFAULTS_PATH.read_text())
    for path in configfiles:
        merged = deep_merge(merged, yaml.safe_load(Path(path).read_text()) or {})
    return str(deep_merge(merged, dict(config or {}))["run_id"])


def _resolve(path: str | os.PathLike, workdir: Path) -> Path:
    path = Path(path)
    resolved = path if path.is_absolute() else workdir / path
    if not resolved.is_file():
        raise FileNotFoundError(f"config file {path} not found (looked in {resolved.parent})")
    return resolved
