"""The benchmark figure: what each rule and job cost (wall time, max RSS, CPU time)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mwlc.plots.figure import N_NAMED_JOBS, add_note, empty_figure, job_groups, save_figure, short_job_name

#: (column, per-job axis label, aggregation over a group's jobs, per-group axis label)
_METRICS = (
    ("wall_s", "Wall time (s)", "sum", "Total wall time (s)"),
    ("max_rss_mib", "Max RSS (MiB)", "max", "Largest max RSS (MiB)"),
    ("cpu_time_s", "CPU time (s)", "sum", "Total CPU time (s)"),
)


def benchmarks_per_job(benchmarks: pd.DataFrame) -> pd.DataFrame:
    """One row per job (its largest value over repetitions; missing values, ``NA`` in Snakemake's
    file for sub-second jobs, count as 0), with its ``group`` (:func:`job_groups`) and ``name``
    (:func:`short_job_name`), in the table's order."""
    columns = [name for name, *_ in _METRICS]
    bench = benchmarks.fillna(dict.fromkeys(columns, 0.0)).fillna({"wildcards": ""})
    per_job = bench.groupby(["rule", "wildcards", "job"], sort=False)[columns].max().reset_index()
    per_job["group"] = job_groups(per_job["rule"], per_job["wildcards"])
    per_job["name"] = [
        short_job_name(r, w, j)
        for r, w, j in zip(per_job["rule"], per_job["wildcards"], per_job["job"], strict=True)
    ]
    return per_job


def plot_benchmarks(benchmarks: pd.DataFrame, *, title: str = "", note: str = "") -> Figure:
    """Benchmarks per job group (a rule, split by archive where it has several jobs per archive):
    wall time (s), max RSS (MiB), CPU time (s), readable at any number of jobs.

    Top row, per group (the number of jobs in its label): total wall and CPU time over its jobs
    and the largest max RSS. Bottom row: every job as a dot on its group's line, and the
    :data:`N_NAMED_JOBS` jobs with the largest value of each metric named. The figure's size and
    its labels grow with the groups (rules x archives), never with the jobs.

    Parameters
    ----------
    benchmarks : pandas.DataFrame
        ``benchmarks.csv`` (:data:`mwlc.benchmarks.BENCHMARK_COLUMNS`).
    """
    per_job = benchmarks_per_job(benchmarks)
    per_job = per_job.iloc[np.argsort(_group_order(per_job).to_numpy(), kind="stable")].reset_index(drop=True)
    per_group = per_job.groupby("group", sort=False).agg(
        jobs=("job", "size"), **{name: (name, how) for name, _, how, _ in _METRICS}
    )
    rows = max(len(per_group), 1) * 0.32 + 1.1
    figure = Figure(figsize=(13, 2 * rows + 0.8), layout="constrained")
    axes = figure.subplots(2, 3, sharey=True)
    add_note(figure, note)
    if per_job.empty:
        for ax in axes.flat:
            ax.set_visible(False)
        return empty_figure(figure, "no benchmark data")
    position = {group: len(per_group) - 1 - i for i, group in enumerate(per_group.index)}  # first on top
    labels = [f"{group} ({n} job{'s' if n != 1 else ''})" for group, n in per_group["jobs"].items()]
    y = per_job["group"].map(position).to_numpy(dtype=float) + _spread(per_job["group"])
    for column, (name, label, _, group_label) in enumerate(_METRICS):
        top, bottom = axes[0, column], axes[1, column]
        top.barh(list(position.values()), per_group[name], color="tab:blue")
        top.set_xlabel(group_label)
        bottom.scatter(per_job[name], y, s=10, color="tab:orange", alpha=0.7, linewidths=0)
        bottom.set_xlabel(label)
        _name_largest(bottom, per_job, name, y, unit=label.rsplit("(", 1)[-1].rstrip(")"))
        for ax in (top, bottom):
            ax.grid(True, axis="x", linestyle=":", alpha=0.6)
            ax.set_xlim(left=0)
    axes[0, 0].set_yticks(list(position.values()), labels)
    for ax in axes[:, 0]:
        ax.tick_params(axis="y", labelsize=7)
    axes[0, 0].set_ylim(-0.6, len(per_group) - 0.4)
    axes[0, 0].set_title("Per rule and archive", loc="left")
    axes[1, 0].set_title(
        f"Per job ({len(per_job)} jobs; the {N_NAMED_JOBS} largest of each named)", loc="left"
    )
    figure.suptitle(f"{title}: job benchmarks" if title else "Job benchmarks")
    return figure


def _name_largest(ax, per_job: pd.DataFrame, column: str, y: np.ndarray, *, unit: str) -> list[str]:
    """Number the :data:`N_NAMED_JOBS` jobs with the largest ``column`` on ``ax`` (1 = largest)
    and list their names and values under it; returns the names."""
    largest = per_job[column].nlargest(N_NAMED_JOBS)
    largest = largest[largest > 0]
    lines = []
    for rank, (index, value) in enumerate(largest.items(), start=1):
        ax.annotate(
            str(rank),
            (value, y[index]),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            fontweight="bold",
        )
        lines.append(f"{rank}  {per_job.at[index, 'name']}: {value:,.0f} {unit}")
    if lines:
        ax.annotate(
            "\n".join(lines),
            (0.0, -0.16),
            xycoords="axes fraction",
            va="top",
            fontsize=6.5,
            family="monospace",
        )
    return [per_job.at[index, "name"] for index in largest.index]


def _group_order(per_job: pd.DataFrame) -> pd.Series:
    """Each job's group position: rules in the table's (pipeline) order, archives in their
    order within the rule."""
    rule_rank = {rule: i for i, rule in enumerate(dict.fromkeys(per_job["rule"]))}
    keys = list(dict.fromkeys(zip(per_job["rule"].map(rule_rank), per_job["group"], strict=True)))
    order = {group: i for i, (_, group) in enumerate(sorted(keys, key=lambda key: key[0]))}
    return per_job["group"].map(order)


def _spread(groups: pd.Series, width: float = 0.5) -> np.ndarray:
    """Vertical offsets (in group lines) that spread each group's jobs evenly within ``width``."""
    rank = groups.groupby(groups, sort=False).cumcount().to_numpy(dtype=float)
    size = groups.map(groups.value_counts()).to_numpy(dtype=float)
    return np.where(size > 1, (rank / np.maximum(size - 1, 1) - 0.5) * width, 0.0)


def benchmarks_figure_file(benchmarks_csv: str, output: str, *, title: str = "", note: str = "") -> None:
    """Read ``benchmarks.csv``, draw :func:`plot_benchmarks` and save it to ``output``."""
    save_figure(plot_benchmarks(pd.read_csv(benchmarks_csv), title=title, note=note), output)
