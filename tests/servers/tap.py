"""A fake IVOA TAP service (sync queries, uploads, capabilities) backed by SQLite.

Serves under ``prefix`` (e.g. ``/simbad/sim-tap`` or ``/xamin/vo/tap``):

* ``GET|POST {prefix}/sync`` with ``REQUEST=doQuery``, ``LANG=ADQL``, ``QUERY``, optional
  ``MAXREC`` and ``UPLOAD=name,param:part[;...]`` (each part a VOTable file in the multipart
  body, queried as ``TAP_UPLOAD.name``); url-encoded or multipart, parameter names
  case-insensitive. The answer is a VOTable with ``QUERY_STATUS`` OK (OVERFLOW when MAXREC cut
  the rows); a query that SQLite rejects gets an error VOTable with HTTP 400.
* ``GET {prefix}/capabilities``: a VOSI capabilities document (TAP 1.1, ADQL 2.0, output and
  upload limits) so pyvo's ``hardlimit`` / ``uploadlimit`` work;
* ``GET {prefix}/availability``;
* ``TAP_SCHEMA.columns`` (``table_name``, ``column_name``, ``datatype``) lists the fixture tables'
  columns, with VOTable datatypes from their dtypes (``double``, ``long``, ``char``...).

See :mod:`tests.servers.sql` for the ADQL that is understood.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping

import numpy as np
import pandas as pd
from astropy.io.votable import parse_single_table
from astropy.table import Table

from .base import Request, Response
from .sql import SqlTables, prefix_unaliased_columns, split_top, translate_adql_expr
from .votable import tap_error, tap_result

VOTABLE = "application/x-votable+xml"

_CAPABILITIES = """<?xml version="1.0" encoding="UTF-8"?>
<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"
    xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0">
  <capability standardID="ivo://ivoa.net/std/VOSI#capabilities">
    <interface xsi:type="vs:ParamHTTP"><accessURL use="full">{base}/capabilities</accessURL>
    </interface>
  </capability>
  <capability standardID="ivo://ivoa.net/std/VOSI#availability">
    <interface xsi:type="vs:ParamHTTP"><accessURL use="full">{base}/availability</accessURL>
    </interface>
  </capability>
  <capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">
    <interface role="std" xsi:type="vs:ParamHTTP" version="1.1">
      <accessURL use="base">{base}</accessURL>
    </interface>
    <language>
      <name>ADQL</name>
      <version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>
      <description>ADQL 2.0 (fake: CONTAINS/POINT/CIRCLE/DISTANCE/TOP on SQLite)</description>
    </language>
    <outputFormat><mime>application/x-votable+xml</mime><alias>votable</alias></outputFormat>
    <uploadMethod ivo-id="ivo://ivoa.net/std/TAPRegExt#upload-inline"/>
    <executionDuration><default>3600</default><hard>3600</hard></executionDuration>
    <outputLimit><default unit="row">{default_limit}</default><hard unit="row">{hard_limit}</hard>
    </outputLimit>
    <uploadLimit><default unit="row">{upload_limit}</default><hard unit="row">{upload_limit}</hard>
    </uploadLimit>
  </capability>
</vosi:capabilities>
"""

_AVAILABILITY = """<?xml version="1.0" encoding="UTF-8"?>
<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">
  <vosi:available>true</vosi:available>
</vosi:availability>
"""


#: The SQLite table behind ``TAP_SCHEMA.columns``.
TAP_SCHEMA_COLUMNS = "tap_schema_columns"
#: numpy dtype kind -> VOTable datatype of a TAP_SCHEMA column.
_DATATYPES = {"f": "double", "i": "long", "u": "long", "b": "boolean", "O": "char", "U": "char", "S": "char"}


def tap_schema_columns(tables: Mapping[str, Table | pd.DataFrame]) -> pd.DataFrame:
    """``TAP_SCHEMA.columns`` rows of ``tables``: table_name, column_name, datatype."""
    rows = []
    for name, table in tables.items():
        frame = table.to_pandas() if isinstance(table, Table) else table
        rows += [(name, column, _DATATYPES[frame[column].dtype.kind]) for column in frame.columns]
    return pd.DataFrame(rows, columns=["table_name", "column_name", "datatype"])


class FakeTap:
    """A TAP service over fixture tables.

    Parameters
    ----------
    tables : mapping of str to astropy Table or pandas DataFrame
        Table name (as used in ADQL, e.g. ``basic`` or ``fermigtrig``) -> rows.
    prefix : str
        URL path of the service, without trailing slash.
    hard_limit, default_limit, upload_limit : int
        Row limits published in ``/capabilities``; ``default_limit`` applies without MAXREC.
    prefix_unaliased : bool, default False
        Name unaliased ``alias.column`` select items ``alias_column`` (HEASARC Xamin's
        behaviour: ``SELECT cat.time`` answers a column ``cat_time``).

    Attributes
    ----------
    queries : list of str
        ADQL of every sync query received, in order.
    uploads : list of dict
        Upload tables of every sync query (name -> astropy Table).
    shuffle_seed : int or None
        When set, the rows of every answer to a query without ORDER BY come in a random order
        (seeded), as a real service may send them; :meth:`reset` unsets it.
    """

    def __init__(
        self,
        tables: Mapping[str, Table | pd.DataFrame],
        *,
        prefix: str = "/tap",
        hard_limit: int = 2_000_000,
        default_limit: int = 100_000,
        upload_limit: int = 200_000,
        prefix_unaliased: bool = False,
    ) -> None:
        self.db = SqlTables({**tables, TAP_SCHEMA_COLUMNS: tap_schema_columns(tables)})
        self.prefix_unaliased = prefix_unaliased
        self.prefix = prefix.rstrip("/")
        self.limits = {"hard_limit": hard_limit, "default_limit": default_limit, "upload_limit": upload_limit}
        self.queries: list[str] = []
        self.uploads: list[dict[str, Table]] = []
        self.shuffle_seed: int | None = None
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the logged queries; answer rows in the database's order again."""
        with self._lock:
            self.queries.clear()
            self.uploads.clear()
            self.shuffle_seed = None

    def handle(self, request: Request) -> Response:
        """Route a request under :attr:`prefix`."""
        route = request.path[len(self.prefix) :] if request.path.startswith(self.prefix) else None
        if route in ("/sync", "/sync/"):
            return self._sync(request)
        if route == "/capabilities":
            base = f"http://{request.headers.get('Host', '')}{self.prefix}"
            return Response(200, _CAPABILITIES.format(base=base, **self.limits), "text/xml")
        if route == "/availability":
            return Response(200, _AVAILABILITY, "text/xml")
        return Response(404, f"no such TAP endpoint: {request.path}")

    def _sync(self, request: Request) -> Response:
        param = lambda name, default=None: request.param(name, default, case_insensitive=True)
        if (param("REQUEST") or "doQuery") != "doQuery" or (param("LANG") or "ADQL") != "ADQL":
            return self._error("only REQUEST=doQuery with LANG=ADQL is supported")
        adql = param("QUERY")
        if not adql:
            return self._error("missing QUERY")
        try:
            uploads = self._uploads(request, param("UPLOAD"))
        except ValueError as exc:
            return self._error(f"bad UPLOAD: {exc}")
        with self._lock:
            self.queries.append(adql)
            self.uploads.append(uploads)
        maxrec = int(param("MAXREC") or self.limits["default_limit"])
        sql, top = split_top(
            re.sub(r"\bTAP_SCHEMA\.columns\b", TAP_SCHEMA_COLUMNS, adql, flags=re.IGNORECASE)
        )
        if self.prefix_unaliased:
            sql = prefix_unaliased_columns(sql)
        limit = min(maxrec, top) if top is not None else maxrec
        try:
            table = self.db.run(translate_adql_expr(sql), limit=limit + 1, uploads=uploads)
        except Exception as exc:  # noqa: BLE001 - SQLite's message is the TAP error message
            return self._error(f"{type(exc).__name__}: {exc}")
        overflow = len(table) > limit and (top is None or maxrec < top)
        table = table[:limit]
        if self.shuffle_seed is not None and not re.search(r"\bORDER\s+BY\b", sql, re.IGNORECASE):
            table = table[np.random.default_rng(self.shuffle_seed).permutation(len(table))]
        return Response(200, tap_result(table, overflow=overflow), VOTABLE)

    @staticmethod
    def _uploads(request: Request, spec: str | None) -> dict[str, Table]:
        if not spec:
            return {}
        form = request.form()
        tables = {}
        for item in spec.split(";"):
            name, _, source = item.partition(",")
            if not source.startswith("param:"):
                raise ValueError(f"{item!r}: only inline uploads (name,param:part) are supported")
            part = source[len("param:") :]
            if part not in form:
                raise ValueError(f"no multipart part {part!r} for upload {name!r}")
            data = form[part][0]
            data = data.encode() if isinstance(data, str) else data
            tables[name.strip()] = parse_single_table(io.BytesIO(data)).to_table()
        return tables

    @staticmethod
    def _error(message: str) -> Response:
        return Response(400, tap_error(message), VOTABLE)

    def close(self) -> None:
        """Delete the backing database."""
        self.db.close()
