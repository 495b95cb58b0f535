"""Coverage: objects with data and rows per archive and band."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from mwlc.plots.figure import add_note, empty_figure, save_figure


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
    add_note(figure, note)
    if summary.empty:
        left.set_visible(False)
        right.set_visible(False)
        return empty_figure(figure, "no archive summary")
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
