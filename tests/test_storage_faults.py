"""Storage faults between the HATS archives and their S3 / HTTP sources (issue 16, item 2).

A fault-injecting loopback proxy (:mod:`tests.servers.proxy`) stands in front of moto S3 (ZTF)
and of the RangeHTTPServer (Gaia); the real clients (s3fs/botocore, fsspec/aiohttp) read through
it with a read policy (the config's ``storage`` section) small enough for a fast test. A fetch
that meets transient faults must give the rows of a fetch without faults; one that meets a
fault that never clears must fail within its attempts' timeouts and waits, naming the archive,
the URL, the attempts and the last error.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mwlc import storage, storage_retry
from mwlc.archives import gaia, panstarrs, wise, ztf
from mwlc.archives._parquet import LeafFile, open_parquet
from mwlc.errors import ArchiveError
from mwlc.net import RetryPolicy
from mwlc.preflight import preflight_archive
from mwlc.storage import fsspec_options, storage_options
from mwlc.storage_retry import RetryingFile
from tests.servers.base import LoopbackServer, Request, Response
from tests.servers.proxy import S3_SLOW_DOWN, Forward, leaf_reads, metadata_reads, nth, unwise_reads

#: Each read: 1 s timeout, 3 retries (4 attempts), waits of 0.05, 0.1 and 0.2 s.
POLICY = RetryPolicy(retries=3, backoff_s=0.05, timeout_s=1.0)
#: Fewer attempts where a fault persists (each stalled attempt waits out the whole timeout).
PERSISTENT_POLICY = RetryPolicy(retries=1, backoff_s=0.05, timeout_s=1.0)


def worst_read_s(policy: RetryPolicy) -> float:
    """The longest a read may take before it fails for good: its attempts' timeouts and waits."""
    return policy.attempts * policy.timeout_s + sum(policy.backoff_s * 2**k for k in range(policy.retries))


#: What a failing read may take beyond that, from its first faulted request (reopening the file,
#: raising through the reader).
SLACK_S = 1.5
#: A stall in the middle of a body, longer than the timeout.
STALL = {"kind": "stall", "seconds": 2 * POLICY.timeout_s}
RESET_MID_BODY = {"kind": "reset_body"}
HTTP_503 = {"kind": "status", "status": 503}
S3_FAULTS = {"reset mid-body": RESET_MID_BODY, "503 SlowDown": S3_SLOW_DOWN, "stall": STALL}
HTTP_FAULTS = {"reset mid-body": RESET_MID_BODY, "503": HTTP_503, "stall": STALL}
#: How each fault shows in the log line of the attempt it failed.
SEEN_AS = {
    "reset mid-body": r"ClientPayloadError: Response payload is not completed",
    "503 SlowDown": r"ClientError: An error occurred \(SlowDown\)",
    "503": r"ClientResponseError: 503",
    "stall": r"\w*(ReadTimeoutError|SocketTimeoutError|TimeoutError): ",
}
#: The leaf reads (ranged GETs of ``Npix=`` files) hit by the three transient faults. Of the 58
#: (ZTF) and 68 (Gaia) reads of a fetch (a footer, then a read or two per pass of each file), read
#: 0 is a footer, read 30 is in the first pass and read 50 in the second pass, after the batches
#: of several leaf files were yielded (as measured from the order of requests): identical rows
#: show that the retried read resumed without a batch twice.
FAULTED_READS = (0, 30, 50)


def _table(batches) -> pa.Table:
    return pa.Table.from_batches(list(batches))


@pytest.fixture(scope="module")
def s3_proxy(moto_endpoint, ztf_s3):
    """The proxy in front of moto, which holds the ZTF collection."""
    with LoopbackServer(Forward(moto_endpoint)) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def http_proxy(gaia_http_server, gaia_http):
    """The proxy in front of the RangeHTTPServer of the Gaia collection."""
    host, port = gaia_http_server.server_address[:2]
    with LoopbackServer(Forward(f"http://{host}:{port}")) as proxy:
        yield proxy


@pytest.fixture
def s3(s3_proxy):
    s3_proxy.reset()
    yield s3_proxy
    s3_proxy.reset()


@pytest.fixture
def http(http_proxy):
    http_proxy.reset()
    yield http_proxy
    http_proxy.reset()


@pytest.fixture(scope="module")
def ztf_rows(ztf_hats, ztf_sample) -> pa.Table:
    """The ZTF g-band rows of the sample, read from the local collection."""
    return _table(ztf.fetch(ztf_sample, source=str(ztf_hats), bands=["ztf_g"]))


@pytest.fixture(scope="module")
def gaia_rows(gaia_hats, gaia_sample) -> pa.Table:
    """The Gaia rows of the sample, read from the local collection."""
    return _table(gaia.fetch(gaia_sample, source=str(gaia_hats)))


def fetch_ztf(proxy: LoopbackServer, sample, source: str, policy: RetryPolicy = POLICY) -> pa.Table:
    options = storage_options(proxy.url, policy)
    return _table(ztf.fetch(sample, source=source, bands=["ztf_g"], storage_options=options))


def fetch_gaia(proxy: LoopbackServer, sample, hats_dir, policy: RetryPolicy = POLICY) -> pa.Table:
    source = f"{proxy.url}/{hats_dir.name}/"
    return _table(gaia.fetch(sample, source=source, storage_options=storage_options(None, policy)))


def failed_attempts(caplog) -> list[str]:
    """The log lines of the failed attempts that were retried."""
    return [r.getMessage() for r in caplog.records if re.search(r"attempt \d+/\d+ failed", r.getMessage())]


def inject_transient(proxy: LoopbackServer, faults: dict[str, dict]) -> None:
    for k, fault in zip(FAULTED_READS, faults.values(), strict=True):
        proxy.fault_when(nth(k, leaf_reads), **fault)


def assert_fails_in_time(
    proxy: LoopbackServer,
    reads: Callable[[Request], bool],
    fault: dict,
    fetch: Callable[[RetryPolicy], object],
    policy: RetryPolicy,
    message: str,
) -> None:
    """With ``fault`` on every request that ``reads`` selects, ``fetch(policy)`` raises an
    :class:`ArchiveError` matching ``message``, within the policy's attempts' timeouts and waits
    (plus :data:`SLACK_S`) of the first faulted request."""
    faulted: list[float] = []

    def recorded(request: Request) -> bool:
        if not reads(request):
            return False
        faulted.append(time.monotonic())
        return True

    proxy.fault_when(recorded, **fault)
    with pytest.raises(ArchiveError) as failure:
        fetch(policy)
    elapsed = time.monotonic() - faulted[0]
    assert re.match(message, str(failure.value)), str(failure.value)
    assert elapsed <= worst_read_s(policy) + SLACK_S, elapsed


# --------------------------------------------------------------------------- transient faults


def assert_survives_transient_faults(
    proxy: LoopbackServer,
    faults: dict[str, dict],
    fetch: Callable[[], pa.Table],
    want: pa.Table,
    caplog,
    read: str,
) -> None:
    r"""``fetch()`` through ``proxy`` meeting ``faults`` (one each) gives ``want``; each fault was
    retried once, logged with the service and the leaf file's URL (the pattern ``read``, e.g.
    ``ZTF leaf file \(s3://...\)``) and the error."""
    assert want.num_rows > 0
    inject_transient(proxy, faults)
    with caplog.at_level(logging.WARNING, logger="mwlc"):
        rows = fetch()
    assert rows.equals(want)
    retried = failed_attempts(caplog)
    assert len(retried) == len(faults), retried
    for line, fault in zip(retried, faults, strict=True):
        assert re.search(rf"{read}: attempt 1/{POLICY.attempts} failed", line), line
        assert re.search(SEEN_AS[fault], line), (fault, line)


def test_ztf_over_s3_survives_three_transient_faults_with_identical_rows(
    s3, ztf_s3, ztf_sample, ztf_rows, caplog
):
    fetch = lambda: fetch_ztf(s3, ztf_sample, ztf_s3)  # noqa: E731
    assert_survives_transient_faults(
        s3, S3_FAULTS, fetch, ztf_rows, caplog, r"ZTF leaf file \(s3://ipac-irsa-ztf/\S+Npix=\d+\S*\)"
    )


def test_gaia_over_http_survives_three_transient_faults_with_identical_rows(
    http, gaia_hats, gaia_sample, gaia_rows, caplog
):
    fetch = lambda: fetch_gaia(http, gaia_sample, gaia_hats)  # noqa: E731
    read = rf"Gaia leaf file \({re.escape(http.url)}/\S+Npix=\d+\S*\)"
    assert_survives_transient_faults(http, HTTP_FAULTS, fetch, gaia_rows, caplog, read)


def test_faults_while_opening_the_metadata_are_retried(s3, ztf_s3, ztf_sample, ztf_rows, caplog):
    """hats takes a failed existence check for a missing file: the open is retried all the same."""
    schema_checks = nth(0, lambda r: r.method == "HEAD" and r.path.endswith("_common_metadata"))
    partitions = nth(0, lambda r: r.method == "GET" and r.path.endswith("partition_info.csv"))
    s3.fault_when(nth(0, metadata_reads), **S3_SLOW_DOWN)
    s3.fault_when(schema_checks, **HTTP_503)
    s3.fault_when(partitions, **RESET_MID_BODY)
    with caplog.at_level(logging.WARNING, logger="mwlc"):
        rows = fetch_ztf(s3, ztf_sample, ztf_s3)
    assert rows.equals(ztf_rows)
    retried = failed_attempts(caplog)
    assert retried and all("ZTF HATS metadata (s3://ipac-irsa-ztf/" in line for line in retried), retried


def test_the_preflight_rides_out_transient_faults_with_the_storage_policy(http, gaia_hats):
    """A 503 twice on the collection's properties: the preflight, which reads with the config's
    storage policy as the fetch does, passes (it used to read once and report the source missing)."""
    http.fault_when(nth(0, metadata_reads), **HTTP_503)
    http.fault_when(nth(0, metadata_reads), **HTTP_503)
    source = f"{http.url}/{gaia_hats.name}/"
    assert [
        f
        for f in preflight_archive("gaia", source=source, params={}, storage=storage_options(None, POLICY))
        if f.problem
    ] == []
    assert sum(metadata_reads(r) and r.path.endswith("collection.properties") for r in http.requests) >= 3


def test_the_preflight_names_a_persistent_fault_and_its_attempts(http, gaia_hats):
    http.fault_when(metadata_reads, **HTTP_503)
    source = f"{http.url}/{gaia_hats.name}/"
    (finding,) = preflight_archive(
        "gaia", source=source, params={}, storage=storage_options(None, PERSISTENT_POLICY)
    )
    assert finding.problem
    assert re.search(r"properties\) failed after 2 attempt\(s\): ClientResponseError: 503", finding.found), (
        finding
    )


# --------------------------------------------------------------------------- persistent faults


@pytest.mark.parametrize("fault", S3_FAULTS)
def test_ztf_over_s3_fails_after_its_attempts_naming_the_url_when_a_fault_persists(
    s3, ztf_s3, ztf_sample, fault
):
    assert_fails_in_time(
        s3,
        leaf_reads,
        S3_FAULTS[fault],
        lambda policy: fetch_ztf(s3, ztf_sample, ztf_s3, policy),
        PERSISTENT_POLICY,
        r"ZTF leaf file \(s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats/\S+/Npix=\d+/part0\.snappy\.parquet\) "
        rf"failed after 2 attempt\(s\): {SEEN_AS[fault]}",
    )


@pytest.mark.parametrize("fault", HTTP_FAULTS)
def test_gaia_over_http_fails_after_its_attempts_naming_the_url_when_a_fault_persists(
    http, gaia_hats, gaia_sample, fault
):
    assert_fails_in_time(
        http,
        leaf_reads,
        HTTP_FAULTS[fault],
        lambda policy: fetch_gaia(http, gaia_sample, gaia_hats, policy),
        PERSISTENT_POLICY,
        rf"Gaia leaf file \({re.escape(http.url)}/{gaia_hats.name}/\S+/Npix=\d+\S*\.parquet\) "
        rf"failed after 2 attempt\(s\): {SEEN_AS[fault]}",
    )


def test_a_metadata_fault_that_persists_fails_naming_the_file_and_the_attempts(s3, ztf_s3, ztf_sample):
    assert_fails_in_time(
        s3,
        metadata_reads,
        S3_SLOW_DOWN,
        lambda policy: fetch_ztf(s3, ztf_sample, ztf_s3, policy),
        POLICY,
        r"ZTF HATS metadata \(s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats/collection\.properties\) "
        r"failed after 4 attempt\(s\): ClientError: An error occurred \(SlowDown\)",
    )


def test_a_missing_file_is_not_retried(s3, ztf_s3, ztf_sample, caplog):
    with caplog.at_level(logging.WARNING, logger="mwlc"), pytest.raises(ArchiveError) as failure:
        fetch_ztf(s3, ztf_sample, ztf_s3.replace("dr24", "dr99"))
    message = str(failure.value)
    assert re.match(r"cannot open HATS source s3://\S+/dr99/\S+: FileNotFoundError", message)
    assert not failed_attempts(caplog)


# --------------------------------------------------------------------------- unWISE (pyarrow's S3 client)


@pytest.fixture(scope="module")
def wise_rows(wise_dataset, wise_sample) -> pa.Table:
    """The unWISE rows of the sample, read from the local dataset, in a fixed order."""
    return _sorted(_table(wise.fetch(wise_sample, source=str(wise_dataset))))


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("objectid", "ascending"), ("time", "ascending"), ("flux", "ascending")])


def fetch_wise(proxy: LoopbackServer, sample, source: str, policy: RetryPolicy = POLICY) -> pa.Table:
    options = storage_options(proxy.url, policy)
    return _sorted(_table(wise.fetch(sample, source=source, storage_options=options)))


def tries(proxy: LoopbackServer) -> Counter:
    """How often the proxy saw each request of an unWISE data file (path and byte range)."""
    return Counter((r.path, r.headers.get("Range")) for r in list(proxy.requests) if unwise_reads(r))


def test_unwise_over_s3_survives_slow_downs_with_identical_rows(s3, wise_s3, wise_sample, wise_rows):
    """pyarrow's S3 client retries by itself (its retry strategy gets ``retries + 1`` attempts)."""
    assert wise_rows.num_rows > 0
    s3.fault_when(nth(0, unwise_reads), **S3_SLOW_DOWN)
    s3.fault_when(nth(2, unwise_reads), **S3_SLOW_DOWN)
    rows = fetch_wise(s3, wise_sample, wise_s3)
    assert rows.equals(wise_rows)
    seen = tries(s3)
    assert sum(seen.values()) == len(seen) + 2, seen  # the two faulted requests were each made twice


def test_unwise_over_s3_fails_after_its_attempts_when_a_slow_down_persists(s3, wise_s3, wise_sample):
    assert_fails_in_time(
        s3,
        unwise_reads,
        S3_SLOW_DOWN,
        lambda policy: fetch_wise(s3, wise_sample, wise_s3, policy),
        PERSISTENT_POLICY,
        r"reading unWISE source s3://nasa-irsa-wise/unwise/neo7/\S+\.parquet failed after 2 attempt\(s\): "
        r"OSError: AWS Error (SLOW_DOWN|SERVICE_UNAVAILABLE) during GetObject operation",
    )
    seen = tries(s3)
    assert max(seen.values()) == PERSISTENT_POLICY.attempts, seen  # pyarrow's retry strategy, as mapped


def test_a_missing_unwise_file_fails_at_once_without_claiming_attempts(
    moto_endpoint, s3, wise_s3, wise_sample
):
    """A data file the shard needs is gone from the bucket: pyarrow does not retry it, and the
    message no longer says "after 2 attempt(s)" (it read as if a 404 had been retried)."""
    import boto3

    from tests.fixtures_wise import WISE_S3_BUCKET, WISE_S3_KEY
    from tests.servers.s3 import CREDENTIALS

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-west-2", **CREDENTIALS)
    listed = client.list_objects_v2(Bucket=WISE_S3_BUCKET, Prefix=f"{WISE_S3_KEY}/healpix_k0=")["Contents"]
    key = next(item["Key"] for item in listed if item["Key"].endswith(".parquet"))
    body = client.get_object(Bucket=WISE_S3_BUCKET, Key=key)["Body"].read()
    client.delete_object(Bucket=WISE_S3_BUCKET, Key=key)
    try:
        with pytest.raises(ArchiveError) as failure:
            fetch_wise(s3, wise_sample, wise_s3, PERSISTENT_POLICY)
    finally:
        client.put_object(Bucket=WISE_S3_BUCKET, Key=key, Body=body, ACL="public-read")
    assert re.match(r"reading unWISE source s3://\S+ failed: FileNotFoundError: ", str(failure.value)), (
        failure.value
    )


# --------------------------------------------------------------------------- Pan-STARRS (its detection scan)


def detection_reads(request: Request) -> bool:
    """A ranged GET of a leaf file of Pan-STARRS' ``detection`` catalog (read by its DetectionScan)."""
    return leaf_reads(request) and "/detection/" in request.path


def test_panstarrs_detection_scan_survives_transient_faults_with_identical_rows(
    s3, ps1_s3, ps1_hats, ps1_sample, caplog
):
    edge = ps1_sample[ps1_sample["label"] == "edge"]
    want = _table(panstarrs.fetch(edge, source=str(ps1_hats)))
    assert want.num_rows > 0
    s3.fault_when(nth(0, detection_reads), **RESET_MID_BODY)
    s3.fault_when(nth(2, detection_reads), **S3_SLOW_DOWN)
    with caplog.at_level(logging.WARNING, logger="mwlc"):
        rows = _table(
            panstarrs.fetch(edge, source=ps1_s3 + "/", storage_options=storage_options(s3.url, POLICY))
        )
    assert rows.schema.equals(want.schema, check_metadata=True)
    assert rows.to_pandas().equals(want.to_pandas())  # NaN fluxes equal NaN here
    retried = failed_attempts(caplog)
    assert len(retried) == 2, retried
    assert all(
        re.search(r"Pan-STARRS detection leaf file \(s3://stpubdata/\S+/detection/", line) for line in retried
    )


# --------------------------------------------------------------------------- a peer that trickles


#: A body sent a byte every 0.1 s: never a wait as long as the 1 s read timeout.
TRICKLE = {"kind": "trickle", "seconds": 0.1}


def test_a_trickling_leaf_read_is_cut_at_its_deadline_and_retried_with_identical_rows(
    http, gaia_hats, gaia_sample, gaia_rows, short_deadlines, caplog
):
    http.fault_when(nth(30, leaf_reads), **TRICKLE)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mwlc"):
        rows = fetch_gaia(http, gaia_sample, gaia_hats)
    elapsed = time.monotonic() - started
    assert rows.equals(gaia_rows)
    retried = failed_attempts(caplog)
    assert len(retried) == 1, retried
    assert re.search(
        r"Gaia leaf file \(\S+Npix=\d+\S*\): attempt 1/4 failed \(TimeoutError: no whole answer", retried[0]
    )
    # the read asked for ~200 kB: a 2 s + 2 s deadline; at 10 bytes/s it would have taken 6 hours
    assert elapsed < 12


def test_a_peer_that_always_trickles_fails_after_its_attempts_naming_the_deadline(
    http, gaia_hats, gaia_sample, short_deadlines
):
    http.fault_when(leaf_reads, **TRICKLE)
    started = time.monotonic()
    with pytest.raises(ArchiveError) as failure:
        fetch_gaia(http, gaia_sample, gaia_hats, PERSISTENT_POLICY)
    elapsed = time.monotonic() - started
    assert re.match(
        r"Gaia leaf file \(http://\S+\) failed after 2 attempt\(s\): TimeoutError: no whole answer within "
        r"the attempt's deadline of \d\.\d+ s",
        str(failure.value),
    ), str(failure.value)
    assert sum(leaf_reads(r) for r in http.requests) == 2
    assert elapsed < 2 * (2 + 4) + 3  # two attempts of at most 2 s + their bytes at 100 kB/s


class ByteFile:
    """An app serving ``data`` at every path, by ranges (206) or, ``ranges=False``, whole (200)."""

    def __init__(self, data: bytes, *, ranges: bool = True) -> None:
        self.data, self.ranges = data, ranges

    def handle(self, request: Request) -> Response:
        size = len(self.data)
        asked = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("Range", ""))
        if request.method == "HEAD" or not asked or not self.ranges:
            return Response(200, self.data, "application/octet-stream", {"Content-Length": str(size)})
        first, last = int(asked[1]), min(int(asked[2] or size - 1), size - 1)
        body = self.data[first : last + 1]
        return Response(
            206, body, "application/octet-stream", {"Content-Range": f"bytes {first}-{last}/{size}"}
        )


def http_fs(server: LoopbackServer, policy: RetryPolicy = POLICY) -> fsspec.AbstractFileSystem:
    """fsspec's HTTP filesystem with ``policy``'s timeouts, as the readers open one."""
    return fsspec.filesystem("http", **fsspec_options(server.url, storage_options(None, policy)))


def open_over_http(server: LoopbackServer, policy: RetryPolicy = POLICY) -> RetryingFile:
    return RetryingFile(http_fs(server, policy), f"{server.url}/file.bin", service="test file", policy=policy)


def test_reads_and_seeks_give_the_files_bytes_with_kept_answers(monkeypatch):
    """A read asks for at least ``READ_AHEAD_BYTES``; the reads the kept answers hold ask for nothing."""
    monkeypatch.setattr(storage_retry, "READ_AHEAD_BYTES", 1000)
    monkeypatch.setattr(storage_retry, "KEPT_BLOCKS", 2)
    data = np.random.default_rng(5).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    with LoopbackServer(ByteFile(data)) as server, open_over_http(server) as file:
        assert file.size == len(data)
        assert file.read(10) == data[:10] and file.tell() == 10  # asks for bytes 0-999
        assert file.read(990) == data[10:1000]  # kept
        assert file.read(1500) == data[1000:2500]  # more than the read-ahead: exactly that
        assert file.seek(200) == 200 and file.read(100) == data[200:300]  # kept: 0-999
        file.seek(-100, 2)
        assert file.read() == data[-100:] and file.tell() == len(data)  # 9900-9999; 1000-2499 dropped
        assert file.read(5) == b"" and file.read(0) == b""  # at the end, or nothing asked
        file.seek(1500)
        assert file.read(10) == data[1500:1510]  # asked again (1500-2499); 0-999 dropped
        file.seek(20_000)
        assert file.read() == b"" and file.tell() == 20_000  # past the end
        assert file.seek(-19_700, 1) == 300 and file.read(50) == data[300:350]  # asked again
        assert file.read(1300) == data[350:1650]  # 350-1299 kept (300-1299), the rest asked for
        with pytest.raises(ValueError, match="negative seek position -1"):
            file.seek(-1)
        gets = [r.headers["Range"] for r in server.requests if r.method == "GET"]
    assert gets == [
        "bytes=0-999",
        "bytes=1000-2499",
        "bytes=9900-9999",
        "bytes=1500-2499",
        "bytes=300-1299",
        "bytes=1300-2299",
    ]


def test_interleaved_column_reads_of_a_large_file_send_each_byte_about_once():
    """pyarrow reads the chunks of the columns it decodes side by side, 1 MiB at a time: with the
    shipped read-ahead and kept answers each byte crosses the network about once (one 16 MiB
    block kept alone sent a 1.5 GB partition's bytes 11.9 times)."""
    columns = {name: np.random.default_rng(k).random(1_000_000) for k, name in enumerate("abcd")}
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink, compression="none", row_group_size=1_000_000)
    data = sink.getvalue().to_pybytes()  # 4 columns of 8 MB, one row group
    with LoopbackServer(ByteFile(data)) as server:
        leaf = LeafFile(f"{server.url}/leaf.parquet", http_fs(server), "test", POLICY)
        with open_parquet(leaf) as parquet:
            rows = sum(batch.num_rows for batch in parquet.iter_batches(batch_size=50_000))
        asked = [
            re.fullmatch(r"bytes=(\d+)-(\d+)", r.headers["Range"])
            for r in server.requests
            if r.method == "GET"
        ]
    assert rows == 1_000_000
    sent = sum(int(m[2]) - int(m[1]) + 1 for m in asked)
    assert sent <= 1.05 * len(data), (sent, len(data))  # 1.012 measured; fsspec's file object: 6.6
    assert len(asked) <= 1.1 * len(data) / (1 << 20) + 4  # ~1 MiB a request, and the footer's


def test_a_server_that_ignores_ranges_is_refused_from_its_headers_at_once():
    """Before the body is read: here it would take 500 s (5,000 bytes at 10 a second)."""
    with LoopbackServer(ByteFile(b"x" * 5000, ranges=False)) as server, open_over_http(server) as file:
        server.fault_when(lambda request: request.method == "GET", "trickle", seconds=0.1)
        started = time.monotonic()
        file.seek(4900)
        refused = r"answered HTTP 200 with 5,000 bytes, not bytes 4900-4999: the server does not honour"
        with pytest.raises(ArchiveError, match=refused):
            file.read(100)
        assert time.monotonic() - started < 1.0
        assert sum(r.method == "GET" for r in server.requests) == 1  # not retried


def test_a_stall_is_told_as_the_clients_read_timeout_not_as_a_deadline(http, gaia_hats, gaia_sample):
    http.fault_when(leaf_reads, **STALL)
    with pytest.raises(ArchiveError) as failure:
        fetch_gaia(http, gaia_sample, gaia_hats, PERSISTENT_POLICY)
    assert "failed after 2 attempt(s): SocketTimeoutError: Timeout on reading data" in str(failure.value)


def test_a_metadata_read_that_trickles_fails_after_its_attempts(
    http, gaia_hats, gaia_sample, short_deadlines, monkeypatch
):
    """hats reads the metadata through fsspec: each of its requests over HTTP has a whole deadline
    (here 2 x 1 s: the metadata's allowance of bytes set to 0)."""
    monkeypatch.setattr(storage, "METADATA_BYTES", 0)
    http.fault_when(metadata_reads, **TRICKLE)
    started = time.monotonic()
    with pytest.raises(ArchiveError) as failure:
        fetch_gaia(http, gaia_sample, gaia_hats, PERSISTENT_POLICY)
    assert re.match(
        r"Gaia HATS metadata \(http://\S+properties\) failed after 2 attempt\(s\): FSTimeoutError: no whole "
        r"answer within the request's time limit",
        str(failure.value),
    )
    assert time.monotonic() - started < 2 * 2 + 0.05 + SLACK_S + 1
