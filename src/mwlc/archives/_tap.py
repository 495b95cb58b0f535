"""Sync TAP queries with a table upload, through pyvo, with timeouts, retries and overflow checks.

A query is one ``POST {service}/sync`` (pyvo ``TAPService.run_sync``; no ``/capabilities`` or
``/tables`` request). The ``requests`` session given to pyvo comes from :func:`mwlc.net.new_session`:
it applies a default timeout to every request (pyvo sets none) and turns 429/5xx answers into
``HTTPError`` before pyvo tries to parse them, so :func:`mwlc.net.call_with_retries` retries them.
A result that the service truncated (``QUERY_STATUS=OVERFLOW``) is never returned as if complete:
:class:`TapOverflow` is raised instead (whatever ``MAXREC`` was), so the caller can split its upload.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from astropy.io.votable.tree import VOTableFile
from astropy.table import Table
from pyvo.dal import DALOverflowWarning, TAPService

from mwlc.errors import ArchiveError
from mwlc.net import RetryPolicy, call_with_retries, new_session

#: Name of the uploaded table; queries refer to it as ``TAP_UPLOAD.<UPLOAD_NAME>``.
UPLOAD_NAME = "mytable"


class TapOverflow(ArchiveError):
    """The service truncated a result at its row limit (``QUERY_STATUS=OVERFLOW``)."""


@dataclass(frozen=True)
class TapClient:
    """One TAP service and how hard to try it.

    Parameters
    ----------
    url : str
        Base URL of the service (``.../sync`` is appended by pyvo).
    policy : mwlc.net.RetryPolicy
        Retries, backoff (s) and per-request timeout (s).
    maxrec : int, optional
        ``MAXREC`` sent with every query; None sends none (the service's default limit applies).
    service_name : str
        Name used in log and error messages, e.g. ``"HEASARC TAP"``.
    """

    url: str
    policy: RetryPolicy
    maxrec: int | None = None
    service_name: str = "TAP"

    @cached_property
    def service(self) -> TAPService:
        """The pyvo ``TAPService``, on one hardened session (default timeout, 5xx raise)."""
        return TAPService(self.url, session=new_session(self.policy.timeout_s))

    def run_upload(self, query: str, upload: Table | None, *, what: str) -> Table:
        """Run ``query`` with ``upload`` as ``TAP_UPLOAD.mytable``; retry transient failures.

        Parameters
        ----------
        query : str
            ADQL.
        upload : astropy.table.Table or None
            The table to upload (numeric columns only travel safely to every service); None
            uploads nothing.
        what : str
            What this query is, for messages (e.g. ``"FERMIGTRIG chunk 2/10"``).

        Returns
        -------
        astropy.table.Table
            The complete result.

        Raises
        ------
        TapOverflow
            If the service truncated the result at its row limit.
        mwlc.errors.ArchiveError
            After the last failed attempt, or at once for an answer that is an error; the message
            names the service, ``what``, the URL and the last error.
        """
        service = self.service

        def run() -> tuple[Table, str]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DALOverflowWarning)  # checked below, always
                uploads = None if upload is None else {UPLOAD_NAME: upload}
                result = service.run_sync(query, maxrec=self.maxrec, uploads=uploads)
            return result.to_table(), query_status(result.votable)

        table, status = call_with_retries(
            run, service=f"{self.service_name} ({what})", url=self.url, policy=self.policy
        )
        if status.upper() == "OVERFLOW":
            raise TapOverflow(
                f"{self.service_name} ({what}) at {self.url} truncated its answer at "
                f"{len(table)} rows (QUERY_STATUS=OVERFLOW)"
            )
        return table


def query_status(votable: VOTableFile) -> str:
    """``QUERY_STATUS`` of a TAP answer (``"OK"`` if absent), looked up where pyvo looks.

    pyvo warns about an ``OVERFLOW`` only when fewer rows than ``MAXREC`` came back; for us any
    truncation is an incomplete answer, so the status is read here.
    """
    results = [res for res in votable.resources if (res.type or "").lower() == "results"]
    resource = results[0] if results else (votable.resources[0] if votable.resources else None)
    places = [resource.infos, *(table.infos for table in resource.tables[:1])] if resource else []
    for infos in [*places, votable.infos]:
        statuses = [info.value for info in infos if (info.name or "").lower() == "query_status"]
        if statuses:
            return str(statuses[-1])
    return "OK"


def upload_positions(objects: pd.DataFrame) -> Table:
    """The upload table of a chunk: ``objectid`` (int64), ``ra``, ``dec`` (float64, deg).

    Labels stay local (joined back by objectid): fewer bytes, and no string column whose VOTable
    encoding (``unicodeChar``) a service might not accept.
    """
    return Table(
        {
            "objectid": objects["objectid"].to_numpy(dtype=np.int64),
            "ra": objects["ra"].to_numpy(dtype=np.float64),
            "dec": objects["dec"].to_numpy(dtype=np.float64),
        }
    )


def column(table: Table, name: str, dtype: type, *, what: str) -> np.ndarray:
    """Column ``name`` of a TAP result (name matched case-insensitively), masked -> NaN.

    Raises
    ------
    mwlc.errors.ArchiveError
        If the result has no such column (the message lists the columns it has).
    """
    by_lower = {colname.lower(): colname for colname in table.colnames}
    if name.lower() not in by_lower:
        raise ArchiveError(
            f"{what}: the TAP result lacks column {name!r}; columns: {', '.join(table.colnames) or '(none)'}"
        )
    values = table[by_lower[name.lower()]]
    if np.issubdtype(dtype, np.floating):
        return np.ma.filled(np.ma.asarray(values, dtype=dtype), np.nan)
    if np.ma.is_masked(values):
        raise ArchiveError(f"{what}: the TAP result has NULL values in column {name!r}")
    return np.asarray(values, dtype=dtype)
