"""Sky map of the sample, coloured by shard."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from mwlc.plots.figure import add_note, save_figure


def plot_sky(sample: pd.DataFrame, *, title: str = "", note: str = "") -> Figure:
    """Mollweide map of the sample (ICRS), coloured by shard; RA increases to the left.

    Parameters
    ----------
    sample : pandas.DataFrame
        Columns ``ra``, ``dec`` (deg) and ``shard`` (int).
    """
    figure = Figure(figsize=(11, 6.2))
    ax = figure.add_subplot(projection="mollweide")
    add_note(figure, note)
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
