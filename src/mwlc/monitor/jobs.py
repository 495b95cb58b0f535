"""Which Snakemake job a process tree is running, and which process is Snakemake.

A job is a process tree under the Snakemake main process; it is named after its rule and
wildcards, read from the script Snakemake generated for it (the pickled ``snakemake`` object in
the script's first line), so nobody has to match PIDs printed in logs.
"""

from __future__ import annotations

import ast
import logging
import os
import pickle
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)

_SCRIPT_RE = re.compile(r"(?:^|/)\.snakemake/scripts/tmp[^/]*\.py$")
_PREAMBLE_END = b"######## snakemake preamble end"


@dataclass(frozen=True)
class JobName:
    """What a job process tree is running.

    Parameters
    ----------
    job : str
        Display name, ``rule[key=value,...]`` (or a fallback, see :func:`identify_job`).
    rule : str
        Snakemake rule name; empty when it could not be read.
    wildcards : str
        ``key=value`` pairs joined by commas; empty for rules without wildcards.
    """

    job: str
    rule: str = ""
    wildcards: str = ""

    @property
    def certain(self) -> bool:
        """True when rule and wildcards come from the job's Snakemake script."""
        return bool(self.rule)


def job_name(rule: str, wildcards: Mapping[str, object]) -> JobName:
    """The :class:`JobName` of rule ``rule`` run with ``wildcards``."""
    text = ",".join(f"{key}={value}" for key, value in wildcards.items())
    return JobName(f"{rule}[{text}]" if text else rule, rule, text)


def read_script_job(path: str) -> JobName | None:
    """Rule and wildcards of a Snakemake ``script:`` job, from the script it runs.

    Snakemake runs a Python ``script:`` job as ``python .snakemake/scripts/tmpXXXX.<name>.py``,
    a copy of the script whose first line (the "preamble") holds the job's pickled
    ``snakemake`` object. Only the bytes literal passed to ``pickle.loads`` is evaluated, with
    :func:`ast.literal_eval`; it is unpickled with the running Snakemake's classes. Read
    only scripts of the workflow being monitored (same user, its ``.snakemake/``).

    Returns
    -------
    JobName or None
        None when the file is gone (the job ended) or has no Snakemake preamble.
    """
    try:
        with open(path, "rb") as stream:
            head = b"".join(_preamble_lines(stream))
    except OSError:
        return None
    payload = _pickled_payload(head.decode("utf-8", errors="replace"))
    if payload is None:
        return None
    try:
        job = pickle.loads(payload)  # noqa: S301 - the workflow's own job script, see docstring
        return job_name(job.rule, dict(job.wildcards.items()))
    except Exception as error:  # a script from another Snakemake version: fall back
        log.debug("cannot read the job of %s: %s", path, error)
        return None


def _preamble_lines(stream, max_lines: int = 5) -> Iterable[bytes]:
    for _ in range(max_lines):
        line = stream.readline()
        if not line or line.startswith(_PREAMBLE_END):
            return
        yield line


def _pickled_payload(source: str) -> bytes | None:
    """The bytes literal passed to ``pickle.loads(...)`` in a preamble, without running it."""
    for line in source.splitlines():
        if "pickle.loads(" not in line:
            continue
        try:
            tree = ast.parse(line)
        except SyntaxError:
            return None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "loads"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, bytes)
            ):
                return node.args[0].value
    return None


def identify_job(tree: Sequence[psutil.Process]) -> JobName:
    """Name a job from its process tree (root first).

    In order: the rule and wildcards in the Snakemake script a process runs
    (:func:`read_script_job`); else the first ``.log`` file a process has open (``shell:``
    jobs that redirect to their ``log:``), relative to the job's working directory; else the
    root's command name and PID.
    """
    for proc in tree:
        script = _script_path(proc)
        if script is not None:
            named = read_script_job(script)
            if named is not None:
                return named
    for proc in tree:
        try:
            for opened in proc.open_files():
                if opened.path.endswith(".log"):
                    return JobName(os.path.relpath(opened.path, proc.cwd()))
        except (psutil.Error, OSError):
            continue
    root = tree[0]
    try:
        return JobName(f"{root.name()} (pid {root.pid})")
    except psutil.Error:
        return JobName(f"pid {root.pid}")


def _script_path(proc: psutil.Process) -> str | None:
    try:
        cmdline, cwd = proc.cmdline(), proc.cwd()
    except (psutil.Error, OSError):
        return None
    for arg in cmdline[1:3]:
        if _SCRIPT_RE.search(arg):
            return os.path.join(cwd, arg)
    return None


def is_snakemake_main(cmdline: Sequence[str]) -> bool:
    """True for the command line of a Snakemake main process (CLI or ``python -m snakemake``)."""
    if "-m" in cmdline[:3] and "snakemake" in cmdline[:4]:
        return True
    return any(
        os.path.basename(arg) == "snakemake" or arg.endswith(os.path.join("snakemake", "__main__.py"))
        for arg in cmdline[:2]
    )


def find_snakemake_process(
    start: psutil.Process | None = None, *, main_pid: int | None = None
) -> psutil.Process:
    """The nearest ancestor of ``start`` (default: this process) that is Snakemake's main process.

    That is a ``snakemake`` command (CLI or ``python -m snakemake``) or, when Snakemake runs
    inside another program (:func:`mwlc.run` in a notebook's kernel or a ``python`` script),
    the ancestor whose pid is ``main_pid``: the process that started the run, as its
    ``run.json`` records (:mod:`mwlc.run_plan`).

    Raises
    ------
    RuntimeError
        When no ancestor is a Snakemake process (the monitor was not started by Snakemake).
    """
    proc = (start or psutil.Process()).parent()
    while proc is not None:
        try:
            if proc.pid == main_pid or is_snakemake_main(proc.cmdline()):
                return proc
        except psutil.Error:
            pass
        proc = proc.parent()
    raise RuntimeError(
        "no Snakemake process among this process's ancestors: run the monitor as a Snakemake job"
    )


def own_job_root(main_pid: int, proc: psutil.Process | None = None) -> int:
    """PID of the child of ``main_pid`` whose tree holds ``proc`` (default: this process)."""
    proc = proc or psutil.Process()
    while proc.ppid() != main_pid:
        parent = proc.parent()
        if parent is None:
            raise RuntimeError(f"process {proc.pid} does not descend from {main_pid}")
        proc = parent
    return proc.pid
