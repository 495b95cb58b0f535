"""Reads of remote archive files that survive transient faults (S3 and HTTP), retried here.

fsspec's HTTP filesystem never retries; s3fs retries a request 5 times with its own short waits
(``S3FileSystem.retries``, which its constructor does not take), botocore again up to its
``max_attempts``, and the two multiply. So the HATS archives' reads are retried at one level
only, ours, with the config's ``storage.retries`` and ``storage.retry_backoff_s``
(waits ``retry_backoff_s * 2**k``), each attempt bounded by ``storage.timeout_s``; the libraries
try once (:func:`mwlc.storage.fsspec_options`, :func:`single_attempt`). A read that still fails
raises one :class:`~mwlc.errors.ArchiveError` naming the archive, the URL, the attempts and the
last error.

* :class:`RetryingFile`: a read-only file on an fsspec filesystem whose every read is retried at
  the same byte offset, each attempt with a deadline. A reader above it (pyarrow) never sees a
  fault it survived and never gets a byte twice, so a batch already yielded is never yielded
  again.
* :func:`call`: any other idempotent remote call (a directory listing, the HATS metadata).
* :func:`is_transient_read_error`: which failures are worth another attempt.
"""

from __future__ import annotations

import collections
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import fsspec
import fsspec.asyn
from fsspec.exceptions import FSTimeoutError

from mwlc.errors import ArchiveError
from mwlc.joblog import redact
from mwlc.net import (
    RETRYABLE_STATUS,
    IncompleteAnswer,
    RetryPolicy,
    call_with_retries,
    describe_error,
    is_transient,
)

if TYPE_CHECKING:
    from fsspec.implementations.http import HTTPFileSystem

log = logging.getLogger(__name__)

T = TypeVar("T")

#: S3 error codes of a server that is busy or briefly failing (the HTTP status may be absent,
#: e.g. in a ``SlowDown`` answer parsed from its XML body).
S3_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)


@functools.cache
def _transient_types() -> tuple[type[BaseException], ...]:
    """The exception classes of aiohttp, botocore and fsspec that mean a transient failure."""
    import aiohttp
    import botocore.exceptions as boto
    from fsspec.exceptions import FSTimeoutError

    return (
        aiohttp.ClientConnectionError,  # refused, reset, server disconnected, socket timeouts
        aiohttp.ClientPayloadError,  # a body cut short or reset in the middle
        boto.HTTPClientError,  # connection closed, connect/read timeouts
        boto.ConnectionError,  # endpoint unreachable
        boto.IncompleteReadError,
        boto.ResponseStreamingError,
        FSTimeoutError,
    )


def _http_status(err: BaseException) -> int | None:
    """HTTP status of an aiohttp answer or a botocore ``ClientError``, if ``err`` carries one."""
    status = getattr(err, "status", None)
    if isinstance(status, int):
        return status
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def _s3_code(err: BaseException) -> str | None:
    """The S3 error code of a botocore ``ClientError`` (``"SlowDown"``...), if ``err`` is one."""
    response = getattr(err, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    err: BaseException | None = exc
    while err is not None and all(err is not seen for seen in chain):
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def _is_fault(err: BaseException) -> bool:
    """Whether ``err`` itself (not what caused it) is a transient storage fault."""
    return (
        isinstance(err, _transient_types())
        or _http_status(err) in RETRYABLE_STATUS
        or _s3_code(err) in S3_TRANSIENT_CODES
    )


def is_transient_read_error(exc: BaseException) -> bool:
    """Whether a failed storage read (or what caused it) is worth another attempt.

    Transient: a connection refused, reset or closed (also in the middle of a body), a body cut
    short, a connect or read timeout, an HTTP 429/5xx answer, an S3 ``SlowDown`` (also when
    s3fs wraps it in an ``OSError``, or fsspec's HTTP filesystem in a ``FileNotFoundError``).
    Not transient: a missing file (404), a refused access (403), a file that does not parse.
    """
    return any(_is_fault(err) for err in _chain(exc)) or is_transient(exc)


def describe_read_error(exc: BaseException) -> str:
    """``Type: message`` of the fault behind ``exc``: the first exception of its chain that is a
    transient fault itself and says something, else ``exc``.

    Libraries wrap faults in less telling errors: s3fs raises a read timeout as ``IndexError:
    tuple index out of range`` (``S3File._fetch_range`` reads ``args[1]`` of an ``FSTimeoutError``
    that has none) and an S3 ``SlowDown`` as ``OSError: [Errno 16]``.
    """
    faults = [err for err in _chain(exc) if _is_fault(err)]
    telling = [err for err in faults if str(err).strip()]
    fault = (telling or faults or [exc])[0]
    if isinstance(fault, TimeoutError) and not str(fault).strip():  # fsspec's, aiohttp's limit on a request
        return f"{type(fault).__name__}: no whole answer within the request's time limit"
    return describe_error(fault)


def call(
    fn: Callable[[], T],
    *,
    service: str,
    url: str,
    policy: RetryPolicy | None,
    transient: Callable[[BaseException], bool] = is_transient_read_error,
) -> T:
    """``fn()``, retried after transient failures as ``policy`` says (once without a policy).

    Parameters
    ----------
    fn : callable
        An idempotent remote read, without arguments.
    service : str
        Who is read, for messages (e.g. ``"ZTF leaf file"``).
    url : str
        What is read, for messages.
    policy : RetryPolicy or None
        Retries and backoff (s); None: one attempt.
    transient : callable
        Which failures are retried.

    Raises
    ------
    mwlc.errors.ArchiveError
        After the last attempt at a transient failure: naming ``service``, ``url``, the attempts
        and the last error. A failure that is not transient is raised unchanged, at once.
    """
    if policy is None:
        return fn()
    return call_with_retries(
        fn,
        service=service,
        url=url,
        policy=policy,
        transient=transient,
        wrap_permanent=False,
        describe=describe_read_error,
    )


def protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    """The protocols an fsspec filesystem answers to (``("http", "https")``, ``("s3", "s3a")``...)."""
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)


def single_attempt(fs: fsspec.AbstractFileSystem) -> None:
    """Make s3fs try each request once: our retries replace its own loop of 5.

    ``S3FileSystem.retries`` is an attribute, not a constructor option (given as one, it reaches
    aiobotocore's session and fails), so it is set on the instance; fsspec shares an instance
    between equal options, and only mwlc's reads give these (they carry our timeouts). Other
    filesystems are left alone.
    """
    if "s3" in protocols(fs) and getattr(fs, "retries", 1) != 1:
        fs.retries = 1


class _RangeIgnored(Exception):
    """An HTTP server answered a range request with more than the range (what it answered)."""


async def _http_range(fs: HTTPFileSystem, url: str, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of ``url`` through fsspec's HTTP session, refused from the answer's
    headers, before its body is read, when the server sends more (it ignores ``Range``: fsspec's
    ``cat_file`` would read the whole file first)."""
    import aiohttp

    kwargs = dict(fs.kwargs)
    headers = {**kwargs.pop("headers", {}), "Range": f"bytes={start}-{end - 1}"}
    session = await fs.set_session()
    # the session's timeouts without its limit on a whole request: the attempt's deadline is ours
    waits = session.timeout
    kwargs["timeout"] = aiohttp.ClientTimeout(sock_connect=waits.sock_connect, sock_read=waits.sock_read)
    async with session.get(fs.encode_url(url), headers=headers, **kwargs) as answer:
        fs._raise_not_found_for_status(answer, url)
        length = answer.content_length
        if answer.status != 206 and (length is None or length > end - start):
            told = "an unknown length" if length is None else f"{length:,} bytes"
            raise _RangeIgnored(f"HTTP {answer.status} with {told}")
        return await answer.read()


#: Bytes a read asks for at least: pyarrow's next reads of a small file (its neighbouring column
#: chunks, a few kB each) then come from memory instead of a request each. Measured over HTTP
#: (``benchmarks/gaia_shard.py --over-http``, 10,000 objects, three bands: 45 nested fields of
#: which 12 are read): 128 KiB sends 1.02 x the bytes a local read reads, in 886 requests; 1 MiB
#: sends 1.22 x (the unread columns between the read ones), in 770; 32 KiB 1.004 x, in 943.
READ_AHEAD_BYTES = 128 << 10
#: Answers kept per open file (at most ``KEPT_BLOCKS`` x the larger of a read and
#: :data:`READ_AHEAD_BYTES`): pyarrow reads several column chunks side by side.
KEPT_BLOCKS = 8


class RetryingFile:
    """A remote file opened for reading, each read retried at its offset after a transient fault.

    Reads are byte ranges asked of the filesystem (``cat_file``): what the last
    :data:`KEPT_BLOCKS` answers hold of a read comes from them, and the rest is asked for, at
    least :data:`READ_AHEAD_BYTES` (128 KiB), so the small reads of a small file's neighbouring
    column chunks come from memory. pyarrow reads a large file 1 MiB at a time, interleaving its column
    chunks, so there each byte crosses the network about once (a single kept 16 MiB block read
    a 1.5 GB partition's bytes 12 times: ``benchmarks/partition_scale.py --over-http``).

    Each attempt has a deadline (:meth:`mwlc.net.RetryPolicy.attempt_deadline_s` for its
    bytes): a peer that trickles never trips a read timeout, and an attempt still running then is
    cancelled and fails as a timeout (on fsspec's asynchronous filesystems, HTTP and S3). After a
    failure the read is repeated from the same offset, waiting ``retry_backoff_s * 2**k`` between
    attempts. An answer of another length than asked for (a server that ignores the range, a
    body cut short) is a failure too. Made for :class:`pyarrow.parquet.ParquetFile`, which takes
    any object with ``read``, ``seek`` and ``tell``.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The filesystem holding the file.
    path : str
        The file's path on ``fs``.
    service : str
        Who is read, for messages (e.g. ``"ZTF leaf file"``).
    policy : RetryPolicy
        Retries, backoff (s) and each attempt's deadline; the timeout of each wait for data is
        the filesystem's own (see :func:`mwlc.storage.fsspec_options`).

    Raises
    ------
    mwlc.errors.ArchiveError
        From the constructor or a read, when the last attempt failed (see :func:`call`), or at
        once when the file does not tell its size.
    """

    def __init__(
        self, fs: fsspec.AbstractFileSystem, path: str, *, service: str, policy: RetryPolicy
    ) -> None:
        self.fs, self.path, self.service, self.policy = fs, path, service, policy
        self.url = fs.unstrip_protocol(path)
        self.closed = False
        self._position = 0
        self._blocks: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._over_http = bool({"http", "https"} & set(protocols(fs)))  # fsspec's HTTP filesystem (aiohttp)
        single_attempt(fs)
        size = self._retried(lambda: self._call("size", self.path))
        if size is None:
            raise ArchiveError(
                f"{service} ({redact(self.url)}) does not tell its size: it cannot be read by ranges"
            )
        self.size: int = int(size)

    def _call(self, method: str | Callable[..., Any], *args: Any, nbytes: int = 0, **kwargs: Any) -> Any:
        """``fs.<method>(*args, **kwargs)`` as one attempt: on an asynchronous filesystem its
        coroutine (``method`` itself if it is a coroutine function), cancelled at the attempt's
        deadline for ``nbytes`` bytes."""
        if not getattr(self.fs, "async_impl", False):
            return getattr(self.fs, method)(*args, **kwargs)
        coroutine = method if callable(method) else getattr(self.fs, f"_{method}")
        deadline_s = self.policy.attempt_deadline_s(nbytes)
        started = time.monotonic()
        try:
            return fsspec.asyn.sync(self.fs.loop, coroutine, *args, timeout=deadline_s, **kwargs)
        except FSTimeoutError:
            if time.monotonic() - started < deadline_s:
                raise  # the client's own connect or read timeout (its cause tells which)
        # raised outside the handler, so that the log and the error tell this message
        raise TimeoutError(
            f"no whole answer within the attempt's deadline of {deadline_s:.3g} s (a peer sending a few "
            "bytes at a time); cut"
        )

    def _range(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the file, in one attempt; a wrong length is a failure."""
        if self._over_http:
            try:
                data = self._call(_http_range, self.fs, self.path, start, end, nbytes=end - start)
            except _RangeIgnored as ignored:
                raise ArchiveError(
                    f"{self.service} ({redact(self.url)}) answered {ignored}, not bytes {start}-{end - 1}: "
                    "the server does not honour byte ranges"
                ) from None
        else:
            data = self._call("cat_file", self.path, start=start, end=end, nbytes=end - start)
        if len(data) != end - start:
            raise IncompleteAnswer(
                f"{len(data):,} of the {end - start:,} bytes asked for (bytes {start}-{end - 1})"
            )
        return data

    def _retried(self, read: Callable[[], T]) -> T:
        return call(read, service=self.service, url=self.url, policy=self.policy)

    def read(self, nbytes: int = -1) -> bytes:
        """Up to ``nbytes`` bytes from the current offset (all the rest if negative)."""
        if self.closed:
            raise ValueError(f"read of a closed file: {redact(self.url)}")
        start = self._position
        end = self.size if nbytes < 0 else min(start + nbytes, self.size)
        if end <= start:
            return b""  # at or past the end, or nothing asked
        pieces = []
        while start < end:  # from the kept answers what they hold, the rest asked for
            block_start, block = self._block_from(start, end)
            pieces.append(block[start - block_start : end - block_start])
            start += len(pieces[-1])
        self._position = end
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _block_from(self, start: int, end: int) -> tuple[int, bytes]:
        """A kept answer holding byte ``start`` (its offset and bytes), or one asked for now:
        ``[start, end)``, at least :data:`READ_AHEAD_BYTES`."""
        for block_start, block in self._blocks.items():
            if block_start <= start < block_start + len(block):
                self._blocks.move_to_end(block_start)
                return block_start, block
        fetch_end = min(max(end, start + READ_AHEAD_BYTES), self.size)
        self._blocks[start] = self._retried(lambda: self._range(start, fetch_end))
        self._blocks.move_to_end(start)
        while len(self._blocks) > KEPT_BLOCKS:
            self._blocks.popitem(last=False)
        return start, self._blocks[start]

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the offset (no I/O): from the start, the current offset or the end (0, 1, 2)."""
        if whence not in (0, 1, 2):
            raise ValueError(f"whence must be 0, 1 or 2, not {whence!r}")
        position = (0, self._position, self.size)[whence] + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def tell(self) -> int:
        return self._position

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        self._blocks.clear()
        self.closed = True

    def __enter__(self) -> RetryingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
