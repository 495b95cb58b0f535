"""The resource overview of a week-long run: how much the report reads and holds.

A 500k-object run with the per-object archives takes days (README: ~4 days of MAST requests). The
monitor samples every ``monitor.interval_s`` (2 s) for as long as ``monitor.max_hours`` allows,
so a week is ~300,000 samples, each a row for the system, Snakemake and every running job. This
writes such a record (synthetic values, the monitor's real columns and history layout), then draws
the overview in a child process and prints its time and peak RSS.

    .venv/bin/python benchmarks/report_week.py [--days 7] [--interval-s 2] [--slots 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mwlc.monitor.loop import HISTORY_DIR
from mwlc.monitor.sampling import USAGE_COLUMNS

#: Short HATS/unWISE/HEASARC fetch jobs fill the first hours, then per-object jobs run for hours.
SHORT_JOB_S, LONG_JOB_S, SHORT_PHASE_S = 300, 8 * 3600, 6 * 3600
START = pd.Timestamp("2026-12-01T00:00:00Z")


def job_of(slot: int, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample time (s from the start) in ``slot``: the job's index and its archive."""
    short = t_s < SHORT_PHASE_S
    index = np.where(
        short, t_s // SHORT_JOB_S, SHORT_PHASE_S // SHORT_JOB_S + (t_s - SHORT_PHASE_S) // LONG_JOB_S
    ).astype(np.int64)
    archive = np.where(short, np.array(["ztf", "gaia", "panstarrs", "wise"])[index % 4], "tess_kepler")
    return index * 100 + slot, archive


def write_day(path: Path, t_s: np.ndarray, slots: int, rng: np.random.Generator) -> int:
    """One CSV of the monitor's rows for the sample times ``t_s``; returns the rows written."""
    stamps = (START + pd.to_timedelta(t_s, unit="s")).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    n = len(t_s)
    parts = [
        pd.DataFrame(
            {
                "time": stamps,
                "kind": "system",
                "n_pids": 12,
                "cpu_percent": rng.uniform(50, 200, n).round(3),
                "load1": rng.uniform(1, 4, n).round(2),
                "mem_used_mib": rng.uniform(4000, 9000, n).round(3),
                "mem_available_mib": rng.uniform(14000, 20000, n).round(3),
                "swap_used_mib": 0.0,
            }
        ),
        pd.DataFrame(
            {
                "time": stamps,
                "kind": "snakemake",
                "job": "snakemake",
                "rule": "snakemake",
                "pid": 1000,
                "n_pids": 1,
                "cpu_percent": rng.uniform(0, 5, n).round(3),
                "rss_mib": rng.uniform(180, 220, n).round(3),
            }
        ),
    ]
    for slot in range(slots):
        index, archive = job_of(slot, t_s)
        wildcards = [f"archive={a},shard={i % 1000:04d}" for a, i in zip(archive, index, strict=True)]
        parts.append(
            pd.DataFrame(
                {
                    "time": stamps,
                    "kind": "job",
                    "job": [f"fetch_lightcurves[{w}]" for w in wildcards],
                    "rule": "fetch_lightcurves",
                    "wildcards": wildcards,
                    "pid": 10_000 + index,
                    "n_pids": 2,
                    "cpu_percent": rng.uniform(0, 100, n).round(3),
                    "rss_mib": rng.uniform(300, 1500, n).round(3),
                }
            )
        )
    rows = pd.concat(parts, ignore_index=True).sort_values("time", kind="stable")
    rows.reindex(columns=USAGE_COLUMNS).to_csv(path, index=False)
    return len(rows)


def write_history(folder: Path, days: float, interval_s: float, slots: int) -> tuple[Path, int]:
    """A week's usage table and its history copy, written a day at a time; (usage.csv, rows)."""
    history = folder / HISTORY_DIR
    history.mkdir(parents=True)
    rng = np.random.default_rng(0)
    total, day_s = 0, 86400
    part = history / "usage-20261201T000000Z.csv"
    with open(part, "w") as out:
        for day in range(int(np.ceil(days))):
            t_s = np.arange(day * day_s, min((day + 1) * day_s, days * day_s), interval_s)
            day_path = folder / f"day{day}.csv"
            total += write_day(day_path, t_s, slots, rng)
            text = day_path.read_text()
            out.write(text if day == 0 else text.split("\n", 1)[1])
            day_path.unlink()
    usage = folder / "usage.csv"
    os.link(part, usage)
    return usage, total


def draw(usage: Path, output: Path) -> None:
    """Child process: the report's overview figure, as the report rule draws it."""
    from mwlc.plots.resources import overview_figure_file

    started = time.perf_counter()
    overview_figure_file(str(usage), str(output), title="week")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"overview: {time.perf_counter() - started:.1f} s, peak RSS {peak_mb:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--interval-s", type=float, default=2.0)
    parser.add_argument("--slots", type=int, default=4, help="jobs running at once")
    parser.add_argument("--png", help="keep the figure here")
    parser.add_argument("--draw", nargs=2, metavar=("USAGE", "PNG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.draw:
        draw(Path(args.draw[0]), Path(args.draw[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        usage, rows = write_history(folder, args.days, args.interval_s, args.slots)
        size_mb = usage.stat().st_size / 1e6
        print(
            f"{args.days:g} days at {args.interval_s:g} s, {args.slots} jobs at a time: {rows:,} rows, "
            f"{size_mb:,.0f} MB of CSV (twice: usage.csv and its history copy), "
            f"written in {time.perf_counter() - started:.0f} s"
        )
        png = folder / "overview.png"
        subprocess.run([sys.executable, __file__, "--draw", str(usage), str(png)], check=True)
        print(f"figure: {png.stat().st_size / 1e3:,.0f} kB")
        if args.png:
            shutil.copyfile(png, args.png)


if __name__ == "__main__":
    main()
