"""A fault-injecting loopback proxy in front of a real server (moto S3, a RangeHTTPServer).

The proxy is a :class:`~tests.servers.base.LoopbackServer` whose app forwards every request
to the upstream server and hands its answer back unchanged (status, headers, body), so the real
clients (s3fs/botocore, fsspec's HTTP filesystem/aiohttp) talk to the real protocol while the
test injects faults in between with the server's own tools (``fault_when``, ``*_next``)::

    with LoopbackServer(Forward(moto_endpoint)) as proxy:
        proxy.fault_when(nth(0, leaf_reads), "reset_body")          # the first leaf read is reset
        proxy.fault_when(nth(30, leaf_reads), **S3_SLOW_DOWN)       # a later one gets a SlowDown
        proxy.fault_when(leaf_reads, "stall", seconds=5)            # every one stalls (until reset)
        ... storage_options(proxy.url, policy) ...
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import Request, Response

#: Request headers not forwarded: hop-by-hop ones, and those the connection sets itself.
_REQUEST_HEADERS_DROPPED = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length", "te"}
)
#: Answer headers not handed back: hop-by-hop ones, and those the loopback server sends itself.
_ANSWER_HEADERS_DROPPED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-type", "date", "server"}
)

#: S3's answer when a client sends requests too fast: HTTP 503 with an XML ``SlowDown`` error.
#: Keyword arguments of :meth:`~tests.servers.base.LoopbackServer.fault_when`.
S3_SLOW_DOWN: dict[str, Any] = {
    "kind": "status",
    "status": 503,
    "content_type": "application/xml",
    "body": (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId><HostId>mwlc-test</HostId></Error>"
    ),
}


class Forward:
    """An app that forwards each request to ``upstream`` (``http://host:port``) and returns its
    answer as is.

    Parameters
    ----------
    upstream : str
        Base URL of the real server.
    timeout_s : float
        Timeout of each forwarded request, seconds.
    """

    def __init__(self, upstream: str, *, timeout_s: float = 30.0) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname, parts.port
        self.timeout_s = timeout_s

    def handle(self, request: Request) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _REQUEST_HEADERS_DROPPED}
            connection.request(request.method, request.target, body=request.body or None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            kept = {k: v for k, v in answer.getheaders() if k.lower() not in _ANSWER_HEADERS_DROPPED}
            return Response(
                answer.status,
                body,
                answer.getheader("Content-Type", "application/octet-stream"),
                kept,
            )
        finally:
            connection.close()


def nth(k: int, predicate: Callable[[Request], bool]) -> Callable[[Request], bool]:
    """A predicate true only for the ``k``-th request (from 0) it is asked about that satisfies
    ``predicate``. (A rule is asked only about the requests no earlier rule took.)"""
    lock = threading.Lock()
    seen = [0]

    def only_kth(request: Request) -> bool:
        if not predicate(request):
            return False
        with lock:
            seen[0] += 1
            return seen[0] == k + 1

    return only_kth


def leaf_reads(request: Request) -> bool:
    """A ranged GET of a HATS leaf file (``.../Npix=N...``): a footer or a column chunk."""
    return request.method == "GET" and "Npix=" in unquote(request.path) and "Range" in request.headers


def metadata_reads(request: Request) -> bool:
    """A GET of a HATS properties file (the first file a reader opens)."""
    return request.method == "GET" and unquote(request.path).endswith("properties")


def unwise_reads(request: Request) -> bool:
    """A GET of an unWISE data file (``.../healpix_k5=N/...parquet``), not its ``_metadata``."""
    return request.method == "GET" and "healpix_k5=" in unquote(request.path)
