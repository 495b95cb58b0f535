"""What a Snakemake invocation set out to do, written when it starts: ``results/<run_id>/run.json``.

The workflow writes it from its ``onstart`` handler (not on dry runs or ``--report``), in the
Snakemake main process: the run's archives and shard count (what the DAG holds), and that
process's PID, host and start time, so ``mwlc status`` can tell a run in progress from one that
was killed (its lock files stay behind). Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: The plan's file name inside ``results/<run_id>/``.
PLAN_NAME = "run.json"


@dataclass(frozen=True)
class RunPlan:
    """One invocation's plan.

    Parameters
    ----------
    run_id : str
        The config's ``run_id``.
    archives : list of str
        Enabled archives, in the workflow's order.
    n_shards : int
        Sample shards (fetch jobs per archive).
    pid : int
        The Snakemake main process.
    host : str
        The machine it runs on.
    started_utc : str
        ISO 8601 time the invocation started (UTC).
    preflight_keys : dict of str to str
        Per archive, the ``{settings}`` of its current preflight report (empty in plans written
        before this field).
    """

    run_id: str
    archives: list[str]
    n_shards: int
    pid: int
    host: str
    started_utc: str
    preflight_keys: dict[str, str] = field(default_factory=dict)


def write_run_plan(
    run_dir: str | os.PathLike,
    *,
    run_id: str,
    archives: Sequence[str],
    n_shards: int,
    preflight_keys: Mapping[str, str] | None = None,
) -> Path:
    """Write this process's :class:`RunPlan` to ``run_dir/run.json`` (atomically); returns the path."""
    plan = RunPlan(
        run_id=run_id,
        archives=list(archives),
        n_shards=int(n_shards),
        pid=os.getpid(),
        host=socket.gethostname(),
        started_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        preflight_keys=dict(preflight_keys or {}),
    )
    path = Path(run_dir) / PLAN_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{PLAN_NAME}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(asdict(plan), indent=1) + "\n")
    os.replace(tmp, path)
    return path


def read_run_plan(run_dir: str | os.PathLike) -> RunPlan | None:
    """The plan in ``run_dir``, or None when there is none (a run older than this file).

    Raises
    ------
    ValueError
        When the file exists but is not a plan (names the file and the missing keys).
    """
    path = Path(run_dir) / PLAN_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a run plan ({error})") from None
    optional = {"preflight_keys"}
    missing = [name for name in RunPlan.__dataclass_fields__ if name not in data and name not in optional]
    if missing:
        raise ValueError(f"{path}: not a run plan (no key(s) {missing})")
    return RunPlan(**{name: data[name] for name in RunPlan.__dataclass_fields__ if name in data})
