"""n_shards: auto — the sample's size counted from its sources before the sample exists."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from mwlc.errors import ConfigError
from mwlc.sample.size import (
    MAX_SHARDS,
    auto_n_shards,
    built_n_shards,
    estimated_objects,
    planned_n_shards,
    source_size,
)


@pytest.fixture
def positions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"ra": rng.uniform(0, 360, 1234), "dec": rng.uniform(-30, 60, 1234), "label": "x"})


def test_file_sources_count_their_data_rows_in_every_format(tmp_path, positions):
    positions.to_csv(tmp_path / "s.csv", index=False)
    positions.to_parquet(tmp_path / "s.parquet")
    with gzip.open(tmp_path / "s.csv.gz", "wt") as out:
        out.write("# a comment line\n" + positions.to_csv(index=False) + "\n")
    from astropy.table import Table

    Table.from_pandas(positions).write(tmp_path / "s.ecsv", format="ascii.ecsv")
    for name in ("s.csv", "s.parquet", "s.csv.gz", "s.ecsv"):
        assert source_size({"source": "file", "path": str(tmp_path / name)}) == 1234, name
    assert source_size({"source": "csv", "csv_path": str(tmp_path / "s.csv")}) == 1234  # old name


def test_other_sources_count_what_they_declare():
    assert source_size({"source": "sdss", "num": 500_000}) == 500_000
    assert source_size({"source": "ztf_objectid", "objectids": ["ZTF18aabtxvd", "ZTF18aahqkbt"]}) == 2
    assert source_size({"source": "ned_refcode", "refcode": "2018ApJ...862..109Y"}) == 0
    assert source_size({"source": "yang"}) == 0
    assert source_size({"source": "file", "path": "no/such/file.csv"}) == 0  # the sample job says why


def test_auto_n_shards_is_the_ceiling_of_objects_per_shard(tmp_path, positions):
    positions.to_csv(tmp_path / "s.csv", index=False)
    sources = [{"source": "file", "path": str(tmp_path / "s.csv")}, {"source": "sdss", "num": 20_000}]
    assert estimated_objects(sources) == 21_234
    assert auto_n_shards(sources) == 3
    assert auto_n_shards(sources, objects_per_shard=21_234) == 1
    assert auto_n_shards([{"source": "yang"}]) == 1
    assert auto_n_shards([{"source": "sdss", "num": 10**9}]) == MAX_SHARDS


def test_a_built_sample_keeps_its_shard_count(tmp_path):
    shards = tmp_path / "sample_shards"
    shards.mkdir()
    for i in range(3):
        (shards / f"shard-{i:04d}.parquet").write_bytes(b"")
    assert built_n_shards(tmp_path) is None  # shard files without sample.ecsv: not finished
    (tmp_path / "sample.ecsv").write_text("# %ECSV 1.0\n")
    assert built_n_shards(tmp_path) == 3
    (shards / "shard-0004.parquet").write_bytes(b"")  # a gap: not a sample this code wrote
    assert built_n_shards(tmp_path) is None
    assert built_n_shards(tmp_path / "nothing") is None


def test_the_planned_shards_keep_a_built_sample_and_refuse_fewer(tmp_path):
    sources = [{"source": "sdss", "num": 25_000}]  # 3 shards of 10,000
    assert planned_n_shards("auto", sources, 10_000, tmp_path) == (3, None)
    assert planned_n_shards(5, sources, 10_000, tmp_path) == (5, None)  # nothing built: any count
    shards = tmp_path / "sample_shards"
    shards.mkdir()
    for i in range(4):
        (shards / f"shard-{i:04d}.parquet").write_bytes(b"")
    (tmp_path / "sample.ecsv").write_text("# %ECSV 1.0\n")
    n, note = planned_n_shards("auto", sources, 10_000, tmp_path)
    assert n == 4 and "auto keeps the 4 shards of the sample already built" in note
    assert planned_n_shards(4, sources, 10_000, tmp_path) == (4, None)
    assert planned_n_shards(6, sources, 10_000, tmp_path) == (6, None)  # the sample is rebuilt
    with pytest.raises(ConfigError) as refused:
        planned_n_shards(2, sources, 10_000, tmp_path)
    message = str(refused.value)
    assert message.startswith(f"n_shards = 2 is below the 4 shards of the sample built in {tmp_path}")
    assert "leave out the objects of shards 2-3" in message
