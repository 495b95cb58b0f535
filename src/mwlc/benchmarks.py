"""One table of what every job cost, from Snakemake's per-job ``benchmark:`` files.

Snakemake writes one TSV per job (columns ``s, h:m:s, max_rss, max_vms, max_uss, max_pss,
io_in, io_out, mean_load, cpu_time``; sizes in MiB, ``mean_load`` = CPU percent over the
job's wall time, 100 = one busy core). Its sampling starts at 0.5 s and slows to 30 s after
~15 s, so peaks between samples are missed and sub-second jobs read ``NA``; the monitor's
usage table (:mod:`mwlc.monitor`) has the time series.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import pandas as pd

from mwlc.io import write_csv_atomic

log = logging.getLogger(__name__)

#: Columns of ``benchmarks.csv``: wall and CPU time in s, memory and I/O in MiB,
#: mean_load in percent of one core.
BENCHMARK_COLUMNS = [
    "rule",
    "wildcards",
    "job",
    "iteration",
    "wall_s",
    "max_rss_mib",
    "max_uss_mib",
    "cpu_time_s",
    "mean_load",
    "io_in_mib",
    "io_out_mib",
    "benchmark",
]
_RENAME = {
    "s": "wall_s",
    "max_rss": "max_rss_mib",
    "max_uss": "max_uss_mib",
    "cpu_time": "cpu_time_s",
    "mean_load": "mean_load",
    "io_in": "io_in_mib",
    "io_out": "io_out_mib",
}


def read_benchmark(path: str) -> pd.DataFrame:
    """One Snakemake benchmark TSV, columns renamed with units (``NA`` → NaN).

    Returns
    -------
    pandas.DataFrame
        One row per repetition, columns ``wall_s, max_rss_mib, max_uss_mib, cpu_time_s,
        mean_load, io_in_mib, io_out_mib`` (float) and ``iteration`` (0-based).
    """
    frame = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    missing = [column for column in _RENAME if column not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no column(s) {missing})")
    frame = frame[list(_RENAME)].rename(columns=_RENAME).astype(float)
    frame.insert(0, "iteration", range(len(frame)))
    return frame


def gather_benchmarks(paths: Sequence[str], jobs: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Every job's benchmark rows in one table.

    Parameters
    ----------
    paths : sequence of str
        Benchmark TSV files.
    jobs : sequence of mapping
        Aligned with ``paths``: ``{"rule": str, "wildcards": {name: value}}`` of the job that
        wrote each file.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BENCHMARK_COLUMNS`; ``job`` is ``rule[name=value,...]``.
    """
    if len(paths) != len(jobs):
        raise ValueError(f"{len(paths)} benchmark files but {len(jobs)} job descriptions")
    frames = []
    for path, job in zip(paths, jobs, strict=True):
        if not os.path.exists(path):  # deleted by the user: the job is not rerun for its benchmark
            log.warning("benchmark file %s is missing: %s left out of the table", path, job["rule"])
            continue
        frame = read_benchmark(path)
        wildcards = ",".join(f"{key}={value}" for key, value in dict(job.get("wildcards") or {}).items())
        frame.insert(0, "rule", str(job["rule"]))
        frame.insert(1, "wildcards", wildcards)
        frame.insert(2, "job", f"{job['rule']}[{wildcards}]" if wildcards else str(job["rule"]))
        frame["benchmark"] = path
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=BENCHMARK_COLUMNS)
    return pd.concat(frames, ignore_index=True)[BENCHMARK_COLUMNS]


def write_benchmarks_csv(
    paths: Sequence[str], jobs: Sequence[Mapping[str, object]], output_csv: str
) -> pd.DataFrame:
    """:func:`gather_benchmarks` written (atomically) to ``output_csv``; returns the table."""
    table = gather_benchmarks(paths, jobs)
    write_csv_atomic(table, output_csv)
    log.info(
        "%d benchmark rows from %d jobs; total wall %.1f s, CPU %.1f s, peak RSS %.0f MiB",
        len(table),
        len(paths),
        table["wall_s"].sum(),
        table["cpu_time_s"].sum(),
        table["max_rss_mib"].max() if len(table) else 0.0,
    )
    return table
