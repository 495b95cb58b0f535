"""Secrets never reach logs, reports, benchmark tables or file metadata.

The secrets: credentials in the environment (``AWS_SECRET_ACCESS_KEY``, ``RSP_TAP_TOKEN``), the
content of a token file (Rubin's ``~/.rsp-tap.token``) and a password inside an archive's source
URL (``https://user:password@host/...``), which a job logs and records as provenance.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from mwlc.errors import ArchiveError
from mwlc.fetch import fetch_shard
from mwlc.joblog import MASK, redact, redact_params, secret_values
from mwlc.net import RetryPolicy, call_with_retries
from mwlc.sample.build import SHARD_SCHEMA
from tests.servers.base import LoopbackServer
from tests.test_faults import HEASARC_TAP_PATH, deep_merge, demo_heasarc_tap_app, tap_url

ENV_SECRET = "aws-SECRET-0123456789abcdef"
RSP_TOKEN = "gt-RSPtoken-ZYXWVUTSRQ"
FILE_TOKEN = "gt-FILEtoken-9876543210"
URL_PASSWORD = "urlPassw0rd-5ecret"
SECRETS = (ENV_SECRET, RSP_TOKEN, FILE_TOKEN, URL_PASSWORD)


@pytest.fixture
def secret_env(tmp_path, monkeypatch) -> Path:
    """Secrets in the environment and in ``$HOME/.rsp-tap.token``; returns the home directory."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".rsp-tap.token").write_text(FILE_TOKEN + "\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    monkeypatch.setenv("RSP_TAP_TOKEN", RSP_TOKEN)
    monkeypatch.setenv("MWLC_TEST_VERBOSE", "a-long-value-that-is-no-secret")
    return home


def with_password(url: str) -> str:
    """``url`` with user ``mwlc`` and :data:`URL_PASSWORD` in it."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://mwlc:{URL_PASSWORD}@{rest}"


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


# --------------------------------------------------------------------------- redaction


def test_secret_values_come_from_secret_named_variables_and_the_token_file(secret_env):
    values = secret_values()
    assert {ENV_SECRET, RSP_TOKEN, FILE_TOKEN} <= set(values)
    assert "a-long-value-that-is-no-secret" not in values
    assert secret_values({"API_KEY": "short"}, token_files=()) == []  # too short to be masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://alice:hunter2-long@host.org/tap?x=1", f"https://alice:{MASK}@host.org/tap?x=1"),
        ("s3://key:secret/val@bucket/path", f"s3://key:{MASK}@bucket/path"),
        ("https://host/q?token=abc123&radius=2", f"https://host/q?token={MASK}&radius=2"),
        (
            "https://host/q?X-Amz-Signature=ff00&access_token=t0k",
            f"https://host/q?X-Amz-Signature={MASK}&access_token={MASK}",
        ),
        ("https://alice@host.org/tap radius_arcsec=1.0", "https://alice@host.org/tap radius_arcsec=1.0"),
        ("HEASARC 12:30:00 done", "HEASARC 12:30:00 done"),
    ],
)
def test_redact_masks_url_passwords_and_secret_query_parameters(text, expected):
    assert redact(text, secrets=()) == expected


def test_redact_masks_literal_secrets_from_the_environment(secret_env):
    text = f"header Authorization: Bearer {RSP_TOKEN}; key={ENV_SECRET}; file {FILE_TOKEN}"
    assert redact(text) == f"header Authorization: Bearer {MASK}; key={MASK}; file {MASK}"


def test_redact_params_masks_secret_keys_and_values_at_any_depth(secret_env):
    params = {
        "radius_arcsec": 1.0,
        "storage": {"key": "AKIA", "secret": "s", "client_kwargs": {"x": 1}},
        "api_token": "abc",
        "note": f"made with {RSP_TOKEN}",
        "bands": ["ztf_g"],
        "password": None,
    }
    assert redact_params(params) == {
        "radius_arcsec": 1.0,
        "storage": {"key": MASK, "secret": MASK, "client_kwargs": {"x": 1}},
        "api_token": MASK,
        "note": f"made with {MASK}",
        "bands": ["ztf_g"],
        "password": None,
    }


def test_retry_errors_and_warnings_hide_the_url_password(caplog):
    url = with_password("http://127.0.0.1:9/tap")

    def fail() -> None:
        raise ConnectionResetError(f"reset while talking to {url}")

    with pytest.raises(ArchiveError) as err:
        call_with_retries(fail, service="TAP", url=url, policy=RetryPolicy(retries=1, backoff_s=0.01))
    assert "failed after 2 attempt(s)" in str(err.value)
    assert_no_secret(str(err.value), "the error")
    assert_no_secret(caplog.text, "the retry warnings")
    assert f"mwlc:{MASK}@127.0.0.1:9/tap" in str(err.value)


JOB_LOG = """
    import logging, sys, warnings
    from mwlc.joblog import start_job_log
    log = start_job_log(sys.argv[1], job="fetch_lightcurves archive=x shard=0000")
    log.info("source %s", sys.argv[2])
    warnings.warn("token in a warning: " + sys.argv[3])
    sys.stderr.write("a library printing " + sys.argv[4] + "\\n")
    raise RuntimeError("failed with " + sys.argv[3])
"""


def test_a_retried_job_keeps_the_earlier_attempts_in_its_log(tmp_path):
    """The log was truncated by each attempt: a retry lost why the first attempt failed."""
    log_path = tmp_path / "job.log"
    attempt = textwrap.dedent(
        """
        import sys
        from mwlc.joblog import start_job_log
        start_job_log(sys.argv[1], job="fetch_lightcurves archive=x shard=0000")
        if sys.argv[2] == "fail":
            raise RuntimeError("HEASARC TAP answered 503")
        """
    )
    for outcome in ("fail", "pass"):
        subprocess.run([sys.executable, "-c", attempt, str(log_path), outcome], timeout=60, check=False)
    lines = log_path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if "start fetch_lightcurves archive=x shard=0000" in line]
    failed = [
        i for i, line in enumerate(lines) if "job failed: RuntimeError: HEASARC TAP answered 503" in line
    ]
    assert len(starts) == 2 and len(failed) == 1 and starts[0] < failed[0] < starts[1]


def test_a_job_log_holds_no_secret_from_messages_warnings_stderr_or_tracebacks(secret_env, tmp_path):
    log_path = tmp_path / "job.log"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(JOB_LOG),
            str(log_path),
            with_password("https://h/tap"),
            RSP_TOKEN,
            ENV_SECRET,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    text = log_path.read_text()
    assert_no_secret(text, "the job log")
    for line in (
        f"source https://mwlc:{MASK}@h/tap",
        f"token in a warning: {MASK}",
        f"a library printing {MASK}",
        f"job failed: RuntimeError: failed with {MASK}",
    ):
        assert line in text, text


def test_fetch_shard_records_no_secret_in_its_log_or_file_metadata(
    secret_env, tmp_path, heasarc_sample, heasarc_tap, caplog
):
    shard = tmp_path / "shard-0000.parquet"
    pq.write_table(pa_table(heasarc_sample), shard)
    output = tmp_path / "out.parquet"
    source = with_password(heasarc_tap.url + HEASARC_TAP_PATH)
    rows = fetch_shard(
        "heasarc",
        shard_path=str(shard),
        output_path=str(output),
        source=source,
        params={"retries": 0, "catalogs": {"FERMIGTRIG": {}, "SAXGRBMGRB": None, "icecubepsc": None}},
        mem_mb=4000,
    )
    assert rows > 0
    assert heasarc_tap.requests[-1].headers["Authorization"].startswith("Basic ")  # the password was used
    metadata = b"".join(k + v for k, v in pq.read_schema(output).metadata.items()).decode()
    assert_no_secret(metadata, "the shard's metadata")
    assert f"mwlc:{MASK}@127.0.0.1" in metadata
    assert_no_secret(caplog.text, "the log")


def pa_table(sample: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(
        sample[["objectid", "ra", "dec", "label"]], schema=SHARD_SCHEMA, preserve_index=False
    )


# --------------------------------------------------------------------------- the workflow


@pytest.mark.workflow
def test_a_run_with_secrets_leaves_none_in_logs_results_benchmarks_or_the_report(tmp_path, secret_env):
    from tests.test_workflow import new_workdir, snakemake

    app = demo_heasarc_tap_app(tmp_path / "heasarc")
    with LoopbackServer(app) as server:
        workdir = new_workdir(tmp_path)
        demo_yaml = workdir / "config" / "demo.yaml"
        overrides = {
            "run_id": "secrets",
            "n_shards": 1,
            "monitor": {"enabled": False},
            "archives": {
                "ztf": {"enabled": False},
                "gaia": {"enabled": False},
                "panstarrs": {"enabled": False},
                "heasarc": {"source": with_password(tap_url(server)), "retries": 0},
            },
            "demo": {"archives": ["wise"]},
        }
        demo_yaml.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(demo_yaml.read_text()), overrides)))
        run = snakemake(workdir, "--cores", "2")
        report = snakemake(workdir, "--report", "results/secrets/report.html")
    app.close()
    assert any("Authorization" in r.headers for r in server.requests)
    assert_no_secret(run.stdout + run.stderr + report.stdout + report.stderr, "Snakemake's output")
    written = [
        p
        for d in ("logs", "results", "benchmarks", ".snakemake/log")
        for p in (workdir / d).rglob("*")
        if p.is_file()
    ]
    names = {p.name for p in written}
    assert {"benchmarks.csv", "report.html", "_common_metadata", "shard-0000.parquet"} <= names
    for path in written:
        assert_no_secret(path.read_bytes().decode("utf-8", "replace"), str(path.relative_to(workdir)))
    heasarc_log = (workdir / "logs/secrets/fetch_lightcurves/heasarc/shard-0000.log").read_text()
    assert f"source http://mwlc:{MASK}@127.0.0.1" in heasarc_log
