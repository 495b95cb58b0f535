"""Every answer through a hardened session has a deadline (:func:`mwlc.net.attempt_deadline_s`).

A raw HTTP/1.1 server on loopback sends answers at a chosen pace, with a ``Content-Length`` or
chunked, on keep-alive connections: what HEASARC's TAP, MAST and the sample services may do.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from mwlc import net

#: The read timeout of every session here (s); the deadline is DEADLINE_TIMEOUTS (2) x this, plus
#: the answer's bytes at 100 kB/s.
TIMEOUT_S = 0.2


pytestmark = pytest.mark.usefixtures("short_deadlines")


def _read_request(conn: socket.socket) -> bool:
    """Read one request's head; False when the client hung up."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = conn.recv(4096)
        if not data:
            return False
        head += data
    return True


def send_paced(conn: socket.socket, body: bytes, *, piece: int, pause_s: float, chunked: bool) -> None:
    """One answer: ``body`` ``piece`` bytes at a time, ``pause_s`` apart (never a wait as long as
    the read timeout), with a Content-Length or chunked."""
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + length + b"\r\n\r\n")
    for start in range(0, len(body), piece):
        part = body[start : start + piece]
        conn.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        time.sleep(pause_s)
    if chunked:
        conn.sendall(b"0\r\n\r\n")


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket, int], None]], str]]:
    """``serve(answer)``: the URL of a keep-alive server calling ``answer(conn, n)`` for the n-th
    request (from 1) of each connection."""
    listeners: list[socket.socket] = []

    def start(answer: Callable[[socket.socket, int], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def connection(conn: socket.socket) -> None:
            with conn:
                n = 0
                while _read_request(conn):
                    n += 1
                    try:
                        answer(conn, n)
                    except OSError:  # the client cut it
                        return

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(target=connection, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/"

    yield start
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_that_keeps_up_the_minimum_rate_is_never_cut(serve, chunked):
    """600 kB at ~300 kB/s takes 2 s, five times the 0.4 s base: with a Content-Length its bytes
    give it 6 s more; chunked, the bytes it has delivered extend it as they arrive."""
    body = bytes(range(256)) * 2400
    url = serve(lambda conn, n: send_paced(conn, body, piece=10_000, pause_s=0.033, chunked=chunked))
    with net.new_session(TIMEOUT_S) as session:
        assert session.get(url).content == body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_that_trickles_is_cut_at_its_deadline(serve, chunked, caplog):
    url = serve(lambda conn, n: send_paced(conn, b"x" * 200, piece=1, pause_s=0.05, chunked=chunked))
    started = time.monotonic()
    with (
        net.new_session(TIMEOUT_S) as session,
        pytest.raises(requests.ConnectionError, match="Read timed out"),
    ):
        session.get(url).content  # noqa: B018 - reading the body is what is tested
    assert 0.4 <= time.monotonic() - started < 1.5  # 2 x 0.2 s (+ 200 bytes at 100 kB/s); whole: 10 s
    assert f"{url}: the answer is still arriving after 0.4" in caplog.text


def test_a_whole_answer_is_never_cut_nor_the_next_one_on_its_connection(serve, caplog):
    """With a 0.5 s timeout (a 1 s deadline) the first answer takes ~0.7 s; the second, on the
    same connection, takes ~0.7 s too, so the first one's deadline comes while it arrives: the
    watchdog leaves both alone."""
    url = serve(lambda conn, n: send_paced(conn, b"ab"[n - 1 : n] * 7, piece=1, pause_s=0.1, chunked=False))
    with net.new_session(0.5) as session:
        assert session.get(url + "a").content == b"a" * 7
        assert session.get(url + "b").content == b"b" * 7
    assert "still arriving" not in caplog.text


def test_an_answer_the_caller_stops_reading_is_left_alone(serve):
    url = serve(lambda conn, n: send_paced(conn, b"z" * 40, piece=1, pause_s=0.05, chunked=True))
    with net.new_session(TIMEOUT_S) as session:
        response = session.get(url, stream=True)
        assert response.raw.read(5) == b"zzzzz"
        response.close()  # before its deadline
        time.sleep(0.6)
        assert session.get(url, stream=True).raw.read(3) == b"zzz"  # a new answer, not cut
