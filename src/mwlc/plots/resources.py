"""The resource overview (the original's ``plot_overview``): load, CPU, memory and RSS over time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mwlc.plots.figure import add_note, empty_figure, memory_scale, save_figure

#: Up to this many jobs the overview has one colour and legend entry per job; above, per rule
#: (and a job is labelled by its wildcard values only).
MAX_NAMED_JOBS = 20
#: Above this many jobs the overview names no job at its start (markers only).
MAX_LABELLED_JOBS = 150


def read_usage(path: str | Path) -> pd.DataFrame:
    """The monitor's usage CSV (or an imported ``top.txt``) with ``time`` as UTC datetimes."""
    usage = pd.read_csv(
        path,
        dtype={"job": str, "rule": str, "wildcards": str, "kind": str},
        keep_default_na=False,
        na_values=[""],
    )
    usage["time"] = pd.to_datetime(usage["time"], utc=True, format="ISO8601")
    for column in ("job", "rule", "wildcards"):
        usage[column] = usage[column].fillna("")
    return usage


def select_window(usage: pd.DataFrame, window: Sequence[str] | None) -> pd.DataFrame:
    """Rows of ``usage`` inside ``window``.

    Parameters
    ----------
    window : (start, end) or None
        Either two times of day ``"HH:MM[:SS]"`` in UTC (any day, like the original's
        ``between_time``) or two ISO timestamps; None keeps everything.
    """
    if not window:
        return usage
    start, end = window
    if ":" in start and "-" not in start and ":" in end and "-" not in end:
        index = pd.DatetimeIndex(usage["time"])
        return usage.iloc[index.indexer_between_time(start, end)]
    lo, hi = (
        pd.Timestamp(value).tz_localize("UTC") if pd.Timestamp(value).tzinfo is None else pd.Timestamp(value)
        for value in (start, end)
    )
    return usage[(usage["time"] >= lo) & (usage["time"] <= hi)]


def job_spans(usage: pd.DataFrame) -> pd.DataFrame:
    """First and last sample of every job process (one row per job name and root PID).

    Returns
    -------
    pandas.DataFrame
        Columns ``job, rule, pid, start, end, started, ended``: ``started``/``ended`` are False
        when the job was already running at the first sample / still running at the last one
        (so its true start/end is not in the table).
    """
    jobs = usage[usage["kind"] == "job"]
    if jobs.empty:
        return pd.DataFrame(columns=["job", "rule", "pid", "start", "end", "started", "ended"])
    spans = (
        jobs.groupby(["job", "pid"], sort=False)
        .agg(rule=("rule", "first"), start=("time", "min"), end=("time", "max"))
        .reset_index()
    )
    first, last = usage["time"].min(), usage["time"].max()
    spans["started"] = spans["start"] > first
    spans["ended"] = spans["end"] < last
    return spans.sort_values(["start", "job"]).reset_index(drop=True)


def _job_colours(spans: pd.DataFrame) -> dict[str, tuple]:
    """One colour per job name (≤ MAX_NAMED_JOBS jobs) or per rule (more jobs)."""
    keys = list(
        dict.fromkeys(spans["job"] if len(spans) <= MAX_NAMED_JOBS else spans["rule"].replace("", "?"))
    )
    cmap = matplotlib.colormaps.get_cmap("tab10" if len(keys) <= 10 else "tab20")
    return {key: cmap(i % cmap.N) for i, key in enumerate(keys)}


def plot_overview(
    usage: pd.DataFrame,
    *,
    window: Sequence[str] | None = None,
    title: str = "",
    note: str = "",
) -> Figure:
    """The original's 4-panel resource overview, from a usage table.

    Panels, sharing the time axis (UTC): (1) 1-min load average; (2) CPU per job (percent of
    one core); (3) available and swap-used memory of the machine (GiB); (4) RSS per job (MiB or
    GiB). A job's first sample is marked ``>`` and its last a square, each only if it is the
    job's true start/end, and the job is named at its start (up to :data:`MAX_LABELLED_JOBS`
    jobs). With at most :data:`MAX_NAMED_JOBS` jobs each has its own colour and full name;
    with more, colours follow rules and a job is labelled by its wildcard values. The
    Snakemake process is drawn dashed, time tags (``kind=tag``) as dotted vertical lines.

    Parameters
    ----------
    usage : pandas.DataFrame
        Columns of :data:`mwlc.monitor.USAGE_COLUMNS`; ``time`` as UTC datetimes.
    window : (start, end), optional
        See :func:`select_window`.
    title : str
        Title; the date of the first sample is appended.
    note : str
        Provenance note printed under the figure.
    """
    figure = Figure(figsize=(12, 8.5))
    axes = figure.subplots(4, 1, sharex=True, height_ratios=(1, 2, 1, 2))
    add_note(figure, note)
    usage = select_window(usage, window)
    system = usage[usage["kind"] == "system"]
    if system.empty:
        for ax in axes:
            ax.set_visible(False)
        return empty_figure(figure, "no monitor data (the monitor did not run or recorded nothing)")
    _overview_system(axes, system)
    _overview_jobs(axes, usage)
    for _, tag in usage[usage["kind"] == "tag"].iterrows():
        for ax in axes:
            ax.axvline(tag["time"], color="0.5", linestyle=":", linewidth=1)
        axes[0].annotate(
            tag["job"],
            (tag["time"], 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color="0.3",
        )
    _time_axis(axes[-1], usage["time"].min(), usage["time"].max())
    axes[-1].set_xlabel("Time (UTC)")
    for ax in axes:
        ax.grid(True, linestyle=":", alpha=0.6)
    day = system["time"].min().strftime("%Y-%m-%d")
    axes[0].set_title(f"{title} ({day})" if title else day)
    figure.align_ylabels(axes)
    return figure


def _overview_system(axes, system: pd.DataFrame) -> None:
    axes[0].plot(system["time"], system["load1"], color="0.4", label="system")
    axes[0].set_ylabel("1-min load\n(processes)")
    axes[0].set_ylim(bottom=0)
    axes[2].plot(system["time"], system["mem_available_mib"] / 1024, color="0.4", label="available")
    if system["swap_used_mib"].fillna(0).max() > 0:
        axes[2].plot(
            system["time"], system["swap_used_mib"] / 1024, color="tab:red", linestyle=":", label="swap used"
        )
    axes[2].set_ylabel("System memory\n(GiB)")
    axes[2].set_ylim(bottom=0)
    axes[2].legend(loc="lower left", fontsize=7)


def _overview_jobs(axes, usage: pd.DataFrame) -> None:
    jobs = usage[usage["kind"] == "job"]
    spans = job_spans(usage)
    colours = _job_colours(spans)
    named = len(spans) <= MAX_NAMED_JOBS
    rss = usage.loc[usage["kind"].isin(["job", "snakemake"]), "rss_mib"]
    scale, unit = memory_scale(float(rss.max()) if rss.notna().any() else 0.0)
    main = usage[usage["kind"] == "snakemake"]
    if not main.empty:
        for ax, values in ((axes[1], main["cpu_percent"]), (axes[3], main["rss_mib"] / scale)):
            ax.plot(main["time"], values, color="k", linestyle="--", linewidth=0.8, label="snakemake")
    labelled: set[str] = set()
    for span in spans.itertuples():
        rows = jobs[(jobs["job"] == span.job) & (jobs["pid"] == span.pid)]
        key = span.job if named else (span.rule or "?")
        colour = colours[key]
        axes[1].plot(
            rows["time"],
            rows["cpu_percent"],
            color=colour,
            linewidth=1.2,
            label=None if key in labelled else key,
        )
        axes[3].plot(rows["time"], rows["rss_mib"] / scale, color=colour, linewidth=1.2)
        labelled.add(key)
        for ax, values in ((axes[1], rows["cpu_percent"]), (axes[3], rows["rss_mib"] / scale)):
            if span.started:
                ax.plot(rows["time"].iloc[0], values.iloc[0], marker=">", color=colour, markersize=6)
            if span.ended:
                ax.plot(rows["time"].iloc[-1], values.iloc[-1], marker="s", color=colour, markersize=4)
    if len(spans) <= MAX_LABELLED_JOBS:
        _name_job_starts(axes[1], spans, colours, named)
    axes[1].set_ylabel("CPU per job\n(% of one core)")
    axes[3].set_ylabel(f"RSS per job\n({unit})")
    for ax in (axes[1], axes[3]):
        ax.set_ylim(bottom=0)
    if labelled or not main.empty:
        axes[1].legend(
            title="Jobs" if named else "Rules",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7,
            ncol=1 + len(labelled) // 24,
        )


def _job_label(job: str, rule: str) -> str:
    """A short label: the wildcard values of ``rule[a=x,b=y]`` (``x/y``), else the job name."""
    inside = job[len(rule) + 1 : -1] if rule and job.startswith(f"{rule}[") and job.endswith("]") else ""
    return "/".join(pair.partition("=")[2] for pair in inside.split(",")) if inside else job


def _name_job_starts(
    ax,
    spans: pd.DataFrame,
    colours: Mapping[str, tuple],
    named: bool,
    *,
    lanes: int = 8,
    char_fraction: float = 0.007,
) -> None:
    """Each job's name at its start, at the top of ``ax``, in the first free lane.

    With ``named`` the full job name in the job's colour, else its wildcard values in its
    rule's colour. A name occupies about ``char_fraction`` of the axis width per character
    (6.5 pt text on a ~10 in wide axis); names that would overlap go one lane down; names
    running past the right edge end at it.
    """
    if spans.empty:
        return
    first, last = spans["start"].min(), max(spans["end"].max(), spans["start"].max())
    span_s = max((last - first).total_seconds(), 1.0)
    lane_ends = [-1.0] * lanes
    for span in spans.itertuples():
        text = span.job if named else _job_label(span.job, span.rule)
        colour = colours[span.job if named else (span.rule or "?")]
        start = (span.start - first).total_seconds() / span_s * 0.96 + 0.02
        width = len(text) * char_fraction + 0.005
        free = [i for i, end in enumerate(lane_ends) if end < start]
        lane = free[0] if free else int(np.argmin(lane_ends))
        lane_ends[lane] = start + width
        x, ha = (span.start, "left") if start + width <= 1.0 else (1.0, "right")
        coords = ("data", "axes fraction") if ha == "left" else "axes fraction"
        ax.annotate(
            text,
            (x, 0.97 - 0.1 * lane),
            xycoords=coords,
            fontsize=6.5,
            color=colour,
            va="top",
            ha=ha,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7},
        )


def _time_axis(ax, first: pd.Timestamp, last: pd.Timestamp) -> None:
    """Tick labels in UTC: HH:MM:SS under an hour, HH:MM within a day, else date and time."""
    span_h = (last - first).total_seconds() / 3600
    fmt = "%H:%M:%S" if span_h < 1 else "%H:%M" if span_h < 24 else "%m-%d %H:%M"
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz="UTC", maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt, tz="UTC"))


def overview_figure_file(
    usage_csv: str, output: str, *, window: Sequence[str] | None = None, title: str = "", note: str = ""
) -> None:
    """Read the usage CSV, draw :func:`plot_overview` and save it to ``output``."""
    save_figure(plot_overview(read_usage(usage_csv), window=window, title=title, note=note), output)
