"""A threaded loopback HTTP(S) server that hands each request to an app, with fault injection.

An *app* is any object with ``handle(request: Request) -> Response``. The server logs every
request (``server.requests``) and can be told to fail or stall the next requests, so tests can
exercise retries and timeouts of the real clients::

    with LoopbackServer(FakeAlerce(objects)) as server:
        server.fail_next(2, status=503)      # the next two requests get a 503
        server.delay_next(1, seconds=1.0)    # the one after waits 1 s before answering
        server.reset_next(1)                 # then one connection is reset (TCP RST, no answer)
        server.truncate_next(1)              # then one answer stops half-way through its body
        server.stall_next(1, seconds=5.0)    # then one answer stalls half-way through its body
        server.reset_body_next(1)            # then one answer is reset half-way through its body
        server.trickle_next(1, seconds=0.5)  # then one answer sends its body a byte every 0.5 s
        server.fault_when(lambda request: "shard" in request.path, "reset")  # until reset()
        ... server.url ...                   # "http://127.0.0.1:<port>"

Queued faults (``*_next``) apply to the next requests in order; rules (``fault_when``) apply to
every matching request, before the queue; ``fail_always`` applies when neither does.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One received HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    #: The request target as sent (path and query string, undecoded).
    target: str = ""

    def form(self) -> dict[str, list[Any]]:
        """Query string plus url-encoded or multipart body fields.

        Text parts become ``str``; parts sent with a filename stay ``bytes``.
        """
        fields = {k: list(v) for k, v in self.query.items()}
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                value: Any = payload if part.get_filename() else payload.decode("utf-8")
                fields.setdefault(name, []).append(value)
        elif ctype.startswith("application/x-www-form-urlencoded"):
            for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items():
                fields.setdefault(k, []).extend(v)
        return fields

    def param(self, name: str, default: str | None = None, *, case_insensitive: bool = False) -> Any:
        """First value of form field ``name`` (optionally matched case-insensitively)."""
        form = self.form()
        if case_insensitive:
            form = {k.upper(): v for k, v in form.items()}
            name = name.upper()
        values = form.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """What an app answers."""

    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Response:
        """A JSON answer."""
        return cls(status, json.dumps(payload), "application/json")


class App(Protocol):
    """What a :class:`LoopbackServer` serves."""

    def handle(self, request: Request) -> Response: ...


#: What a fault does to a request. ``status``: answer ``status`` with ``body`` instead of calling
#: the app (after ``delay_s``); ``delay``: wait ``delay_s``, then answer normally; ``reset``: close
#: the connection with a TCP RST, no answer; ``truncate``: send the app's headers (full
#: Content-Length) and only the first half of its body, then close; ``stall``: send the headers
#: and half the body, wait ``delay_s``, then the rest; ``reset_body``: send the headers and half
#: the body, then reset the connection (TCP RST); ``trickle``: send the headers, then the body a
#: byte every ``delay_s`` (no wait ever as long as a read timeout), until the client hangs up.
FaultKind = Literal["status", "delay", "reset", "truncate", "stall", "reset_body", "trickle"]


@dataclass
class _Fault:
    kind: FaultKind = "status"
    status: int | None = None
    delay_s: float = 0.0
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"


class LoopbackServer:
    """Threaded HTTP(S) server on 127.0.0.1 (a free port) serving one app.

    Parameters
    ----------
    app : App
        Handles every request that is not failed by an injected fault.
    tls : ssl.SSLContext, optional
        Server-side TLS context; the server then speaks https.
    """

    def __init__(self, app: App, *, tls: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.requests: list[Request] = []
        self._faults: deque[_Fault] = deque()
        self._always: _Fault | None = None
        self._rules: list[tuple[Callable[[Request], bool], _Fault]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # clients that hung up
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread: threading.Thread | None = None

    # -- addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """TCP port the server listens on."""
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:<port>``, no trailing slash."""
        return f"{self.scheme}://{self.host}"

    # -- faults ----------------------------------------------------------------------------
    def fail_next(self, n: int, *, status: int = 503, body: str = "Service Unavailable") -> None:
        """Answer the next ``n`` requests with ``status`` instead of calling the app."""
        with self._lock:
            self._faults.extend(_Fault(status=status, body=body) for _ in range(n))

    def delay_next(self, n: int, *, seconds: float) -> None:
        """Wait ``seconds`` before answering each of the next ``n`` requests."""
        with self._lock:
            self._faults.extend(_Fault("delay", delay_s=seconds) for _ in range(n))

    def reset_next(self, n: int) -> None:
        """Reset the connection (TCP RST, no answer) of each of the next ``n`` requests."""
        with self._lock:
            self._faults.extend(_Fault("reset") for _ in range(n))

    def truncate_next(self, n: int) -> None:
        """Send only the first half of the app's answer body (Content-Length announces all of
        it), then close the connection, for each of the next ``n`` requests."""
        with self._lock:
            self._faults.extend(_Fault("truncate") for _ in range(n))

    def stall_next(self, n: int, *, seconds: float) -> None:
        """Send the headers and half the body of each of the next ``n`` answers, then wait
        ``seconds`` before the rest (a stall in the middle of a download)."""
        with self._lock:
            self._faults.extend(_Fault("stall", delay_s=seconds) for _ in range(n))

    def reset_body_next(self, n: int) -> None:
        """Send the headers and half the body of each of the next ``n`` answers, then reset the
        connection (TCP RST): a reset in the middle of a download."""
        with self._lock:
            self._faults.extend(_Fault("reset_body") for _ in range(n))

    def trickle_next(self, n: int, *, seconds: float) -> None:
        """Send each of the next ``n`` answers' body a byte every ``seconds`` (a peer that trickles:
        it never waits long enough to trip a read timeout)."""
        with self._lock:
            self._faults.extend(_Fault("trickle", delay_s=seconds) for _ in range(n))

    def fault_when(
        self,
        predicate: Callable[[Request], bool],
        kind: FaultKind = "status",
        *,
        status: int = 503,
        body: str = "Service Unavailable",
        seconds: float = 0.0,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        """Apply a fault to every request for which ``predicate(request)`` is true, until
        :meth:`reset`. Rules are checked in the order added, before the queued faults.

        Parameters
        ----------
        predicate : callable
            Called with each :class:`Request` (in a server thread; must not raise).
        kind : {"status", "delay", "reset", "truncate", "stall", "reset_body", "trickle"}
            What to do (see :data:`FaultKind`).
        status, body, content_type
            The answer of a ``status`` fault.
        seconds : float
            The wait of a ``delay`` or ``stall`` fault, or between the bytes of a ``trickle``, s.
        """
        fault = _Fault(
            kind,
            status=status if kind == "status" else None,
            body=body,
            delay_s=seconds,
            content_type=content_type,
        )
        with self._lock:
            self._rules.append((predicate, fault))

    def fail_always(self, *, status: int = 503, body: str = "Service Unavailable") -> None:
        """Answer every request with ``status`` until :meth:`reset`."""
        with self._lock:
            self._always = _Fault(status=status, body=body)

    def reset(self) -> None:
        """Forget logged requests and injected faults (and the app's own log, if it keeps one)."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self._always = None
            self._rules.clear()
        reset_app = getattr(self.app, "reset", None)
        if callable(reset_app):
            reset_app()

    def _next_fault(self, request: Request) -> _Fault | None:
        with self._lock:
            rules = list(self._rules)
        for predicate, fault in rules:
            if predicate(request):
                return fault
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            return self._always

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, daemon=True, name=f"loopback-{type(self.app).__name__}"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (if started) and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling ------------------------------------------------------------------
    def _dispatch(self, request: Request) -> tuple[Response | None, _Fault | None]:
        """The answer to ``request`` (None: reset the connection) and the fault applied, if any."""
        with self._lock:
            self.requests.append(request)
        fault = self._next_fault(request)
        if fault is not None:
            if fault.kind == "reset":
                return None, fault
            if fault.kind in ("status", "delay") and fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.kind == "status":
                return Response(fault.status or 503, fault.body, fault.content_type), fault
        try:
            return self.app.handle(request), fault
        except Exception as exc:  # noqa: BLE001 - a bug in a fake must show, not hang
            return Response(500, f"fake server error: {type(exc).__name__}: {exc}"), fault

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    self.headers,
                    body,
                    self.path,
                )
                response, fault = server._dispatch(request)
                if response is None:
                    self._reset_connection()
                    return
                payload = response.body.encode("utf-8") if isinstance(response.body, str) else response.body
                head = self.command == "HEAD"
                # the answer to a HEAD announces the length of the body it does not send
                length = response.headers.get("Content-Length") if head else None
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(length if length is not None else len(payload)))
                for key, value in response.headers.items():
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.end_headers()
                kind = fault.kind if fault is not None else None
                if head:
                    return
                if kind == "trickle":
                    self._trickle(payload, fault.delay_s)
                    return
                if kind not in ("truncate", "stall", "reset_body"):
                    self.wfile.write(payload)
                    return
                half = len(payload) // 2
                self.wfile.write(payload[:half])
                self.wfile.flush()
                if kind == "truncate":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if kind == "reset_body":
                    self._reset_connection()
                    return
                time.sleep(fault.delay_s)
                self.wfile.write(payload[half:])

            def _trickle(self, payload: bytes, seconds: float) -> None:
                """Send ``payload`` a byte every ``seconds``, until done or the client hangs up."""
                self.close_connection = True
                try:
                    for i in range(len(payload)):
                        self.wfile.write(payload[i : i + 1])
                        self.wfile.flush()
                        time.sleep(seconds)
                except OSError:
                    pass

            def _reset_connection(self) -> None:
                """Close the connection with a TCP RST (SO_LINGER 0) instead of an answer."""
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
