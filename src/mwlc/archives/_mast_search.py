"""lightkurve's MAST search (astroquery's portal client) made safe for a week-long run.

lightkurve searches through astroquery, whose portal client was written for one query at a
prompt, not for 500,000 of them in a job:

* its session sends requests without a timeout;
* it polls a query that answers ``EXECUTING`` again at once, for 600 s (``TIMEOUT``): hundreds
  of requests a second to MAST per stuck query (against a loopback portal, 1,162 in the tests'
  2 s; 25,627 in 60 s), the kind of load that gets a client's address blocked;
* the coordinates, which lightkurve passes as a name, go to MAST's name resolver through a
  module-level ``requests.get`` without a timeout.

:func:`harden_mast_search` mends all three in astroquery's process-wide objects.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from functools import partial
from typing import Any

import requests

from mwlc.net import harden_session, new_session

#: Pause before astroquery polls again a portal query that answered ``EXECUTING``, s: the first
#: pause, doubled at each further ``EXECUTING`` of the same query up to the longest.
FIRST_POLL_PAUSE_S = 0.5
LONGEST_POLL_PAUSE_S = 8.0
#: Queries whose ``EXECUTING`` answers are remembered at once (the oldest is forgotten first).
REMEMBERED_QUERIES = 256
#: Held while the pacer is added to a session (notebook threads may harden at once).
_HOOKING = threading.Lock()


def harden_mast_search(timeout_s: float) -> None:
    """Bound and pace every request of ``lightkurve.search_lightcurve``.

    * the portal client's session gets a timeout of ``timeout_s`` seconds per request;
    * its limit on a query that keeps answering ``EXECUTING`` (``TIMEOUT``) becomes
      ``timeout_s``, and its polls of such a query are paced by :class:`PollPacer`;
    * MAST's name resolver (``astroquery.mast.utils._simple_request``, which astroquery keeps a
      module function so that it can be replaced) is replaced by the same request on a session
      with a timeout.

    A stalled search then fails after ``timeout_s`` and is retried like any other request.
    astroquery's objects are one per process: in a notebook that runs several TESS/Kepler
    fetches at once, the last one's ``timeout_s`` applies to all their searches (and to the
    user's own ``Observations`` queries). A workflow job is a process of its own.
    """
    from astroquery.mast import Observations, utils

    portal = Observations._portal_api_connection
    session = portal._session
    adapter = session.get_adapter("https://")
    if getattr(adapter, "timeout_s", None) != timeout_s:  # mount once per timeout, not per call
        harden_session(session, timeout_s)
    with _HOOKING:
        if not any(isinstance(hook, PollPacer) for hook in session.hooks["response"]):
            session.hooks["response"].append(PollPacer(portal))
    portal.TIMEOUT = timeout_s
    utils._simple_request = partial(_resolver_request, timeout_s=timeout_s)


class PollPacer:
    """A ``requests`` response hook: a pause after each ``EXECUTING`` answer of the MAST portal.

    astroquery's portal client sends the same query again as soon as it answers ``EXECUTING``.
    The hook holds such an answer back before astroquery sees it: :data:`FIRST_POLL_PAUSE_S`,
    doubled at each further ``EXECUTING`` of the same query (same URL and body), up to
    :data:`LONGEST_POLL_PAUSE_S`, and never past the portal's ``TIMEOUT`` counted from the
    query's first ``EXECUTING``: astroquery gives up after that pause, and a retry starts again
    at the first pause. Over a ``TIMEOUT`` of 120 s, a stuck query is polled about 20 times
    instead of tens of thousands. Any other answer passes at once and ends the query's count.
    Only POSTs to the portal's query URL are looked at, and never a streamed answer, so file
    downloads on the same session are not read here.
    """

    def __init__(self, portal: Any) -> None:
        self._portal = portal  # its MAST_REQUEST_URL and TIMEOUT are read at each answer
        #: Per query: its ``EXECUTING`` answers so far, and when the first came (monotonic s).
        self._queries: OrderedDict[tuple[str, Any], tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("stream") or not self._is_portal_query(response):
            return response
        key = (response.request.url or "", response.request.body)
        if not _executing(response):
            with self._lock:
                self._queries.pop(key, None)
            return response
        time.sleep(self._pause_s(key))
        return response

    def _is_portal_query(self, response: requests.Response) -> bool:
        request = response.request
        return request.method == "POST" and (request.url or "").startswith(self._portal.MAST_REQUEST_URL)

    def _pause_s(self, key: tuple[str, Any]) -> float:
        """The pause before this query's next poll, s; counts this ``EXECUTING``."""
        now = time.monotonic()
        with self._lock:
            executing, first_s = self._queries.pop(key, (0, now))
            left_s = self._portal.TIMEOUT - (now - first_s)
            pause_s = min(FIRST_POLL_PAUSE_S * 2**executing, LONGEST_POLL_PAUSE_S)
            if pause_s >= left_s:  # the query's last pause: astroquery gives up after it
                return max(0.0, left_s)
            self._queries[key] = (executing + 1, first_s)
            while len(self._queries) > REMEMBERED_QUERIES:
                self._queries.popitem(last=False)
        return pause_s


def _executing(response: requests.Response) -> bool:
    """Whether a portal answer says its query is still running (a cheap look first)."""
    if b"EXECUTING" not in response.content:
        return False
    try:
        payload = response.json()
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("status") == "EXECUTING"


def _resolver_request(url: str, params: Mapping[str, Any] | None = None, *, timeout_s: float) -> Any:
    """``astroquery.mast.utils._simple_request`` (the name resolver's GET) with a timeout."""
    with new_session(timeout_s) as session:
        headers = {"Content-type": "application/x-www-form-urlencoded", "Accept": "text/plain"}
        response = session.get(url, params=params, headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return response
