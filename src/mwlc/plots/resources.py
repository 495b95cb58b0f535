"""The resource overview (the original's ``plot_overview``): load, CPU, memory and RSS over time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mwlc.plots.figure import (
    N_NAMED_JOBS,
    add_note,
    empty_figure,
    job_groups,
    memory_scale,
    save_figure,
    short_job_name,
)

#: Up to this many jobs the overview draws and names every job; above, it sums the jobs of each
#: rule and archive and names only the longest and the largest ones.
MAX_NAMED_JOBS = 20


#: A record of more samples than this (~8 h at one every 2 s) is drawn from bins of consecutive
#: samples: a week sampled every 2 s is 300,000 samples, ~1.8 M rows with 4 jobs running (~1.6 GB
#: read whole), read a chunk at a time into about :data:`MAX_POINTS` points
#: (``benchmarks/report_week.py``).
MAX_SAMPLES_DRAWN = 15_000
#: About how many points a binned record is drawn with.
MAX_POINTS = 3000
#: Rows of a usage table read at a time when it is binned.
READ_CHUNK_ROWS = 200_000
#: How the rows of a bin become one. A job's CPU and RSS are its sums over the bin's samples
#: divided by their number (a job that ran for a tenth of the bin counts a tenth), so that the
#: stacked sums are the bin's true averages, not the peaks of jobs that followed each other;
#: ``rss_peak_mib`` keeps each job's peak. The system's load and CPU are averaged, its memory in
#: use taken at its peak and its available memory at its lowest.
_BIN_MEANS = ("cpu_percent", "rss_mib", "load1")
_BIN_EXTREMES = {
    "n_pids": "max",
    "rss_peak_mib": "max",
    "mem_used_mib": "max",
    "swap_used_mib": "max",
    "mem_available_mib": "min",
}
_BIN_KEYS = ["bin", "kind", "job", "rule", "wildcards", "pid"]
_DTYPES = {"job": str, "rule": str, "wildcards": str, "kind": str}
_READ = {"dtype": _DTYPES, "keep_default_na": False, "na_values": [""]}


def read_usage(path: str | Path) -> pd.DataFrame:
    """The monitor's usage CSV (or an imported ``top.txt``) with ``time`` as UTC datetimes; a last
    row cut short by a kill (no line end) is passed over."""
    usage = pd.read_csv(path, **_READ)
    return _parsed(usage if _ends_a_line(path) else usage.iloc[:-1])


def _ends_a_line(path: str | Path) -> bool:
    """Whether the file ends with a line end (the monitor writes whole rows; a kill may cut one)."""
    with open(path, "rb") as table:
        table.seek(0, 2)
        if table.tell() == 0:
            return True
        table.seek(-1, 2)
        return table.read(1) == b"\n"


def _chunks(path: Path, **read: object) -> Iterator[pd.DataFrame]:
    """The rows of a usage table, :data:`READ_CHUNK_ROWS` at a time, parsed; a last row cut short
    by a kill is passed over."""
    whole = _ends_a_line(path)
    held = None
    for chunk in pd.read_csv(path, **_READ, chunksize=READ_CHUNK_ROWS, **read):
        if held is not None:
            yield _parsed(held)
        held = chunk
    if held is not None:
        yield _parsed(held if whole else held.iloc[:-1])


def _parsed(usage: pd.DataFrame) -> pd.DataFrame:
    """Times as UTC datetimes, names as strings, values as numbers (a chunk that held a row cut
    short read a column as text)."""
    usage = usage[usage["kind"].notna()].copy()
    usage["time"] = pd.to_datetime(usage["time"], utc=True, format="ISO8601")
    for column in usage.columns.difference(["time", "kind", "job", "rule", "wildcards"]):
        usage[column] = pd.to_numeric(usage[column], errors="coerce")
    for column in ("job", "rule", "wildcards"):
        if column in usage:
            usage[column] = usage[column].fillna("")
    return usage


def read_usage_history(
    usage_csv: str | Path,
    *,
    window: Sequence[str] | None = None,
    max_samples: int = MAX_SAMPLES_DRAWN,
    max_points: int = MAX_POINTS,
) -> pd.DataFrame:
    """Every monitored invocation of a run, from the monitor's history copies next to
    ``usage_csv`` (:data:`mwlc.monitor.HISTORY_DIR`), oldest first; ``usage_csv`` alone for a run
    monitored before they were kept.

    Between two invocations a row of NaN for the system and Snakemake breaks their lines, so a
    restart after hours shows as a gap, not as a straight line across it.

    A record of more than ``max_samples`` samples (in ``window``, see :func:`select_window`) is
    read a chunk at a time into about ``max_points`` bins of consecutive samples, so that a week
    costs the report what a few hours do: each job's, Snakemake's and the system's rows of a bin
    become one, at the time of the bin's first sample (how: ``_BIN_MEANS``; ``rss_peak_mib`` is a
    job's peak RSS in the bin). ``attrs["samples_per_point"]`` and ``attrs["point_s"]`` (the
    median seconds a point spans) then say so.
    """
    from mwlc.monitor.loop import HISTORY_DIR

    paths = sorted((Path(usage_csv).parent / HISTORY_DIR).glob("usage-*.csv")) or [Path(usage_csv)]
    samples = {path: _sample_times(path, window) for path in paths}
    if sum(len(times) for times in samples.values()) <= max_samples:
        return _whole(paths, window)
    recorded = {path: times for path, times in samples.items() if len(times)}
    per_point = int(np.ceil(sum(len(times) for times in recorded.values()) / max_points))
    starts = [times[::per_point] for times in recorded.values()]  # an invocation starts a point
    edges = np.concatenate(starts)
    usage = _binned(list(recorded), edges, window)
    gaps = [_gap(pd.Timestamp(first[0], tz="UTC") - pd.Timedelta(milliseconds=1)) for first in starts[1:]]
    usage = pd.concat([usage, *gaps], ignore_index=True).sort_values("time", kind="stable", ignore_index=True)
    spans = np.concatenate([np.diff(first) for first in starts])
    usage.attrs["samples_per_point"] = per_point
    usage.attrs["point_s"] = float(np.median(spans)) / 1e9 if len(spans) else 0.0
    return usage


def _whole(paths: Sequence[Path], window: Sequence[str] | None) -> pd.DataFrame:
    """The rows of the usage tables in ``window`` (a chunk at a time: an hour of a week is read
    without holding the week), a gap between two invocations."""
    parts = []
    for path in paths:
        chunks = [select_window(chunk, window) for chunk in _chunks(path)]
        usage = pd.concat(chunks, ignore_index=True) if chunks else read_usage(path)
        if usage.empty:
            continue
        if parts:
            parts.append(_gap(usage["time"].min() - pd.Timedelta(milliseconds=1)))
        parts.append(usage)
    return pd.concat(parts, ignore_index=True) if parts else read_usage(paths[-1])


def _sample_times(path: Path, window: Sequence[str] | None) -> np.ndarray:
    """The times (ns since the epoch, UTC) of a usage table's samples (one system row each) in
    ``window``, read two columns at a time."""
    times = [
        select_window(chunk[chunk["kind"] == "system"], window)["time"]
        .to_numpy("datetime64[ns]")
        .view("int64")
        for chunk in _chunks(path, usecols=["time", "kind"])
    ]
    return np.sort(np.concatenate(times)) if times else np.array([], dtype="int64")


def _binned(paths: Sequence[Path], edges: np.ndarray, window: Sequence[str] | None) -> pd.DataFrame:
    """The rows of ``paths`` in ``window``, read :data:`READ_CHUNK_ROWS` at a time, into the bins
    that start at ``edges`` (ns, UTC); time tags are kept as they are."""
    means = {column: (column, "sum") for column in _BIN_MEANS}
    counts = {"samples": ("time", "size"), **{f"{column}_n": (column, "count") for column in _BIN_MEANS}}
    extremes = {column: (column, how) for column, how in _BIN_EXTREMES.items()}
    partial, tags = [], []
    for path in paths:
        for chunk in _chunks(path):
            chunk = select_window(chunk, window)
            tags.append(chunk[chunk["kind"] == "tag"])
            rows = chunk[chunk["kind"] != "tag"]
            at = np.searchsorted(edges, rows["time"].to_numpy("datetime64[ns]").view("int64"), "right") - 1
            rows = rows.assign(bin=np.maximum(at, 0), rss_peak_mib=rows["rss_mib"])
            groups = rows.groupby(_BIN_KEYS, dropna=False, sort=False)
            partial.append(groups.agg(**means, **counts, **extremes).reset_index())
    how = {**dict.fromkeys([*means, *counts], "sum"), **_BIN_EXTREMES}
    bins = pd.concat(partial).groupby(_BIN_KEYS, dropna=False, sort=False).agg(how).reset_index()
    samples = bins[bins["kind"] == "system"].groupby("bin")["samples"].sum()  # a system row a sample
    over = bins["bin"].map(samples).fillna(bins["samples"])
    for column in ("cpu_percent", "rss_mib"):  # over the bin's samples: the stacks are averages
        bins[column] = (bins[column] / over).where(bins.pop(f"{column}_n") > 0)
    load_n = bins.pop("load1_n")
    bins["load1"] = (bins["load1"] / load_n).where(load_n > 0)  # the system's own mean
    bins = bins.drop(columns="samples")
    bins["time"] = pd.to_datetime(edges[bins.pop("bin").to_numpy()], utc=True)
    return pd.concat([bins, *tags], ignore_index=True)


def _gap(time: pd.Timestamp) -> pd.DataFrame:
    """Rows without values for the system and Snakemake at ``time``: a break in their lines."""
    return pd.DataFrame(
        [
            {"time": time, "kind": kind, "job": "", "rule": "", "wildcards": ""}
            for kind in ("system", "snakemake")
        ]
    )


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


def _job_rows(usage: pd.DataFrame) -> pd.DataFrame:
    """The rows of job processes (a row without its process id, which no sample has, is none)."""
    return usage[(usage["kind"] == "job") & usage["pid"].notna()]


def job_spans(usage: pd.DataFrame) -> pd.DataFrame:
    """First and last sample of every job process (one row per job name and root PID).

    Returns
    -------
    pandas.DataFrame
        Columns ``job, rule, wildcards, pid, start, end, started, ended``: ``started``/``ended`` are False
        when the job was already running at the first sample / still running at the last one
        (so its true start/end is not in the table).
    """
    jobs = _job_rows(usage)
    if jobs.empty:
        return pd.DataFrame(columns=["job", "rule", "wildcards", "pid", "start", "end", "started", "ended"])
    spans = (
        jobs.groupby(["job", "pid"], sort=False)
        .agg(
            rule=("rule", "first"),
            wildcards=("wildcards", "first"),
            start=("time", "min"),
            end=("time", "max"),
        )
        .reset_index()
    )
    sampled = usage.loc[usage["kind"] != "tag", "time"]  # a tag is no sample (binned: not at a point)
    first, last = sampled.min(), sampled.max()
    spans["started"] = spans["start"] > first
    spans["ended"] = spans["end"] < last
    return spans.sort_values(["start", "job"]).reset_index(drop=True)


def _colours(keys: Sequence[str]) -> dict[str, tuple]:
    """One colour per key (job names or job groups), in order."""
    keys = list(dict.fromkeys(keys))
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
    GiB). With at most :data:`MAX_NAMED_JOBS` jobs, each job is a line of its own colour, named
    at its start, its first sample marked ``>`` and its last a square (each only if it is the
    job's true start/end). With more (a run of hundreds of jobs), panels 2 and 4 stack the sum
    over the running jobs of each rule (split by archive where it has several jobs per archive:
    :func:`~mwlc.plots.figure.job_groups`; one colour and legend entry per group, so
    the figure reads the same at 30 or 3,000 jobs); the :data:`~mwlc.plots.figure.N_NAMED_JOBS`
    longest jobs are drawn as named spans at the top of panel 2 and the ones with the largest
    RSS are numbered at their peak in panel 4 and listed beside it. The Snakemake process is
    drawn dashed, time tags (``kind=tag``) as dotted vertical lines.

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
    spans = job_spans(usage)
    rss = usage.loc[usage["kind"].isin(["job", "snakemake"]), "rss_mib"]
    if len(spans) > MAX_NAMED_JOBS:  # stacked: the sum over the jobs sets the unit
        rss = _job_rows(usage).groupby("time")["rss_mib"].sum()
    scale, unit = memory_scale(float(rss.max()) if rss.notna().any() else 0.0)
    main = usage[usage["kind"] == "snakemake"]
    if not main.empty:
        for ax, values in ((axes[1], main["cpu_percent"]), (axes[3], main["rss_mib"] / scale)):
            ax.plot(main["time"], values, color="k", linestyle="--", linewidth=0.8, label="snakemake")
    if len(spans) <= MAX_NAMED_JOBS:
        _each_job(axes, usage, spans, scale)
        title = "Jobs"
    else:
        _jobs_per_group(axes, usage, spans, scale, unit)
        title = "Jobs per rule and archive (sum)"
    axes[1].set_ylabel("CPU per job\n(% of one core)")
    axes[3].set_ylabel(f"RSS per job\n({unit})")
    for ax in (axes[1], axes[3]):
        ax.set_ylim(bottom=0)
    handles, labels = axes[1].get_legend_handles_labels()
    if handles:
        axes[1].legend(
            title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, ncol=1 + len(labels) // 10
        )


def _each_job(axes, usage: pd.DataFrame, spans: pd.DataFrame, scale: float) -> None:
    """One line per job in panels 2 and 4, its true start and end marked, its name at its start."""
    jobs = _job_rows(usage)
    colours = _colours(spans["job"])
    for span in spans.itertuples():
        rows = jobs[(jobs["job"] == span.job) & (jobs["pid"] == span.pid)]
        colour = colours[span.job]
        axes[1].plot(rows["time"], rows["cpu_percent"], color=colour, linewidth=1.2, label=span.job)
        axes[3].plot(rows["time"], rows["rss_mib"] / scale, color=colour, linewidth=1.2)
        if "rss_peak_mib" in rows:  # binned: the mean over each point's samples, and the peak
            axes[3].plot(rows["time"], rows["rss_peak_mib"] / scale, color=colour, linewidth=0.5, alpha=0.6)
        for ax, values in ((axes[1], rows["cpu_percent"]), (axes[3], rows["rss_mib"] / scale)):
            if span.started:
                ax.plot(rows["time"].iloc[0], values.iloc[0], marker=">", color=colour, markersize=6)
            if span.ended:
                ax.plot(rows["time"].iloc[-1], values.iloc[-1], marker="s", color=colour, markersize=4)
    marks = [(span.start, span.job, colours[span.job]) for span in spans.itertuples()]
    _name_job_starts(axes[1], marks, (usage["time"].min(), usage["time"].max()))


def _jobs_per_group(axes, usage: pd.DataFrame, spans: pd.DataFrame, scale: float, unit: str) -> None:
    """Panels 2 and 4 as stacked sums per rule and archive; the longest and largest jobs named."""
    spans = spans.assign(group=job_groups(spans["rule"], spans["wildcards"]))
    group_of = dict(zip(zip(spans["job"], spans["pid"], strict=True), spans["group"], strict=True))
    jobs = _job_rows(usage)
    jobs = jobs.assign(group=[group_of[key] for key in zip(jobs["job"], jobs["pid"], strict=True)])
    groups = list(dict.fromkeys(spans["group"]))  # in order of their first job's start
    colours = _colours(groups)
    times = pd.DatetimeIndex(sorted(usage.loc[usage["kind"] == "system", "time"].unique()))
    cpu, rss = (
        jobs.pivot_table(index="time", columns="group", values=column, aggfunc="sum")
        .reindex(index=times, columns=groups)
        .fillna(0.0)
        for column in ("cpu_percent", "rss_mib")
    )
    rss = rss / scale
    axes[1].stackplot(times, cpu.T.to_numpy(), labels=groups, colors=[colours[g] for g in groups], alpha=0.85)
    axes[3].stackplot(times, rss.T.to_numpy(), colors=[colours[g] for g in groups], alpha=0.85)
    longest = spans.assign(seconds=(spans["end"] - spans["start"]).dt.total_seconds())
    longest = longest.nlargest(N_NAMED_JOBS, "seconds").sort_values("start")
    lanes = _name_job_starts(
        axes[1],
        [
            (
                span.start,
                f"{short_job_name(span.rule, span.wildcards, span.job)} ({span.seconds:,.0f} s)",
                colours[span.group],
                span.end,
            )
            for span in longest.itertuples()
        ],
        (usage["time"].min(), usage["time"].max()),
    )
    # headroom above the stack for the named spans: each lane takes 10 % of the panel's height
    highest = max(float(cpu.sum(axis=1).max()), 1.0)
    axes[1].set_ylim(0, highest / max(0.92 - 0.1 * lanes, 0.4))
    peak = "rss_peak_mib" if "rss_peak_mib" in jobs else "rss_mib"  # binned: each job's own peak
    peaks = jobs.loc[jobs.groupby(["job", "pid"], sort=False)[peak].idxmax().dropna()]
    peaks = peaks.nlargest(N_NAMED_JOBS, peak)
    lines = []
    for rank, row in enumerate(peaks.itertuples(), start=1):
        axes[3].annotate(
            str(rank),
            (row.time, float(rss.loc[row.time].sum())),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            fontweight="bold",
        )
        name = short_job_name(row.rule, row.wildcards, row.job)
        lines.append(f"{rank}  {name}: {getattr(row, peak) / scale:,.{1 if scale > 1 else 0}f} {unit}")
    if lines:
        axes[3].annotate(
            "Largest RSS\n" + "\n".join(lines),
            (1.01, 1.0),
            xycoords="axes fraction",
            va="top",
            fontsize=6.5,
            family="monospace",
        )


def _name_job_starts(
    ax,
    marks: Sequence[tuple],
    time_range: tuple[pd.Timestamp, pd.Timestamp],
    *,
    lanes: int = 8,
    char_fraction: float = 0.0075,
) -> int:
    """Name jobs at the top of ``ax``, each in the first free lane at its start.

    ``time_range`` is the first and last time on the axis. ``marks`` holds ``(start, text,
    colour)`` or ``(start, text, colour, end)`` tuples, in order of start; with an ``end`` the
    job's span is drawn as a line under its name. A name occupies about ``char_fraction`` of the
    axis width per character (6.5 pt text on a ~10 in wide axis); names that would overlap go
    one lane down; a name that would run past the right edge ends at the job's end instead.
    Returns the number of lanes used.
    """
    if not marks:
        return 0
    first, last = time_range
    span_s = max((last - first).total_seconds(), 1.0)
    lane_ends = [-1.0] * lanes
    used = 0
    for start_time, text, colour, *end in marks:
        end_time = end[0] if end else start_time
        start, stop = (
            (time - first).total_seconds() / span_s * 0.96 + 0.02 for time in (start_time, end_time)
        )
        width = len(text) * char_fraction + 0.01
        # the name starts at the job's start or, when it would run past the right edge, ends at
        # the job's end (or at the edge)
        left = start if start + width <= 1.0 else max(min(stop, 1.0) - width, 0.0)
        free = [i for i, lane_end in enumerate(lane_ends) if lane_end < left]
        lane = free[0] if free else int(np.argmin(lane_ends))
        lane_ends[lane] = left + width
        used = max(used, lane + 1)
        y = 0.97 - 0.1 * lane
        if end:
            ax.plot(
                [start_time, end_time],
                [y - 0.075] * 2,
                color=colour,
                linewidth=2,
                transform=ax.get_xaxis_transform(),
            )
        if left == start:
            x, ha, coords = start_time, "left", ("data", "axes fraction")
        elif stop <= 1.0:
            x, ha, coords = end_time, "right", ("data", "axes fraction")
        else:
            x, ha, coords = 1.0, "right", "axes fraction"
        ax.annotate(
            text,
            (x, y),
            xycoords=coords,
            fontsize=6.5,
            color=colour,
            va="top",
            ha=ha,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7},
        )
    return used


def _time_axis(ax, first: pd.Timestamp, last: pd.Timestamp) -> None:
    """Tick labels in UTC: HH:MM:SS under an hour, HH:MM within a day, else date and time."""
    span_h = (last - first).total_seconds() / 3600
    fmt = "%H:%M:%S" if span_h < 1 else "%H:%M" if span_h < 24 else "%m-%d %H:%M"
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz="UTC", maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt, tz="UTC"))


def overview_figure_file(
    usage_csv: str, output: str, *, window: Sequence[str] | None = None, title: str = "", note: str = ""
) -> None:
    """Read the run's usage (:func:`read_usage_history`), draw :func:`plot_overview` and save it
    to ``output``."""
    usage = read_usage_history(usage_csv, window=window)
    per_point = usage.attrs.get("samples_per_point")
    if per_point:
        binned = (
            f"Each point combines {per_point} samples (~{usage.attrs['point_s']:,.0f} s): CPU, RSS and load "
            "averaged over them, memory in use at its peak, available memory at its lowest; each job's "
            "peak RSS is kept (thin lines, or the largest-RSS list)."
        )
        note = f"{note} {binned}" if note else binned
    save_figure(plot_overview(usage, window=window, title=title, note=note), output)
