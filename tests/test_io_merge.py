"""The shard writer, the per-archive summary and the merge, on small hand-made shards."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from mwlc.io import file_sha256, write_lightcurve_shard
from mwlc.merge import (
    InconsistentShardsError,
    check_archive_shards,
    merge_dataset,
    nest_shard,
    summarize_archive,
    write_by_object,
)
from mwlc.sample.ecsv import iter_shard_objects
from mwlc.schema import LIGHTCURVE_SCHEMA, file_metadata, read_band_info, to_record_batch


def lc_frame(objectids, band="ztf_g", n=3, label="Yang 18"):
    rows = [(o, label, band, 58000.0 + i + o, 1.0 + i, 0.1) for o in objectids for i in range(n)]
    return pd.DataFrame(rows, columns=["objectid", "label", "band", "time", "flux", "err"])


def write(path, frames, params=None, sample_sha="abc"):
    meta = file_metadata(
        "ztf",
        ["ztf_g", "ztf_r", "ztf_i"],
        {"source": "s3://x", "params": params or {"radius_arcsec": 1.0}, "sample_shard_sha256": sample_sha},
    )
    return write_lightcurve_shard((to_record_batch(f) for f in frames), path, meta)


def test_writer_streams_batches_and_records_units(tmp_path):
    path = tmp_path / "shard-0000.parquet"
    rows = write(path, [lc_frame([1, 2]), lc_frame([3], band="ztf_r")])
    assert rows == 9
    table = pq.read_table(path)
    assert table.num_rows == 9
    assert table.schema.equals(LIGHTCURVE_SCHEMA, check_metadata=False)
    bands = read_band_info(table.schema)
    assert bands["ztf_g"].unit == "mJy" and "HMJD" in bands["ztf_r"].time_system


def test_writer_gathers_small_batches_into_row_groups(tmp_path, monkeypatch):
    import mwlc.io

    monkeypatch.setattr(mwlc.io, "MIN_ROW_GROUP_ROWS", 10)
    path = tmp_path / "shard-0000.parquet"
    frames = [lc_frame([o], n=3) for o in range(1, 8)]  # seven batches of 3 rows
    assert write(path, frames) == 21
    metadata = pq.read_metadata(path)
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [12, 9]
    got = pq.read_table(path).to_pandas().reset_index()
    assert got["objectid"].tolist() == [o for o in range(1, 8) for _ in range(3)]  # order kept


def test_writer_writes_an_empty_shard_with_the_full_schema(tmp_path):
    path = tmp_path / "shard-0001.parquet"
    assert write(path, []) == 0
    frame = pd.read_parquet(path)
    assert len(frame) == 0
    assert frame.index.names == ["objectid", "label", "band", "time"]
    assert list(frame.columns) == ["flux", "err"]


def test_writer_leaves_nothing_behind_when_the_fetch_fails(tmp_path):
    path = tmp_path / "shard-0002.parquet"

    def failing():
        yield to_record_batch(lc_frame([1]))
        raise ConnectionError("archive went away")

    with pytest.raises(ConnectionError):
        write_lightcurve_shard(failing(), path, file_metadata("ztf", ["ztf_g"]))
    assert list(tmp_path.iterdir()) == []


def test_the_next_writer_removes_what_killed_writers_left(tmp_path, caplog):
    """A job killed mid-write (SIGKILL, OOM: no ``finally`` runs) leaves its temporary file; the
    job that writes that output next removes it, and no other output's."""
    path = tmp_path / "shard-0002.parquet"
    left = [tmp_path / ".shard-0002.parquet.tmp-4242", tmp_path / ".shard-0002.parquet.tmp-77"]
    other = tmp_path / ".shard-0012.parquet.tmp-4242"
    for partial in (*left, other):
        partial.write_bytes(b"PAR1 half a row group")
    with caplog.at_level("INFO", logger="mwlc.io"):
        assert write(path, [lc_frame([1])]) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, path.name]
    assert (
        "removed .shard-0002.parquet.tmp-4242 (21 bytes), left by a writer of shard-0002.parquet"
        in caplog.text
    )


def test_writer_rejects_batches_in_another_schema(tmp_path):
    import pyarrow as pa

    bad = pa.RecordBatch.from_pydict({"objectid": [1], "flux": [1.0]})
    with pytest.raises(TypeError, match="light-curve schema"):
        write_lightcurve_shard([bad], tmp_path / "x.parquet", file_metadata("ztf", ["ztf_g"]))
    assert not (tmp_path / "x.parquet").exists()


def test_summary_counts_objects_and_rows_per_band(tmp_path):
    paths = [tmp_path / f"shard-{i:04d}.parquet" for i in range(3)]
    write(paths[0], [lc_frame([1, 2], n=4), lc_frame([2], band="ztf_r", n=5)])
    write(paths[1], [])
    write(paths[2], [lc_frame([7], n=2)])
    summary = summarize_archive([str(p) for p in paths], str(tmp_path / "ztf.csv")).set_index("band")
    assert summary.loc["ztf_g", "objects"] == 3 and summary.loc["ztf_g", "rows"] == 10
    assert summary.loc["ztf_r", "objects"] == 1 and summary.loc["ztf_r", "rows"] == 5
    assert summary.loc["ztf_i", "rows"] == 0
    assert pd.read_csv(tmp_path / "ztf.csv").shape == (3, 6)


def test_shards_made_with_different_params_are_refused(tmp_path):
    write(tmp_path / "a.parquet", [lc_frame([1])], params={"radius_arcsec": 1.0})
    write(tmp_path / "b.parquet", [lc_frame([2])], params={"radius_arcsec": 2.0})
    with pytest.raises(InconsistentShardsError, match="b.parquet: made with params"):
        check_archive_shards([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")])


def test_shards_whose_params_differ_only_in_how_to_read_are_one_configuration(tmp_path):
    """Shards written before 2026-12-07 hold the request settings among their params; a shard
    fetched since does not: the archive's gather must still take them together."""
    write(tmp_path / "a.parquet", [lc_frame([1])], params={"radius_arcsec": 1.0, "read_batch_rows": 10})
    write(tmp_path / "b.parquet", [lc_frame([2])], params={"radius_arcsec": 1.0})
    write(tmp_path / "c.parquet", [lc_frame([3])], params={"radius_arcsec": 2.0, "read_batch_rows": 10})
    assert check_archive_shards([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")])[0] == "ztf"
    with pytest.raises(InconsistentShardsError, match="c.parquet: made with params"):
        check_archive_shards([str(tmp_path / name) for name in ("a.parquet", "b.parquet", "c.parquet")])


def test_nest_shard_groups_rows_by_object_including_objects_without_data():
    objects = pd.DataFrame(
        {
            "objectid": [1, 2, 3],
            "ra": [10.0, 11.0, 12.0],
            "dec": [0.0, 1.0, 2.0],
            "label": ["a", "b", "c"],
            "labels": ["a", "b; x", "c"],
        }
    )
    import pyarrow as pa

    flat = pa.Table.from_pandas(
        lc_frame([3, 1], n=2)[["objectid", "band", "time", "flux", "err"]], preserve_index=False
    )
    flat = flat.append_column("archive", pa.array(["ztf"] * flat.num_rows))
    nested = nest_shard(objects, flat).to_pylist()
    assert [row["n_points"] for row in nested] == [2, 0, 2]
    assert nested[0]["lightcurve"]["time"] == [58001.0, 58002.0]
    assert nested[1]["lightcurve"]["flux"] == []
    assert nested[2]["lightcurve"]["archive"] == ["ztf", "ztf"]
    assert nested[1]["labels"] == "b; x"


@pytest.fixture
def finished_run(tmp_path):
    """A sample of 4 objects in 2 shards, and one archive's two shard files made from it."""
    sample = Table(
        {
            "objectid": np.array([1, 2, 3, 4], dtype=np.int64),
            "coord": SkyCoord([1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 1.0, 1.5], unit="deg"),
            "label": ["A", "A", "B", "B"],
            "labels": ["A", "A", "B", "A; B"],
            "shard": np.array([0, 0, 1, 1], dtype=np.int64),
        }
    )
    sample.write(tmp_path / "sample.ecsv", format="ascii.ecsv")
    shard_files = []
    for shard, ids in [("0000", [1, 2]), ("0001", [3, 4])]:
        path = tmp_path / f"sample-{shard}.parquet"
        pd.DataFrame({"objectid": ids}).to_parquet(path)
        shard_files.append(str(path))
    dataset = tmp_path / "lightcurves.parquet"
    write(dataset / "archive=ztf/shard-0000.parquet", [lc_frame([2])], sample_sha=file_sha256(shard_files[0]))
    write(
        dataset / "archive=ztf/shard-0001.parquet",
        [lc_frame([3, 4], n=2)],
        sample_sha=file_sha256(shard_files[1]),
    )
    summarize_archive(
        [str(p) for p in sorted((dataset / "archive=ztf").iterdir())], str(tmp_path / "ztf.csv")
    )
    return tmp_path, shard_files


def merge(tmp_path, shard_files):
    merge_dataset(
        dataset=str(tmp_path / "lightcurves.parquet"),
        archives=["ztf"],
        shards=["0000", "0001"],
        sample_ecsv=str(tmp_path / "sample.ecsv"),
        sample_shard_paths=shard_files,
        summaries=[str(tmp_path / "ztf.csv")],
        common_metadata=str(tmp_path / "lightcurves.parquet/_common_metadata"),
        metadata=str(tmp_path / "lightcurves.parquet/_metadata"),
        by_object=str(tmp_path / "by_object.parquet"),
        summary_csv=str(tmp_path / "summary.csv"),
    )


def test_merge_writes_dataset_metadata_and_by_object_table(finished_run):
    tmp_path, shard_files = finished_run
    merge(tmp_path, shard_files)
    meta = pq.read_metadata(tmp_path / "lightcurves.parquet/_metadata")
    assert meta.num_rows == 3 + 4
    assert {meta.row_group(i).column(0).file_path for i in range(meta.num_row_groups)} == {
        "archive=ztf/shard-0000.parquet",
        "archive=ztf/shard-0001.parquet",
    }
    common = pq.read_schema(tmp_path / "lightcurves.parquet/_common_metadata")
    assert set(json.loads(common.metadata[b"mwlc.bands"])) == {"ztf_g", "ztf_r", "ztf_i"}
    frame = pd.read_parquet(tmp_path / "lightcurves.parquet")
    assert len(frame) == 7 and frame.index.names == ["objectid", "label", "band", "time"]
    by_object = pq.read_table(tmp_path / "by_object.parquet").to_pandas()
    assert list(by_object["objectid"]) == [1, 2, 3, 4]
    assert list(by_object["n_points"]) == [0, 3, 2, 2]
    assert by_object.loc[3, "labels"] == "A; B"
    assert np.allclose(by_object["ra"], [1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("objects_per_row_group", [1, 2, 3])
def test_by_object_row_groups_hold_a_bounded_number_of_objects_and_the_same_rows(
    finished_run, objects_per_row_group
):
    tmp_path, shard_files = finished_run
    dataset, shards = str(tmp_path / "lightcurves.parquet"), ["0000", "0001"]

    def by_object(name, **options):
        objects = iter_shard_objects(tmp_path / "sample.ecsv", [0, 1])
        write_by_object(objects, dataset, ["ztf"], shards, str(tmp_path / name), **options)
        return pq.ParquetFile(tmp_path / name)

    whole = by_object("whole.parquet")
    parts = by_object("parts.parquet", objects_per_row_group=objects_per_row_group)
    assert whole.metadata.num_row_groups == 2  # one per shard of two objects
    sizes = [parts.metadata.row_group(i).num_rows for i in range(parts.metadata.num_row_groups)]
    assert sizes == {1: [1, 1, 1, 1], 2: [2, 2], 3: [2, 2]}[objects_per_row_group]
    assert parts.read().equals(whole.read())
    assert parts.read()["n_points"].to_pylist() == [0, 3, 2, 2]


def write_in_row_groups(path, frame, rows_per_group):
    """``frame`` as a shard file in row groups of ``rows_per_group`` rows, in ``frame``'s order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_batches([to_record_batch(frame)], schema=LIGHTCURVE_SCHEMA)
    pq.write_table(table, path, row_group_size=rows_per_group)


def test_by_object_reads_the_row_groups_of_each_range_of_objects_in_any_row_order(tmp_path, monkeypatch):
    """40 objects with 1..40 rows each (820 rows) in row groups of 25 rows; 10 objects a row
    group of the by-object table. Rows in objectid order: each range of objects reads only the
    row groups whose objectid range meets it. Shuffled rows: most row groups are read for every
    range, and the table is the same."""
    ids = np.arange(1, 41)
    frame = pd.concat(
        [lc_frame([o], band=("ztf_g", "ztf_r")[o % 2], n=int(o)) for o in ids], ignore_index=True
    )
    objects = pd.DataFrame({"objectid": ids, "ra": ids * 1.0, "dec": 0.0, "label": "A", "labels": "A"})
    reads = []
    read_row_group = pq.ParquetFile.read_row_group

    def counted(self, group, **kwargs):
        reads.append(group)
        return read_row_group(self, group, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counted)

    def by_object(name, rows):
        write_in_row_groups(tmp_path / name / "archive=ztf/shard-0000.parquet", rows, 25)
        reads.clear()
        output = tmp_path / name / "by_object.parquet"
        write_by_object(
            [objects], str(tmp_path / name), ["ztf"], ["0000"], str(output), objects_per_row_group=10
        )
        return pq.read_table(output), list(reads)

    ordered, ordered_reads = by_object("ordered", frame)
    shuffled, shuffled_reads = by_object("shuffled", frame.sample(frac=1.0, random_state=3))
    n_groups = 33  # ceil(820 / 25)
    # objects 1-10 hold rows 0-54 (groups 0-2), 11-20 rows 55-209 (2-8), 21-30 rows 210-464
    # (8-18), 31-40 rows 465-819 (18-32): three groups are read twice, at the range edges
    assert ordered_reads == [*range(0, 3), *range(2, 9), *range(8, 19), *range(18, 33)]
    assert len(shuffled_reads) > 100 and set(shuffled_reads) == set(range(n_groups))
    assert shuffled.equals(ordered)
    assert ordered["n_points"].to_pylist() == ids.tolist()
    first = ordered.slice(2, 1).to_pylist()[0]["lightcurve"]
    assert first["time"] == [58003.0, 58004.0, 58005.0] and first["band"] == ["ztf_r"] * 3


def test_merge_refuses_light_curves_of_another_sample(finished_run):
    tmp_path, shard_files = finished_run
    pd.DataFrame({"objectid": [3, 4, 5]}).to_parquet(shard_files[1])  # the sample changed since the fetch
    with pytest.raises(InconsistentShardsError, match="shard-0001.parquet was made from a different sample"):
        merge(tmp_path, shard_files)
    assert not (tmp_path / "by_object.parquet").exists()


def test_params_checksum_follows_the_settings_not_their_order():
    from mwlc.fetch import params_sha256

    one = params_sha256("s3://x", {"radius_arcsec": 1.0, "bands": ["ztf_g"]})
    assert one == params_sha256("s3://x", {"bands": ["ztf_g"], "radius_arcsec": 1.0})
    assert one != params_sha256("s3://x", {"radius_arcsec": 1.5, "bands": ["ztf_g"]})
    assert one != params_sha256("s3://y", {"radius_arcsec": 1.0, "bands": ["ztf_g"]})
    assert len(one) == 64 and int(one, 16) >= 0
