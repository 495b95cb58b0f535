"""A fetch attempt stopped over its memory limit leaves its batch sizes; the next reads half.

The sizes' arithmetic and the record are tested in this process; the fetch job's whole path
(the watchdog stops an attempt, which records; the next attempt reads half and removes the
record) in child interpreters, since a stopped attempt's process is ended by its watchdog.
"""

from __future__ import annotations

import json
import logging
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mwlc.archives.registry import ARCHIVES, get_archive
from mwlc.memory_record import (
    MemoryFailure,
    read_failure,
    record_path,
    smaller_batches,
    write_failure,
)
from mwlc.sample.build import SHARD_SCHEMA
from tests.test_faults import run_python

FAILED = MemoryFailure(limit_mb=3000.0, peak_mb=3050.0, batches={"read_batch_rows": 2000})


def failed_reading(rows: int) -> MemoryFailure:
    """An attempt under 3000 MB that failed reading ``rows`` rows at a time."""
    return MemoryFailure(3000.0, 3100.0, {"read_batch_rows": rows})


@pytest.mark.parametrize(
    ("configured", "failure", "limit_mb", "expected"),
    [
        ({"read_batch_rows": 2000}, FAILED, 3000.0, {"read_batch_rows": 1000}),
        ({"read_batch_rows": 2000}, FAILED, 3100.0, {"read_batch_rows": 1000}),  # raised < 5 %
        ({"read_batch_rows": 2000}, FAILED, 2000.0, {"read_batch_rows": 1000}),
        # a raised memory, or none, starts again from the config's sizes
        ({"read_batch_rows": 2000}, FAILED, 3150.0, {"read_batch_rows": 2000}),
        ({"read_batch_rows": 2000}, FAILED, None, {"read_batch_rows": 2000}),
        ({"read_batch_rows": 2000}, None, 3000.0, {"read_batch_rows": 2000}),
        # halved from what failed (a second failure halves again), never above the config, nor
        # below a sixteenth of it
        ({"read_batch_rows": 2000}, failed_reading(1000), 3000.0, {"read_batch_rows": 500}),
        ({"read_batch_rows": 300}, FAILED, 3000.0, {"read_batch_rows": 300}),
        ({"read_batch_rows": 2000}, failed_reading(250), 3000.0, {"read_batch_rows": 125}),
        ({"read_batch_rows": 2000}, failed_reading(125), 3000.0, {"read_batch_rows": 125}),
        ({"read_batch_rows": 8}, failed_reading(1), 3000.0, {"read_batch_rows": 1}),
        # a key the failed attempt did not record: half the config's
        ({"batch": 50000}, FAILED, 3000.0, {"batch": 25000}),
    ],
)  # fmt: skip
def test_the_next_attempt_reads_half_of_what_failed_unless_its_memory_is_raised(
    configured, failure, limit_mb, expected
):
    assert smaller_batches(configured, failure, limit_mb) == expected


def test_a_record_reads_back_and_lives_beside_the_jobs_log(tmp_path, caplog):
    log = tmp_path / "logs/fetch_lightcurves/ztf/shard-0003.log"
    path = record_path(log)
    assert path == tmp_path / "logs/fetch_lightcurves/ztf/shard-0003.memory.json"
    assert read_failure(path) is None
    write_failure(path, FAILED)
    assert read_failure(path) == FAILED
    path.write_text('{"limit_mb": 3000, "peak_mb": 3050}')  # cut, or written by hand
    with caplog.at_level(logging.WARNING, logger="mwlc.memory_record"):
        assert read_failure(path) is None
    assert f"ignoring the memory record {path}, which cannot be read" in caplog.text


def test_the_keys_that_bound_a_jobs_memory_are_each_archives_batch_sizes():
    sizes = {name: get_archive(name).batch_sizes({}) for name in ARCHIVES}
    assert sizes == {
        "ztf": {"read_batch_rows": 2000},
        "gaia": {"read_batch_rows": 5000},
        "panstarrs": {"read_batch_rows": 200000},
        "wise": {},  # lowers its batch to fit the job's memory itself
        "heasarc": {},  # a chunk is capped by the shard: halving it would often change nothing
        "tess_kepler": {},
        "hcv": {},
    }
    assert get_archive("gaia").batch_sizes({"read_batch_rows": 700, "timeout_s": 5}) == {
        "read_batch_rows": 700
    }


#: A fetch job's attempt in a child interpreter: the archive's reader is replaced by one that
#: reports the batch size it was given, then grows by 20 MB every 20 ms when ``GROW`` is set.
ATTEMPT = """
    import logging, sys, time
    import numpy as np, psutil
    from mwlc.archives.base import Archive
    from mwlc.archives.registry import get_archive
    from mwlc.fetch import fetch_shard
    from mwlc.jitcache import cache_jitted_functions
    from mwlc.limits import tree_rss_mb
    get_archive("ztf").reader_module()  # what fetch_shard imports, before the memory is measured
    cache_jitted_functions()
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
    shard, output, record, grow, limit = sys.argv[1:6]
    def fetch(self, sample, **kwargs):
        print("READ_BATCH_ROWS", kwargs["read_batch_rows"], flush=True)
        blocks = []
        while grow == "1":
            blocks.append(np.ones(20_000_000 // 8))
            time.sleep(0.02)
        return iter(())
    Archive.fetch = fetch
    mem_mb = int(tree_rss_mb(psutil.Process()) + 300) if limit == "-" else int(limit)
    print("MEM_MB", mem_mb, flush=True)
    fetch_shard("ztf", shard_path=shard, output_path=output, source="unused", params={},
                reading={"read_batch_rows": 2000}, mem_mb=mem_mb, memory_record=record)
    print("WRITTEN", flush=True)
"""


def attempt(tmp_path, *, grow: bool, mem_mb: int | None = None) -> str:
    shard, output = tmp_path / "shard-0003.parquet", tmp_path / "out/shard-0003.parquet"
    if not shard.exists():
        sample = {"objectid": [1], "ra": [10.0], "dec": [-5.0], "label": ["a"]}
        pq.write_table(pa.Table.from_pydict(sample, schema=SHARD_SCHEMA), shard)
    record = tmp_path / "logs/shard-0003.memory.json"
    limit = "-" if mem_mb is None else str(mem_mb)
    code = ATTEMPT.replace(
        "sys.argv[1:6]", repr([str(shard), str(output), str(record), str(int(grow)), limit])
    )
    result = run_python(code)
    return result.stdout + result.stderr


def test_an_attempt_over_its_memory_halves_the_next_ones_batches_until_one_succeeds(tmp_path):
    record = tmp_path / "logs/shard-0003.memory.json"
    first = attempt(tmp_path, grow=True)
    mem_mb = int(re.search(r"MEM_MB (\d+)", first)[1])
    assert "READ_BATCH_ROWS 2000" in first and "MemoryLimitExceeded" in first and "WRITTEN" not in first, (
        first
    )
    assert (
        f"ztf: recorded {{'read_batch_rows': 2000}} in {record}: an attempt of the shard with more "
        "memory reads them, one with no more reads half of them"
    ) in first
    recorded = json.loads(record.read_text())
    assert recorded["limit_mb"] == mem_mb and recorded["peak_mb"] > mem_mb
    assert recorded["batches"] == {"read_batch_rows": 2000}

    second = attempt(tmp_path, grow=True, mem_mb=mem_mb)  # a retry fails again: halved again
    assert "READ_BATCH_ROWS 1000" in second and "MemoryLimitExceeded" in second, second
    assert re.search(
        rf"WARNING ztf: an earlier attempt went over its memory \(\d+ MB > {mem_mb} MB\) reading "
        r"\{'read_batch_rows': 2000\}; this one reads \{'read_batch_rows': 1000\} \(the same rows",
        second,
    ), second
    assert json.loads(record.read_text())["batches"] == {"read_batch_rows": 1000}

    third = attempt(tmp_path, grow=False, mem_mb=mem_mb)
    assert "READ_BATCH_ROWS 500" in third and "WRITTEN" in third, third
    assert not record.exists()  # the shard is written: the next fetch of it starts from the config


def test_an_attempt_with_more_memory_reads_the_configs_batches(tmp_path):
    record = tmp_path / "logs/shard-0003.memory.json"
    write_failure(record, MemoryFailure(1000.0, 1100.0, {"read_batch_rows": 2000}))
    out = attempt(tmp_path, grow=False, mem_mb=4000)
    assert "READ_BATCH_ROWS 2000" in out and "WRITTEN" in out, out
    assert "this one has more memory: it reads the config's {'read_batch_rows': 2000}" in out
    assert not record.exists()
