"""Run the lsdb archives' partitions on an existing Dask cluster (``dask_scheduler`` in config).

By default a fetch job computes its partitions itself, in a few local threads
(:func:`mwlc.archives._lsdb.stream_partitions`). When the user already runs a Dask cluster (a
``dask scheduler`` with workers, e.g. started by dask-jobqueue or a Kubernetes operator), a fetch
job can instead *attach* to it: within :func:`attached`, the first archive that needs the cluster
opens a :class:`distributed.Client` to the scheduler's address (closed when the block ends), and
:func:`compute_in_order` sends each partition's task graph (read, crossmatch) and its transform
to the workers. Results come back in
partition order, at most ``in_flight`` partitions at a time, so the fetch job's memory stays
bounded by a few transformed batches whatever the cluster's size.

The workers must reach the archive sources under the same URIs (S3, HTTP, or a shared
filesystem) and import the same ``mwlc`` version; the job itself starts no cluster, no worker
and no dashboard.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from mwlc.errors import ArchiveError

if TYPE_CHECKING:  # imported where used: a job that never attaches does not load distributed
    import pandas as pd
    from dask.delayed import Delayed
    from distributed import Client, Future

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds to wait for the scheduler to answer, and again for at least one worker to join.
CONNECT_TIMEOUT_S = 30.0


@dataclass
class _Attachment:
    """The scheduler of an :func:`attached` block, and its client once an archive asked for it."""

    address: str
    timeout_s: float
    client: Client | None = None


_attachment: ContextVar[_Attachment | None] = ContextVar("mwlc_dask_attachment", default=None)


@contextmanager
def attached(address: str | None, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[None]:
    """Within the block, the lsdb archives compute their partitions on the cluster at ``address``.

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


def compute_in_order(
    client: Client,
    partitions: Sequence[Delayed],
    transform: Callable[[pd.DataFrame], T],
    *,
    in_flight: int,
    read_error: Callable[[int, BaseException], Exception],
) -> Iterator[T]:
    """``transform(partition)`` of each partition, computed on the cluster, yielded in order.

    Parameters
    ----------
    client : distributed.Client
        The attached cluster.
    partitions : sequence of dask.delayed.Delayed
        One lazy data frame per partition (``lsdb.Catalog.to_delayed()``).
    transform : callable
        Runs on the worker that holds the computed partition; only its (small) result travels
        back. Must be picklable (a module-level function or a ``functools.partial`` of one).
    in_flight : int
        Partitions submitted at once; at least 1.
    read_error : callable
        ``read_error(index, cause)`` builds the exception raised when computing partition
        ``index`` fails (a failing ``transform`` raises its own exception unchanged, as locally).

    Yields
    ------
    T
        The transformed partitions, in the order of ``partitions``.
    """
    if in_flight < 1:
        raise ValueError(f"in_flight must be >= 1, got {in_flight}")
    pending: deque[tuple[int, Future, Future]] = deque()

    def submit(index: int) -> None:
        frame = client.compute(partitions[index])
        pending.append((index, frame, client.submit(transform, frame)))

    def result() -> T:
        index, frame, transformed = pending.popleft()
        try:
            return transformed.result()
        except Exception as err:
            if frame.exception() is not None:  # waits: the read's failure may arrive later
                raise read_error(index, err) from err
            raise

    try:
        for index in range(len(partitions)):
            submit(index)
            if len(pending) >= in_flight:
                yield result()
        while pending:
            yield result()
    finally:
        for _, frame, transformed in pending:
            transformed.cancel()
            frame.cancel()
