"""A real single-node SLURM cluster on 127.0.0.1: munged, slurmctld and slurmd from Debian's packages.

The recipe's pitfalls, each handled here:
* the config must be at the compiled-in default ``/etc/slurm/slurm.conf`` (jobs run ``srun`` with
  ``SLURM_CONF`` stripped from their environment), so this fixture needs root and refuses to
  overwrite a slurm.conf it did not write;
* munge's socket folder and every folder above it must be ``o+x``: pytest's ``tmp_path`` folders are
  0700, so the daemons' scratch folder is a ``tempfile.mkdtemp`` made 0755;
* without slurmdbd the executor plugin must query job states with ``squeue``; ``MinJobAge`` keeps
  finished jobs visible to it (an hour, so a test can list every job of a slow run afterwards);
* slurmd does not kill running jobs when stopped: they are cancelled first.

Where the packages are missing the fixture skips with the reason, unless ``MWLC_REQUIRE_SLURM=1``
(``.ci/run`` installs them and sets it), where it fails instead. Only one such cluster can run on
a machine at a time (one ``/etc/slurm/slurm.conf``): a test session holds :data:`MACHINE_LOCK`
while its cluster runs, and another session's fixture waits for it (then skips, or fails).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# managed-by-mwlc-test-fixture"
#: flock()ed by the test session whose cluster owns SLURM_CONF (released when it stops, or dies):
#: a second session would otherwise rewrite the config under the first one's running jobs.
MACHINE_LOCK = Path("/etc/slurm/.mwlc-test-cluster.lock")
LOCK_WAIT_S = 300
PARTITION = "debug"
BINARIES = (
    "/usr/sbin/munged",
    "/usr/sbin/mungekey",
    "/usr/sbin/slurmctld",
    "/usr/sbin/slurmd",
    "/usr/bin/sinfo",
    "/usr/bin/squeue",
    "/usr/bin/sbatch",
    "/usr/bin/scancel",
)
#: Node size declared to SLURM. CPUs is above this machine's 2 cores (SlurmdParameters=config_overrides)
#: so that four 2-thread fetch jobs (``--cpus-per-task=2``), which mostly wait on Python start-up,
#: may run side by side;
#: RealMemory (MB) must hold the largest job (the sample rule asks 4000 MB).
NODE_CPUS = 8
NODE_MEMORY_MB = 8000
START_TIMEOUT_S = 30

SLURM_CONF_TEMPLATE = """\
{marker}
ClusterName=mwlctest
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmdParameters=config_overrides
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} Sockets=1 CoresPerSocket={cpus} ThreadsPerCore=1 \
RealMemory={memory_mb} State=UNKNOWN
PartitionName={partition} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


@dataclass(frozen=True)
class SlurmCluster:
    """A running single-node cluster: its scratch folder (daemon logs under ``log/``) and partition."""

    directory: Path
    partition: str

    def daemon_logs(self) -> str:
        """Every daemon log, for failure messages."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted((self.directory / "log").glob("*"))
        )


def _missing_reason() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    missing = [b for b in BINARIES if not Path(b).exists()]
    if missing:
        return f"SLURM/munge not installed ({', '.join(missing)}): apt-get install slurm-wlm munge"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed: pip install -e '.[slurm]'"
    if os.geteuid() != 0:
        return "needs root (SlurmUser=root, writes /etc/slurm/slurm.conf)"
    if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
        return f"a foreign {SLURM_CONF} exists; refusing to overwrite it"
    return None


def _lock_machine() -> int | None:
    """The file descriptor holding :data:`MACHINE_LOCK`, or None if another session held it for
    :data:`LOCK_WAIT_S`."""
    MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(MACHINE_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate: Callable[[], bool], what: str, cluster: SlurmCluster) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise RuntimeError(f"timed out after {START_TIMEOUT_S} s waiting for {what}:\n{cluster.daemon_logs()}")


def _node_idle() -> bool:
    result = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.strip() == "idle"


def _cancel_jobs(partition: str) -> None:
    """Cancel every job and wait until none is left: slurmd leaves running jobs behind when stopped."""
    subprocess.run(["scancel", "--partition", partition], capture_output=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        queue = subprocess.run(["squeue", "-h", "-t", "PD,R,CG"], capture_output=True, text=True)
        if not queue.stdout.strip():
            return
        time.sleep(0.25)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """munged + slurmctld + slurmd on 127.0.0.1 with one idle node; stopped (jobs cancelled) after."""
    reason = _missing_reason()
    lock = None if reason else _lock_machine()
    if lock is None and not reason:
        reason = f"another test session's SLURM cluster has run on this machine for {LOCK_WAIT_S} s"
    if reason:
        if os.environ.get("MWLC_REQUIRE_SLURM") == "1":
            pytest.fail(f"MWLC_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)
    scratch = Path(tempfile.mkdtemp(prefix="mwlc-slurm-"))
    scratch.chmod(0o755)  # munged: the socket's folder and its ancestors must be o+x
    for sub in ("munge", "state", "spool", "log", "run"):
        (scratch / sub).mkdir(mode=0o755)
    cluster = SlurmCluster(scratch, PARTITION)
    key, sock = scratch / "munge" / "munge.key", scratch / "munge" / "munge.socket"
    procs: list[subprocess.Popen] = []

    def start(cmd: list[str], log: str) -> None:
        out = (scratch / "log" / log).open("w")
        procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    try:
        subprocess.run(["/usr/sbin/mungekey", "-c", "-k", str(key)], check=True)
        key.chmod(0o600)
        start(
            [
                "/usr/sbin/munged",
                "-F",
                f"--key-file={key}",
                f"--socket={sock}",
                f"--pid-file={scratch / 'munge/munged.pid'}",
                f"--seed-file={scratch / 'munge/munged.seed'}",
                f"--log-file={scratch / 'log/munged.log'}",
            ],
            "munged.out",
        )
        _wait(sock.exists, "the munge socket", cluster)
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SLURM_CONF.write_text(
            SLURM_CONF_TEMPLATE.format(
                marker=MARKER,
                ctld_port=_free_port(),
                d_port=_free_port(),
                d=scratch,
                sock=sock,
                cpus=NODE_CPUS,
                memory_mb=NODE_MEMORY_MB,
                partition=PARTITION,
            )
        )
        start(["/usr/sbin/slurmctld", "-D", "-i"], "slurmctld.out")
        start(["/usr/sbin/slurmd", "-D", "-N", "localhost"], "slurmd.out")
        _wait(_node_idle, "the node to be idle", cluster)
        yield cluster
    finally:
        if len(procs) == 3:
            _cancel_jobs(PARTITION)
        for proc in reversed(procs):  # slurmd, slurmctld, munged: by PID
            _stop(proc)
        SLURM_CONF.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
        os.close(lock)  # releases MACHINE_LOCK
