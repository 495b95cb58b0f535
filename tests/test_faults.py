"""Fault injection: remote failures, memory limits, and a workflow run that survives both.

* Remote failures: the real HEASARC client (pyvo over a hardened requests session) against a fake
  HEASARC TAP on loopback that answers 500/503, resets the connection, stalls past the timeout
  (before or in the middle of the answer) or cuts the answer short. Each is retried with the
  configured count and backoff, and succeeds if the fault goes away; if it does not, one
  ``ArchiveError`` says what failed, where, how many times and why.
* Memory: :class:`mwlc.limits.MemoryWatchdog` in a child Python process that outgrows its limit.
* Workflow: ``snakemake --keep-going`` on the demo config with HEASARC served by the fake TAP,
  which fails every query of one shard, and with ``mem_mb`` below what the ZTF jobs need: only
  those jobs fail, each with its reason in its log, everything else completes, the merged dataset
  waits, and a rerun (fault gone, memory raised) fetches only what failed.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mwlc.archives import heasarc
from mwlc.config import deep_merge
from mwlc.demo.heasarc import build
from mwlc.errors import ArchiveError, ConfigError
from mwlc.limits import EXIT_MEMORY, MemoryWatchdog
from tests.servers.base import LoopbackServer, Request
from tests.servers.tap import FakeTap

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
#: HEASARC's TAP path (https://heasarc.gsfc.nasa.gov/xamin/vo/tap), served by the fake too.
HEASARC_TAP_PATH = "/xamin/vo/tap"
#: One catalog: one query per fetch, so request counts are attempts.
FERMI_ONLY = {"FERMIGTRIG": {}, "SAXGRBMGRB": None, "icecubepsc": None}


def tap_url(server: LoopbackServer) -> str:
    """TAP base URL of a fake HEASARC server."""
    return server.url + HEASARC_TAP_PATH


def fetch_fermi(sample: pd.DataFrame, server: LoopbackServer, **params) -> pa.Table:
    """FERMIGTRIG rows of ``sample`` from the fake TAP, as one table (fast retries by default)."""
    params = {"timeout_s": 1.0, "retries": 2, "retry_backoff_s": 0.05, "catalogs": FERMI_ONLY, **params}
    batches = list(heasarc.fetch(sample, source=tap_url(server), **params))
    return pa.Table.from_batches(batches, schema=batches[0].schema) if batches else None


@pytest.fixture
def fermi_expected(heasarc_sample: pd.DataFrame, heasarc_tap: LoopbackServer) -> pa.Table:
    """The fault-free answer (the server's logs are reset afterwards)."""
    table = fetch_fermi(heasarc_sample, heasarc_tap)
    assert table is not None and table.num_rows > 0
    heasarc_tap.reset()
    return table


# --------------------------------------------------------------------------- remote failures

#: name -> how to inject one occurrence of the fault
ONE_FAULT: dict[str, Callable[[LoopbackServer], None]] = {
    "HTTP 500": lambda server: server.fail_next(1, status=500, body="Internal Server Error"),
    "HTTP 503": lambda server: server.fail_next(1, status=503),
    "connection reset": lambda server: server.reset_next(1),
    "truncated body": lambda server: server.truncate_next(1),
    "stall before the answer": lambda server: server.delay_next(1, seconds=2.5),
    "stall in the body": lambda server: server.stall_next(1, seconds=2.5),
}

#: name -> (fault kind, what the error message says)
PERSISTENT_FAULT: dict[str, tuple[dict, str]] = {
    "HTTP 500": ({"kind": "status", "status": 500, "body": "boom"}, "500 Server Error"),
    "HTTP 503": ({"kind": "status", "status": 503}, "503 Server Error"),
    "connection reset": ({"kind": "reset"}, "Connection reset by peer"),
    "truncated body": ({"kind": "truncate"}, "IncompleteRead"),
    "stall before the answer": ({"kind": "delay", "seconds": 2.5}, "Read timed out"),
    "stall in the body": ({"kind": "stall", "seconds": 2.5}, "Read timed out"),
}


@pytest.mark.parametrize("fault", list(ONE_FAULT))
def test_a_transient_fault_is_retried_and_the_answer_is_complete(
    fault, heasarc_sample, heasarc_tap, fermi_expected, caplog
):
    ONE_FAULT[fault](heasarc_tap)
    table = fetch_fermi(heasarc_sample, heasarc_tap)
    assert len(heasarc_tap.requests) == 2  # the faulty attempt and one retry
    assert table.equals(fermi_expected)
    retries = [r.getMessage() for r in caplog.records if "attempt 1/3 failed" in r.getMessage()]
    assert len(retries) == 1, retries


@pytest.mark.parametrize("fault", list(PERSISTENT_FAULT))
def test_a_persistent_fault_fails_after_the_configured_attempts_with_the_reason(
    fault, heasarc_sample, heasarc_tap, caplog
):
    kind, reason = PERSISTENT_FAULT[fault]
    heasarc_tap.fault_when(lambda request: request.path.endswith("/sync"), **kind)
    started = time.monotonic()
    with pytest.raises(ArchiveError) as err:
        fetch_fermi(heasarc_sample, heasarc_tap, retries=1, retry_backoff_s=0.2, timeout_s=1.0)
    elapsed = time.monotonic() - started
    message = str(err.value)
    assert "HEASARC TAP (FERMIGTRIG chunk 1/1, objectids 1..20)" in message
    assert tap_url(heasarc_tap) in message
    assert "failed after 2 attempt(s)" in message
    assert reason in message
    assert len(heasarc_tap.requests) == 2
    waits = [float(m) for r in caplog.records for m in re.findall(r"retrying in ([\d.]+) s", r.getMessage())]
    assert waits == [0.2]  # backoff_s * 2**0
    stalls = 2 if kind["kind"] in ("delay", "stall") else 0
    assert elapsed < 0.2 + stalls * 1.0 + 3.0  # each stalled attempt ends at the 1 s timeout


def test_an_answer_that_trickles_is_cut_at_its_deadline_and_retried(
    heasarc_sample, heasarc_tap, fermi_expected, short_deadlines, caplog
):
    """pyvo reads the TAP answer from ``response.raw`` itself: the deadline still holds."""
    heasarc_tap.trickle_next(1, seconds=0.1)  # never a 1 s wait: the read timeout never trips
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="mwlc"):
        table = fetch_fermi(heasarc_sample, heasarc_tap)
    elapsed = time.monotonic() - started
    assert table.equals(fermi_expected)
    assert len(heasarc_tap.requests) == 2
    assert re.search(r"/sync: the answer is still arriving after 2\.\d+ s, its deadline", caplog.text)
    # pyvo words it as a VOTable that did not parse, caused by the read timeout
    assert re.search(r"attempt 1/3 failed \(\w+: ReadTimeoutError: .*Read timed out", caplog.text)
    assert elapsed < 2.5 + 3.0  # at 10 bytes/s the answer alone would take minutes


def test_a_service_that_always_trickles_fails_after_its_attempts(
    heasarc_sample, heasarc_tap, short_deadlines
):
    heasarc_tap.fault_when(lambda request: request.path.endswith("/sync"), "trickle", seconds=0.1)
    started = time.monotonic()
    with pytest.raises(
        ArchiveError, match=r"failed after 2 attempt\(s\): \w+: ReadTimeoutError: .*Read timed out"
    ):
        fetch_fermi(heasarc_sample, heasarc_tap, retries=1, retry_backoff_s=0.2)
    assert len(heasarc_tap.requests) == 2
    assert time.monotonic() - started < 2 * 2.5 + 0.2 + 3.0


def test_backoff_doubles_between_attempts(heasarc_sample, heasarc_tap, caplog):
    heasarc_tap.fail_always(status=503)
    with pytest.raises(ArchiveError, match="after 4 attempt"):
        fetch_fermi(heasarc_sample, heasarc_tap, retries=3, retry_backoff_s=0.05)
    waits = [float(m) for r in caplog.records for m in re.findall(r"retrying in ([\d.]+) s", r.getMessage())]
    assert waits == [0.05, 0.1, 0.2]
    assert len(heasarc_tap.requests) == 4


def test_a_client_error_is_not_retried(heasarc_sample, heasarc_tap):
    heasarc_tap.fault_when(lambda request: True, status=400, body="bad query")
    with pytest.raises(ArchiveError, match="answered with an error after 1 attempt"):
        fetch_fermi(heasarc_sample, heasarc_tap)
    assert len(heasarc_tap.requests) == 1


@pytest.mark.parametrize("retry_after", ["1", "http-date"])
def test_a_service_asking_to_wait_is_waited_for(retry_after, caplog):
    """A 429 with ``Retry-After`` (seconds or an HTTP date) is retried after that long, not
    after the policy's 0.01 s backoff; never longer than ``max_wait_s``."""
    import email.utils

    import requests

    from mwlc.net import RetryPolicy, call_with_retries, retry_after_s

    def answer(value: str) -> requests.HTTPError:
        response = requests.Response()
        response.status_code, response.headers["Retry-After"] = 429, value
        return requests.HTTPError("429 Too Many Requests", response=response)

    value = "1" if retry_after == "1" else email.utils.formatdate(time.time() + 2.0, usegmt=True)
    attempts = []

    def once() -> str:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise answer(value)
        return "rows"

    policy = RetryPolicy(retries=2, backoff_s=0.01, timeout_s=1.0)
    with caplog.at_level("WARNING", logger="mwlc.net"):
        assert call_with_retries(once, service="HEASARC TAP", url="https://x", policy=policy) == "rows"
    waited = attempts[1] - attempts[0]
    assert waited >= 0.95 and waited < 2.5
    assert "attempt 1/3 failed (HTTPError: 429 Too Many Requests); retrying in" in caplog.text
    assert retry_after_s(answer("120")) == 120.0 and retry_after_s(answer("soon")) is None
    assert retry_after_s(answer("\u00b2")) is None  # a digit to str.isdigit, not to float
    # a date in "-0000" (email.utils.formatdate's default) or without a zone is UTC
    assert 55 < retry_after_s(answer(email.utils.formatdate(time.time() + 60))) <= 60
    assert retry_after_s(answer("Wed, 21 Oct 2015 07:28:00")) == 0.0
    assert retry_after_s(requests.HTTPError("x", response=requests.Response())) is None
    capped = RetryPolicy(retries=1, backoff_s=0.01, timeout_s=1.0, max_wait_s=0.2)
    attempts.clear()
    start = time.monotonic()
    with pytest.raises(ArchiveError, match="failed after 2 attempt"):
        call_with_retries(lambda: (_ for _ in ()).throw(answer("120")), service="s", url="u", policy=capped)
    assert time.monotonic() - start < 1.0


def test_fault_rules_hit_only_matching_requests_and_reset_clears_them(heasarc_tap):
    import requests

    heasarc_tap.fault_when(lambda request: request.path.endswith("/availability"), "reset")
    with pytest.raises(requests.ConnectionError):
        requests.get(tap_url(heasarc_tap) + "/availability", timeout=5)
    assert requests.get(tap_url(heasarc_tap) + "/capabilities", timeout=5).status_code == 200
    heasarc_tap.reset()
    assert requests.get(tap_url(heasarc_tap) + "/availability", timeout=5).status_code == 200


# --------------------------------------------------------------------------- memory


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv (stderr merged into stdout)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )


#: A child that grows by 20 MB every 20 ms, in its main thread, up to 2 GB.
GROW_IN_MAIN = """
    import logging, sys, time
    import numpy as np
    from mwlc.limits import MemoryWatchdog, tree_rss_mb
    import psutil
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
    limit = tree_rss_mb(psutil.Process()) + 150
    blocks = []
    with MemoryWatchdog(limit, job="fetch_lightcurves archive=ztf shard=0001",
                        advice="resources.mem_mb of rule fetch_lightcurves", interval_s=0.05) as dog:
        try:
            for _ in range(100):
                blocks.append(np.ones(20_000_000 // 8))
                time.sleep(0.02)
        except BaseException as exc:
            print("RAISED", type(exc).__name__, len(blocks), round(limit),
                  f"{limit:.3f}", f"{dog.peak_mb:.3f}")
            raise
    print("NOT STOPPED")
"""


def test_a_job_over_its_memory_limit_fails_with_a_message_naming_the_limit():
    result = run_python(GROW_IN_MAIN)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out  # an ordinary uncaught exception, not a kill
    assert "NOT STOPPED" not in out
    raised = re.search(r"RAISED MemoryLimitExceeded (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    assert raised, out
    blocks, limit = int(raised[1]), int(raised[2])
    limit_mb, peak_mb = float(raised[3]), float(raised[4])  # unrounded: both rounded could be equal
    assert 5 <= blocks < 20  # stopped soon after crossing the limit (150 MB = 7.5 blocks)
    assert limit_mb < peak_mb < limit_mb + 200
    assert re.search(
        r"CRITICAL fetch_lightcurves archive=ztf shard=0001 exceeded its memory limit: "
        rf"resident memory \d+ MB > mem_mb={limit} MB; raise resources.mem_mb of rule "
        "fetch_lightcurves",
        out,
    ), out
    assert "mwlc.limits.MemoryLimitExceeded: fetch_lightcurves archive=ztf shard=0001 exceeded" in out


#: A child whose main thread swallows the exception (as a library's broad ``except`` might) and
#: carries on.
SWALLOW_AND_GO_ON = """
    import logging, sys, time
    import numpy as np
    from mwlc.limits import MemoryWatchdog, tree_rss_mb
    import psutil
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
    blocks = []
    with MemoryWatchdog(tree_rss_mb(psutil.Process()) + 150, job="job X", interval_s=0.05, grace_s=1.0):
        try:
            for _ in range(100):
                blocks.append(np.ones(20_000_000 // 8))
                time.sleep(0.02)
        except Exception as exc:
            print("SWALLOWED", type(exc).__name__, flush=True)
        time.sleep(30)
    print("NOT STOPPED")
"""


def test_a_job_that_does_not_unwind_is_ended_after_the_grace_period():
    started = time.monotonic()
    result = run_python(SWALLOW_AND_GO_ON)
    out = result.stdout + result.stderr
    assert result.returncode == EXIT_MEMORY, out
    assert time.monotonic() - started < 20  # not the 30 s it meant to go on for
    assert "SWALLOWED MemoryLimitExceeded" in out
    assert "CRITICAL job X exceeded its memory limit" in out
    assert "CRITICAL job X; still running 1 s later: ending the process (exit status 75)" in out
    assert "NOT STOPPED" not in out


def test_a_swallowed_memory_error_is_raised_again_and_the_job_unwinds():
    result = run_python(SWALLOW_AND_GO_ON.replace("grace_s=1.0", "grace_s=8.0"))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out  # raised again in the 30 s sleep: an ordinary failure
    assert "SWALLOWED MemoryLimitExceeded" in out
    assert "mwlc.limits.MemoryLimitExceeded: job X exceeded its memory limit" in out
    assert "ending the process" not in out


def test_a_job_within_its_limit_records_its_peak_and_is_not_stopped():
    with MemoryWatchdog(100_000, interval_s=0.01) as dog:
        block = np.ones(30_000_000 // 8)
        time.sleep(0.1)
    assert dog.exceeded is None
    assert dog.peak_mb > 30
    del block


@pytest.mark.parametrize("mem_mb", [0, -5, "3000", None, True])
def test_a_bad_memory_limit_is_a_config_error(mem_mb):
    with pytest.raises(ConfigError, match=f"mem_mb must be a number > 0 \\(MB\\), got {mem_mb!r}"):
        MemoryWatchdog(mem_mb)


# --------------------------------------------------------------------------- the workflow

#: The fault run: ZTF (lsdb) and unWISE from demo snapshots, HEASARC from the fake TAP; retries
#: and timeouts from config; no Snakemake-level retry, so a failure shows after one attempt.
FAULT_RUN_ID = "faults"
FAULT_RETRIES = 2
#: ZTF's memory limit in the first run (MB): below what its imports alone take (~310 MB), so every
#: ZTF job passes it, whatever lsdb's version; the other archives keep the default 3000 MB.
ZTF_MEM_MB = 200
DEFAULT_MEM_MB = 3000


def fault_config(tap_source: str) -> dict:
    """What the fault run changes in config/demo.yaml."""
    return {
        "run_id": FAULT_RUN_ID,
        "n_shards": 2,
        "fetch_retries": 0,
        "monitor": {"enabled": False},
        "fetch_mem_mb": {"default": DEFAULT_MEM_MB, "ztf": ZTF_MEM_MB},
        "archives": {
            "gaia": {"enabled": False},
            "panstarrs": {"enabled": False},
            "heasarc": {
                "source": tap_source,
                "timeout_s": 2,
                "retries": FAULT_RETRIES,
                "retry_backoff_s": 0.1,
            },
        },
        "demo": {"archives": ["ztf", "wise"]},
    }


def uploaded_objectids(request: Request) -> set[int]:
    """Objectids in the TAP upload of a sync query (empty for any other request)."""
    from astropy.io.votable import parse_single_table

    spec = request.param("UPLOAD", case_insensitive=True)
    if not spec:
        return set()
    form = request.form()
    ids: set[int] = set()
    for item in spec.split(";"):
        part = item.partition(",")[2].removeprefix("param:")
        data = form[part][0]
        table = parse_single_table(io.BytesIO(data.encode() if isinstance(data, str) else data)).to_table()
        ids |= {int(i) for i in table["objectid"]}
    return ids


def demo_heasarc_tap_app(directory: Path) -> FakeTap:
    """A fake HEASARC TAP over tables built (in ``directory``) around the demo sample's positions."""
    positions = pd.read_csv(REPO / "config" / "demo_sample.csv")
    sample = positions.assign(objectid=np.arange(1, len(positions) + 1, dtype=np.int64))
    tables_dir = build(sample[["objectid", "ra", "dec"]], directory)
    tables = {
        t: pd.read_parquet(tables_dir / f"{t}.parquet") for t in ("FERMIGTRIG", "SAXGRBMGRB", "icecubepsc")
    }
    return FakeTap(tables, prefix=HEASARC_TAP_PATH, prefix_unaliased=True)


@pytest.fixture(scope="module")
def demo_heasarc_tap(tmp_path_factory) -> Iterator[LoopbackServer]:
    """:func:`demo_heasarc_tap_app`, served on loopback."""
    app = demo_heasarc_tap_app(tmp_path_factory.mktemp("demo-heasarc"))
    server = LoopbackServer(app).start()
    try:
        yield server
    finally:
        server.stop()
        app.close()


@pytest.mark.workflow
def test_keep_going_isolates_a_failing_remote_and_a_job_over_its_memory(tmp_path, demo_heasarc_tap):
    from tests.test_workflow import new_workdir, snakemake

    workdir = new_workdir(tmp_path)
    demo_yaml = workdir / "config" / "demo.yaml"
    config = deep_merge(yaml.safe_load(demo_yaml.read_text()), fault_config(tap_url(demo_heasarc_tap)))
    demo_yaml.write_text(yaml.safe_dump(config))
    results, logs = workdir / "results" / FAULT_RUN_ID, workdir / "logs" / FAULT_RUN_ID
    dataset = results / "lightcurves.parquet"

    failing_ids: set[int] = set()

    def shard_0001(request: Request) -> bool:
        shard = results / "sample_shards/shard-0001.parquet"
        if not failing_ids:
            if not shard.exists():  # the preflight may query before the sample exists; no fetch does
                return False
            failing_ids.update(pd.read_parquet(shard)["objectid"])
        return bool(uploaded_objectids(request) & failing_ids)

    demo_heasarc_tap.reset()
    demo_heasarc_tap.fault_when(shard_0001, status=500, body="injected fault")

    first = snakemake(workdir, "--cores", "2", "--keep-going", "--until", "merge_lightcurves", check=False)
    output = first.stdout + first.stderr
    assert first.returncode != 0, output
    shards = lambda archive: sorted(p.name for p in (dataset / f"archive={archive}").glob("shard-*.parquet"))
    assert shards("wise") == ["shard-0000.parquet", "shard-0001.parquet"], output
    assert shards("heasarc") == ["shard-0000.parquet"], output
    assert shards("ztf") == [], output
    assert not list(dataset.rglob(".*.tmp-*")), "a failed job left a temporary file"
    # HEASARC shard 0001: the configured attempts, the backoff and the reason, in its own log.
    queries_0001 = [r for r in demo_heasarc_tap.requests if uploaded_objectids(r) & failing_ids]
    assert len(queries_0001) == FAULT_RETRIES + 1
    heasarc_log = (logs / "fetch_lightcurves/heasarc/shard-0001.log").read_text()
    assert "attempt 1/3 failed (DALFormatError: HTTPError: 500 Server Error" in heasarc_log
    assert "retrying in 0.1 s" in heasarc_log and "retrying in 0.2 s" in heasarc_log
    assert "FERMIGTRIG chunk 1/1" in heasarc_log and "failed after 3 attempt(s)" in heasarc_log
    # ZTF: every job over the limit says so, and what to raise.
    for shard in ("0000", "0001"):
        ztf_log = (logs / f"fetch_lightcurves/ztf/shard-{shard}.log").read_text()
        assert re.search(
            rf"exceeded its memory limit: resident memory \d+ MB > mem_mb={ZTF_MEM_MB} MB; raise the "
            r"job's memory \(config fetch_mem_mb: \{ztf: <MB>\}",
            ztf_log,
        ), ztf_log
        assert "MemoryLimitExceeded" in ztf_log
        # ... and leaves its batch sizes beside its log, for the next attempt to halve
        record = json.loads((logs / f"fetch_lightcurves/ztf/shard-{shard}.memory.json").read_text())
        assert record["limit_mb"] == ZTF_MEM_MB and record["batches"] == {"read_batch_rows": 2000}
    for path in [
        *(logs / "fetch_lightcurves/wise").glob("*.log"),
        logs / "fetch_lightcurves/heasarc/shard-0000.log",
    ]:
        text = path.read_text()
        assert "exceeded" not in text and re.search(
            rf"peak resident memory \d+ MB of mem_mb={DEFAULT_MEM_MB} MB", text
        )
    # The complete archive is gathered; the merged dataset waits for the failed jobs.
    assert (results / "summary/wise.csv").exists()
    assert not (results / "summary/heasarc.csv").exists() and not (results / "summary/ztf.csv").exists()
    assert not (dataset / "_common_metadata").exists() and not (results / "summary.csv").exists()

    # The rerun, with the fault gone and ZTF's memory raised as its log says, fetches only what failed.
    kept = {p: p.stat().st_mtime_ns for p in dataset.glob("archive=*/shard-*.parquet")}
    config["fetch_mem_mb"]["ztf"] = DEFAULT_MEM_MB
    demo_yaml.write_text(yaml.safe_dump(config))
    demo_heasarc_tap.reset()
    snakemake(workdir, "--cores", "2", "--until", "merge_lightcurves")
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())
    ztf_log = (logs / "fetch_lightcurves/ztf/shard-0000.log").read_text()
    assert "this one has more memory: it reads the config's {'read_batch_rows': 2000}" in ztf_log
    assert not list(logs.rglob("*.memory.json"))  # the shards are written
    queried = [uploaded_objectids(r) for r in demo_heasarc_tap.requests if r.path.endswith("/sync")]
    assert len(queried) == 3 and all(ids == failing_ids for ids in queried)  # one query per catalog
    assert shards("ztf") == shards("heasarc") == shards("wise")
    assert (dataset / "_common_metadata").exists()
    summary = pd.read_csv(results / "summary.csv")
    assert {"ztf_g", "WISE_W1", "FERMIGTRIG"} <= set(summary["band"])
    merged = pd.read_parquet(dataset).reset_index()
    rows_0001 = merged[merged["objectid"].isin(failing_ids) & (merged["archive"] == "heasarc")]
    assert len(rows_0001) == pq.read_metadata(dataset / "archive=heasarc/shard-0001.parquet").num_rows > 0
