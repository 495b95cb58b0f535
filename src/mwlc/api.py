"""Read a finished run from Python (a notebook): the sample and the light curves.

>>> import mwlc
>>> sample = mwlc.load_sample("results/demo")
>>> lc = mwlc.load_lightcurves("results/demo", archives=["ztf"], objectids=[1, 2, 3])
>>> figure = mwlc.plot_lightcurve(lc, 2)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from astropy.table import Table

from mwlc.archives.registry import ARCHIVES
from mwlc.schema import BANDS, LIGHTCURVE_SCHEMA, read_band_info

DATASET_NAME = "lightcurves.parquet"
#: Band -> the archive that writes it.
BAND_ARCHIVES = {band: archive.name for archive in ARCHIVES.values() for band in archive.bands}


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
    archives: str | Iterable[str] | None = None,
    objectids: int | Iterable[int] | None = None,
    bands: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Light curves of a run in the Fornax notebooks' layout, reading only what is asked for.

    The selections are pushed down to the parquet reader: partitions of archives that cannot
    hold the selection (other archives, or archives without the requested bands) are not
    opened, and row groups outside the requested objectids' range are skipped. Objectids follow
    HEALPix order, so a shard's or a sky region's objects read a few row groups; ids scattered
    over the whole sky touch most of them (a row group holds ~500 objects).

    Parameters
    ----------
    run_dir : path-like
        The run's results directory, ``results/<run_id>``.
    archives : str or iterable of str, optional
        Archive names (``ztf``, ``gaia``, ...); all by default.
    objectids : int or iterable of int, optional
        Sample object ids; all by default.
    bands : str or iterable of str, optional
        Band names (``ztf_g``, ``WISE_W1``, ...); all by default.

    Returns
    -------
    pandas.DataFrame
        MultiIndex (objectid, label, band, time); columns ``flux``, ``err`` (units per band:
        ``frame.attrs["band_units"]``, also in ``summary.csv``; mJy for photometry) and
        ``archive``.

    Raises
    ------
    ValueError
        For an archive or band the run does not have (naming the close matches: ``ZTF`` is
        ``ztf``), or objectids that are not integers.
    """
    units = band_units(run_dir)
    dataset = lightcurve_dataset(run_dir)
    present = _archives_of(dataset)
    archives = _checked_names(archives, present, "archive")
    bands = _checked_names(bands, units, "band")
    if bands is not None:  # only the archives that hold these bands are opened
        holding = {BAND_ARCHIVES.get(band) for band in bands}
        archives = [a for a in (archives or present) if a in holding or None in holding]
    condition = None
    for expression in (
        None if archives is None else pc.field("archive").isin(archives),
        None if objectids is None else objectid_filter(objectids),
        None if bands is None else pc.field("band").isin(bands),
    ):
        if expression is not None:
            condition = expression if condition is None else condition & expression
    table = dataset.to_table(filter=condition)
    table = table.set_column(
        table.schema.get_field_index("archive"), "archive", pc.dictionary_encode(table["archive"])
    )  # a category, as pandas.read_parquet gives it
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    frame.attrs["band_units"] = units
    return frame


def objectid_filter(objectids: int | Iterable[int]) -> pc.Expression:
    """The dataset filter of ``objectids``, with their range, so that row groups are skipped.

    pyarrow skips row groups on an ``isin`` of at most 50 values only; above that it reads every
    row group of every file (10,000 objectids read the whole 6.5 GB of a 500k run, 11-15 s).
    Adding the ids' range lets the footer statistics skip the row groups outside it: on the
    500k benchmark run, :func:`load_lightcurves` of one shard's 10,000 objects then read 188 MB
    in 3.6 s (README, the paragraph on `load_lightcurves`).

    Raises
    ------
    ValueError
        If an objectid is not an integer.
    """
    values = [objectids] if isinstance(objectids, (int, np.integer)) else list(objectids)
    if not all(isinstance(value, (int, np.integer)) and not isinstance(value, bool) for value in values):
        raise ValueError(f"objectids must be integers (the sample's objectid), got {values[:5]!r}")
    ids = sorted({int(value) for value in values})
    objectid = pc.field("objectid")
    if not ids:
        return objectid.isin([])
    return objectid.isin(ids) & (objectid >= ids[0]) & (objectid <= ids[-1])


def _archives_of(dataset: ds.FileSystemDataset) -> list[str]:
    """The archives a dataset holds (from its files' hive partition names)."""
    names = (Path(path).parent.name for path in dataset.files)
    return sorted({name.split("=", 1)[1] for name in names if name.startswith("archive=")})


def _checked_names(values: str | Iterable[str] | None, known: Iterable[str], what: str) -> list[str] | None:
    """``values`` as a list (one name for a string), each one of ``known``; None for None."""
    if values is None:
        return None
    names = [values] if isinstance(values, str) else [str(value) for value in values]
    known = sorted(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        hints = {
            name: [k for k in known if k.lower() == name.lower()]
            or difflib.get_close_matches(name, known, n=2)
            for name in unknown
        }
        meant = "; ".join(
            f"{name!r}: did you mean {' or '.join(map(repr, h))}?" for name, h in hints.items() if h
        )
        raise ValueError(
            f"{what}(s) {unknown} are not in this run ({what}s: {', '.join(known)})"
            + (f"; {meant}" if meant else "")
        )
    return names


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
