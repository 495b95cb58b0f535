"""``sample.ecsv`` read a shard at a time (mwlc.sample.ecsv) gives what astropy reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from astropy.table import Table

from mwlc.errors import SampleError
from mwlc.sample.build import write_sample
from mwlc.sample.ecsv import _group_by_shard, iter_shard_objects

#: Labels that test the ECSV quoting: spaces, quotes, non-ASCII, null-like words (a label is never
#: empty and holds no ";", mwlc.sample.validate).
LABELS = ["Yang 18", 'say "hi"', "Ångström ☃", "nan", "null", "NA", "a  two  spaces", "'q'", "-- x"]


def sample_frame(n: int, n_shards: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "objectid": np.arange(1, n + 1),
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-90, 90, n),
            "label": [LABELS[i % len(LABELS)] for i in range(n)],
            "labels": [f"{LABELS[i % len(LABELS)]}; {LABELS[(i + 3) % len(LABELS)]}" for i in range(n)],
            "shard": np.sort(rng.integers(0, n_shards, n)),
        }
    )


@pytest.fixture
def written(tmp_path):
    frame = sample_frame(400, 7)
    frame.loc[frame["shard"] == 2, "shard"] = 3  # shard 2 has no objects
    ecsv = tmp_path / "sample.ecsv"
    write_sample(frame, ecsv, [str(tmp_path / f"shard-{i}.parquet") for i in range(7)])
    return ecsv, frame


@pytest.mark.parametrize("block_bytes", [1 << 22, 700])  # one block; shards split across blocks
def test_each_shard_is_what_astropy_reads(written, block_bytes):
    ecsv, frame = written
    table = Table.read(ecsv, format="ascii.ecsv")
    shards = list(range(7))
    read = list(iter_shard_objects(ecsv, shards, block_bytes=block_bytes))
    assert len(read) == 7 and len(read[2]) == 0
    for shard, objects in zip(shards, read, strict=True):
        expected = table[table["shard"] == shard]
        assert list(objects.columns) == ["objectid", "ra", "dec", "label", "labels"]
        assert objects["objectid"].tolist() == list(expected["objectid"])
        np.testing.assert_array_equal(objects["ra"], expected["coord"].ra.deg)  # exact: same text
        np.testing.assert_array_equal(objects["dec"], expected["coord"].dec.deg)
        assert objects["label"].tolist() == [str(v) for v in expected["label"]]
        assert objects["labels"].tolist() == [str(v) for v in expected["labels"]]
    assert sum(len(objects) for objects in read) == len(frame)
    assert set(LABELS) <= set(pd.concat(read)["label"])


def test_labels_with_line_breaks_are_read_wherever_a_block_ends(tmp_path):
    """A sample written before labels were checked for line breaks: astropy quotes such a label
    with the raw break inside; a block may not end inside the quotes (it did: the merge failed
    on any sample over ~60k objects whose label held a line break)."""
    frame = sample_frame(40, 3)
    frame["label"] = ["My\nsample" if i % 2 else "one\rtwo" for i in range(40)]
    frame["labels"] = frame["label"]
    ecsv = tmp_path / "sample.ecsv"
    write_sample(frame, ecsv, [str(tmp_path / f"shard-{i}.parquet") for i in range(3)])
    longest = max(len(line) for line in ecsv.read_bytes().splitlines(keepends=True))
    for block_bytes in range(2 * longest + 3, 2 * longest + 200, 7):
        read = pd.concat(iter_shard_objects(ecsv, [0, 1, 2], block_bytes=block_bytes))
        assert read["objectid"].tolist() == frame["objectid"].tolist(), block_bytes
        assert read["label"].tolist() == frame["label"].tolist(), block_bytes


def test_an_empty_batch_between_rows_is_passed_over():
    def batch(objectids, shards):
        columns = {"objectid": objectids, "label": ["x"] * len(objectids), "shard": shards}
        return pa.RecordBatch.from_pydict(columns)

    batches = [batch([1, 2], [0, 0]), batch([], []), batch([3, 4], [0, 1])]
    groups = list(_group_by_shard(batches, "sample.ecsv"))
    assert [(shard, objects["objectid"].tolist()) for shard, objects in groups] == [(0, [1, 2, 3]), (1, [4])]


def test_a_line_longer_than_a_block_is_a_sample_error(written):
    ecsv, _ = written
    with pytest.raises(SampleError, match=r"sample.ecsv cannot be read as the sample file: CSV parse error"):
        list(iter_shard_objects(ecsv, list(range(7)), block_bytes=40))


def test_a_subset_of_shards_and_shards_beyond_the_sample(written):
    ecsv, frame = written
    read = list(iter_shard_objects(ecsv, [1, 5, 9]))
    assert [len(objects) for objects in read] == [(frame["shard"] == s).sum() for s in (1, 5, 9)]
    assert read[2].empty and list(read[2].columns) == ["objectid", "ra", "dec", "label", "labels"]


def test_rows_not_grouped_by_shard_are_refused_naming_the_row(written):
    ecsv, _ = written
    lines = ecsv.read_text().splitlines()
    data = [i for i, line in enumerate(lines) if not line.startswith("#")][1:]
    last = lines[data[-1]].rsplit(" ", 1)[0]
    lines[data[-1]] = f"{last} 0"  # the last object moved back to shard 0
    ecsv.write_text("\n".join(lines) + "\n")
    with pytest.raises(SampleError, match=rf"data row {len(data)} is in shard 0 after shard 6"):
        list(iter_shard_objects(ecsv, list(range(7))))


def test_a_file_that_is_not_the_sample_is_refused(tmp_path):
    other = tmp_path / "other.ecsv"
    Table({"objectid": [1], "ra": [1.0]}).write(other, format="ascii.ecsv")
    with pytest.raises(SampleError, match=r"columns \['objectid', 'ra'\], expected"):
        list(iter_shard_objects(other, [0]))
    plain = tmp_path / "plain.csv"
    plain.write_text("objectid,ra\n1,1.0\n")
    with pytest.raises(SampleError, match="plain.csv is not an ECSV file"):
        list(iter_shard_objects(plain, [0]))
