"""The run's figures: resources, benchmarks, coverage, sky map and light curves.

Each ``plot_*`` function takes small tables and returns a :class:`matplotlib.figure.Figure`
(testable without files, drawn without pyplot so that no backend or global figure state is
touched: in a notebook the returned figure displays itself); each ``*_figure_file`` function
reads the workflow's files, draws the figure and saves it (the rules' scripts call those). Every
figure carries the run's provenance note (e.g. "synthetic demo data") in red at the bottom when
one is given.

One module per figure: :mod:`~mwlc.plots.resources` (the resource overview),
:mod:`~mwlc.plots.benchmarks`, :mod:`~mwlc.plots.coverage`, :mod:`~mwlc.plots.sky`,
:mod:`~mwlc.plots.lightcurves`; :mod:`~mwlc.plots.figure` holds what they share. Every public
function is importable from ``mwlc.plots`` itself.
"""

from __future__ import annotations

from mwlc.plots.benchmarks import benchmarks_figure_file, plot_benchmarks
from mwlc.plots.coverage import coverage_figure_file, plot_coverage
from mwlc.plots.figure import save_figure
from mwlc.plots.lightcurves import (
    band_kind,
    clean_band,
    first_objects_with_data,
    lightcurve_figure_files,
    plot_lightcurve,
    running_mean,
)
from mwlc.plots.resources import (
    job_spans,
    overview_figure_file,
    plot_overview,
    read_usage,
    read_usage_history,
    select_window,
)
from mwlc.plots.sky import plot_sky, read_sample_shards, sky_figure_file

__all__ = [
    "band_kind",
    "benchmarks_figure_file",
    "clean_band",
    "coverage_figure_file",
    "first_objects_with_data",
    "job_spans",
    "lightcurve_figure_files",
    "overview_figure_file",
    "plot_benchmarks",
    "plot_coverage",
    "plot_lightcurve",
    "plot_overview",
    "plot_sky",
    "read_sample_shards",
    "read_usage",
    "read_usage_history",
    "running_mean",
    "save_figure",
    "select_window",
    "sky_figure_file",
]
