"""Where archive data live (local paths, ``s3://``, ``http(s)://``) and how to open them.

The workflow passes one set of storage options to every archive: fsspec-style options
(anonymous S3, perhaps a custom endpoint) plus mwlc's own :data:`POLICY_KEYS`, how hard to try
each read (``timeout_s``, ``retries``, ``retry_backoff_s``, from the config's ``storage``
section). This module turns a source URI and those options into what each reader needs:

* :func:`storage_options` (and :func:`s3_options`): the options, from the config;
* :func:`read_policy`: the retry policy in them, for the retries at our level
  (:mod:`mwlc.storage_retry`);
* :func:`fsspec_options`: the options to open a URI with fsspec (hats, the HATS leaf reads),
  the policy mapped onto what the library takes: none for local paths; for ``http(s)://`` only
  aiohttp's timeouts (fsspec's HTTP filesystem hands its options to aiohttp, which refuses S3
  ones); for ``s3://`` botocore's connect and read timeouts, and a single attempt per request
  (our retries replace botocore's, see :mod:`mwlc.storage_retry`);
* :func:`arrow_filesystem`: a :class:`pyarrow.fs.FileSystem` and the path on it, for readers
  that use pyarrow directly (unWISE), with the policy's timeouts and attempts as pyarrow's S3
  client takes them. pyarrow's S3 client ignores ``AWS_ENDPOINT_URL``, so the endpoint is taken
  from the options, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, and passed on
  explicitly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

if TYPE_CHECKING:
    import aiohttp

from mwlc.errors import ArchiveError
from mwlc.net import RetryPolicy, attempt_deadline_s

log = logging.getLogger(__name__)

#: mwlc's keys in the storage options: per-read timeout (s), retries after the first attempt,
#: and the backoff base (s) of those retries (``retry_backoff_s * 2**k``). They are not fsspec
#: options: :func:`fsspec_options` and :func:`arrow_filesystem` map them onto each library's.
POLICY_KEYS = ("timeout_s", "retries", "retry_backoff_s")
#: The config's ``storage`` defaults for them (also in the config schema).
DEFAULT_POLICY = RetryPolicy(retries=5, backoff_s=2.0, timeout_s=30.0)
#: The storage options :func:`arrow_filesystem` understands for ``s3://``.
ARROW_S3_OPTIONS = frozenset({"anon", "endpoint_url", "client_kwargs", *POLICY_KEYS})
#: Schemes read by s3fs (botocore).
S3_SCHEMES = ("s3", "s3a")


def s3_options(endpoint_url: str | None) -> dict | None:
    """fsspec storage options for ``s3://`` sources: anonymous, at ``endpoint_url`` if given.

    Returns None without an endpoint (fsspec's defaults: AWS, credentials from the environment).
    """
    if not endpoint_url:
        return None
    return {"anon": True, "client_kwargs": {"endpoint_url": endpoint_url}}


def config_policy(storage: Mapping[str, Any]) -> RetryPolicy:
    """The read policy of the config's ``storage`` section (already checked by the schema).

    Keys it lacks take :data:`DEFAULT_POLICY`'s values.
    """
    return RetryPolicy(
        retries=int(storage.get("retries", DEFAULT_POLICY.retries)),
        backoff_s=float(storage.get("retry_backoff_s", DEFAULT_POLICY.backoff_s)),
        timeout_s=float(storage.get("timeout_s", DEFAULT_POLICY.timeout_s)),
    )


def storage_options(endpoint_url: str | None, policy: RetryPolicy | None) -> dict | None:
    """The storage options the workflow gives every archive: :func:`s3_options` plus ``policy``.

    Returns None without an endpoint and without a policy.
    """
    options = dict(s3_options(endpoint_url) or {})
    if policy is not None:
        options.update(timeout_s=policy.timeout_s, retries=policy.retries, retry_backoff_s=policy.backoff_s)
    return options or None


def read_policy(storage_options: Mapping[str, Any] | None) -> RetryPolicy | None:
    """The read policy in ``storage_options`` (its :data:`POLICY_KEYS`), None if it has none.

    A policy given in part takes :data:`DEFAULT_POLICY`'s other values.
    """
    if not storage_options or not any(key in storage_options for key in POLICY_KEYS):
        return None
    return config_policy(storage_options)


def without_policy(storage_options: Mapping[str, Any] | None) -> dict:
    """``storage_options`` without mwlc's :data:`POLICY_KEYS`: what fsspec itself may be given."""
    return {k: v for k, v in (storage_options or {}).items() if k not in POLICY_KEYS}


def arrow_s3_attempts(uri: str | os.PathLike, storage_options: Mapping[str, Any] | None) -> int | None:
    """Attempts pyarrow's S3 client makes at each request of ``uri`` (:func:`arrow_filesystem`):
    the read policy's ``retries + 1`` for an ``s3://`` URI with a policy, else None."""
    policy = read_policy(storage_options)
    if policy is None or urlparse(str(uri)).scheme not in S3_SCHEMES:
        return None
    return policy.attempts


def is_local(uri: str | os.PathLike) -> bool:
    """Whether ``uri`` is a local path (no scheme, or ``file://``)."""
    return urlparse(str(uri)).scheme in ("", "file")


def fsspec_options(uri: str | os.PathLike, storage_options: dict | None) -> dict | None:
    """The fsspec options to open ``uri`` with, the read policy mapped onto the library's own.

    * a local path: None (fsspec's local filesystem would only warn about options);
    * ``http(s)://``: only the policy's timeouts, as aiohttp takes them
      (``client_kwargs={"timeout": aiohttp.ClientTimeout(...)}``, see :func:`aiohttp_timeout`);
      never the S3 options (aiohttp refuses them: ``unexpected keyword argument
      'endpoint_url'``); None without a policy;
    * ``s3://``: the options, with botocore's ``connect_timeout`` and ``read_timeout`` set to
      the policy's ``timeout_s`` and botocore's retries off (:func:`botocore_config`): our
      retries replace them (:mod:`mwlc.storage_retry`); without a policy, the options unchanged;
    * another scheme: the options without the policy.
    """
    scheme = urlparse(str(uri)).scheme
    if is_local(uri):
        return None
    policy = read_policy(storage_options)
    if scheme in ("http", "https"):
        return None if policy is None else {"client_kwargs": {"timeout": aiohttp_timeout(policy.timeout_s)}}
    if policy is None:
        return storage_options
    options = without_policy(storage_options)
    if scheme in S3_SCHEMES:
        options["config_kwargs"] = {**options.get("config_kwargs", {}), **botocore_config(policy.timeout_s)}
    return options or None


def botocore_config(timeout_s: float) -> dict:
    """botocore ``Config`` arguments (s3fs's ``config_kwargs``): ``timeout_s`` to connect and
    between bytes read, and a single attempt per request (no botocore retries: ours replace them).

    ``total_max_attempts`` counts the first attempt; botocore's ``max_attempts`` in a client
    config does not (``max_attempts: 1`` is one retry, botocore/args.py).
    """
    return {
        "connect_timeout": timeout_s,
        "read_timeout": timeout_s,
        "retries": {"total_max_attempts": 1, "mode": "standard"},
    }


#: The largest answer (bytes) a request of fsspec's own over HTTP is given time for: the HATS
#: metadata (properties, ``partition_info.csv``, ``_common_metadata``), read by hats.
METADATA_BYTES = 64 << 20


def aiohttp_timeout(timeout_s: float) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for fsspec's HTTP filesystem: ``timeout_s`` to connect a socket and
    between bytes read, and :func:`mwlc.net.attempt_deadline_s` for :data:`METADATA_BYTES` for a
    whole request (16 min at 30 s), so that a peer that trickles cannot hold the opening of a
    catalog for ever (aiohttp's default of 300 s would cut a slow large answer). A leaf file's
    ranged reads override it with the same timeouts and no limit on the whole request: they have
    a deadline for their own bytes (:class:`mwlc.storage_retry.RetryingFile`)."""
    import aiohttp

    total = attempt_deadline_s(timeout_s, METADATA_BYTES)
    return aiohttp.ClientTimeout(total=total, sock_connect=timeout_s, sock_read=timeout_s)


def arrow_filesystem(
    uri: str,
    storage_options: dict | None = None,
    *,
    default_region: str | None = None,
    what: str = "source",
) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem for ``uri`` and the path of ``uri`` on it (no trailing slash).

    Parameters
    ----------
    uri : str
        A local path, a ``file://`` URI, ``s3://bucket/key``, or any URI pyarrow knows.
    storage_options : dict, optional
        fsspec-style options; for ``s3://`` these are honoured: ``anon`` (default True),
        ``client_kwargs.endpoint_url`` or ``endpoint_url``, ``client_kwargs.region_name``, and
        the read policy (:data:`POLICY_KEYS`): ``timeout_s`` as pyarrow's ``connect_timeout``
        and ``request_timeout``, ``retries + 1`` attempts per request in pyarrow's
        ``AwsStandardS3RetryStrategy`` (the AWS SDK's backoff, not ``retry_backoff_s``). Others
        are named in a warning and ignored.
    default_region : str, optional
        S3 region when the options name none (None: pyarrow's own resolution).
    what : str, default "source"
        What ``uri`` is, for messages (e.g. ``"unWISE source"``).

    Returns
    -------
    (pyarrow.fs.FileSystem, str)
        ``s3://``: an :class:`~pyarrow.fs.S3FileSystem` with the endpoint from the options, else
        ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, else AWS; a path without a scheme: the
        local filesystem and the absolute path; anything else:
        :meth:`pyarrow.fs.FileSystem.from_uri`.

    Raises
    ------
    mwlc.errors.ArchiveError
        If pyarrow cannot make a filesystem for ``uri``; the message names ``what``.
    """
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        filesystem = _s3_filesystem(storage_options or {}, default_region, what)
        return filesystem, f"{parsed.netloc}{parsed.path}".rstrip("/")
    if parsed.scheme == "":
        return pafs.LocalFileSystem(), os.path.abspath(uri).rstrip("/")
    try:
        filesystem, path = pafs.FileSystem.from_uri(uri)
    except (OSError, pa.ArrowException) as err:
        raise ArchiveError(f"cannot open {what} {uri}: {type(err).__name__}: {err}") from err
    return filesystem, path.rstrip("/")


def _s3_filesystem(storage_options: dict, default_region: str | None, what: str) -> pafs.S3FileSystem:
    """pyarrow's S3 client, with the endpoint it would otherwise ignore."""
    ignored = sorted(set(storage_options) - ARROW_S3_OPTIONS)
    if ignored:
        log.warning("pyarrow's S3 filesystem for the %s ignores storage option(s) %s", what, ignored)
    client_kwargs = storage_options.get("client_kwargs") or {}
    endpoint = (
        client_kwargs.get("endpoint_url")
        or storage_options.get("endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    options: dict = {"anonymous": bool(storage_options.get("anon", True))}
    region = client_kwargs.get("region_name") or default_region
    if region:
        options["region"] = region
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme or "https")
    policy = read_policy(storage_options)
    if policy is not None:
        options.update(
            connect_timeout=policy.timeout_s,
            request_timeout=policy.timeout_s,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=policy.attempts),
        )
    return pafs.S3FileSystem(**options)
