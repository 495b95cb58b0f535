"""A real Dask cluster on loopback: ``dask scheduler`` and one ``dask worker`` as subprocesses.

The scheduler picks a free port itself and writes its address to a scheduler file, so there is no
port race. The worker runs this venv's Python (it imports ``mwlc`` to run the transforms) with two
threads, as a small real cluster would. Both are stopped by PID, worker first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

WORKER_THREADS = 2
START_TIMEOUT_S = 60


def _dask_command() -> list[str]:
    """The ``dask`` CLI of this venv."""
    return [sys.executable, "-m", "dask"]


def _wait_for_scheduler_file(path: Path, procs: list[subprocess.Popen], logs: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            try:
                return json.loads(path.read_text())["address"]
            except json.JSONDecodeError:  # written but not flushed yet
                pass
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"dask exited with {proc.returncode}:\n{_read_logs(logs)}")
        time.sleep(0.1)
    raise RuntimeError(f"the dask scheduler wrote no address in {START_TIMEOUT_S} s:\n{_read_logs(logs)}")


def _read_logs(logs: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(logs.glob("*.log")))


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address (``tcp://127.0.0.1:<port>``) of a running scheduler with one 2-thread worker."""
    scratch = Path(tempfile.mkdtemp(prefix="mwlc-dask-"))
    scheduler_file = scratch / "scheduler.json"
    procs: list[subprocess.Popen] = []

    def start(args: list[str], log: str) -> None:
        out = (scratch / log).open("w")
        procs.append(
            subprocess.Popen(
                [*_dask_command(), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=scratch,
            )
        )

    try:
        start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            "scheduler.log",
        )
        address = _wait_for_scheduler_file(scheduler_file, procs, scratch)
        start(
            [
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                "1",
                "--nthreads",
                str(WORKER_THREADS),
                "--no-dashboard",
                "--local-directory",
                str(scratch / "worker"),
            ],
            "worker.log",
        )
        with Client(address, timeout=START_TIMEOUT_S, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=START_TIMEOUT_S)
        yield address
    finally:
        for proc in reversed(procs):  # worker first, then the scheduler
            _stop(proc)
        shutil.rmtree(scratch, ignore_errors=True)
