"""The lsdb archives attached to an existing Dask cluster (``dask_scheduler`` in config).

A real ``dask scheduler`` and ``dask worker`` run on loopback (tests/servers/dask_cluster.py);
the archives' real code paths compute on them, and their rows must equal the local computation's.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import socket
import time
from types import SimpleNamespace

import pyarrow as pa
import pytest
from distributed import Client, LocalCluster, get_task_stream

from mwlc.archives import _crossmatch, _dask, _hats, _parquet, gaia, panstarrs, ztf
from mwlc.errors import ArchiveError
from mwlc.fetch import worker_source
from mwlc.schema import LIGHTCURVE_SCHEMA
from tests.fixtures_workflow import RUN, assert_same_data, assert_same_table, workdir_for_archives
from tests.servers.dask_cluster import dask_scheduler  # noqa: F401  (fixture)
from tests.test_workflow import N_SHARDS, snakemake

# (archive module, its sample fixture, its local HATS fixture, extra fetch parameters)
ARCHIVES = {
    "ztf": (ztf, "ztf_sample", "ztf_hats", {}),
    "gaia": (gaia, "gaia_sample", "gaia_hats", {"bands": ["Gaia_G", "Gaia_BP", "Gaia_RP"]}),
    "panstarrs": (panstarrs, "ps1_sample", "ps1_hats", {}),
}


def _table(batches) -> pa.Table:
    return pa.Table.from_batches(list(batches), schema=LIGHTCURVE_SCHEMA)


def _dead_address() -> str:
    """A loopback address where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def cluster(dask_scheduler) -> Client:  # noqa: F811
    """A second client of the test cluster, to watch what its workers run."""
    with Client(dask_scheduler, set_as_default=False) as client:
        yield client


@pytest.mark.parametrize("name", ARCHIVES)
def test_archive_on_the_cluster_equals_the_local_fetch(request, dask_scheduler, cluster, name):  # noqa: F811
    module, sample_fixture, hats_fixture, params = ARCHIVES[name]
    sample = request.getfixturevalue(sample_fixture)
    source = str(request.getfixturevalue(hats_fixture))
    local = _table(module.fetch(sample, source=source, **params))
    with get_task_stream(cluster) as tasks, _dask.attached(dask_scheduler):
        remote = _table(module.fetch(sample, source=source, **params))
    assert local.num_rows > 0
    assert_same_table(remote, local)
    # The partitions were computed by the cluster's worker, not in this process.
    workers = set(cluster.nthreads())
    assert tasks.data, "the cluster ran no task"
    assert {task["worker"] for task in tasks.data} <= workers


def test_tasks_run_in_order_with_the_cluster_threads_in_flight(dask_scheduler, cluster):  # noqa: F811
    def slow_square(n: int, delay_s: float) -> int:  # local: pickled by value for the worker
        time.sleep(delay_s)
        return n * n

    tasks = [functools.partial(slow_square, n, 0.3 if n == 0 else 0.0) for n in range(6)]
    with get_task_stream(cluster) as stream, _dask.attached(dask_scheduler):
        client = _dask.attached_client()
        assert _dask.cluster_threads(client) == 2
        assert list(_dask.run_in_order(client, tasks)) == [n * n for n in range(6)]
    assert len(stream.data) == 6  # every task ran on the cluster


@pytest.fixture
def ztf_task(ztf_hats, ztf_sample) -> _crossmatch.MatchedRows:
    """The second-pass task of the first ZTF leaf file with a match."""
    catalog = _hats.open_catalog(str(ztf_hats), archive="ZTF")
    query = _crossmatch.Query(1.0, band_column="filterid", bands=[1, 2, 3])
    matches = _crossmatch.locate(catalog, ztf_sample["ra"], ztf_sample["dec"], query, batch_rows=100)
    pairs = _crossmatch.Pairs.of(matches, ztf_sample["objectid"], ztf_sample["label"])
    first = matches.leaf == 0
    return _crossmatch.MatchedRows(
        matches.leaves[0],
        matches.metadata[0],
        matches.row[first],
        ztf.LIGHTCURVE_COLUMNS,
        100,
        pairs[first],
        functools.partial(ztf.epochs, catflags_max=32768),
    )


def test_unreadable_leaf_on_the_cluster_names_the_file(dask_scheduler, ztf_task, tmp_path):  # noqa: F811
    gone = dataclasses.replace(
        ztf_task, leaf=_parquet.LeafFile(str(tmp_path / "gone.parquet"), ztf_task.leaf.fs)
    )
    with (
        _dask.attached(dask_scheduler),
        pytest.raises(ArchiveError, match=r"reading \S+gone\.parquet failed: FileNotFoundError"),
    ):
        list(_crossmatch.run_leaf_tasks([gone], archive="ZTF"))


def test_a_failing_transform_raises_its_own_error_on_the_cluster(dask_scheduler, ztf_task):  # noqa: F811
    def transform(rows, pairs):
        raise KeyError("no such column")

    failing = dataclasses.replace(ztf_task, transform=transform)
    with _dask.attached(dask_scheduler), pytest.raises(KeyError, match="no such column"):
        list(_crossmatch.run_leaf_tasks([failing], archive="ZTF"))


def test_unreachable_scheduler_is_an_archive_error_naming_the_address():
    address = _dead_address()
    started = time.monotonic()
    with (
        _dask.attached(address, timeout_s=2),
        pytest.raises(ArchiveError, match=f"dask_scheduler {address}: cannot connect within 2 s"),
    ):
        _dask.attached_client()
    assert time.monotonic() - started < 10


def test_nothing_connects_until_an_archive_asks():
    with _dask.attached(_dead_address(), timeout_s=2):
        pass  # no error: the archives that do not use dask never connect
    with _dask.attached(None):
        assert _dask.attached_client() is None
    assert _dask.attached_client() is None


def test_scheduler_without_workers_is_an_archive_error():
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        with (
            _dask.attached(empty.scheduler_address, timeout_s=1),
            pytest.raises(ArchiveError, match="no worker joined within 1 s"),
        ):
            _dask.attached_client()


def test_relative_local_sources_are_made_absolute_for_the_workers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert worker_source("resources/demo/ztf", "tcp://127.0.0.1:8786") == str(tmp_path / "resources/demo/ztf")
    assert worker_source("file://resources/x", "tcp://127.0.0.1:8786") == str(tmp_path / "resources/x")
    assert worker_source("s3://bucket/hats", "tcp://127.0.0.1:8786") == "s3://bucket/hats"
    assert (
        worker_source("https://data.lsdb.io/hats/x/", "tcp://127.0.0.1:8786")
        == "https://data.lsdb.io/hats/x/"
    )
    assert worker_source("resources/demo/ztf", None) == "resources/demo/ztf"


@pytest.mark.workflow
def test_demo_workflow_on_the_cluster_equals_the_local_run(dask_scheduler, local_demo_run, tmp_path):  # noqa: F811
    # The lsdb archives only (the others never use the cluster: test_nothing_connects_until_an_archive_asks),
    # from the local run's demo snapshots, up to the merge. Their partitions are computed by the
    # cluster's worker, so two 2-thread fetch jobs (waiting on it) may run side by side: 4 cores.
    workdir = workdir_for_archives(local_demo_run, tmp_path, list(ARCHIVES))
    started = time.monotonic()
    snakemake(
        workdir,
        "--cores",
        "4",
        "--until",
        "merge_lightcurves",
        "--config",
        f"dask_scheduler={dask_scheduler}",
    )
    print(f"demo on the Dask cluster: {time.monotonic() - started:.1f} s")
    assert_same_data(workdir, local_demo_run, archives=list(ARCHIVES))
    for archive in ARCHIVES:
        logs = list((workdir / f"logs/demo/fetch_lightcurves/{archive}").glob("*.log"))
        assert len(logs) == N_SHARDS
        for log in logs:
            assert f"attached to the Dask cluster at {dask_scheduler}" in log.read_text(), log
    # Where partitions are computed is not a rerun trigger: going back to local fetches nothing.
    result = snakemake(workdir, "-n", "--cores", "2", "--until", "merge_lightcurves")
    assert re.search(r"Nothing to be done|total\s+0\n", result.stdout + result.stderr), result.stdout
    assert (workdir / RUN / "summary.csv").exists()


class _Waiting:
    """A task the scheduler keeps waiting: no worker will ever take it."""

    def result(self, timeout=None):
        time.sleep(timeout)
        raise TimeoutError


class _Cluster:
    """A client whose cluster has workers until ``lost`` polls have passed, then none."""

    def __init__(self, lost: int) -> None:
        self.polls, self.lost = 0, lost
        self.scheduler = SimpleNamespace(address="tcp://scheduler:8786")

    def nthreads(self):
        self.polls += 1
        return {} if self.polls > self.lost else {"tcp://worker:1": 2}


def test_a_task_awaited_while_the_cluster_has_no_worker_fails_the_job_instead_of_waiting_for_ever():
    """Workers gone (their batch jobs ended): the scheduler keeps the task waiting for ever."""
    client = _Cluster(lost=3)
    started = time.monotonic()
    with pytest.raises(
        ArchiveError, match=r"the Dask cluster at tcp://scheduler:8786 has had no worker for 0.2 s"
    ):
        _dask.awaited(client, _Waiting(), patience_s=0.2, poll_s=0.05)
    assert client.polls >= 3 + 4  # waited while there were workers, then 0.2 s without
    assert time.monotonic() - started < 2
