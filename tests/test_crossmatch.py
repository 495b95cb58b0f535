"""The partition reader of the HATS archives (mwlc.archives._crossmatch, _parquet, _hats).

Across ZTF, Gaia and Pan-STARRS: the rows equal lsdb's own crossmatch and the brute-force
references of each archive's tests, whatever the batch size, through every transport; each leaf
file is read once per pass for every band; a catalog without a margin gives the rows of the
catalog with it; a batch that cannot fit the job's memory is refused before any data is read.
"""

from __future__ import annotations

import logging
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hats.pixel_math import HealpixPixel

from mwlc.archives import _crossmatch, _hats, _parquet, gaia, panstarrs, ztf
from mwlc.errors import ConfigError
from mwlc.schema import LIGHTCURVE_SCHEMA
from tests import lsdb_reference
from tests.test_ztf import nearest_matches, read_objects

CATALOG = "ztf_dr24_lc-hats"


def table(batches) -> pa.Table:
    return pa.Table.from_batches(list(batches), schema=LIGHTCURVE_SCHEMA)


def assert_same_rows(ours: pa.Table, theirs: pa.Table) -> None:
    """The same rows, values bit for bit (row order aside)."""
    got, want = lsdb_reference.sorted_rows(ours), lsdb_reference.sorted_rows(theirs)
    assert len(got) == len(want) > 0
    assert got.equals(want)


# (archive module, sample fixture, local collection fixture, fetch parameters)
ARCHIVES = {
    "ztf": (ztf, "ztf_sample", "ztf_hats", {}),
    "gaia": (gaia, "gaia_sample", "gaia_hats", {"bands": ["Gaia_G", "Gaia_BP", "Gaia_RP"]}),
    "panstarrs": (panstarrs, "ps1_sample", "ps1_hats", {}),
}


@pytest.fixture(scope="module")
def default_tables(request) -> dict[str, pa.Table]:
    """Each archive's rows for its whole test sample, default batch size, local collection."""
    tables = {}
    for name, (module, sample, hats, params) in ARCHIVES.items():
        source = str(request.getfixturevalue(hats))
        tables[name] = table(module.fetch(request.getfixturevalue(sample), source=source, **params))
    return tables


# --------------------------------------------------------------------------- equal to lsdb


@pytest.mark.parametrize("radius_arcsec", [1.0, 5.5])
def test_ztf_rows_equal_lsdbs_own_crossmatch(ztf_hats, ztf_sample, radius_arcsec):
    ours = table(ztf.fetch(ztf_sample, source=str(ztf_hats), radius_arcsec=radius_arcsec))
    assert_same_rows(ours, lsdb_reference.ztf_rows(ztf_sample, str(ztf_hats), radius_arcsec=radius_arcsec))


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize(
    ("name", "transport", "batch_rows"),
    [("ztf", "local", 1), ("ztf", "s3", 3), ("gaia", "http", 2), ("panstarrs", "local", 1)],
)
def test_tiny_batches_give_the_rows_of_the_default_batches(
    request, default_tables, name, transport, batch_rows, monkeypatch
):
    module, sample, hats, params = ARCHIVES[name]
    if transport == "s3":
        request.getfixturevalue("aws_env")
        source = request.getfixturevalue("ztf_s3")
    elif transport == "http":
        source = request.getfixturevalue("gaia_http")
    else:
        source = str(request.getfixturevalue(hats))
    sample = request.getfixturevalue(sample)
    tiny = table(module.fetch(sample, source=source, read_batch_rows=batch_rows, **params))
    assert_same_rows(tiny, default_tables[name])


def test_the_nearest_row_wins_when_a_farther_one_comes_first(ztf_hats, ztf_sample):
    catalog = _hats.open_catalog(str(ztf_hats), archive="ZTF")
    query = _crossmatch.Query(5.5, band_column="filterid", bands=[1, 2, 3], extra_columns=["objectid"])
    matches = _crossmatch.locate(catalog, ztf_sample["ra"], ztf_sample["dec"], query, batch_rows=1)
    want = nearest_matches(read_objects(ztf_hats / CATALOG), ztf_sample, radius_arcsec=5.5)
    got = {(o, b): i for o, b, i in zip(matches.obj, matches.band, matches.extra["objectid"], strict=True)}
    filterid = {"ztf_g": 1, "ztf_r": 2, "ztf_i": 3}
    assert got == {
        (o - 1, filterid[b]): i
        for o, b, i in zip(want["objectid"], want["band"], want["ztf_objectid"], strict=True)
    }
    # The fixture must hold the case: for some (object, band) a farther candidate (a decoy) comes
    # earlier in the files, so in an earlier batch of one row, than the nearest one.
    every = _crossmatch.locate(
        catalog,
        ztf_sample["ra"],
        ztf_sample["dec"],
        _crossmatch.Query(5.5, band_column="filterid", bands=[1, 2, 3], match="all"),
        batch_rows=1,
    )
    farther_first = 0
    for obj, band in got:
        mine = np.flatnonzero((every.obj == obj) & (every.band == band))
        first = mine[np.lexsort((every.row[mine], every.leaf[mine]))[0]]
        farther_first += every.dist_arcsec[first] > every.dist_arcsec[mine].min()
    assert farther_first > 0


def test_each_leaf_is_read_once_per_pass_for_every_band(ztf_hats, ztf_sample, monkeypatch):
    reads: list[tuple[str, tuple[str, ...]]] = []
    opened: list[str] = []
    open_parquet, iter_batches = _parquet.open_parquet, _parquet.iter_batches

    @contextmanager
    def recording_open(leaf, metadata=None):
        opened.append(leaf.path)
        with open_parquet(leaf, metadata) as parquet:
            parquet.mwlc_path = leaf.path
            yield parquet

    def recording_iter(parquet, columns, *args, **kwargs):
        reads.append((parquet.mwlc_path, tuple(columns)))
        yield from iter_batches(parquet, columns, *args, **kwargs)

    monkeypatch.setattr(_parquet, "open_parquet", recording_open)
    monkeypatch.setattr(_parquet, "iter_batches", recording_iter)
    rows = table(ztf.fetch(ztf_sample, source=str(ztf_hats)))
    assert set(rows.column("band").to_pylist()) == {"ztf_g", "ztf_r", "ztf_i"}
    first = [path for path, columns in reads if "filterid" in columns]
    second = [path for path, columns in reads if set(ztf.LIGHTCURVE_COLUMNS) <= set(columns)]
    assert len(first) + len(second) == len(reads)  # no other read
    # each leaf: footer, positions of every band in one read, light curves of the matched rows
    assert len(first) == len(set(first)) > 0 and len(second) == len(set(second)) > 0
    assert set(second) <= set(first)
    assert max(opened.count(path) for path in set(opened)) == 3


# --------------------------------------------------------------------------- catalogs without a margin


def without_margin(collection: Path, copy: Path) -> Path:
    """A copy of a HATS collection with its margin catalog(s) removed (directory and properties)."""
    shutil.copytree(collection, copy, symlinks=True)
    properties = copy / "collection.properties"
    text = properties.read_text()
    for margin in re.findall(r"^all_margins=(.*)$", text, re.M)[0].split():
        shutil.rmtree(copy / margin)
    properties.write_text(re.sub(r"^(all_margins|default_margin)=.*\n", "", text, flags=re.M))
    return copy


@pytest.mark.parametrize("name", ARCHIVES)
def test_a_catalog_without_margin_gives_the_rows_of_the_catalog_with_it(
    request, default_tables, tmp_path, caplog, name
):
    module, sample, hats, params = ARCHIVES[name]
    collection = request.getfixturevalue(hats)
    if name == "panstarrs":  # both collections lose their margin
        source = tmp_path / "hats"
        source.mkdir()
        for inner in ("otmo", "detection"):
            without_margin(collection / inner, source / inner)
    else:
        source = without_margin(collection, tmp_path / "hats")
    assert not any(p.name.endswith("arcs") for p in source.rglob("*arcs"))
    with caplog.at_level(logging.INFO, logger="mwlc.archives"):
        rows = table(module.fetch(request.getfixturevalue(sample), source=str(source), **params))
    assert_same_rows(rows, default_tables[name])
    edge = request.getfixturevalue(sample)
    edge_ids = set(edge.loc[edge["label"] == "edge", "objectid"])
    assert edge_ids & set(rows.column("objectid").to_pylist())  # partition-edge objects matched too
    notes = [r.getMessage() for r in caplog.records if "no margin catalog" in r.getMessage()]
    assert len(notes) == 1 and "neighbouring partitions are read instead" in notes[0]


# --------------------------------------------------------------------------- memory


def test_a_batch_that_cannot_fit_the_job_memory_is_refused_before_any_read(ztf_hats, ztf_sample, monkeypatch):
    monkeypatch.setattr(_parquet, "iter_batches", lambda *a, **k: pytest.fail("read data"))
    batches = ztf.fetch(ztf_sample, source=str(ztf_hats), read_batch_rows=10_000_000, mem_mb=3000)
    with pytest.raises(ConfigError) as refused:
        next(batches)
    message = str(refused.value)
    assert re.search(r"ZTF: archives\.ztf\.read_batch_rows=10000000 rows x up to [\d.]+ kB per row", message)
    assert re.search(
        r"needs ~[\d,]+ MB, but mem_mb=3000 leaves [\d,]+ MB .*set archives\.ztf\.read_batch_rows <= [\d,]+",
        message,
    )


def test_decoded_bytes_per_row_counts_the_nested_fields_read(ztf_hats):
    leaf = next((ztf_hats / CATALOG).glob("dataset/Norder=*/Dir=*/Npix=*/part0.snappy.parquet"))
    metadata = pq.read_metadata(leaf)
    light = _crossmatch.decoded_bytes_per_row(metadata, ztf.LIGHTCURVE_COLUMNS)
    one = _crossmatch.decoded_bytes_per_row(metadata, ["lightcurve.hmjd"])
    epochs = np.mean(
        [
            len(t)
            for t in pq.read_table(leaf, columns=["lightcurve"])
            .column(0)
            .combine_chunks()
            .field("hmjd")
            .to_pylist()
        ]
    )
    assert one > 8 * epochs * 0.9  # about 8 bytes per epoch of a float64 list
    assert light > 2 * one  # four fields: 8 + 4 + 4 + 4 bytes per epoch


# --------------------------------------------------------------------------- the parquet layer


@pytest.fixture(scope="module")
def row_group_file(tmp_path_factory) -> Path:
    """100 rows in 10 row groups, ``_healpix_29`` sorted (0, 10, ... 990), a nested list column."""
    path = tmp_path_factory.mktemp("parquet") / "groups.parquet"
    index = np.arange(100, dtype=np.int64)
    lists = pa.array([[float(i)] * (i % 3) for i in index], pa.list_(pa.float64()))
    pq.write_table(
        pa.table({"_healpix_29": index * 10, "value": pa.StructArray.from_arrays([lists], ["x"])}),
        path,
        row_group_size=10,
    )
    return path


def test_row_groups_outside_the_ranges_are_skipped(row_group_file):
    metadata = pq.read_metadata(row_group_file)
    ranges = np.array([[85, 130], [500, 501], [985, 2000]])
    assert _parquet.row_groups_in_ranges(metadata, "_healpix_29", ranges) == [0, 1, 5, 9]
    assert _parquet.row_groups_in_ranges(metadata, "_healpix_29", np.array([[1000, 2000]])) == []
    assert _parquet.in_ranges(np.array([84, 85, 129, 130, 500, 985]), ranges).tolist() == [
        False,
        True,
        True,
        False,
        True,
        True,
    ]


def test_take_rows_reads_only_their_row_groups_in_batches(row_group_file, monkeypatch):
    leaf = _parquet.LeafFile(str(row_group_file), _hats_local_fs())
    rows = np.array([3, 3, 47, 48, 49, 95])
    with _parquet.open_parquet(leaf) as parquet:
        taken = list(_parquet.take_rows(parquet, ["value.x"], rows, batch_rows=4))
    indices = np.concatenate([i for i, _ in taken])
    assert indices.tolist() == list(range(6))  # every requested row once, in order, repeats kept
    values = [v for _, batch in taken for v in batch.column("value").to_pylist()]
    assert values == [{"x": [float(r)] * (r % 3)} for r in rows]
    assert all(batch.num_rows <= 4 for _, batch in taken)


@pytest.mark.parametrize("layout", ["struct of lists", "list of structs"])
def test_nested_fields_are_named_logically_in_both_layouts(tmp_path, layout):
    if layout == "struct of lists":
        column = pa.array(
            [{"a": [1.0], "b": [2.0]}],
            pa.struct([("a", pa.list_(pa.float64())), ("b", pa.list_(pa.float64()))]),
        )
    else:
        column = pa.array(
            [[{"a": 1.0, "b": 2.0}]], pa.list_(pa.struct([("a", pa.float64()), ("b", pa.float64())]))
        )
    pq.write_table(pa.table({"id": [1], "n": column}), tmp_path / "n.parquet")
    metadata = pq.read_metadata(tmp_path / "n.parquet")
    assert [logical for logical, _ in _parquet.leaf_columns(metadata)] == ["id", "n.a", "n.b"]
    (path,) = _parquet.physical_columns(metadata, ["n.b"])
    assert path.startswith("n.") and "b" in path.split(".")


def _hats_local_fs():
    import fsspec

    return fsspec.filesystem("file")


def test_pixel_index_finds_the_partition_of_mixed_orders():
    index = _hats.PixelIndex([HealpixPixel(0, 4), HealpixPixel(1, 1), HealpixPixel(2, 9)])
    shift = lambda order: 2 * (29 - order)  # noqa: E731
    values = np.array([4 << shift(0), 1 << shift(1), (9 << shift(2)) + 5, 3 << shift(1), 11 << shift(0)])
    assert index.locate(values).tolist() == [0, 1, 2, -1, -1]
    assert index.overlapping(np.array([[9 << shift(2), (9 << shift(2)) + 1]])) == [2]


def test_cover_ranges_start_no_threads():
    """It runs once per partition group: a shard touching thousands of partitions must not start a
    thread pool per call (mocpy's default did: thousands of threads in one Pan-STARRS job)."""
    import os

    def threads() -> int:
        return len(os.listdir("/proc/self/task"))

    ra, dec = np.array([150.0, 150.001, 210.0]), np.array([20.0, 20.001, -5.0])
    _crossmatch.cover_ranges(ra, dec, 1.0)
    before = threads()
    for _ in range(5):
        ranges = _crossmatch.cover_ranges(ra, dec, 1.0)
    assert threads() == before
    index = _crossmatch.spatial_index(ra, dec)
    assert all(((ranges[:, 0] <= i) & (i < ranges[:, 1])).any() for i in index)
