"""Network helpers shared by every remote call: timeouts, retries with backoff, error wording.

A remote call is retried only when the failure is *transient*: a connection error (refused,
reset), a timeout (before or during the answer), an answer cut short (fewer bytes than its
Content-Length), or an HTTP 5xx/429 answer. Anything else (a 4xx, an answer that does not parse)
fails at once. Either way the caller gets one :class:`mwlc.errors.ArchiveError` naming the
service, the URL (credentials masked) and the last error; nothing is skipped silently.

A timeout bounds each wait for data, not a whole answer: a peer that sends a byte every few
seconds never trips it. So every attempt also has a deadline (:func:`attempt_deadline_s`):
an answer through a session of :func:`harden_session` that is still arriving then is cut, and
fails as a read timeout, to be retried like one.
"""

from __future__ import annotations

import datetime
import email.utils
import heapq
import http.client
import itertools
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from mwlc.errors import ArchiveError, MwlcError
from mwlc.joblog import redact

log = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP status codes worth another attempt (server trouble, rate limiting).
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

#: An attempt may last this many read timeouts (plus the time of its bytes at
#: :data:`MIN_RATE_BYTES_S`) before it is cut: see :func:`attempt_deadline_s`.
DEADLINE_TIMEOUTS = 10
#: The slowest transfer an attempt is allowed for the bytes it announces or asks for, bytes/s.
MIN_RATE_BYTES_S = 100_000


def attempt_deadline_s(timeout_s: float, nbytes: int = 0) -> float:
    """The longest one attempt may last, s: :data:`DEADLINE_TIMEOUTS` times its read timeout
    ``timeout_s`` (s), plus ``nbytes`` (what it announces or asks for) at
    :data:`MIN_RATE_BYTES_S`.

    A timeout bounds each wait for data; this bounds the whole answer, against a peer that
    trickles (a byte every few seconds never trips a timeout). With the archives' 60 s timeouts
    an answer gets 10 minutes, plus 10 s per MB it announces (or, without a Content-Length, has
    delivered so far).
    """
    return DEADLINE_TIMEOUTS * timeout_s + max(nbytes, 0) / MIN_RATE_BYTES_S


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try a remote service.

    Parameters
    ----------
    retries : int
        Attempts after the first one (0 = try once).
    backoff_s : float
        Base of the exponential backoff, in seconds: the waits are
        ``backoff_s * 2**k`` for k = 0, 1, ..., capped at ``max_wait_s``.
    timeout_s : float
        Connect/read timeout of each HTTP request, in seconds: the longest wait for data. A whole
        attempt gets :meth:`attempt_deadline_s`.
    max_wait_s : float
        Longest single wait between attempts, in seconds.
    """

    retries: int = 3
    backoff_s: float = 2.0
    timeout_s: float = 60.0
    max_wait_s: float = 300.0

    @property
    def attempts(self) -> int:
        """Total number of attempts (first one included)."""
        return self.retries + 1

    def attempt_deadline_s(self, nbytes: int = 0) -> float:
        """The longest one attempt moving ``nbytes`` bytes may last, s (:func:`attempt_deadline_s`)."""
        return attempt_deadline_s(self.timeout_s, nbytes)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Yield ``exc`` and the exceptions it was raised from (``__cause__``/``__context__``)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        nxt = getattr(cur, "cause", None)  # pyvo's DALServiceError keeps the cause here
        if not isinstance(nxt, BaseException):
            nxt = cur.__cause__ or cur.__context__
        cur = nxt


def _status_of(exc: BaseException) -> int | None:
    """HTTP status carried by ``exc`` (requests or pyvo), if any."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return int(response.status_code)
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) and code > 0 else None


#: pyvo's VOSI endpoint errors (capabilities, tables) keep only a message; these parts of it
#: mean a transient failure (pyvo 1.9 ``EndpointMixin._get_endpoint``).
_PYVO_TRANSIENT = re.compile(
    r"Request timed out|Connection failed|HTTP Code: (5\d\d|429)|"
    r"503 Service Unavailable"
)


class IncompleteAnswer(OSError):
    """An answer that HTTP delivered whole but that is not what was asked for: a file cut short
    on a connection that gave no Content-Length, an error page sent with status 200. Worth asking
    again, like a connection reset."""


#: Low-level failures of a connection, whichever client layer lets them through: pyvo reads a
#: TAP answer from ``response.raw``, so urllib3's errors for a reset, a body cut short
#: (``IncompleteRead``) or a stall in the middle of the body reach us unwrapped by requests.
_TRANSIENT_TYPES = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    http.client.IncompleteRead,
    ConnectionError,  # builtin: refused, reset, aborted, broken pipe
    TimeoutError,
    IncompleteAnswer,
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is worth retrying.

    Connection errors (refused, reset), timeouts (requests, urllib3, astroquery), answers cut
    short before their Content-Length or found incomplete (:class:`IncompleteAnswer`) and HTTP
    429/5xx answers are transient, including pyvo's
    VOSI endpoint errors that report them only in their message.
    """
    for err in _chain(exc):
        if (
            type(err).__name__ == "DALServiceError"
            and str(err).startswith("Unable to access the")
            and _PYVO_TRANSIENT.search(str(err))
        ):
            return True
        if isinstance(err, _TRANSIENT_TYPES):
            return True
        if type(err).__name__ == "TimeoutError":  # astroquery.exceptions.TimeoutError
            return True
        status = _status_of(err)
        if status in RETRYABLE_STATUS:
            return True
    return False


#: The socket timeout (s) an answer past its deadline is given: its next wait for data fails.
_CUT_TIMEOUT_S = 1e-3


class _CountingReader:
    """http.client's buffered reader of one answer, counting the bytes it hands out (chunked
    answers included, which urllib3 does not count)."""

    def __init__(self, reader: Any) -> None:
        self._reader, self.count = reader, 0

    def _counted(self, data: Any) -> Any:
        self.count += len(data or b"")
        return data

    def read(self, *args: Any) -> bytes:
        return self._counted(self._reader.read(*args))

    def read1(self, *args: Any) -> bytes:
        return self._counted(self._reader.read1(*args))

    def readline(self, *args: Any) -> bytes:
        return self._counted(self._reader.readline(*args))

    def readinto(self, buffer: Any) -> int:
        n = self._reader.readinto(buffer)
        self.count += n or 0
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


@dataclass(frozen=True)
class _Watched:
    """One answer under watch: when it was asked for, and what it may take."""

    raw: weakref.ref  # urllib3's response
    sock: weakref.ref  # the socket its body comes from
    reader: weakref.ref  # its _CountingReader
    url: str
    started: float  # time.monotonic() of the request
    timeout_s: float  # its read timeout
    announced: int  # its Content-Length, 0 if it gave none

    def allowed_s(self) -> float:
        """What the answer may take (s): :func:`attempt_deadline_s` for the larger of the bytes it
        announced and those it has delivered (an answer without a Content-Length is not cut while
        it keeps up :data:`MIN_RATE_BYTES_S`)."""
        reader = self.reader()
        delivered = reader.count if reader is not None else 0
        return attempt_deadline_s(self.timeout_s, max(self.announced, delivered))

    def still_arriving(self) -> bool:
        """Whether the body is still being read from the socket it came on."""
        raw, sock = self.raw(), self.sock()
        return raw is not None and sock is not None and _answer_socket(raw) is sock


class _AnswerDeadlines:
    """Cuts answers still arriving after their deadline, from one background thread.

    An answer's body is read after the adapter returns it (by requests, or by pyvo from
    ``response.raw``), so its deadline is watched here: at the deadline, if the body is still
    being read from the socket it came on, that socket's timeout is set to
    :data:`_CUT_TIMEOUT_S`, and the reader's next wait for data fails as a read timeout (a
    transient failure, retried). An answer read whole has let go of its socket (http.client
    then drops it) and is left alone; urllib3 resets a reused connection's timeout for each
    request. Only weak references are kept, so a finished answer is not held.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """Start empty, without a thread (also in a forked child, whose copy of the lock may be held)."""
        self._due: list[tuple[float, int, _Watched]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, response: requests.Response, started: float, timeout_s: float) -> None:
        """Cut ``response`` if its body is still arriving when :meth:`_Watched.allowed_s` has
        passed since ``started`` (``time.monotonic()``); ``timeout_s`` is its read timeout."""
        sock = _answer_socket(response.raw)
        if sock is None:
            return  # no body left to read
        http_answer = response.raw._fp  # http.client's response: its reader hands out the body
        reader = http_answer.fp = _CountingReader(http_answer.fp)
        length = response.headers.get("Content-Length", "")
        watched = _Watched(
            weakref.ref(response.raw),
            weakref.ref(sock),
            weakref.ref(reader),
            redact(response.url),
            started,
            timeout_s,
            int(length) if length.isdigit() else 0,
        )
        self._schedule(watched, started + watched.allowed_s())

    def _schedule(self, watched: _Watched, due: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (due, next(self._order), watched))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mwlc-answer-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, watched = heapq.heappop(self._due)
            if not watched.still_arriving():
                continue  # read whole (or dropped) meanwhile
            allowed_s = watched.allowed_s()
            if time.monotonic() - watched.started < allowed_s:  # still delivering fast enough
                self._schedule(watched, watched.started + allowed_s)
                continue
            _cut(watched, allowed_s)


def _answer_socket(raw: Any) -> Any:
    """The socket an answer's body is still read from (urllib3's response over http.client's),
    None once it is read whole (http.client then lets go of it) or when it cannot be told."""
    buffered = getattr(getattr(raw, "_fp", None), "fp", None)  # http.client.HTTPResponse.fp
    return getattr(getattr(buffered, "raw", None), "_sock", None)  # socket.SocketIO._sock


def _cut(watched: _Watched, allowed_s: float) -> None:
    """Make the next wait for data of ``watched``'s body fail (see :class:`_AnswerDeadlines`), if
    it is still being read, then say so.

    The check that the answer still owns its socket comes right before the cut: in between, the
    answer could end and its kept-alive connection carry the next request, whose first wait
    would then fail once (a retried read timeout). Nothing else runs in that window.
    """
    sock = watched.sock()
    try:
        if sock is None or not watched.still_arriving():
            return  # read whole (or dropped) meanwhile
        sock.settimeout(_CUT_TIMEOUT_S)
    except OSError:  # closed meanwhile
        return
    log.warning(
        "%s: the answer is still arriving after %.3g s, its deadline (a peer sending a few bytes at "
        "a time); cut, to be tried again",
        watched.url,
        allowed_s,
    )


_DEADLINES = _AnswerDeadlines()


def _read_timeout_s(timeout: Any, default_s: float) -> float:
    """The read timeout (s) of a requests ``timeout`` argument: a number, a (connect, read) pair
    or urllib3's ``Timeout``; ``default_s`` where it sets none."""
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    timeout = getattr(timeout, "read_timeout", timeout)
    return float(timeout) if isinstance(timeout, int | float) else default_s


class _DefaultTimeoutAdapter(HTTPAdapter):
    """An HTTPAdapter that applies a timeout to requests sent without one (pyvo sends none),
    and a deadline to every answer (:func:`attempt_deadline_s`, watched by :data:`_DEADLINES`)."""

    def __init__(self, timeout_s: float, **kwargs: Any) -> None:
        self.timeout_s = timeout_s
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        started = time.monotonic()
        response = super().send(request, **kwargs)
        _DEADLINES.watch(response, started, _read_timeout_s(kwargs["timeout"], self.timeout_s))
        return response


def _raise_for_retryable_status(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Response hook: turn a 429/5xx answer into ``requests.HTTPError`` before anyone parses it."""
    if response.status_code in RETRYABLE_STATUS:
        response.raise_for_status()
    return response


def harden_session(session: requests.Session, timeout_s: float) -> requests.Session:
    """Give ``session`` a default timeout, a deadline per answer, and make 429/5xx answers raise
    ``HTTPError``.

    Used on our own sessions and on the ``requests.Session`` of the astroquery objects we create,
    so that a 503 page is seen as a server failure (and retried) rather than as a table that
    does not parse, so that clients which pass no timeout (pyvo) still get one, and so that an
    answer still arriving after :func:`attempt_deadline_s` is cut (a read timeout, retried).

    Parameters
    ----------
    session : requests.Session
        Session to modify in place.
    timeout_s : float
        Default connect/read timeout, seconds.

    Returns
    -------
    requests.Session
        The same session.
    """
    adapter = _DefaultTimeoutAdapter(timeout_s)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if _raise_for_retryable_status not in session.hooks["response"]:
        session.hooks["response"].append(_raise_for_retryable_status)
    return session


def new_session(timeout_s: float) -> requests.Session:
    """A fresh hardened ``requests.Session`` (see :func:`harden_session`)."""
    session = requests.Session()
    session.headers["User-Agent"] = f"mwlc {session.headers.get('User-Agent', '')}".strip()
    return harden_session(session, timeout_s)


def _backoff_or_retry_after(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    """The wait before the next attempt (s): the policy's exponential backoff, or longer if the
    failed answer asked for it (``Retry-After``, as 429 and 503 answers may), at most
    ``policy.max_wait_s``."""
    backoff = wait_exponential(multiplier=policy.backoff_s, exp_base=2, min=0, max=policy.max_wait_s)

    def wait(state: RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        asked_s = retry_after_s(err) if err is not None else None
        return min(max(backoff(state), asked_s or 0.0), policy.max_wait_s)

    return wait


def retry_after_s(exc: BaseException) -> float | None:
    """The seconds an HTTP answer in ``exc`` (or what caused it) asked to wait before asking
    again (its ``Retry-After``: seconds or an HTTP date), None if it asked nothing."""
    for err in _chain(exc):
        response = getattr(err, "response", None)
        headers = getattr(response, "headers", None) or getattr(err, "headers", None)
        value = headers.get("Retry-After") if headers is not None and hasattr(headers, "get") else None
        if value is None:
            continue
        return _seconds_from(str(value).strip())
    return None


def _seconds_from(retry_after: str) -> float | None:
    """A ``Retry-After`` value in seconds from now: delta-seconds or an HTTP date (one without a
    zone, or ``-0000``, is UTC); None for anything else."""
    if re.fullmatch(r"[0-9]+", retry_after):
        return float(retry_after)
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return max((when - datetime.datetime.now(datetime.UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


def describe_error(exc: BaseException) -> str:
    """``Type: message`` on one line, at most 500 characters, credentials masked."""
    return redact(f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:500]


def call_with_retries(
    fn: Callable[[], T],
    *,
    service: str,
    url: str,
    policy: RetryPolicy,
    transient: Callable[[BaseException], bool] = is_transient,
    wrap_permanent: bool = True,
    describe: Callable[[BaseException], str] = describe_error,
) -> T:
    """Call ``fn()``; retry transient failures with exponential backoff.

    Parameters
    ----------
    fn : callable
        The remote call, without arguments.
    service : str
        Service name for messages (e.g. ``"NED"``).
    url : str
        URL the call talks to, for messages.
    policy : RetryPolicy
        Retries, backoff (s) and timeout (s).
    transient : callable, default :func:`is_transient`
        Which failures are worth another attempt (:class:`~mwlc.errors.MwlcError` never is).
    wrap_permanent : bool, default True
        Whether a failure that is not transient is raised as an :class:`ArchiveError` too
        ("answered with an error"); False raises it unchanged, for callers that word it.
    describe : callable, default :func:`describe_error`
        The failure as told in the log and the error (``Type: message``).

    Returns
    -------
    object
        What ``fn`` returned.

    Raises
    ------
    mwlc.errors.ArchiveError
        After the last failed attempt, or at once for a non-transient failure (unless
        ``wrap_permanent`` is False). The message names the service, the URL, the number of
        attempts and the last error.
    """
    url = redact(url)

    def before_sleep(state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s (%s): attempt %d/%d failed (%s); retrying in %.3g s",
            service,
            url,
            state.attempt_number,
            policy.attempts,
            describe(err) if err else "?",
            wait,
        )

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_backoff_or_retry_after(policy),
        retry=retry_if_exception(lambda e: transient(e) and not isinstance(e, MwlcError)),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(fn)
    except MwlcError:
        raise
    except Exception as exc:
        if not wrap_permanent and not transient(exc):
            raise
        attempts = retrying.statistics.get("attempt_number", 1)
        kind = "failed" if transient(exc) else "answered with an error"
        raise ArchiveError(f"{service} ({url}) {kind} after {attempts} attempt(s): {describe(exc)}") from exc
