"""One local demo run per test session, and the check that another execution mode gave the same data.

The SLURM and Dask tests (and tests/test_workflow.py's output checks) compare against, or inspect,
this one run instead of each running the demo locally again. Treat its directory as read-only.

Every workflow run of the session, and this process, keep numba's compiled code for hats in one
directory (``NUMBA_CACHE_DIR``, :mod:`mwlc.jitcache`), so it is compiled once per session instead
of once per run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mwlc.jitcache import cache_jitted_functions
from tests.test_workflow import new_workdir, restrict_to_archives, snakemake

RUN = "results/demo"
#: Where the workflow keeps numba's compiled code by default (workflow/rules/common.smk).
NUMBA_CACHE = ".snakemake/numba_cache"


@pytest.fixture(scope="session", autouse=True)
def numba_cache_dir(tmp_path_factory) -> Iterator[Path]:
    """The session's numba cache: inherited by every subprocess, used by this one too."""
    directory = tmp_path_factory.mktemp("numba-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NUMBA_CACHE_DIR", str(directory))
        cache_jitted_functions()  # the archives' tests compile hats' code in this process
        yield directory


@pytest.fixture(scope="session")
def local_demo_run(tmp_path_factory, numba_cache_dir) -> Path:
    """The working directory of one complete local demo run (``--cores 2``).

    It runs as ``make demo`` does, without ``NUMBA_CACHE_DIR``: its jobs keep compiled code where
    the workflow puts it by default, a folder seeded from the session's cache and copied back."""
    workdir = new_workdir(tmp_path_factory.mktemp("local-demo"))
    shutil.copytree(numba_cache_dir, workdir / NUMBA_CACHE)
    environment = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    snakemake(workdir, "--cores", "2", env=environment)
    shutil.copytree(workdir / NUMBA_CACHE, numba_cache_dir, dirs_exist_ok=True)
    return workdir


def workdir_for_archives(reference: Path, tmp_path: Path, archives: Sequence[str]) -> Path:
    """A working directory for a demo run of ``archives`` only (same sample, same shards), that
    starts from ``reference``'s demo snapshots of them: the run rebuilds nothing, and its data
    compare with :func:`assert_same_data`."""
    workdir = new_workdir(tmp_path)
    for name in restrict_to_archives(workdir, archives):  # copies keep their times: newer than the sample
        shutil.copytree(reference / "resources/demo" / name, workdir / "resources/demo" / name)
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


def plain_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A light-curve frame as sorted plain columns: categories (whose dictionaries depend on which
    archives a dataset holds) become strings."""
    flat = frame.reset_index()
    for column in flat.columns:
        if isinstance(flat[column].dtype, pd.CategoricalDtype):
            flat[column] = flat[column].astype(str)
    return flat.sort_values(list(flat.columns), kind="stable").reset_index(drop=True)


def by_object_rows(table: pa.Table) -> pa.Table:
    """The by-object table's nested light curves as flat rows (objectid, archive, band, time, ...),
    in the table's order."""
    curves = table["lightcurve"].combine_chunks()
    parents = pc.list_parent_indices(curves.field("archive"))
    columns = {"objectid": pc.take(table["objectid"], parents)}
    for index, field in enumerate(curves.type):
        columns[field.name] = pc.list_flatten(curves.field(index))
    return pa.table(columns)


def assert_same_data(workdir: Path, reference: Path, archives: Sequence[str] | None = None) -> None:
    """``workdir``'s merged dataset, by-object table, summary and every shard file (rows, schema,
    provenance metadata) equal ``reference``'s.

    With ``archives``, ``workdir`` ran only these of ``reference``'s archives (same sample, same
    shards): its shard files equal the reference's of those archives, and its merged rows, summary
    rows and by-object light curves equal the reference's restricted to them.
    """
    expected = [n for n in shard_files(reference) if archives is None or _archive_of(n) in archives]
    assert shard_files(workdir) == expected
    assert expected, "the reference run wrote no shard of these archives"
    for name in expected:
        assert_same_table(
            pq.read_table(workdir / RUN / "lightcurves.parquet" / name),
            pq.read_table(reference / RUN / "lightcurves.parquet" / name),
            name,
        )
    ours_by_object = pq.read_table(workdir / RUN / "lightcurves_by_object.parquet")
    theirs_by_object = pq.read_table(reference / RUN / "lightcurves_by_object.parquet")
    if archives is None:
        pd.testing.assert_frame_equal(
            pd.read_parquet(workdir / RUN / "lightcurves.parquet"),
            pd.read_parquet(reference / RUN / "lightcurves.parquet"),
        )
        assert_same_table(ours_by_object, theirs_by_object, "lightcurves_by_object.parquet")
        assert (workdir / RUN / "summary.csv").read_text() == (reference / RUN / "summary.csv").read_text()
        return
    only = [("archive", "in", list(archives))]
    pd.testing.assert_frame_equal(
        plain_rows(pd.read_parquet(workdir / RUN / "lightcurves.parquet")),
        plain_rows(pd.read_parquet(reference / RUN / "lightcurves.parquet", filters=only)),
    )
    objects = ["objectid", "ra", "dec", "label", "labels"]
    assert_same_table(ours_by_object.select(objects), theirs_by_object.select(objects), "by-object objects")
    theirs_rows = by_object_rows(theirs_by_object)
    theirs_rows = theirs_rows.filter(pc.is_in(theirs_rows["archive"], pa.array(list(archives))))
    assert_same_table(by_object_rows(ours_by_object), theirs_rows, "by-object light curves")
    counts = pc.value_counts(theirs_rows["objectid"])
    n_points = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
    assert ours_by_object["n_points"].to_pylist() == [
        n_points.get(objectid, 0) for objectid in ours_by_object["objectid"].to_pylist()
    ]
    summary = pd.read_csv(reference / RUN / "summary.csv")
    pd.testing.assert_frame_equal(
        pd.read_csv(workdir / RUN / "summary.csv"),
        summary[summary["archive"].isin(archives)].reset_index(drop=True),
    )


def _archive_of(shard_file: str) -> str:
    """``ztf`` for ``archive=ztf/shard-0000.parquet``."""
    return shard_file.split("/", 1)[0].removeprefix("archive=")
