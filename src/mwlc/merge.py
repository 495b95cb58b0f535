"""Check, summarise and merge the per-archive shard files into the final dataset.

The shard files written by the fetch jobs *are* the dataset's partitions; nothing here copies
them into a bigger file. Merging adds the dataset-level ``_common_metadata`` and ``_metadata``
files, a one-row-per-object nested table, and summary tables. Memory is bounded by one shard's
rows in five narrow columns: the sample is read a shard at a time, and the nested table is
written :data:`OBJECTS_PER_ROW_GROUP` objects at a time.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mwlc.errors import MwlcError
from mwlc.io import atomic_path, file_sha256, write_csv_atomic
from mwlc.sample.ecsv import iter_shard_objects
from mwlc.schema import LIGHTCURVE_SCHEMA, read_band_info, schema_with_metadata

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["archive", "band", "objects", "rows", "unit", "time_system"]


class InconsistentShardsError(MwlcError):
    """Shard files that should belong together do not (schema, archive, params or sample)."""


def _provenance(schema: pa.Schema) -> dict:
    return json.loads((schema.metadata or {}).get(b"mwlc.provenance", b"{}"))


def check_archive_shards(paths: Sequence[str]) -> tuple[str, pa.Schema]:
    """Check that shard files share the light-curve schema, archive, source and params.

    Params are compared without the keys that only say how the archive is read: shards written
    before 2026-12-07 recorded its request settings among them
    (:meth:`mwlc.archives.base.Archive.job_params`).

    Returns
    -------
    (archive, schema)
        The archive name and the first shard's schema (with its band metadata).
    """
    first = pq.read_schema(paths[0])
    archive = first.metadata[b"mwlc.archive"].decode()
    reference = _made_with(archive, first)
    for path in paths:
        schema = pq.read_schema(path)
        if not schema.equals(LIGHTCURVE_SCHEMA, check_metadata=False):
            raise InconsistentShardsError(f"{path}: columns differ from the light-curve schema:\n{schema}")
        other = schema.metadata[b"mwlc.archive"].decode()
        if other != archive:
            raise InconsistentShardsError(f"{path}: holds archive {other!r}, expected {archive!r}")
        provenance = _made_with(archive, schema)
        for key in ("source", "params"):
            if provenance.get(key) != reference.get(key):
                raise InconsistentShardsError(
                    f"{path}: made with {key} {provenance.get(key)!r}, but {paths[0]} with "
                    f"{reference.get(key)!r}; rerun the archive with one configuration"
                )
    return archive, first


def _made_with(archive: str, schema: pa.Schema) -> dict:
    """A shard file's provenance, its params without the keys that only say how to read."""
    from mwlc.archives.registry import get_archive

    provenance = _provenance(schema)
    if isinstance(provenance.get("params"), dict):
        provenance["params"] = get_archive(archive).job_params(provenance["params"])
    return provenance


def summarize_archive(paths: Sequence[str], output_csv: str) -> pd.DataFrame:
    """Objects and rows per band over all shards of one archive, written to ``output_csv``.

    Parameters
    ----------
    paths : sequence of str
        Every shard file of the archive.
    output_csv : str
        Destination (written atomically); columns :data:`SUMMARY_COLUMNS`.
    """
    archive, schema = check_archive_shards(paths)
    bands = read_band_info(schema)
    counts = {band: [0, 0] for band in bands}  # band -> [objects, rows]
    empty = 0
    for path in paths:
        table = pq.read_table(path, columns=["objectid", "band"])
        empty += table.num_rows == 0
        table = table.set_column(1, "band", pc.cast(table["band"], pa.string()))
        per_band = table.group_by("band").aggregate([("objectid", "count_distinct"), ("objectid", "count")])
        for band, objects, rows in zip(
            *(per_band[c].to_pylist() for c in ("band", "objectid_count_distinct", "objectid_count")),
            strict=True,
        ):
            counts.setdefault(band, [0, 0])
            counts[band][0] += objects  # shards hold disjoint objects
            counts[band][1] += rows
    summary = pd.DataFrame(
        [
            (
                archive,
                band,
                objects,
                rows,
                getattr(bands.get(band), "unit", ""),
                getattr(bands.get(band), "time_system", ""),
            )
            for band, (objects, rows) in counts.items()
        ],
        columns=SUMMARY_COLUMNS,
    )
    write_csv_atomic(summary, output_csv)
    log.info("%s: %d shards (%d without data), %d rows", archive, len(paths), empty, summary["rows"].sum())
    return summary


def check_same_sample(lightcurve_paths: Sequence[str], sample_shard_path: str) -> None:
    """Refuse light-curve shards that were made from a different version of the sample shard."""
    expected = file_sha256(sample_shard_path)
    for path in lightcurve_paths:
        recorded = _provenance(pq.read_schema(path)).get("sample_shard_sha256")
        if recorded != expected:
            raise InconsistentShardsError(
                f"{path} was made from a different sample than {sample_shard_path} "
                f"(sample checksum {str(recorded)[:12]} != {expected[:12]}); "
                "rerun its fetch job (snakemake --forcerun fetch_lightcurves) before merging"
            )


def write_dataset_metadata(
    dataset: str, relative_paths: Sequence[str], common_metadata: str, metadata: str
) -> None:
    """Write the dataset's ``_common_metadata`` (schema, all bands) and ``_metadata`` (row groups)."""
    bands: dict = {}
    collected = []
    for relative in relative_paths:
        file_meta = pq.read_metadata(os.path.join(dataset, relative))
        bands.update(json.loads(file_meta.schema.to_arrow_schema().metadata[b"mwlc.bands"]))
        file_meta.set_file_path(relative)
        collected.append(file_meta)
    schema = schema_with_metadata({b"mwlc.bands": json.dumps(bands, sort_keys=True).encode()})
    with atomic_path(common_metadata) as tmp:
        pq.write_metadata(schema, tmp)
    with atomic_path(metadata) as tmp:
        pq.write_metadata(schema, tmp, metadata_collector=collected)


BY_OBJECT_FIELDS = [
    ("archive", pa.string()),
    ("band", pa.string()),
    ("time", pa.float64()),
    ("flux", pa.float64()),
    ("err", pa.float64()),
]
BY_OBJECT_SCHEMA = pa.schema(
    [
        ("objectid", pa.int64()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
        ("label", pa.string()),
        ("labels", pa.string()),
        ("n_points", pa.int64()),
        ("lightcurve", pa.struct([(name, pa.list_(kind)) for name, kind in BY_OBJECT_FIELDS])),
    ]
)


def nest_shard(objects: pd.DataFrame, flat: pa.Table) -> pa.Table:
    """One row per object with its light curve nested as a struct of lists.

    Parameters
    ----------
    objects : pandas.DataFrame
        The objects (a shard's, or a part of it): objectid, ra, dec (deg), label, labels; sorted
        by objectid.
    flat : pyarrow.Table
        Their light-curve rows (objectid, archive, band, time, flux, err), any order.
    """
    order = pc.sort_indices(
        flat,
        [("objectid", "ascending"), ("archive", "ascending"), ("band", "ascending"), ("time", "ascending")],
    )
    flat = flat.take(order)
    ids = objects["objectid"].to_numpy(np.int64)
    counts = np.zeros(len(ids), dtype=np.int64)
    if flat.num_rows:
        positions = np.searchsorted(ids, flat["objectid"].to_numpy())
        counts = np.bincount(positions, minlength=len(ids))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    lists = [
        pa.ListArray.from_arrays(offsets, pc.cast(flat[name], kind).combine_chunks())
        for name, kind in BY_OBJECT_FIELDS
    ]
    lightcurve = pa.StructArray.from_arrays(lists, names=[name for name, _ in BY_OBJECT_FIELDS])
    return pa.Table.from_arrays(
        [
            pa.array(ids),
            pa.array(objects["ra"], pa.float64()),
            pa.array(objects["dec"], pa.float64()),
            pa.array(objects["label"].astype(str)),
            pa.array(objects["labels"].astype(str)),
            pa.array(counts),
            lightcurve,
        ],
        schema=BY_OBJECT_SCHEMA,
    )


#: Objects per row group of the by-object table: its memory (a row group's rows are nested and
#: encoded at once) is bounded by this many objects' light curves, not by the shard.
OBJECTS_PER_ROW_GROUP = 2000


#: The columns of a shard file the by-object table is made of.
_NESTED_COLUMNS = ["objectid", "band", "time", "flux", "err"]


class _ShardRows:
    """One archive's shard file, read a row group at a time for a range of objectids.

    A fetch writes rows in the order it found them, in row groups of at most
    :data:`mwlc.io.ROW_GROUP_ROWS` rows; the footer's objectid range of each row group says
    which of them can hold an object. Readers that go through the sky in HEALPix order write row
    groups of nearly disjoint ranges, so each range of objects reads about one row group; in any
    order, memory is one row group and the selected rows.
    """

    def __init__(self, path: str):
        self.file = pq.ParquetFile(path, pre_buffer=False)
        column = self.file.schema_arrow.get_field_index("objectid")
        self.ranges = [
            _objectid_range(self.file.metadata.row_group(i), column) for i in range(self.file.num_row_groups)
        ]

    def rows(self, first_id: int, last_id: int) -> pa.Table:
        """The rows of objectids ``first_id..last_id`` (band still dictionary-encoded)."""
        parts = []
        for group, (low, high) in enumerate(self.ranges):
            if high < first_id or low > last_id:
                continue
            table = self.file.read_row_group(group, columns=_NESTED_COLUMNS, use_threads=False)
            ids = table["objectid"]
            parts.append(table.filter(pc.and_(pc.greater_equal(ids, first_id), pc.less_equal(ids, last_id))))
        if not parts:
            return self.file.schema_arrow.empty_table().select(_NESTED_COLUMNS)
        return pa.concat_tables(parts)

    def close(self) -> None:
        self.file.close()


def _objectid_range(row_group: pq.RowGroupMetaData, column: int) -> tuple[float, float]:
    """Smallest and largest objectid of a row group, from its statistics (unbounded if absent)."""
    stats = row_group.column(column).statistics
    if stats is None or not stats.has_min_max:
        return -math.inf, math.inf
    return stats.min, stats.max


def _chunk_rows(shards: Mapping[str, _ShardRows], first_id: int, last_id: int) -> pa.Table:
    """The rows of objectids ``first_id..last_id`` of each archive's shard file, band as plain
    string, with an ``archive`` column."""
    parts = []
    for archive, shard in shards.items():
        part = shard.rows(first_id, last_id)
        part = part.set_column(1, "band", pc.cast(part["band"], pa.string()))
        parts.append(part.append_column("archive", pa.repeat(pa.scalar(archive), part.num_rows)))
    return pa.concat_tables(parts)


def write_by_object(
    shard_objects: Iterable[pd.DataFrame],
    dataset: str,
    archives: Sequence[str],
    shards: Sequence[str],
    output: str,
    *,
    objects_per_row_group: int = OBJECTS_PER_ROW_GROUP,
) -> None:
    """Write the one-row-per-object table, a row group per ``objects_per_row_group`` objects.

    Memory: the rows of ``objects_per_row_group`` objects of every archive, nested, and one row
    group of a shard file (:class:`_ShardRows`), never a whole shard.

    Parameters
    ----------
    shard_objects : iterable of pandas.DataFrame
        Each shard's objects, in the order of ``shards`` (:func:`mwlc.sample.ecsv.iter_shard_objects`).
    """
    with atomic_path(output) as tmp, pq.ParquetWriter(tmp, BY_OBJECT_SCHEMA) as writer:
        for shard, objects in zip(shards, shard_objects, strict=True):
            objects = objects.sort_values("objectid", ignore_index=True)
            files = {a: _ShardRows(f"{dataset}/archive={a}/shard-{shard}.parquet") for a in archives}
            try:
                for start in range(0, len(objects), objects_per_row_group):
                    chunk = objects.iloc[start : start + objects_per_row_group]
                    ids = chunk["objectid"]
                    writer.write_table(
                        nest_shard(chunk, _chunk_rows(files, int(ids.iloc[0]), int(ids.iloc[-1])))
                    )
            finally:
                for file in files.values():
                    file.close()


def merge_dataset(
    *,
    dataset: str,
    archives: Sequence[str],
    shards: Sequence[str],
    sample_ecsv: str,
    sample_shard_paths: Sequence[str],
    summaries: Sequence[str],
    common_metadata: str,
    metadata: str,
    by_object: str,
    summary_csv: str,
) -> None:
    """Finish the dataset: provenance check, dataset metadata, per-object table, summary.

    Refuses shard files made from another version of the sample (see
    :func:`check_same_sample`), so light curves of an old sample are never mixed into a new one.
    """
    for shard, sample_shard in zip(shards, sample_shard_paths, strict=True):
        check_same_sample([f"{dataset}/archive={a}/shard-{shard}.parquet" for a in archives], sample_shard)
    relative = [f"archive={a}/shard-{s}.parquet" for a in archives for s in shards]
    write_dataset_metadata(dataset, relative, common_metadata, metadata)
    objects = iter_shard_objects(sample_ecsv, [int(shard) for shard in shards])
    write_by_object(objects, dataset, archives, shards, by_object)
    summary = pd.concat([pd.read_csv(path) for path in summaries], ignore_index=True)
    write_csv_atomic(summary, summary_csv)
    log.info(
        "merged %d archives x %d shards: %d rows\n%s",
        len(archives),
        len(shards),
        summary["rows"].sum(),
        summary.to_string(index=False),
    )
