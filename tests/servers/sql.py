"""SQLite behind the fake TAP and SkyServer: fixture tables in, ADQL / T-SQL shapes translated.

Translation covers what our clients send, not all of ADQL:

* ``SELECT [DISTINCT] TOP n ...`` -> ``... LIMIT n`` (ADQL and T-SQL);
* ``CONTAINS(POINT([frame,] a, b), CIRCLE([frame,] c, d, r))`` -> ``adql_contains(a,b,c,d,r)``
  (1 when the point lies within r degrees of the centre, great-circle distance);
* ``DISTANCE(POINT(..), POINT(..))`` and ``DISTANCE(a, b, c, d)`` -> ``adql_distance`` (deg);
* ``TAP_UPLOAD.<name>`` -> the uploaded table ``<name>``;
* optionally (:func:`prefix_unaliased_columns`), unaliased ``alias.column`` select items are
  named ``alias_column``, as HEASARC's service does;
* T-SQL: ``NEWID()`` -> ``RANDOM()``, ``0AND`` -> ``0 AND``, ``dbo.`` dropped.

Joins, aliases, quoted identifiers, ``CAST(x AS BIGINT)``, ``%`` and ``ORDER BY`` are SQLite's own.
Math functions (sin, cos, radians, ...) are registered, since SQLite builds may lack them.
"""

from __future__ import annotations

import math
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from astropy.table import MaskedColumn, Table

INT64_MAX = 2**63 - 1


# -- geometry ---------------------------------------------------------------------------------
def angular_distance_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float | None:
    """Great-circle distance in degrees (haversine); None if any input is NULL."""
    if None in (ra1, dec1, ra2, dec2):
        return None
    p1, p2 = math.radians(dec1), math.radians(dec2)
    dp, dl = p2 - p1, math.radians(ra2 - ra1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(a))))


def _contains(ra: float, dec: float, cra: float, cdec: float, radius: float) -> int | None:
    dist = angular_distance_deg(ra, dec, cra, cdec)
    return None if dist is None or radius is None else int(dist <= radius)


_MATH = {
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tan": (1, math.tan),
    "asin": (1, math.asin),
    "acos": (1, math.acos),
    "atan": (1, math.atan),
    "atan2": (2, math.atan2),
    "sqrt": (1, math.sqrt),
    "radians": (1, math.radians),
    "degrees": (1, math.degrees),
    "log10": (1, math.log10),
    "log": (1, math.log),
    "exp": (1, math.exp),
    "power": (2, math.pow),
    "floor": (1, math.floor),
    "ceiling": (1, math.ceil),
    "mod": (2, math.fmod),
    "pi": (0, lambda: math.pi),
}


def _null_safe(fn: Any) -> Any:
    return lambda *args: None if any(a is None for a in args) else fn(*args)


# -- translation ------------------------------------------------------------------------------
_TOP = re.compile(r"^\s*SELECT\s+(DISTINCT\s+)?TOP\s+(\d+)\s+", re.IGNORECASE)


def split_top(sql: str) -> tuple[str, int | None]:
    """Remove ``TOP n`` from a SELECT; return the statement and n (or None)."""
    sql = sql.strip().rstrip(";")
    match = _TOP.match(sql)
    if not match:
        return sql, None
    return f"SELECT {match.group(1) or ''}" + sql[match.end() :], int(match.group(2))


def _balanced(sql: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at ``open_at`` (quotes respected)."""
    depth, quote = 0, None
    for i in range(open_at, len(sql)):
        ch = sql[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced parentheses in {sql!r}")


def _split_args(text: str) -> list[str]:
    """Split a function's argument text on top-level commas."""
    args, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
    args.append(text[start:].strip())
    return args


def _geometry_args(expr: str, function: str) -> list[str]:
    """Arguments of ``POINT(...)`` / ``CIRCLE(...)`` without the optional frame literal."""
    match = re.match(rf"\s*{function}\s*\(", expr, re.IGNORECASE)
    if not match:
        raise ValueError(f"expected {function}(...), got {expr!r}")
    close = _balanced(expr, match.end() - 1)
    args = _split_args(expr[match.end() : close])
    return args[1:] if args and args[0].startswith("'") else args


def _rewrite_calls(sql: str, function: str, rewrite: Any) -> str:
    pattern = re.compile(rf"\b{function}\s*\(", re.IGNORECASE)
    while (match := pattern.search(sql)) is not None:
        close = _balanced(sql, match.end() - 1)
        args = [translate_adql_expr(a) for a in _split_args(sql[match.end() : close])]
        sql = sql[: match.start()] + rewrite(args) + sql[close + 1 :]
    return sql


def _contains_call(args: list[str]) -> str:
    point, circle = _geometry_args(args[0], "POINT"), _geometry_args(args[1], "CIRCLE")
    return f"adql_contains({', '.join(point + circle)})"


def _distance_call(args: list[str]) -> str:
    if len(args) == 2:
        args = _geometry_args(args[0], "POINT") + _geometry_args(args[1], "POINT")
    return f"adql_distance({', '.join(args)})"


def translate_adql_expr(sql: str) -> str:
    """Rewrite geometry functions and ``TAP_UPLOAD.`` prefixes of an ADQL fragment."""
    sql = _rewrite_calls(sql, "CONTAINS", _contains_call)
    sql = _rewrite_calls(sql, "DISTANCE", _distance_call)
    return re.sub(r"\bTAP_UPLOAD\.", "", sql, flags=re.IGNORECASE)


_QUALIFIED_COLUMN = re.compile(r"^\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*$")


def _top_level_keyword(sql: str, keyword: str, start: int) -> int | None:
    """Index of ``keyword`` (a whole word, any case) outside parentheses and quotes, or None."""
    depth, quote, size = 0, None, len(keyword)
    for i in range(start, len(sql)):
        ch = sql[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif (
            depth == 0
            and sql[i : i + size].upper() == keyword
            and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_"))
            and (i + size == len(sql) or not (sql[i + size].isalnum() or sql[i + size] == "_"))
        ):
            return i
    return None


def prefix_unaliased_columns(sql: str) -> str:
    """Name each unaliased ``alias.column`` of the select list ``alias_column``.

    HEASARC's TAP service (Xamin) answers ``SELECT cat.time, up.objectid ...`` with columns
    ``cat_time`` and ``up_objectid``; only an explicit ``AS`` keeps a plain name.
    """
    match = re.match(r"\s*SELECT\s+(DISTINCT\s+)?", sql, re.IGNORECASE)
    end = _top_level_keyword(sql, "FROM", match.end()) if match else None
    if match is None or end is None:
        return sql
    items = _split_args(sql[match.end() : end])
    renamed = [
        f"{m.group(1)}.{m.group(2)} AS {m.group(1)}_{m.group(2)}"
        if (m := _QUALIFIED_COLUMN.match(item))
        else item
        for item in items
    ]
    return f"{sql[: match.end()]}{', '.join(renamed)} {sql[end:]}"


def translate_tsql(sql: str) -> tuple[str, int | None]:
    """SkyServer T-SQL -> SQLite statement and TOP limit."""
    sql = " ".join(sql.split())
    sql = re.sub(r"\bNEWID\(\)", "RANDOM()", sql, flags=re.IGNORECASE)
    sql = re.sub(r"(\d)AND\b", r"\1 AND", sql)
    sql = re.sub(r"\bdbo\.", "", sql, flags=re.IGNORECASE)
    return split_top(sql)


# -- the database -----------------------------------------------------------------------------
def _frame_for_sql(table: Table | pd.DataFrame) -> pd.DataFrame:
    frame = table.to_pandas() if isinstance(table, Table) else table.copy()
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind == "u" and len(column) and int(column.max()) > INT64_MAX:
            frame[name] = column.astype(str)  # SQLite INTEGER is int64; keep the digits exact
        elif column.dtype.kind == "O":
            frame[name] = column.map(lambda v: v.decode() if isinstance(v, bytes) else v)
    return frame


def rows_to_table(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """An astropy Table from SQLite rows; NULLs masked, duplicate names suffixed."""
    table = Table()
    seen: dict[str, int] = {}
    for j, raw_name in enumerate(names):
        seen[raw_name] = seen.get(raw_name, 0) + 1
        name = raw_name if seen[raw_name] == 1 else f"{raw_name}_{seen[raw_name]}"
        values = [row[j] for row in rows]
        present = [v for v in values if v is not None]
        mask = [v is None for v in values]
        if not present:
            data = np.full(len(values), np.nan)
        elif all(isinstance(v, int) for v in present):
            data = np.array([0 if v is None else v for v in values], dtype=np.int64)
        elif all(isinstance(v, (int, float)) for v in present):
            data = np.array([np.nan if v is None else float(v) for v in values])
        else:
            data = np.array(["" if v is None else str(v) for v in values], dtype=str)
        table[name] = MaskedColumn(data, mask=mask) if any(mask) else data
    return table


def _py(value: Any) -> Any:
    """A Python scalar SQLite can bind (numpy scalars unwrapped, NaN/NA -> NULL)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _load_temp(con: sqlite3.Connection, name: str, table: Table | pd.DataFrame) -> None:
    """Create the per-connection table ``temp.<name>`` holding ``table``."""
    frame = _frame_for_sql(table)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(f'CREATE TEMP TABLE "{name}" ({columns})')
    rows = [tuple(_py(v) for v in row) for row in frame.itertuples(index=False, name=None)]
    marks = ", ".join("?" * len(frame.columns))
    con.executemany(f'INSERT INTO temp."{name}" VALUES ({marks})', rows)


class SqlTables:
    """Fixture tables in a SQLite file; each query runs on its own connection.

    Parameters
    ----------
    tables : mapping of str to astropy Table or pandas DataFrame
        Table name -> rows. Unsigned integers above int64 are stored as text (exact digits).
    """

    def __init__(self, tables: Mapping[str, Table | pd.DataFrame]) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="mwlc-fake-sql-"))
        self.path = self._dir / "tables.sqlite"
        with sqlite3.connect(self.path) as con:
            for name, table in tables.items():
                _frame_for_sql(table).to_sql(name, con, index=False)

    def connect(self) -> sqlite3.Connection:
        """A connection with the ADQL helper and math functions registered."""
        con = sqlite3.connect(self.path, check_same_thread=False)
        con.create_function("adql_contains", 5, _contains, deterministic=True)
        con.create_function("adql_distance", 4, angular_distance_deg, deterministic=True)
        for name, (nargs, fn) in _MATH.items():
            con.create_function(name, nargs, _null_safe(fn), deterministic=True)
        return con

    def run(self, sql: str, *, limit: int | None = None, uploads: Mapping[str, Table] | None = None) -> Table:
        """Run a SQLite ``sql`` (with optional LIMIT and temporary upload tables)."""
        con = self.connect()
        try:
            for name, table in (uploads or {}).items():
                _load_temp(con, name, table)
            statement = sql if limit is None else f"{sql} LIMIT {int(limit)}"
            cursor = con.execute(statement)
            names = [d[0] for d in cursor.description or []]
            return rows_to_table(names, cursor.fetchall())
        finally:
            con.close()

    def close(self) -> None:
        """Delete the database file."""
        shutil.rmtree(self._dir, ignore_errors=True)
