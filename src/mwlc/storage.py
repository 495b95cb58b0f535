"""Where archive data live (local paths, ``s3://``, ``http(s)://``) and how to open them.

The workflow passes one set of fsspec-style storage options (anonymous S3, perhaps a custom
endpoint) to every archive; this module turns a source URI and those options into what each
reader needs:

* :func:`s3_options`: the options, from the config's S3 endpoint;
* :func:`fsspec_options`: the options to open a URI with fsspec (lsdb, hats): none for local
  paths and for ``http(s)://`` (fsspec's HTTP filesystem hands its options to aiohttp, which
  refuses S3 ones);
* :func:`arrow_filesystem`: a :class:`pyarrow.fs.FileSystem` and the path on it, for readers
  that use pyarrow directly. pyarrow's S3 client ignores ``AWS_ENDPOINT_URL``, so the endpoint
  is taken from the options, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, and passed on
  explicitly.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from mwlc.errors import ArchiveError

log = logging.getLogger(__name__)

#: The storage options :func:`arrow_filesystem` understands for ``s3://``.
ARROW_S3_OPTIONS = frozenset({"anon", "endpoint_url", "client_kwargs"})


def s3_options(endpoint_url: str | None) -> dict | None:
    """fsspec storage options for ``s3://`` sources: anonymous, at ``endpoint_url`` if given.

    Returns None without an endpoint (fsspec's defaults: AWS, credentials from the environment).
    """
    if not endpoint_url:
        return None
    return {"anon": True, "client_kwargs": {"endpoint_url": endpoint_url}}


def is_local(uri: str | os.PathLike) -> bool:
    """Whether ``uri`` is a local path (no scheme, or ``file://``)."""
    return urlparse(str(uri)).scheme in ("", "file")


def fsspec_options(uri: str | os.PathLike, storage_options: dict | None) -> dict | None:
    """The fsspec options to open ``uri`` with: ``storage_options`` for remote URIs, None for
    local paths (fsspec's local filesystem would only warn about them) and ``http(s)://`` URIs
    (aiohttp refuses S3 options: ``unexpected keyword argument 'endpoint_url'``)."""
    if is_local(uri) or urlparse(str(uri)).scheme in ("http", "https"):
        return None
    return storage_options


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
        ``client_kwargs.endpoint_url`` or ``endpoint_url``, ``client_kwargs.region_name``.
        Others are named in a warning and ignored.
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
    return pafs.S3FileSystem(**options)
