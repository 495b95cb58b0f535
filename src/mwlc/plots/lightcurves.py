"""Light-curve panels of single objects (the original's ``create_figures``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from mwlc.api import load_lightcurves
from mwlc.plots.figure import add_note, save_figure
from mwlc.schema import read_band_info

log = logging.getLogger(__name__)

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
    add_note(figure, note)
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
    # the files of the last merge (its _metadata), and only the row groups of these objects
    frame = load_lightcurves(Path(dataset).parent, objectids=ids).reset_index()
    written = []
    for objectid in ids:
        rows = frame[frame["objectid"] == objectid]
        label = str(rows["label"].iloc[0]) if len(rows) else ""
        path = str(Path(output_dir) / f"lightcurve-{objectid}.png")
        save_figure(plot_lightcurve(rows, units, objectid=objectid, label=label, note=note), path)
        written.append(path)
    log.info("light-curve figures of objects %s in %s", ids, output_dir)
    return written
