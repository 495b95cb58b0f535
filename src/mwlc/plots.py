"""The run's figures: resources, benchmarks, coverage, sky map and light curves.

Each ``plot_*`` function takes small tables and returns a :class:`matplotlib.figure.Figure`
(testable without files, drawn without pyplot so that no backend or global figure state is
touched: in a notebook the returned figure displays itself); each ``*_figure_file`` function
reads the workflow's files, draws the figure and saves it (the rules' scripts call those). Every
figure carries the run's provenance note (e.g. "synthetic demo data") in red at the bottom when one is given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from mwlc.schema import read_band_info

log = logging.getLogger(__name__)

#: Up to this many jobs the overview has one colour and legend entry per job; above, per rule
#: (and a job is labelled by its wildcard values only).
MAX_NAMED_JOBS = 20
#: Above this many jobs the overview names no job at its start (markers only).
MAX_LABELLED_JOBS = 150
#: The per-job benchmark chart shows at most this many jobs (the longest).
MAX_BENCHMARK_JOBS = 40


# --- shared helpers ---------------------------------------------------------------------------


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 110) -> None:
    """Write ``figure`` (format from the suffix)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")


def _add_note(figure: Figure, note: str) -> None:
    """The provenance note, in red under the axes (nothing when empty)."""
    if note and note.strip():
        figure.text(0.5, -0.01, note.strip(), ha="center", va="top", color="tab:red", fontsize=9, wrap=True)


def _empty(figure: Figure, text: str) -> Figure:
    figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="0.4")
    return figure


def _memory_scale(max_mib: float) -> tuple[float, str]:
    """Divisor and unit to show memory given in MiB: GiB from 2 GiB up, else MiB."""
    return (1024.0, "GiB") if max_mib >= 2048 else (1.0, "MiB")


# --- 1. resource overview (the original's plot_overview) -------------------------------------


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
    _add_note(figure, note)
    usage = select_window(usage, window)
    system = usage[usage["kind"] == "system"]
    if system.empty:
        for ax in axes:
            ax.set_visible(False)
        return _empty(figure, "no monitor data (the monitor did not run or recorded nothing)")
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
    scale, unit = _memory_scale(float(rss.max()) if rss.notna().any() else 0.0)
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


# --- 2. benchmarks -----------------------------------------------------------------------------

_BENCH_METRICS = (
    ("wall_s", "Wall time (s)"),
    ("max_rss_mib", "Max RSS (MiB)"),
    ("cpu_time_s", "CPU time (s)"),
)
_RULE_LABELS = {
    "wall_s": "Total wall time (s)",
    "max_rss_mib": "Largest max RSS (MiB)",
    "cpu_time_s": "Total CPU time (s)",
}


def plot_benchmarks(benchmarks: pd.DataFrame, *, title: str = "", note: str = "") -> Figure:
    """Per-rule and per-job benchmark bars: wall time (s), max RSS (MiB), CPU time (s).

    Top row, per rule: total wall and CPU time over the rule's jobs and the largest max RSS
    (the number of jobs is in the label). Bottom row, per job: the :data:`MAX_BENCHMARK_JOBS`
    longest jobs. Missing values (``NA`` in Snakemake's file, sub-second jobs) count as 0.

    Parameters
    ----------
    benchmarks : pandas.DataFrame
        ``benchmarks.csv`` (:data:`mwlc.benchmarks.BENCHMARK_COLUMNS`).
    """
    bench = benchmarks.fillna({name: 0.0 for name, _ in _BENCH_METRICS})
    per_rule = bench.groupby("rule", sort=False).agg(
        wall_s=("wall_s", "sum"),
        max_rss_mib=("max_rss_mib", "max"),
        cpu_time_s=("cpu_time_s", "sum"),
        jobs=("job", "nunique"),
    )
    per_job = bench.groupby("job", sort=False)[[name for name, _ in _BENCH_METRICS]].max()
    per_job = per_job.sort_values("wall_s", ascending=False).head(MAX_BENCHMARK_JOBS).iloc[::-1]
    heights = (max(len(per_rule), 1) * 0.35 + 1.0, max(len(per_job), 1) * 0.28 + 1.2)
    figure = Figure(figsize=(13, sum(heights) + 0.8), layout="constrained")
    axes = figure.subplots(2, 3, height_ratios=heights, sharey="row")
    _add_note(figure, note)
    if bench.empty:
        for ax in axes.flat:
            ax.set_visible(False)
        return _empty(figure, "no benchmark data")
    rule_labels = [f"{rule} ({n} job{'s' if n != 1 else ''})" for rule, n in per_rule["jobs"].items()]
    for column, (name, label) in enumerate(_BENCH_METRICS):
        axes[0, column].barh(rule_labels, per_rule[name], color="tab:blue")
        axes[0, column].set_xlabel(_RULE_LABELS[name])
        axes[1, column].barh(per_job.index, per_job[name], color="tab:orange")
        axes[1, column].set_xlabel(label)
        for ax in axes[:, column]:
            ax.grid(True, axis="x", linestyle=":", alpha=0.6)
            ax.tick_params(axis="y", labelsize=7)
    shown = (
        f"{len(per_job)} longest of {bench['job'].nunique()} jobs"
        if bench["job"].nunique() > len(per_job)
        else f"{len(per_job)} jobs"
    )
    axes[0, 0].set_title("Per rule", loc="left")
    axes[1, 0].set_title(f"Per job ({shown})", loc="left")
    figure.suptitle(f"{title}: job benchmarks" if title else "Job benchmarks")
    return figure


def benchmarks_figure_file(benchmarks_csv: str, output: str, *, title: str = "", note: str = "") -> None:
    """Read ``benchmarks.csv``, draw :func:`plot_benchmarks` and save it to ``output``."""
    save_figure(plot_benchmarks(pd.read_csv(benchmarks_csv), title=title, note=note), output)


# --- 3. coverage -------------------------------------------------------------------------------


def plot_coverage(summary: pd.DataFrame, n_objects: int, *, title: str = "", note: str = "") -> Figure:
    """Objects with data and rows per archive and band.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv``: archive, band, objects, rows, unit, time_system.
    n_objects : int
        Objects in the sample (the 100 % of the left panel).
    """
    figure = Figure(figsize=(12, max(len(summary), 1) * 0.4 + 1.8), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    _add_note(figure, note)
    if summary.empty:
        left.set_visible(False)
        right.set_visible(False)
        return _empty(figure, "no archive summary")
    summary = summary.sort_values(["archive", "band"], ascending=False)
    labels = [f"{a}: {b}" for a, b in zip(summary["archive"], summary["band"], strict=True)]
    archives = list(dict.fromkeys(sorted(summary["archive"])))
    colours = [matplotlib.colormaps.get_cmap("tab10")(archives.index(a) % 10) for a in summary["archive"]]
    percent = 100.0 * summary["objects"] / max(n_objects, 1)
    left.barh(labels, percent, color=colours)
    for y, (objects, share) in enumerate(zip(summary["objects"], percent, strict=True)):
        left.annotate(
            f"{objects:,}", (share, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8
        )
    left.set_xlim(0, 110)
    left.set_xlabel(f"Objects with data (% of {n_objects:,} in the sample)")
    right.barh(labels, summary["rows"], color=colours)
    if summary["rows"].max() > 100 * max(summary["rows"][summary["rows"] > 0].min(), 1):
        right.set_xscale("log")
    right.set_xlabel("Rows (photometric epochs or events)")
    for ax in (left, right):
        ax.grid(True, axis="x", linestyle=":", alpha=0.6)
    figure.suptitle(f"{title}: coverage per archive and band" if title else "Coverage per archive and band")
    return figure


def coverage_figure_file(
    summary_csv: str, sample_shards: Sequence[str], output: str, *, title: str = "", note: str = ""
) -> None:
    """Read ``summary.csv`` and the sample size, draw :func:`plot_coverage`, save it."""
    n_objects = sum(pq.read_metadata(path).num_rows for path in sample_shards)
    save_figure(plot_coverage(pd.read_csv(summary_csv), n_objects, title=title, note=note), output)


# --- 4. sky map --------------------------------------------------------------------------------


def plot_sky(sample: pd.DataFrame, *, title: str = "", note: str = "") -> Figure:
    """Mollweide map of the sample (ICRS), coloured by shard; RA increases to the left.

    Parameters
    ----------
    sample : pandas.DataFrame
        Columns ``ra``, ``dec`` (deg) and ``shard`` (int).
    """
    figure = Figure(figsize=(11, 6.2))
    ax = figure.add_subplot(projection="mollweide")
    _add_note(figure, note)
    ra = np.asarray(sample["ra"], dtype=float)
    x = -np.radians(((ra + 180.0) % 360.0) - 180.0)
    y = np.radians(np.asarray(sample["dec"], dtype=float))
    shards = np.asarray(sample["shard"], dtype=int)
    n_shards = int(shards.max()) + 1 if len(shards) else 1
    cmap = matplotlib.colormaps["tab20" if n_shards <= 20 else "viridis"].resampled(n_shards)
    points = ax.scatter(
        x,
        y,
        c=shards,
        cmap=cmap,
        vmin=-0.5,
        vmax=n_shards - 0.5,
        s=max(0.5, min(12.0, 3000.0 / max(len(ra), 1))),
        rasterized=True,
    )
    colourbar = figure.colorbar(points, ax=ax, orientation="horizontal", pad=0.08, shrink=0.6)
    colourbar.set_label("Shard")
    if n_shards <= 20:
        colourbar.set_ticks(range(n_shards))
    ticks = np.arange(-150, 181, 30)
    ax.set_xticks(np.radians(ticks))
    ax.set_xticklabels([f"{(-t) % 360:.0f}°" for t in ticks], fontsize=8)
    ax.set_xlabel("RA (deg, ICRS)")
    ax.set_ylabel("Dec (deg, ICRS)")
    ax.grid(True, linestyle=":", alpha=0.6)
    ax.set_title(
        f"{title}: {len(ra):,} objects in {n_shards} shards"
        if title
        else f"{len(ra):,} objects in {n_shards} shards",
        pad=18,
    )
    return figure


def read_sample_shards(paths: Sequence[str]) -> pd.DataFrame:
    """``ra``, ``dec`` (deg) and ``shard`` (the file's position in ``paths``) of the sample."""
    frames = [
        pq.read_table(path, columns=["ra", "dec"]).to_pandas().assign(shard=i) for i, path in enumerate(paths)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["ra", "dec", "shard"])


def sky_figure_file(sample_shards: Sequence[str], output: str, *, title: str = "", note: str = "") -> None:
    """Read the sample shards, draw :func:`plot_sky` and save it to ``output``."""
    save_figure(plot_sky(read_sample_shards(sample_shards), title=title, note=note), output)


# --- 5. light curves (the original's create_figures) ------------------------------------------

ZOOM_PREFIX = "ztf_"
RUNNING_WINDOW_D, RUNNING_STEP_D, ZOOM_MARGIN_D = 30.0, 7.5, 100.0


def band_kind(band: str, unit: str) -> str:
    """How a band is drawn: ``"flux"`` (errorbars), ``"electron"`` (rescaled to the mJy
    bands), ``"upper_limit"`` (IceCube arrows), ``"event"`` (vertical lines, no flux)."""
    if band == "IceCube" or unit.startswith("log10(E"):
        return "upper_limit"
    if unit.startswith("none"):
        return "event"
    if "electron" in unit or unit.replace(" ", "") in ("e-/s", "e/s"):
        return "electron"
    return "flux"


def clean_band(points: pd.DataFrame, *, min_points: int = 10, max_z: float = 3.0) -> pd.DataFrame:
    """Drop NaN time/flux/err; with ≥ ``min_points`` points keep those with |z(flux)| < ``max_z``."""
    points = points.dropna(subset=["time", "flux", "err"]).sort_values("time")
    if len(points) < min_points:
        return points
    spread = points["flux"].std()
    if not spread > 0:
        return points
    return points[((points["flux"] - points["flux"].mean()) / spread).abs() < max_z]


def running_mean(
    time: np.ndarray,
    flux: np.ndarray,
    err: np.ndarray,
    *,
    window_d: float = RUNNING_WINDOW_D,
    step_d: float = RUNNING_STEP_D,
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance weighted mean flux in ``window_d``-day windows every ``step_d`` days.

    The original weighted by the errors themselves; 1/err² is the weighted mean's definition.

    Returns
    -------
    (centres, means)
        Window centres (MJD) and means (flux unit), only for windows holding points.
    """
    if len(time) == 0:
        return np.array([]), np.array([])
    centres = np.arange(time.min(), time.max() + step_d, step_d)
    weights = 1.0 / np.square(np.where(err > 0, err, np.nan))
    means = []
    for centre in centres:
        inside = (np.abs(time - centre) <= window_d / 2) & np.isfinite(weights)
        means.append(np.average(flux[inside], weights=weights[inside]) if inside.any() else np.nan)
    means = np.asarray(means)
    keep = np.isfinite(means)
    return centres[keep], means[keep]


def plot_lightcurve(
    lightcurve: pd.DataFrame, units: Mapping[str, str], *, objectid: int, label: str = "", note: str = ""
) -> Figure:
    """One object's light curves: all bands (top, 2/3) and a ZTF zoom (bottom, 1/3).

    As the original's ``create_figures``: per band outliers beyond 3σ are dropped when it has
    ≥ 10 points; bands in electrons/s (TESS, Kepler, K2) are rescaled so their maximum equals
    the mean maximum of the mJy bands; IceCube neutrinos are upper-limit arrows at 70 % of the
    flux range; ZTF bands get small markers on top and, in the zoom, their 30-day weighted
    running mean (x range = ZTF epochs ± 100 d). Event-only bands (Fermi GBM, BeppoSAX) are
    dotted vertical lines.

    Parameters
    ----------
    lightcurve : pandas.DataFrame
        One object's rows: columns ``band, time`` (MJD), ``flux, err`` (band unit).
    units : mapping
        Band → flux unit (from the dataset's metadata); unknown bands are taken as mJy.
    objectid, label : int, str
        For the legend title.
    """
    figure = Figure(figsize=(10, 8))
    top, zoom = figure.subplots(2, 1, height_ratios=(2, 1))
    _add_note(figure, note)
    bands = {band: clean_band(rows) for band, rows in lightcurve.groupby("band", observed=True, sort=True)}
    kinds = {band: band_kind(band, units.get(band, "mJy")) for band in bands}
    reference = [rows["flux"].max() for band, rows in bands.items() if kinds[band] == "flux" and len(rows)]
    target_max = float(np.mean(reference)) if reference else 1.0
    cmap = matplotlib.colormaps.get_cmap("tab10" if len(bands) <= 10 else "tab20")
    for i, (band, rows) in enumerate(bands.items()):
        colour, kind = cmap(i % cmap.N), kinds[band]
        if kind == "flux":
            small = band.startswith(ZOOM_PREFIX)
            top.errorbar(
                rows["time"],
                rows["flux"],
                rows["err"],
                fmt=".",
                markersize=3 if small else 6,
                capsize=0,
                elinewidth=0.6,
                color=colour,
                label=f"ZTF {band[4:]}" if small else band,
            )
        elif kind == "electron" and len(rows):
            factor = target_max / rows["flux"].max() if rows["flux"].max() > 0 else 1.0
            top.errorbar(
                rows["time"],
                rows["flux"] * factor,
                rows["err"] * factor,
                fmt=".",
                markersize=4,
                capsize=0,
                elinewidth=0.6,
                color=colour,
                label=f"{band} (rescaled ×{factor:.3g})",
            )
        elif kind == "event":
            for j, time in enumerate(rows["time"]):
                top.axvline(time, color=colour, linestyle=":", linewidth=1, label=band if j == 0 else None)
    _draw_upper_limits(top, bands, kinds, cmap)
    _draw_zoom(zoom, bands, cmap)
    top.set_ylabel("Flux (mJy)")
    top.set_xlabel("Time (MJD)")
    top.grid(True, linestyle=":", alpha=0.6)
    legend_title = f"objectid: {objectid}" + (f" ({label})" if label else "")
    if top.get_legend_handles_labels()[0]:
        top.legend(title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    else:
        top.text(0.5, 0.5, f"{legend_title}: no data", transform=top.transAxes, ha="center", color="0.4")
    return figure


def _draw_upper_limits(ax, bands, kinds, cmap) -> None:
    """IceCube events as downward arrows at 70 % of the panel's flux range (drawn last)."""
    limits = [(i, band, rows) for i, (band, rows) in enumerate(bands.items()) if kinds[band] == "upper_limit"]
    if not limits:
        return
    low, high = ax.get_ylim() if ax.has_data() else (0.0, 1.0)
    level = low + 0.7 * (high - low)
    for i, band, rows in limits:
        if len(rows):
            ax.errorbar(
                rows["time"],
                np.full(len(rows), level),
                yerr=0.05 * (high - low),
                uplims=True,
                fmt="none",
                color=cmap(i % cmap.N),
                label=f"{band} (upper limits)",
            )
    ax.set_ylim(low, high)


def _draw_zoom(ax, bands, cmap) -> None:
    """ZTF bands over their own time range, with their running means."""
    ztf = [
        (i, band, rows)
        for i, (band, rows) in enumerate(bands.items())
        if band.startswith(ZOOM_PREFIX) and len(rows)
    ]
    ax.set_ylabel("Flux (mJy)")
    ax.set_xlabel("Time (MJD)")
    ax.grid(True, linestyle=":", alpha=0.6)
    if not ztf:
        ax.text(0.5, 0.5, "no ZTF data", transform=ax.transAxes, ha="center", va="center", color="0.4")
        return
    for i, band, rows in ztf:
        colour = cmap(i % cmap.N)
        ax.errorbar(
            rows["time"],
            rows["flux"],
            rows["err"],
            fmt=".",
            markersize=3,
            capsize=0,
            elinewidth=0.5,
            color=colour,
            alpha=0.5,
        )
        centres, means = running_mean(
            rows["time"].to_numpy(), rows["flux"].to_numpy(), rows["err"].to_numpy()
        )
        ax.plot(centres, means, color=colour, linewidth=1.5, label=f"ZTF {band[4:]} 30-d mean")
    times = np.concatenate([rows["time"].to_numpy() for _, _, rows in ztf])
    ax.set_xlim(times.min() - ZOOM_MARGIN_D, times.max() + ZOOM_MARGIN_D)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def first_objects_with_data(by_object: str, n_objects: int) -> list[int]:
    """The first ``n_objects`` objectids (ascending) that have at least one light-curve row."""
    table = pq.read_table(by_object, columns=["objectid", "n_points"]).to_pandas()
    return table.loc[table["n_points"] > 0, "objectid"].sort_values().head(n_objects).tolist()


def lightcurve_figure_files(
    *, common_metadata: str, by_object: str, output_dir: str, n_objects: int, note: str = ""
) -> list[str]:
    """One ``lightcurve-<objectid>.png`` in ``output_dir`` for each of the first ``n_objects``
    objects with data.

    Parameters
    ----------
    common_metadata : str
        The light-curve dataset's ``_common_metadata`` (its directory is the dataset; the band
        units are read from it). Only the chosen objects' rows are read.
    by_object : str
        ``lightcurves_by_object.parquet`` (objects with data are those with ``n_points > 0``).
    output_dir : str
        Created if missing (and left empty if no object has data).

    Returns
    -------
    list of str
        The files written.
    """
    dataset = str(Path(common_metadata).parent)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    ids = first_objects_with_data(by_object, n_objects)
    if not ids:
        log.warning("no object has light-curve data: no light-curve figure")
        return []
    units = {band: info.unit for band, info in read_band_info(pq.read_schema(common_metadata)).items()}
    frame = pd.read_parquet(dataset, filters=[("objectid", "in", ids)]).reset_index()
    written = []
    for objectid in ids:
        rows = frame[frame["objectid"] == objectid]
        label = str(rows["label"].iloc[0]) if len(rows) else ""
        path = str(Path(output_dir) / f"lightcurve-{objectid}.png")
        save_figure(plot_lightcurve(rows, units, objectid=objectid, label=label, note=note), path)
        written.append(path)
    log.info("light-curve figures of objects %s in %s", ids, output_dir)
    return written
