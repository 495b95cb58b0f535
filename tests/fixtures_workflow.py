"""One local demo run per test session, and the check that another execution mode gave the same data.

The SLURM and Dask tests (and tests/test_workflow.py's output checks) compare against, or inspect,
this one run instead of each running the demo locally again. Treat its directory as read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.test_workflow import new_workdir, snakemake

RUN = "results/demo"


@pytest.fixture(scope="session")
def local_demo_run(tmp_path_factory) -> Path:
    """The working directory of one complete local demo run (``--cores 2``)."""
    workdir = new_workdir(tmp_path_factory.mktemp("local-demo"))
    snakemake(workdir, "--cores", "2")
    return workdir


def shard_files(workdir: Path) -> list[str]:
    """The run's light-curve shard files, relative to the dataset, sorted."""
    dataset = workdir / RUN / "lightcurves.parquet"
    return sorted(str(p.relative_to(dataset)) for p in dataset.glob("archive=*/shard-*.parquet"))


def _leaves(array: pa.Array | pa.ChunkedArray, name: str) -> Iterator[tuple[str, pa.Array]]:
    """The flat columns of a (possibly nested) column: struct fields, list lengths and values."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_struct(array.type):
        for index, field in enumerate(array.type):
            yield from _leaves(array.field(index), f"{name}.{field.name}")
    elif pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        yield f"{name}[length]", pc.list_value_length(array)
        yield from _leaves(array.flatten(), f"{name}[]")
    else:
        yield name, array


def assert_same_table(ours: pa.Table, theirs: pa.Table, name: str = "table") -> None:
    """Same schema and metadata, and the same values row by row (NaN equals NaN, nested columns too)."""
    assert ours.schema.equals(theirs.schema, check_metadata=True), name
    for column in ours.column_names:
        for (leaf, a), (_, b) in zip(
            _leaves(ours[column], column), _leaves(theirs[column], column), strict=True
        ):
            pd.testing.assert_series_equal(
                a.to_pandas(), b.to_pandas(), check_exact=True, obj=f"{name}: {leaf}"
            )


def assert_same_data(workdir: Path, reference: Path) -> None:
    """``workdir``'s merged dataset, by-object table, summary and every shard file (rows, schema,
    provenance metadata) equal ``reference``'s."""
    assert shard_files(workdir) == shard_files(reference)
    assert shard_files(reference), "the reference run wrote no shard"
    for name in shard_files(reference):
        assert_same_table(
            pq.read_table(workdir / RUN / "lightcurves.parquet" / name),
            pq.read_table(reference / RUN / "lightcurves.parquet" / name),
            name,
        )
    pd.testing.assert_frame_equal(
        pd.read_parquet(workdir / RUN / "lightcurves.parquet"),
        pd.read_parquet(reference / RUN / "lightcurves.parquet"),
    )
    assert_same_table(
        pq.read_table(workdir / RUN / "lightcurves_by_object.parquet"),
        pq.read_table(reference / RUN / "lightcurves_by_object.parquet"),
        "lightcurves_by_object.parquet",
    )
    assert (workdir / RUN / "summary.csv").read_text() == (reference / RUN / "summary.csv").read_text()
