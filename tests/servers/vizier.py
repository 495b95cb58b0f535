"""A fake VizieR ``viz-bin/votable`` (what astroquery's ``Vizier`` POSTs).

The request body is astroquery's script, one ``key=value`` per line. Understood:

* ``-source=<catalog or table>[,...]``: a catalog id selects all its tables
  (``J/ApJ/933/180`` -> ``J/ApJ/933/180/table1``, ...), a full name one table;
* ``-out=*`` (all columns, computed ``_RA``/``_DE`` first) or a column list, ``-out.add=``,
  ``-out.all``; ``-out.max=<n>|unlimited`` (rows per table);
* ``<column>=<constraint>``: VizieR constraints ``>x``, ``>=x``, ``<x``, ``<=x``, ``=x``, ``!=x``,
  ``a..b``, several joined with ``&``; strings match exactly or with ``*``/``?`` wildcards. A
  table without the constrained column is left out of the answer.

Other lines (``-out.meta``, ``-out.form``, ``-oc.form``) are accepted and ignored. Tables
are answered even when empty (astroquery drops empty ones), one RESOURCE per catalog.
``ignore_constraints`` makes the fake answer as if no constraint had been sent (a service that
does not apply them), to test that a client checks its filters itself.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Mapping

import numpy as np
import pandas as pd
from astropy.table import Table

from .base import Request, Response
from .votable import vizier_answer

VOTABLE = "text/xml;content=x-votable"


def parse_script(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """(options starting with ``-``, column constraints) of an astroquery VizieR script."""
    options: dict[str, str] = {}
    constraints: dict[str, str] = {}
    for line in body.decode("latin-1").splitlines():
        line = line.strip()
        if not line or line.startswith("===="):
            continue
        key, _, value = line.partition("=")
        (options if key.startswith("-") else constraints)[key.strip()] = value.strip()
    return options, constraints


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(value: object, op: str, operand: str) -> bool:
    if value is np.ma.masked or value is None:
        return False
    target = _number(operand)
    if target is not None and isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        v = float(value)
        return {
            ">": v > target,
            ">=": v >= target,
            "<": v < target,
            "<=": v <= target,
            "=": v == target,
            "!=": v != target,
        }[op]
    text = str(value).strip()
    same = fnmatch.fnmatchcase(text, operand) if any(c in operand for c in "*?") else text == operand
    return same if op == "=" else (not same if op == "!=" else False)


def matches(value: object, constraint: str) -> bool:
    """Whether ``value`` satisfies a VizieR ``constraint`` (see module docstring)."""
    for part in constraint.split("&"):
        part = part.strip()
        op = next((o for o in (">=", "<=", "!=", ">", "<", "=") if part.startswith(o)), None)
        if op is not None:
            ok = _compare(value, op, part[len(op) :].strip())
        elif ".." in part:
            low, high = part.split("..", 1)
            ok = _compare(value, ">=", low) and _compare(value, "<=", high)
        else:
            ok = _compare(value, "=", part)
        if not ok:
            return False
    return True


class FakeVizier:
    """VizieR over fixture tables.

    Parameters
    ----------
    tables : mapping of str to Table or DataFrame
        Full table name (``J/ApJ/874/8/table2``) -> rows. Columns starting with ``_`` (``_RA``,
        ``_DE``) play VizieR's computed columns.

    Attributes
    ----------
    scripts : list of (dict, dict)
        (options, constraints) of every query.
    ignore_constraints : bool
        Answer every row whatever the constraints (logged all the same); :meth:`reset` unsets it.
    """

    def __init__(self, tables: Mapping[str, Table | pd.DataFrame]) -> None:
        self.tables = {k: v if isinstance(v, Table) else Table.from_pandas(v) for k, v in tables.items()}
        self.scripts: list[tuple[dict[str, str], dict[str, str]]] = []
        self.ignore_constraints = False
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the logged queries; apply constraints again."""
        with self._lock:
            self.scripts.clear()
            self.ignore_constraints = False

    def handle(self, request: Request) -> Response:
        """Answer ``POST /viz-bin/votable``."""
        if request.path != "/viz-bin/votable":
            return Response(404, f"not found: {request.path}")
        options, constraints = parse_script(request.body)
        with self._lock:
            self.scripts.append((options, constraints))
        selected = self._select(options.get("-source", ""))
        catalogs: dict[str, list[tuple[str, Table]]] = {}
        applied = {} if self.ignore_constraints else constraints
        for name in selected:
            table = self._answer(self.tables[name], options, applied)
            if table is not None:
                catalogs.setdefault(name.rsplit("/", 1)[0], []).append((name, table))
        echo = "\n".join(f"{k}={v}" for k, v in {**options, **constraints}.items())
        body = vizier_answer([(c, f"{c} (loopback fake)", t) for c, t in catalogs.items()], echo)
        return Response(200, body, VOTABLE)

    def _select(self, source: str) -> list[str]:
        wanted = [s.strip() for s in source.split(",") if s.strip()]
        return [name for name in self.tables if any(name == w or name.startswith(w + "/") for w in wanted)]

    @staticmethod
    def _answer(table: Table, options: dict[str, str], constraints: dict[str, str]) -> Table | None:
        if any(column not in table.colnames for column in constraints):
            return None
        keep = np.array(
            [all(matches(row[c], v) for c, v in constraints.items()) for row in table], dtype=bool
        )
        out = table[keep] if len(table) else table
        limit = options.get("-out.max", "50")
        if limit != "unlimited":
            out = out[: int(limit)]
        computed = [c for c in out.colnames if c.startswith("_")]
        plain = [c for c in out.colnames if not c.startswith("_")]
        wanted = options.get("-out", "*")
        if wanted != "*" and "-out.all" not in options:
            plain = [c for c in wanted.split(",") if c in plain]
            added = options.get("-out.add", "").split(",")
            computed = [c for c in computed if c in added]
        return out[computed + plain]
