"""A fake SDSS SkyServer SQL search (what ``astroquery.sdss.SDSS.query_sql`` calls).

``GET /dr{N}/en/tools/search/x_results.aspx?cmd=<sql>&format=csv[&searchtool=SQL]``: the T-SQL
runs on SQLite (``TOP n`` -> ``LIMIT n``, ``NEWID()`` -> ``RANDOM()``, see
:mod:`tests.servers.sql`) and the answer is CSV with a ``#Table1`` first line, as SkyServer
writes it. A query SQLite rejects gets a body containing ``error_message`` (astroquery raises
``RemoteServiceError`` on that).
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Mapping

import numpy as np
import pandas as pd
from astropy.table import Table

from .base import Request, Response
from .sql import SqlTables, translate_tsql

_PATH = re.compile(r"^/dr(\d+)/en/tools/search/x_results\.aspx$", re.IGNORECASE)


def _cell(value: object) -> str:
    if value is np.ma.masked or value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def to_skyserver_csv(table: Table) -> str:
    """``#Table1`` + header + rows, floats written with full precision."""
    out = io.StringIO()
    out.write("#Table1\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.colnames)
    for row in table:
        writer.writerow([_cell(row[name]) for name in table.colnames])
    return out.getvalue()


class FakeSkyServer:
    """SkyServer SQL search over fixture tables (e.g. ``{"SpecObj": table}``).

    Attributes
    ----------
    queries : list of (int, str)
        (data release, SQL as received) of every query.
    """

    def __init__(self, tables: Mapping[str, Table | pd.DataFrame]) -> None:
        self.db = SqlTables(tables)
        self.queries: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the logged queries."""
        with self._lock:
            self.queries.clear()

    def handle(self, request: Request) -> Response:
        """Answer one SQL search."""
        match = _PATH.match(request.path)
        if not match:
            return Response(404, f"not found: {request.path}")
        sql = request.param("cmd")
        if request.param("format") != "csv" or not sql:
            return Response(200, "error_message: this fake answers cmd=<sql>&format=csv only")
        with self._lock:
            self.queries.append((int(match.group(1)), sql))
        statement, top = translate_tsql(sql)
        try:
            table = self.db.run(statement, limit=top)
        except Exception as exc:  # noqa: BLE001 - reported the way SkyServer does
            return Response(
                200, f"<html><body>error_message: {type(exc).__name__}: {exc}</body></html>", "text/html"
            )
        return Response(200, to_skyserver_csv(table), "text/plain")

    def close(self) -> None:
        """Delete the backing database."""
        self.db.close()
