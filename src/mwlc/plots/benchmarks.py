"""The benchmark figure: what each rule and job cost (wall time, max RSS, CPU time)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from mwlc.plots.figure import add_note, empty_figure, save_figure

#: The per-job benchmark chart shows at most this many jobs (the longest).
MAX_BENCHMARK_JOBS = 40

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
    add_note(figure, note)
    if bench.empty:
        for ax in axes.flat:
            ax.set_visible(False)
        return empty_figure(figure, "no benchmark data")
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
