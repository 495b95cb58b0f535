"""CPUs and memory this process may use: container (cgroup) limits, not the node's."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from mwlc import machine

GB = 1_000_000_000


def _files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def _limits(tmp_path: Path, proc_cgroup: str, files: dict[str, str]) -> tuple[int, float]:
    root = tmp_path / "cgroup"
    root.mkdir(parents=True)
    _files(root, files)
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(proc_cgroup)
    where = {"cgroup_root": root, "proc_cgroup": proc}
    return machine.usable_cpus(**where), machine.available_memory_mb(**where)


@pytest.fixture
def node(monkeypatch):
    """A node of 64 CPUs with 500 GB free."""
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(machine.psutil, "virtual_memory", lambda: type("M", (), {"available": 500 * GB}))


#: (this process's /proc/self/cgroup, the cgroup files, CPUs and MB free expected) per layout.
LAYOUTS = [
    pytest.param(
        "0::/\n",
        {
            "cgroup.controllers": "cpu memory",
            "cpu.max": "400000 100000",
            "memory.max": str(16 * GB),
            "memory.current": str(3 * GB),
            "memory.stat": f"anon {2 * GB}\nactive_file 0\ninactive_file {GB}\n",
        },
        (4, 14_000),
        # A notebook server of 4 CPUs and 16 GB (its cgroup mounted as the root, as in a pod),
        # whose server and kernels hold 3 GB, 1 GB of it file cache the kernel can drop.
        id="kubernetes pod, cgroup v2",
    ),
    pytest.param(
        "0::/user.slice/session\n",
        {
            "cgroup.controllers": "cpu memory",
            "user.slice/cpu.max": "150000 100000",  # 1.5 CPUs' worth of time: 2 CPUs
            "user.slice/memory.max": str(8 * GB),
            "user.slice/memory.current": str(GB),
            "user.slice/session/cpu.max": "max 100000",
            "user.slice/session/memory.max": "max",
            "user.slice/session/memory.current": str(GB // 2),
        },
        (2, 7_000),
        id="the smallest limit of the cgroup and its parents holds",
    ),
    pytest.param(
        "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n",
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "200000",
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": str(6 * GB),
            "memory/memory.usage_in_bytes": str(2 * GB),
            "memory/memory.stat": f"cache {GB}\ntotal_inactive_file {GB}\n",
        },
        (2, 5_000),
        # Per-controller hierarchies, the container's own cgroup mounted as their root (the path
        # the process is told does not exist there).
        id="docker, cgroup v1",
    ),
    pytest.param(
        "4:memory:/process_api/577f\n1:cpu:/\n0::/\n",
        {
            "cpu/cpu.cfs_quota_us": "-1",
            "cpu/cpu.cfs_period_us": "100000",
            "memory/process_api/577f/memory.limit_in_bytes": "9223372036854771712",
            "memory/process_api/577f/memory.usage_in_bytes": str(GB),
        },
        (64, 500_000),
        id="this test machine: cgroup v1, no quota, the v1 no-limit value",
    ),
    pytest.param("", {}, (64, 500_000), id="no cgroup filesystem at all"),
]


@pytest.mark.parametrize(("proc_cgroup", "files", "expected"), LAYOUTS)
def test_the_cgroup_limits_are_read(tmp_path, node, proc_cgroup, files, expected):
    assert _limits(tmp_path, proc_cgroup, files) == expected


def test_a_cgroup_path_outside_the_mount_is_not_followed(tmp_path, node):
    """A process outside its cgroup namespace's root is told ``/..``: nothing outside the mount
    is read (here a limit file placed beside it)."""
    _files(tmp_path, {"memory.max": str(GB), "memory.current": "0"})
    files = {"cgroup.controllers": "memory", "memory.max": str(8 * GB), "memory.current": "0"}
    assert _limits(tmp_path, "0::/..\n", files) == (64, 8_000)


def test_the_jobs_memory_is_what_is_free_less_the_head_reserve(monkeypatch):
    monkeypatch.setattr(machine, "available_memory_mb", lambda **where: 14_000.0)
    assert machine.jobs_memory_mb() == 14_000 - machine.HEAD_RESERVE_MB
    monkeypatch.setattr(machine, "available_memory_mb", lambda **where: 900.0)
    assert machine.jobs_memory_mb() == 1000  # at least


def test_this_machine():
    assert 1 <= machine.usable_cpus() <= psutil.cpu_count()
    assert 0 < machine.available_memory_mb() <= psutil.virtual_memory().total / 1e6


@pytest.mark.parametrize(
    ("cores", "pending", "expected"),
    [
        (
            8,
            None,
            "--cores 8 runs up to 4 fetch jobs at once, which may use 12,000 MB together (3,000 MB each)",
        ),
        (8, 3, "--cores 8 runs up to 3 fetch jobs at once, which may use 9,000 MB together (3,000 MB each)"),
        (8, 1, None),  # one job of 3,000 MB fits in 5,000
        (8, 0, None),  # nothing left to fetch (`--until sample`)
        (2, None, None),
    ],
)
def test_the_overcommit_warning_counts_the_fetch_jobs_left_to_run(cores, pending, expected):
    warning = machine.memory_overcommit(cores, 2, 3000, 5000, pending_jobs=pending)
    if expected is None:
        assert warning is None
    else:
        assert warning.startswith(expected + ", more than the 5,000 MB free for jobs")
        assert warning.endswith(
            "--resources mem_mb=5000 with the service caps (profiles/default/config.yaml "
            "lists them), or lower --cores"
        )


def test_one_fetch_job_over_the_memory_is_told_without_fewer_cores():
    warning = machine.memory_overcommit(8, 2, 9000, 5000, pending_jobs=1)
    assert warning.startswith("a fetch job may use 9,000 MB, more than the 5,000 MB free for jobs")
    assert "lower --cores" not in warning
