"""mwlc.storage: one set of storage options, as fsspec options and as a pyarrow filesystem."""

from __future__ import annotations

import logging

import aiohttp
import pyarrow.fs as pafs
import pytest

from mwlc import storage
from mwlc.errors import ArchiveError
from mwlc.net import RetryPolicy

ENDPOINT = {"anon": True, "client_kwargs": {"endpoint_url": "http://127.0.0.1:5000"}}


def _s3_args(filesystem: pafs.S3FileSystem) -> dict:
    return filesystem.__reduce__()[1][0]


def test_s3_options_from_the_configs_endpoint():
    assert storage.s3_options("http://127.0.0.1:5000") == ENDPOINT
    assert storage.s3_options(None) is None and storage.s3_options("") is None


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/data/ztf/hats", None),
        ("relative/dir", None),
        ("file:///data/ztf", None),
        ("https://data.lsdb.io/hats/gaia_dr3_epoch_phot/", None),
        ("http://127.0.0.1:8000/gaia", None),
        ("s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats", ENDPOINT),
    ],
)
def test_fsspec_options_only_for_remote_non_http_uris(uri, expected):
    assert storage.fsspec_options(uri, ENDPOINT) == expected
    assert storage.is_local(uri) == (expected is None and not uri.startswith("http"))


def test_s3_filesystem_endpoint_precedence(monkeypatch):
    source = "s3://nasa-irsa-wise/unwise/x.parquet/"
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    filesystem, path = storage.arrow_filesystem(source, default_region="us-west-2")
    assert path == "nasa-irsa-wise/unwise/x.parquet"
    args = _s3_args(filesystem)
    assert (args["region"], args["anonymous"], args["endpoint_override"]) == ("us-west-2", True, "")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert _s3_args(storage.arrow_filesystem(source)[0])["endpoint_override"] == "127.0.0.1:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.org:2")
    args = _s3_args(storage.arrow_filesystem(source)[0])
    assert (args["endpoint_override"], args["scheme"]) == ("s3.example.org:2", "https")
    options = {"endpoint_url": "http://127.0.0.1:3"}
    assert _s3_args(storage.arrow_filesystem(source, options)[0])["endpoint_override"] == "127.0.0.1:3"
    options = {
        "anon": False,
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:4", "region_name": "eu-west-1"},
    }
    args = _s3_args(storage.arrow_filesystem(source, options, default_region="us-west-2")[0])
    assert (args["endpoint_override"], args["scheme"], args["region"]) == ("127.0.0.1:4", "http", "eu-west-1")
    assert args["anonymous"] is False


def test_the_workflows_options_give_the_same_endpoint_to_fsspec_and_pyarrow():
    options = storage.s3_options("http://127.0.0.1:5000")
    uri = "s3://bucket/key"
    assert storage.fsspec_options(uri, options)["client_kwargs"]["endpoint_url"] == "http://127.0.0.1:5000"
    args = _s3_args(storage.arrow_filesystem(uri, options)[0])
    assert (args["scheme"], args["endpoint_override"], args["anonymous"]) == ("http", "127.0.0.1:5000", True)


def test_unsupported_storage_options_are_named_in_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="mwlc.storage"):
        storage.arrow_filesystem(
            "s3://b/k", {"anon": True, "key": "x", "use_ssl": False}, what="unWISE source"
        )
    assert "for the unWISE source ignores storage option(s) ['key', 'use_ssl']" in caplog.text


def test_local_paths_and_file_uris(tmp_path):
    filesystem, path = storage.arrow_filesystem(str(tmp_path) + "/")
    assert isinstance(filesystem, pafs.LocalFileSystem) and path == str(tmp_path)
    filesystem, path = storage.arrow_filesystem(tmp_path.as_uri())
    assert isinstance(filesystem, pafs.LocalFileSystem) and path == str(tmp_path)


def test_a_uri_pyarrow_cannot_open_is_an_archive_error_naming_what():
    with pytest.raises(ArchiveError, match=r"cannot open unWISE source nosuch://x/y: \w+"):
        storage.arrow_filesystem("nosuch://x/y", what="unWISE source")


POLICY = RetryPolicy(retries=3, backoff_s=0.5, timeout_s=7.0)


def test_the_read_policy_travels_in_the_storage_options_and_defaults_what_it_lacks():
    options = storage.storage_options("http://127.0.0.1:5000", POLICY)
    assert options == {**ENDPOINT, "timeout_s": 7.0, "retries": 3, "retry_backoff_s": 0.5}
    assert storage.read_policy(options) == POLICY
    assert storage.storage_options(None, POLICY) == {"timeout_s": 7.0, "retries": 3, "retry_backoff_s": 0.5}
    assert storage.storage_options(None, None) is None and storage.read_policy(ENDPOINT) is None
    assert storage.read_policy({"retries": 0}) == RetryPolicy(retries=0, backoff_s=2.0, timeout_s=30.0)
    assert storage.config_policy({"s3_endpoint_url": None}) == storage.DEFAULT_POLICY
    assert storage.without_policy(options) == ENDPOINT


def test_the_policy_as_s3fs_and_botocore_take_it():
    options = storage.fsspec_options("s3://b/k", storage.storage_options("http://127.0.0.1:5000", POLICY))
    assert options == {
        **ENDPOINT,
        "config_kwargs": {
            "connect_timeout": 7.0,
            "read_timeout": 7.0,
            "retries": {"total_max_attempts": 1, "mode": "standard"},  # ours replace botocore's
        },
    }


def test_the_policy_as_aiohttp_takes_it_over_http():
    timeout = storage.fsspec_options("https://data.lsdb.io/hats/", storage.storage_options(None, POLICY))
    # a whole request of fsspec's own (the HATS metadata) may take 10 timeouts + 64 MiB at 100 kB/s
    whole_s = 10 * 7.0 + (64 << 20) / 100_000
    want = aiohttp.ClientTimeout(total=whole_s, sock_connect=7.0, sock_read=7.0)
    assert timeout == {"client_kwargs": {"timeout": want}}
    assert storage.fsspec_options("/data/gaia", storage.storage_options(None, POLICY)) is None


def test_the_policy_as_pyarrows_s3_client_takes_it():
    options = storage.storage_options("http://127.0.0.1:5000", POLICY)
    args = _s3_args(storage.arrow_filesystem("s3://b/k", options)[0])
    assert (args["connect_timeout"], args["request_timeout"]) == (7.0, 7.0)
    assert storage.arrow_s3_attempts("s3://b/k", options) == 4
    assert storage.arrow_s3_attempts("/data/unwise", options) is None
    assert storage.arrow_s3_attempts("s3://b/k", ENDPOINT) is None
