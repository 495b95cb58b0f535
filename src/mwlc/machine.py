"""What this process may use of the machine: CPUs and free memory, container limits included.

``os.cpu_count()`` and ``psutil.virtual_memory()`` give the whole machine's. In a container (a
science platform's notebook server, a Kubernetes pod, Docker) the kernel's control groups
(cgroups) allow less: a notebook server of 4 CPUs and 16 GB on a 64-core, 512 GB node sees 64
CPUs and 512 GB. Jobs started for 64 CPUs there share 4, and jobs that together pass 16 GB are
ended by the kernel's OOM killer, which may pick the notebook's kernel or Snakemake itself: the
whole run ends with no word in its logs, as the Fornax original's 2024 run did.

Both cgroup versions are read: v2 (``cpu.max``, ``memory.max``, ``memory.current``) and v1
(``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, ``memory.limit_in_bytes``,
``memory.usage_in_bytes``), in this process's cgroup and every one above it (the smallest
holds).
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


def available_memory_mb(*, cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float:
    """Memory free for new processes, MB (10**6 bytes): the machine's available memory, at most,
    for each of this process's cgroups (and their parents) with a memory limit, that limit less
    what the cgroup holds beyond file cache the kernel can drop. Other users' processes, and in
    a container the notebook server and other kernels, are held memory too."""
    free = [psutil.virtual_memory().available]
    for directory in _cgroup_dirs(cgroup_root, proc_cgroup, "memory"):
        for limit_file, usage_file, cache_key in _MEMORY_FILES:
            limit, usage = _read(directory / limit_file), _read(directory / usage_file)
            if limit.isdigit() and usage.isdigit():
                cache = _stat_value(directory / "memory.stat", cache_key)
                free.append(int(limit) - (int(usage) - cache))
    return max(0, min(free)) / _MB


#: Memory (MB) kept for the process that runs Snakemake (and the monitor), beyond what it holds.
HEAD_RESERVE_MB = 500


def jobs_memory_mb(**where: Path) -> int:
    """The memory (MB) a run's jobs may ask for together: what is free now
    (:func:`available_memory_mb`) less :data:`HEAD_RESERVE_MB`; at least 1000."""
    return max(1000, int(available_memory_mb(**where) - HEAD_RESERVE_MB))


#: Per cgroup version: the memory limit's file, the usage's, and the dropable cache's key in
#: ``memory.stat``.
_MEMORY_FILES = (
    ("memory.max", "memory.current", "inactive_file"),  # v2 ("max": no limit)
    ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),  # v1
)


def _stat_value(path: Path, key: str) -> int:
    """The value of ``key`` in a cgroup's ``memory.stat`` (0 if absent)."""
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def _cgroup_cpu_quotas(root: Path, proc_cgroup: Path) -> Iterator[float]:
    """The CPU quotas (CPUs' worth of time) set on this process's cgroups and their parents."""
    for directory in _cgroup_dirs(root, proc_cgroup, "cpu"):
        fields = _read(directory / "cpu.max").split()  # v2: "<quota_us> <period_us>" or "max ..."
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]) > 0:
            yield int(fields[0]) / int(fields[1])
        quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
        if quota.isdigit() and period.isdigit() and int(period) > 0:  # v1: -1 is no quota
            yield int(quota) / int(period)


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
        leaf = Path(os.path.normpath(base / path.lstrip("/")))
        if not leaf.is_relative_to(base) or not leaf.is_dir():  # outside the mount ("/.."): its root
            leaf = base
        yield leaf
        yield from (parent for parent in leaf.parents if parent == base or base in parent.parents)


def _read(path: Path) -> str:
    """The stripped text of a small kernel file, or "" if it cannot be read."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def memory_overcommit(
    cores: int, job_threads: int, job_mem_mb: int, jobs_mb: int, *, pending_jobs: int | None = None
) -> str | None:
    """A warning when the fetch jobs of ``job_threads`` threads and ``job_mem_mb`` MB each that
    ``cores`` let run at once (no more than the ``pending_jobs`` left to run, if given) may ask for
    more memory together than ``jobs_mb`` (:func:`jobs_memory_mb`); None if they fit or none is
    left to run. For a run without a global ``mem_mb``."""
    at_once = max(1, cores // max(1, job_threads))
    if pending_jobs is not None:
        at_once = min(at_once, pending_jobs)
    together_mb = at_once * job_mem_mb
    if at_once == 0 or together_mb <= jobs_mb:
        return None
    if at_once == 1:
        what, fewer = f"a fetch job may use {job_mem_mb:,} MB", ""
    else:
        what = (
            f"--cores {cores} runs up to {at_once} fetch jobs at once, which may use {together_mb:,} MB "
            f"together ({job_mem_mb:,} MB each)"
        )
        fewer = ", or lower --cores"
    return (
        f"{what}, more than the {jobs_mb:,} MB free for jobs on this machine (or container): past it "
        "the kernel ends a process of its choosing, Snakemake's own perhaps. Give the run its memory, "
        f"--resources mem_mb={jobs_mb} with the service caps (profiles/default/config.yaml lists "
        f"them){fewer}"
    )
