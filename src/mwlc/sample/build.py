"""Build the sample files from raw source rows: validate, consolidate, number, shard, write.

Outputs:

* ``sample.ecsv`` — astropy-readable like the original's ``object_sample.ecsv``:
  ``objectid`` (int64, 1..N), ``coord`` (SkyCoord ICRS, serialised as ``coord.ra`` /
  ``coord.dec`` in degrees), ``label``, ``labels`` (every label merged into the object, joined
  by ``"; "``) and ``shard`` (int64), in that order.
* one parquet per shard, :data:`SHARD_SCHEMA` (``objectid, ra, dec, label``), objectid-sorted;
  an empty shard is a zero-row file with the same schema. Fetch jobs read it with
  :func:`read_shard`.

Every file is written under a temporary sibling name and renamed when complete
(:func:`mwlc.io.atomic_path`); the ECSV is written last, so its presence means the shards are
complete.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.coordinates import SkyCoord
from astropy.table import Column, Table

from mwlc.errors import ConfigError, SampleError
from mwlc.io import atomic_path
from mwlc.sample.consolidate import MAX_LABELS_CHARS, consolidate
from mwlc.sample.shard import assign_objectids, assign_shards
from mwlc.sample.validate import (
    REQUIRED_COLUMNS,
    check_not_empty,
    require_columns,
    validate_positions,
)

log = logging.getLogger(__name__)

#: Arrow schema of a shard file: what a fetch job needs to know about its objects.
SHARD_SCHEMA = pa.schema(
    [
        pa.field("objectid", pa.int64(), nullable=False),
        pa.field("ra", pa.float64(), nullable=False),
        pa.field("dec", pa.float64(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
    ]
)

#: Columns :func:`write_sample` needs.
SAMPLE_COLUMNS = ("objectid", "ra", "dec", "label", "labels", "shard")


def build_sample(
    frames: list[pd.DataFrame],
    *,
    consolidate_radius_arcsec: float,
    n_shards: int,
    ecsv_path: str | os.PathLike,
    shard_paths: Sequence[str | os.PathLike],
    source_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Turn the rows of every source into ``sample.ecsv`` and the shard files.

    Parameters
    ----------
    frames : list of pandas.DataFrame
        Raw rows per source, in config order, each with ``ra``, ``dec`` (degrees, ICRS),
        ``label`` and ``origin``. Order matters: the first row of a merged group wins.
    consolidate_radius_arcsec : float
        Merge radius in arcseconds (``0`` disables merging); see
        :func:`~mwlc.sample.consolidate.consolidate`.
    n_shards : int
        Number of shards; must equal ``len(shard_paths)``.
    ecsv_path : path-like
        Where to write the sample table.
    shard_paths : sequence of path-like
        Shard file ``i`` goes to ``shard_paths[i]``.
    source_names : sequence of str, optional
        One description per frame, for logs and the "empty sample" error.

    Returns
    -------
    pandas.DataFrame
        The written objects: ``objectid, ra, dec, label, labels, origin, n_merged, shard``.

    Raises
    ------
    mwlc.errors.SampleError
        Invalid rows, or no rows at all.
    mwlc.errors.ConfigError
        ``n_shards`` inconsistent with ``shard_paths``, or a bad radius.
    """
    names = _source_names(frames, source_names)
    if len(shard_paths) != n_shards:
        raise ConfigError(f"n_shards = {n_shards} but {len(shard_paths)} shard paths were given")
    start = time.perf_counter()
    rows = _concat(frames, names)
    with _timed("validation"):
        validate_positions(rows)
    check_not_empty(rows, ", ".join(names))
    objects = consolidate(rows, consolidate_radius_arcsec)
    with _timed("objectid and shard assignment"):
        sample = assign_shards(assign_objectids(objects), n_shards)
    _log_shards(sample, n_shards)
    with _timed("writing"):
        write_sample(sample, ecsv_path, shard_paths)
    log.info("sample: %d objects in %.2f s total", len(sample), time.perf_counter() - start)
    return sample


def write_sample(
    frame: pd.DataFrame, ecsv_path: str | os.PathLike, shard_paths: Sequence[str | os.PathLike]
) -> None:
    """Write ``sample.ecsv`` and one parquet file per shard, each atomically.

    Parameters
    ----------
    frame : pandas.DataFrame
        Objects with ``objectid`` (exactly 1..N), ``ra``, ``dec`` (degrees, ICRS), ``label``,
        ``labels`` and ``shard`` (0..len(shard_paths)-1, non-decreasing with objectid); other
        columns are ignored.
    ecsv_path : path-like
        Destination of the astropy ECSV table (written last).
    shard_paths : sequence of path-like
        Destination of shard ``i``; shards without objects get a zero-row file.
    """
    require_columns(frame, SAMPLE_COLUMNS)
    ordered = frame.sort_values("objectid", kind="stable").reset_index(drop=True)
    bounds = _shard_bounds(ordered, len(shard_paths))
    for shard, path in enumerate(shard_paths):
        _write_shard(ordered.iloc[bounds[shard] : bounds[shard + 1]], path)
    _write_ecsv(ordered, ecsv_path)
    log.info("wrote %s and %d shard files", ecsv_path, len(shard_paths))


def read_shard(path: str | os.PathLike) -> pd.DataFrame:
    """Read one shard file: columns ``objectid`` (int64), ``ra``, ``dec`` (degrees), ``label``.

    Raises
    ------
    mwlc.errors.SampleError
        If the file's schema is not :data:`SHARD_SCHEMA`.
    """
    table = pq.read_table(path)
    if not table.schema.remove_metadata().equals(SHARD_SCHEMA):
        raise SampleError(f"{path} is not a sample shard: schema\n{table.schema}\nexpected\n{SHARD_SCHEMA}")
    return table.to_pandas()


@contextmanager
def _timed(step: str) -> Iterator[None]:
    """Log how long the block took."""
    start = time.perf_counter()
    yield
    log.info("%s took %.2f s", step, time.perf_counter() - start)


def _source_names(frames: list[pd.DataFrame], names: Sequence[str] | None) -> list[str]:
    """``names`` checked against ``frames``, or ``source 1``, ``source 2``, ..."""
    if names is None:
        return [f"source {i}" for i in range(1, len(frames) + 1)]
    if len(names) != len(frames):
        raise ValueError(f"{len(names)} source names for {len(frames)} frames")
    return [str(name) for name in names]


def _concat(frames: list[pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """All frames' rows in order (an empty frame with the required columns if there are none)."""
    for name, frame in zip(names, frames, strict=True):
        log.info("%s: %d rows", name, len(frame))
    if not frames:
        return pd.DataFrame({column: [] for column in REQUIRED_COLUMNS})
    rows = pd.concat(frames, ignore_index=True)
    log.info("%d rows from %d sources", len(rows), len(frames))
    return rows


def _log_shards(sample: pd.DataFrame, n_shards: int) -> None:
    """Log objects per shard (min/max) and warn about empty shards."""
    sizes = np.bincount(sample["shard"].to_numpy(), minlength=n_shards)
    log.info("%d shards: %d to %d objects each", n_shards, sizes.min(), sizes.max())
    if sizes.min() == 0:
        log.warning(
            "%d of %d shards are empty (n_shards exceeds the %d objects); "
            "their files are written with zero rows",
            int((sizes == 0).sum()),
            n_shards,
            len(sample),
        )


def _shard_bounds(ordered: pd.DataFrame, n_shards: int) -> np.ndarray:
    """Row offsets where each shard starts (length ``n_shards + 1``), after checking the ids."""
    objectid = ordered["objectid"].to_numpy()
    if not np.array_equal(objectid, np.arange(1, len(ordered) + 1)):
        raise ValueError("objectid must be exactly 1..N")
    shard = ordered["shard"].to_numpy()
    if len(shard) and (shard.min() < 0 or shard.max() >= n_shards or np.any(np.diff(shard) < 0)):
        raise ValueError(f"shard must be non-decreasing with objectid and within 0..{n_shards - 1}")
    return np.searchsorted(shard, np.arange(n_shards + 1), side="left")


def _write_shard(objects: pd.DataFrame, path: str | os.PathLike) -> None:
    """One shard file in :data:`SHARD_SCHEMA` (zero rows if ``objects`` is empty)."""
    table = pa.table(
        [
            pa.array(objects["objectid"].to_numpy(np.int64), pa.int64()),
            pa.array(objects["ra"].to_numpy(np.float64), pa.float64()),
            pa.array(objects["dec"].to_numpy(np.float64), pa.float64()),
            pa.array(objects["label"].to_numpy(dtype=object), pa.string()),
        ],
        schema=SHARD_SCHEMA,
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="snappy")


#: Objects formatted at a time when writing ``sample.ecsv``: astropy makes each string column
#: as wide as its longest value, so a chunk bounds that (20,000 x 2,200 characters x 4 bytes at
#: most, with the label limits of :mod:`~mwlc.sample.validate` and
#: :mod:`~mwlc.sample.consolidate`).
ECSV_CHUNK_ROWS = 20_000


def _write_ecsv(ordered: pd.DataFrame, path: str | os.PathLike) -> None:
    """The astropy sample table: objectid, coord (SkyCoord ICRS), label, labels, shard.

    Written :data:`ECSV_CHUNK_ROWS` objects at a time; the file is the one astropy writes for
    the whole table (the header is the same for every chunk and written once).
    """
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        for start in range(0, max(len(ordered), 1), ECSV_CHUNK_ROWS):
            text = _ecsv_text(ordered.iloc[start : start + ECSV_CHUNK_ROWS])
            out.write(text if start == 0 else _data_lines(text))


def _ecsv_text(ordered: pd.DataFrame) -> str:
    """``ordered`` as an astropy ECSV table, header included."""
    coord = SkyCoord(
        ra=ordered["ra"].to_numpy(np.float64) * u.deg,
        dec=ordered["dec"].to_numpy(np.float64) * u.deg,
        frame="icrs",
    )
    table = Table()
    table["objectid"] = Column(ordered["objectid"].to_numpy(np.int64), description="1..N")
    table["coord"] = coord
    table["label"] = Column(_strings(ordered["label"]), description="label of the first row")
    table["labels"] = Column(
        _strings(ordered["labels"]),
        description="labels merged into this object, first-seen order, separated by '; ' (at most "
        f"{MAX_LABELS_CHARS:,} characters, then '(+N more)')",
    )
    table["shard"] = Column(ordered["shard"].to_numpy(np.int64), description="shard file index")
    text = io.StringIO()
    table.write(text, format="ascii.ecsv")
    return text.getvalue()


def _data_lines(ecsv_text: str) -> str:
    """The data lines of an ECSV text: without its ``#`` header lines and column names line."""
    start = 0
    while ecsv_text.startswith("#", start):
        start = ecsv_text.index("\n", start) + 1
    return ecsv_text[ecsv_text.index("\n", start) + 1 :]


def _strings(values: pd.Series) -> np.ndarray:
    """A numpy unicode array (astropy writes it as an ECSV ``string`` column)."""
    return np.asarray(values.to_numpy(dtype=object), dtype=str)
