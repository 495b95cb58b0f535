"""Convert a ``top.txt`` of the original scale_up runs into the monitor's usage table.

The original ``scale_up.sh`` ran ``top -b`` on its job PIDs and appended each snapshot to
``top.txt`` after a ``----`` line (optionally ``----<tag>``, a time tag typed in by hand) and a
``date`` line::

    ----
    2024/03/01 20:31:28 UTC
    top - 20:31:28 up  1:16,  0 users,  load average: 0.12, 0.03, 0.15
    Tasks: ...
    %Cpu(s):  6.2 us,  0.0 sy,  0.0 ni, 93.8 id, ...
    GiB Mem :     61.8 total,     52.2 free,      1.3 used,      8.3 buff/cache
    GiB Swap:      0.0 total,      0.0 free,      0.0 used.     59.8 avail Mem

        PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND
       3289 jovyan    20   0    2.5g   0.3g   0.1g R 106.7   0.4   0:03.24 python

:func:`read_top` turns it into the table :mod:`mwlc.monitor` writes (columns
:data:`mwlc.monitor.USAGE_COLUMNS`, memory in MiB, ``cpu_percent`` 100 = one core), so old and
new runs are plotted by the same :func:`mwlc.plots.plot_overview`. PIDs are named from the
run's logs (``[pid=N] Starting build=lightcurves, archive=gaia``), as the original's
``load_top_output`` did; time tags become ``kind=tag`` rows.

Command line::

    python -m mwlc.toplog top.txt -o usage.csv [--logs DIR] [--name PID=NAME ...] [--n-cpus N]
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC
from pathlib import Path

import pandas as pd
from dateutil import parser as dateparser

from mwlc.io import write_csv_atomic
from mwlc.monitor import USAGE_COLUMNS, JobName, job_name

log = logging.getLogger(__name__)

#: MiB per unit of top's memory summary lines and of its VIRT/RES/SHR suffixes.
_MIB_PER = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 1024.0**2, "PiB": 1024.0**3, "EiB": 1024.0**4}
_SUFFIX_MIB = {
    "": 1 / 1024,
    "k": 1 / 1024,
    "m": 1.0,
    "g": 1024.0,
    "t": 1024.0**2,
    "p": 1024.0**3,
    "e": 1024.0**4,
}

_LOAD_RE = re.compile(r"load average:\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)")
_IDLE_RE = re.compile(r"([\d.]+)\s*id\b")
_MEM_RE = re.compile(r"^(\w+) Mem\s*:\s*([\d.]+)\s*total,\s*([\d.]+)\s*free,\s*([\d.]+)\s*used")
_SWAP_RE = re.compile(
    r"^(\w+) Swap:\s*([\d.]+)\s*total,\s*([\d.]+)\s*free,\s*([\d.]+)\s*used\.\s*([\d.]+)\s*avail"
)
_PID_RE = re.compile(r"\[pid=(\d+)\]\s*(.*)")
_BUILD_RE = re.compile(r"Starting build=([\w.-]+)(?:,\s*archive=([\w.-]+))?")
_STARTED_RE = re.compile(r"started\.\s*logfile=([\w.-]+?)\.log")


def _memory_mib(value: str) -> float:
    """A top VIRT/RES/SHR field (``0.3g``, ``512m``, ``20480``= KiB) in MiB."""
    match = re.fullmatch(r"([\d.]+)([kmgtpe]?)", value.strip().lower())
    if match is None:
        raise ValueError(f"not a top memory value: {value!r}")
    return float(match.group(1)) * _SUFFIX_MIB[match.group(2)]


def split_snapshots(text: str) -> Iterator[tuple[str, list[str]]]:
    """``(time_tag, lines)`` of every snapshot (text after each ``----`` line)."""
    tag, lines = None, []
    for line in text.splitlines():
        if line.startswith("----"):
            if tag is not None:
                yield tag, lines
            tag, lines = line[4:].strip(), []
        elif tag is not None:
            lines.append(line)
    if tag is not None:
        yield tag, lines


def parse_snapshot(lines: Sequence[str]) -> dict | None:
    """One snapshot as ``{time, load1, mem_used_mib, mem_available_mib, swap_used_mib,
    cpu_busy_percent, processes: [...]}``; None if it is too short to be one (< 7 lines)."""
    if len(lines) < 7 or not lines[0].strip():
        return None
    stamp = dateparser.parse(lines[0].strip())
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    snapshot = {"time": stamp, "processes": []}
    header = None
    for line in lines[1:]:
        if header is not None:
            if line.strip():
                fields = line.split(None, len(header) - 1)
                snapshot["processes"].append(dict(zip(header, fields, strict=False)))
        elif (match := _LOAD_RE.search(line)) and line.startswith("top"):
            snapshot["load1"] = float(match.group(1))
        elif line.startswith("%Cpu") and (match := _IDLE_RE.search(line)):
            snapshot["cpu_busy_percent"] = 100.0 - float(match.group(1))
        elif match := _MEM_RE.match(line):
            snapshot["mem_used_mib"] = float(match.group(4)) * _MIB_PER[match.group(1)]
        elif match := _SWAP_RE.match(line):
            scale = _MIB_PER[match.group(1)]
            snapshot["swap_used_mib"] = float(match.group(4)) * scale
            snapshot["mem_available_mib"] = float(match.group(5)) * scale
        elif line.split()[:1] == ["PID"]:
            header = line.split()
    return snapshot


def pid_names_from_logs(logs_dir: str | Path) -> dict[int, JobName]:
    """Job names of PIDs announced in a run's logs (``*.log`` in ``logs_dir``).

    ``[pid=N] Starting build=lightcurves, archive=gaia`` names N ``lightcurves[archive=gaia]``
    and ``[pid=N] Starting build=sample`` names it ``sample``; in ``scale_up.sh.log``,
    ``[pid=N] WISE started. logfile=wise.log`` names it ``lightcurves[archive=wise]`` unless the
    archive's own log said more; a line mentioning a worker names N ``<log stem>-worker``.
    """
    names: dict[int, JobName] = {}
    weak: dict[int, JobName] = {}
    for path in sorted(Path(logs_dir).glob("*.log")):
        stem = path.name.split(".")[0]
        for line in path.read_text(errors="replace").splitlines():
            for pid_text, rest in _PID_RE.findall(line):
                pid = int(pid_text)
                if match := _BUILD_RE.search(rest):
                    build, archive = match.groups()
                    names[pid] = job_name(build, {"archive": archive} if archive else {})
                elif match := _STARTED_RE.search(rest):
                    weak.setdefault(pid, job_name("lightcurves", {"archive": match.group(1)}))
                elif "worker" in rest.lower():
                    weak.setdefault(pid, JobName(f"{stem}-worker", "worker", f"archive={stem}"))
    return {**weak, **names}


def read_top(
    path: str | Path,
    *,
    pid_names: Mapping[int, JobName] | None = None,
    n_cpus: int | None = None,
) -> pd.DataFrame:
    """A ``top.txt`` as the monitor's usage table.

    Parameters
    ----------
    path : path-like
        The ``top.txt`` file.
    pid_names : mapping, optional
        PID → :class:`~mwlc.monitor.JobName` (e.g. from :func:`pid_names_from_logs`). Other
        PIDs are named ``<COMMAND> (pid N)``, like the monitor names unknown processes.
    n_cpus : int, optional
        Logical CPUs of the machine. ``top``'s ``%Cpu(s)`` is a share of all CPUs; with
        ``n_cpus`` the system row's ``cpu_percent`` becomes percent of one core (the monitor's
        unit); without it that column is left empty.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`mwlc.monitor.USAGE_COLUMNS`: a ``system`` row per snapshot (``load1``,
        memory in MiB, ``n_pids`` = listed processes), a ``job`` row per listed process
        (``cpu_percent`` = top's %CPU, ``rss_mib`` = RES) and a ``tag`` row per time tag.
    """
    pid_names = dict(pid_names or {})
    rows = []
    for tag, lines in split_snapshots(Path(path).read_text(errors="replace")):
        snapshot = parse_snapshot(lines)
        if snapshot is None:
            continue
        rows.extend(_snapshot_rows(snapshot, tag, pid_names, n_cpus))
    table = pd.DataFrame(rows, columns=USAGE_COLUMNS)
    for column in ("pid", "n_pids"):
        table[column] = table[column].astype("Int64")
    return table


def _snapshot_rows(
    snapshot: dict, tag: str, pid_names: Mapping[int, JobName], n_cpus: int | None
) -> list[dict]:
    stamp = snapshot["time"].isoformat(timespec="milliseconds")
    busy = snapshot.get("cpu_busy_percent")
    rows = [
        {
            "time": stamp,
            "kind": "system",
            "job": "",
            "rule": "",
            "wildcards": "",
            "n_pids": len(snapshot["processes"]),
            "cpu_percent": busy * n_cpus if n_cpus and busy is not None else None,
            **{
                key: snapshot.get(key)
                for key in ("load1", "mem_used_mib", "mem_available_mib", "swap_used_mib")
            },
        }
    ]
    if tag:
        rows.append({"time": stamp, "kind": "tag", "job": tag, "rule": "", "wildcards": ""})
    for process in snapshot["processes"]:
        pid = int(process["PID"])
        name = pid_names.get(pid) or JobName(f"{process.get('COMMAND', '?')} (pid {pid})")
        rows.append(
            {
                "time": stamp,
                "kind": "job",
                "job": name.job,
                "rule": name.rule,
                "wildcards": name.wildcards,
                "pid": pid,
                "n_pids": 1,
                "cpu_percent": float(process["%CPU"]),
                "rss_mib": _memory_mib(process["RES"]),
            }
        )
    return rows


def _parse_name(text: str) -> tuple[int, JobName]:
    pid, sep, name = text.partition("=")
    if not sep or not pid.strip().isdigit() or not name.strip():
        raise argparse.ArgumentTypeError(f"expected PID=NAME, got {text!r}")
    return int(pid), JobName(name.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``mwlc-import-top top.txt -o usage.csv`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="mwlc-import-top", description=__doc__.split("\n\n")[0])
    parser.add_argument("top_txt", type=Path, help="top.txt of an original scale_up run")
    parser.add_argument("-o", "--output", required=True, help="usage CSV to write")
    parser.add_argument("--logs", type=Path, help="directory of the run's *.log files (default: top.txt's)")
    parser.add_argument(
        "--name",
        type=_parse_name,
        action="append",
        default=[],
        metavar="PID=NAME",
        help="name a PID by hand (repeatable; wins over the logs)",
    )
    parser.add_argument("--n-cpus", type=int, help="logical CPUs of the machine, to convert %%Cpu(s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    names = {**pid_names_from_logs(args.logs or args.top_txt.parent), **dict(args.name)}
    table = read_top(args.top_txt, pid_names=names, n_cpus=args.n_cpus)
    write_csv_atomic(table, args.output)
    jobs = table[table["kind"] == "job"]
    log.info(
        "%s: %d snapshots, %d PIDs (%d named from logs) -> %s",
        args.top_txt,
        (table["kind"] == "system").sum(),
        jobs["pid"].nunique(),
        jobs.loc[jobs["rule"] != "", "pid"].nunique(),
        args.output,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
