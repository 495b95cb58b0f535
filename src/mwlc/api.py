"""Read a finished run from Python (a notebook): the sample and the light curves.

>>> import mwlc
>>> sample = mwlc.load_sample("results/demo")
>>> lc = mwlc.load_lightcurves("results/demo", archives=["ztf"], objectids=[1, 2, 3])
>>> figure = mwlc.plot_lightcurve(lc, 2)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from astropy.table import Table

from mwlc.schema import BANDS, LIGHTCURVE_SCHEMA, read_band_info

DATASET_NAME = "lightcurves.parquet"


def load_sample(run_dir: str | Path) -> Table:
    """The run's sample as an astropy Table: objectid, coord (SkyCoord, ICRS), label, labels, shard.

    Parameters
    ----------
    run_dir : path-like
        The run's results directory, ``results/<run_id>``.
    """
    return Table.read(Path(run_dir) / "sample.ecsv", format="ascii.ecsv")


def lightcurve_dataset(run_dir: str | Path) -> ds.Dataset:
    """The run's light curves as a pyarrow dataset (hive partitions ``archive=<name>``).

    Once the run is merged, the files are those its ``_metadata`` lists: the archives and shards
    of the last merge, so what it reads agrees with ``summary.csv`` and the by-object table (an
    archive disabled since keeps its files in the folder; they are left out). Before the merge,
    every shard file in the folder. The schema is given, not discovered: listing the dataset
    opens no shard file.
    """
    root = Path(run_dir) / DATASET_NAME
    archive = pa.schema([("archive", pa.string())])
    merged = root / "_metadata"
    files = _merged_files(merged) if merged.exists() else None
    return ds.dataset(
        [str(root / name) for name in files] if files is not None else root,
        schema=LIGHTCURVE_SCHEMA.append(archive.field(0)),
        format="parquet",
        partitioning=ds.partitioning(archive, flavor="hive"),
        partition_base_dir=str(root) if files is not None else None,
    )


def _merged_files(metadata_path: Path) -> list[str]:
    """The files (relative to the dataset) a ``_metadata`` file lists, in order, once each."""
    metadata = pq.read_metadata(metadata_path)
    paths = (metadata.row_group(i).column(0).file_path for i in range(metadata.num_row_groups))
    return list(dict.fromkeys(paths))


def load_lightcurves(
    run_dir: str | Path,
    archives: Iterable[str] | None = None,
    objectids: Iterable[int] | None = None,
    bands: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Light curves of a run in the Fornax notebooks' layout, reading only what is asked for.

    The selections are pushed down to the parquet reader: other archives' partitions are not
    opened, and row groups without the requested objects or bands are skipped.

    Parameters
    ----------
    run_dir : path-like
        The run's results directory, ``results/<run_id>``.
    archives : iterable of str, optional
        Archive names (``ztf``, ``gaia``, ...); all by default.
    objectids : iterable of int, optional
        Sample object ids; all by default.
    bands : iterable of str, optional
        Band names (``ztf_g``, ``WISE_W1``, ...); all by default.

    Returns
    -------
    pandas.DataFrame
        MultiIndex (objectid, label, band, time); columns ``flux``, ``err`` (units per band:
        ``frame.attrs["band_units"]``, also in ``summary.csv``; mJy for photometry) and
        ``archive``.
    """
    selection = [
        pc.field(name).isin(list(values))
        for name, values in (("archive", archives), ("objectid", objectids), ("band", bands))
        if values is not None
    ]
    condition = None
    for expression in selection:
        condition = expression if condition is None else condition & expression
    frame = lightcurve_dataset(run_dir).to_table(filter=condition).to_pandas()
    frame["archive"] = frame["archive"].astype("category")  # as pandas.read_parquet gives it
    frame.attrs["band_units"] = band_units(run_dir)
    return frame


def band_units(run_dir: str | Path) -> dict[str, str]:
    """Flux unit of every band the run's dataset may hold (from its ``_common_metadata``)."""
    common = Path(run_dir) / DATASET_NAME / "_common_metadata"
    if common.exists():
        return {band: info.unit for band, info in read_band_info(pq.read_schema(common)).items()}
    return {band: info.unit for band, info in BANDS.items()}


def plot_lightcurve(frame: pd.DataFrame, objectid: int, *, units: dict[str, str] | None = None):
    """One object's light-curve figure, as in the run's report (all bands, and a ZTF zoom).

    Parameters
    ----------
    frame : pandas.DataFrame
        Light curves as :func:`load_lightcurves` returns them (MultiIndex objectid, label, band,
        time; columns flux, err), holding at least this object's rows.
    objectid : int
        The object to draw.
    units : dict, optional
        Band -> flux unit; ``frame.attrs["band_units"]``, else the known bands' units.

    Returns
    -------
    matplotlib.figure.Figure
        Displays itself as a notebook cell's result; ``figure.savefig(path)`` writes it.

    Raises
    ------
    KeyError
        If ``frame`` holds no row of ``objectid``.
    """
    from mwlc.plots import plot_lightcurve as draw

    rows = frame.reset_index()
    rows = rows[rows["objectid"] == objectid]
    if rows.empty:
        raise KeyError(f"objectid {objectid} has no light-curve rows in this frame")
    units = units or frame.attrs.get("band_units") or {band: info.unit for band, info in BANDS.items()}
    return draw(rows, units, objectid=objectid, label=str(rows["label"].iloc[0]))
