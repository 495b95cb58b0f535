"""What this process may use of the machine: CPUs and memory, container limits included.

``os.cpu_count()`` and ``psutil.virtual_memory()`` give the whole machine's. In a container (a
science platform's notebook server, a Kubernetes pod, Docker) the kernel's control groups
(cgroups) allow less: a notebook server of 4 CPUs and 16 GB on a 64-core, 512 GB node sees 64
CPUs and 512 GB. Jobs started for 64 CPUs there share 4, and jobs that together pass 16 GB are
ended by the kernel's OOM killer, which may pick the notebook's kernel or Snakemake itself: the
whole run ends with no word in its logs, as the Fornax original's 2024 run did.

Both cgroup versions are read: v2 (``cpu.max``, ``memory.max``) and v1 (``cpu.cfs_quota_us`` /
``cpu.cfs_period_us``, ``memory.limit_in_bytes``), in this process's cgroup and every one above
it (the smallest limit holds).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import psutil

#: Where the cgroup filesystems are mounted.
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: This process's cgroups, one line per hierarchy: ``<id>:<controllers>:<path>``.
PROC_CGROUP = Path("/proc/self/cgroup")
_MB = 1_000_000


def usable_cpus(*, cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """CPUs this process may use: those it may run on (its affinity), at most its cgroups' CPU
    quota (rounded up; 1.5 CPUs' worth of time is 2 CPUs), at least 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for quota in _cgroup_cpu_quotas(cgroup_root, proc_cgroup):
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def usable_memory_mb(*, cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float:
    """Memory this process and its children may use, MB (10**6 bytes): the machine's RAM, at
    most its cgroups' memory limit."""
    limits = [psutil.virtual_memory().total, *_cgroup_memory_limits(cgroup_root, proc_cgroup)]
    return min(limits) / _MB


def _cgroup_cpu_quotas(root: Path, proc_cgroup: Path) -> Iterator[float]:
    """The CPU quotas (CPUs' worth of time) set on this process's cgroups and their parents."""
    for directory in _cgroup_dirs(root, proc_cgroup, "cpu"):
        fields = _read(directory / "cpu.max").split()  # v2: "<quota_us> <period_us>" or "max ..."
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]) > 0:
            yield int(fields[0]) / int(fields[1])
        quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
        if quota.isdigit() and period.isdigit() and int(period) > 0:  # v1: -1 is no quota
            yield int(quota) / int(period)


def _cgroup_memory_limits(root: Path, proc_cgroup: Path) -> Iterator[int]:
    """The memory limits (bytes) set on this process's cgroups and their parents."""
    for directory in _cgroup_dirs(root, proc_cgroup, "memory"):
        for name in ("memory.max", "memory.limit_in_bytes"):  # v2 ("max": none), v1
            value = _read(directory / name)
            if value.isdigit():
                yield int(value)


def _cgroup_dirs(root: Path, proc_cgroup: Path, controller: str) -> Iterator[Path]:
    """The directories of this process's cgroup holding ``controller`` and of its parents.

    v2 has one hierarchy (``0::<path>`` under ``root``); v1 one per controller (``root/<name>``,
    where ``<name>`` lists the controllers, e.g. ``cpu,cpuacct``). A container often mounts
    its own cgroup as the hierarchy's root, so the path it is told may not exist there: the
    mount's root is then read.
    """
    for line in _read(proc_cgroup).splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            base = root if (root / "cgroup.controllers").exists() else root / "unified"
        elif controller in controllers.split(","):
            base = root / controllers
            if not base.is_dir():
                base = root / controller
        else:
            continue
        leaf = base / path.lstrip("/")
        if not leaf.is_dir():
            leaf = base
        yield leaf
        yield from (parent for parent in leaf.parents if parent == base or base in parent.parents)


def _read(path: Path) -> str:
    """The stripped text of a small kernel file, or "" if it cannot be read."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def memory_overcommit(cores: int, job_threads: int, job_mem_mb: int, usable_mb: float) -> str | None:
    """A warning when the jobs of ``job_threads`` threads and ``job_mem_mb`` MB each that
    ``cores`` let run at once may ask for more memory together than ``usable_mb`` (MB); None if
    they fit. For a run without a global ``mem_mb`` (``--resources mem_mb=N``)."""
    at_once = max(1, cores // max(1, job_threads))
    together_mb = at_once * job_mem_mb
    if together_mb <= usable_mb:
        return None
    return (
        f"--cores {cores} runs up to {at_once} fetch jobs at once, which may use {together_mb:,} MB "
        f"together ({job_mem_mb:,} MB each), more than the {usable_mb:,.0f} MB this machine (or "
        "container) allows: past it the kernel ends a process of its choosing, Snakemake's own "
        f"perhaps. Give the run its memory, e.g. --resources mem_mb={int(usable_mb * 0.9)} with the "
        "service caps (profiles/default/config.yaml lists them), or lower --cores"
    )
