"""Run the HATS archives' leaf reads on an existing Dask cluster (``dask_scheduler`` in config).

By default a fetch job reads the catalog's leaf files itself
(:func:`mwlc.archives._crossmatch.stream_matched`). When the user already runs a Dask cluster (a
``dask scheduler`` with workers, e.g. started by dask-jobqueue or a Kubernetes operator), a fetch
job can instead *attach* to it: within :func:`attached`, the first archive that needs the cluster
opens a :class:`distributed.Client` to the scheduler's address (closed when the block ends), and
:func:`run_in_order` sends one task per leaf file (read its matched rows, turn them into
light-curve rows) to the workers. Results come back in
leaf order, as many in flight as the cluster has worker threads, so the fetch job's memory stays
bounded by a few leaves' light-curve rows whatever the cluster's size.

The workers must reach the archive sources under the same URIs (S3, HTTP, or a shared
filesystem) and import the same ``mwlc`` version; the job itself starts no cluster, no worker
and no dashboard.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from mwlc.errors import ArchiveError

if TYPE_CHECKING:  # imported where used: a job that never attaches does not load distributed
    from distributed import Client, Future

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds to wait for the scheduler to answer, and again for at least one worker to join.
CONNECT_TIMEOUT_S = 30.0
#: Seconds a job waits for a task while the cluster has no worker (their batch jobs ended, their
#: nodes were lost) before it fails naming the scheduler: the scheduler keeps such tasks waiting
#: for ever (its ``distributed.scheduler.no-workers-timeout`` is unset by default). Long enough
#: for a batch system to start a replacement worker.
NO_WORKER_PATIENCE_S = 600.0
#: Seconds between two looks at the cluster while a task is awaited.
POLL_S = 5.0


@dataclass
class _Attachment:
    """The scheduler of an :func:`attached` block, and its client once an archive asked for it."""

    address: str
    timeout_s: float
    client: Client | None = None


_attachment: ContextVar[_Attachment | None] = ContextVar("mwlc_dask_attachment", default=None)


@contextmanager
def attached(address: str | None, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[None]:
    """Within the block, the HATS archives read their leaf files on the cluster at ``address``.

    The connection is opened when an archive first needs it (:func:`attached_client`), so the
    archives that do not use dask (WISE, HEASARC) never connect, and closed when the block ends.

    Parameters
    ----------
    address : str or None
        The scheduler's address, e.g. ``tcp://10.0.0.5:8786``. None or ``""``: nothing is attached
        and the archives compute locally, as without this block.
    timeout_s : float
        Seconds to wait for the scheduler (the client retries meanwhile), then for a worker.
    """
    if not address:
        yield
        return
    attachment = _Attachment(address, timeout_s)
    token = _attachment.set(attachment)
    try:
        yield
    finally:
        _attachment.reset(token)
        if attachment.client is not None:
            attachment.client.close()


def attached_client() -> Client | None:
    """The client of the innermost :func:`attached` block (connecting on first use), or None.

    Raises
    ------
    ArchiveError
        If the scheduler does not answer, or no worker joins it, within the block's
        ``timeout_s``; the message names the address.
    """
    attachment = _attachment.get()
    if attachment is None:
        return None
    if attachment.client is None:
        attachment.client = connect(attachment.address, timeout_s=attachment.timeout_s)
    return attachment.client


def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Client:
    """A client of the scheduler at ``address`` with at least one worker (not dask's default client).

    Raises
    ------
    ArchiveError
        If the scheduler does not answer, or no worker joins it, within ``timeout_s``.
    """
    from distributed import Client

    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise ArchiveError(
            f"dask_scheduler {address}: cannot connect within {timeout_s:g} s: {type(err).__name__}: {err}"
        ) from err
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except TimeoutError as err:
        client.close()
        raise ArchiveError(f"dask_scheduler {address}: no worker joined within {timeout_s:g} s") from err
    log.info(
        "attached to the Dask cluster at %s: %d workers, %d threads",
        address,
        len(client.nthreads()),
        cluster_threads(client),
    )
    return client


def cluster_threads(client: Client) -> int:
    """Worker threads in the cluster now (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def run_in_order(
    client: Client, tasks: Sequence[Callable[[], T]], *, in_flight: int | None = None
) -> Iterator[T]:
    """``task()`` of each task, run on the cluster, yielded in order.

    Parameters
    ----------
    client : distributed.Client
        The attached cluster.
    tasks : sequence of callable
        Picklable functions of no argument (e.g. ``functools.partial`` of a module-level
        function); each returns a small result that travels back (one leaf file's light-curve
        rows).
    in_flight : int, optional
        Tasks submitted at once; the cluster's worker threads by default, at least 1.

    Yields
    ------
    T
        The tasks' results, in the order of ``tasks``; a task's exception is raised unchanged,
        when its turn comes.
    """
    in_flight = max(1, in_flight or cluster_threads(client))
    pending: deque[Future] = deque()
    try:
        for task in tasks:
            pending.append(client.submit(task, pure=False))
            if len(pending) >= in_flight:
                yield awaited(client, pending.popleft())
        while pending:
            yield awaited(client, pending.popleft())
    finally:
        for future in pending:
            future.cancel()


def awaited(
    client: Client, future: Future, *, patience_s: float = NO_WORKER_PATIENCE_S, poll_s: float = POLL_S
) -> T:
    """The future's result, looking at the cluster every ``poll_s`` seconds while it is awaited.

    Raises
    ------
    ArchiveError
        When the cluster has had no worker for ``patience_s`` seconds: the task would wait for
        ever. The task's own exception is raised unchanged.
    """
    alone_since = None
    while True:
        try:
            return future.result(timeout=poll_s)
        except TimeoutError:
            if client.nthreads():
                alone_since = None
                continue
            alone_since = alone_since if alone_since is not None else time.monotonic()
            if time.monotonic() - alone_since >= patience_s:
                raise ArchiveError(
                    f"the Dask cluster at {client.scheduler.address} has had no worker for "
                    f"{patience_s:g} s: its tasks would wait for ever; start workers (or detach "
                    "the run from the cluster) and run again"
                ) from None
