"""VizieR column constraints, evaluated on an answer (so a filter is never only trusted to VizieR).

The ``vizier`` source sends its ``filters`` to VizieR (``<column>=<constraint>``) and applies them
again to the rows that come back, with :func:`constraint_mask`. Understood, as in VizieR:

* numbers: ``>x``, ``>=x``, ``<x``, ``<=x``, ``=x`` or ``x``, ``!=x``, and ranges ``a..b``
  (inclusive);
* text: ``=abc`` or ``abc`` (exact), ``!=abc``, with ``*`` and ``?`` wildcards;
* several conditions joined by ``&`` (all must hold).

An empty (masked) value satisfies no constraint. A constraint outside this subset (e.g. a
comma-separated list) raises :class:`~mwlc.errors.SampleError` rather than being guessed at.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import numpy as np

from mwlc.errors import SampleError

#: Comparison operators, longest first.
_OPERATORS = (">=", "<=", "!=", ">", "<", "=")


def find_column(table: Any, column: str) -> str | None:
    """Name of ``column`` in an astropy table: as given, or as older astroquery renamed it
    (characters other than letters, digits and ``_`` replaced by ``_``: ``CLQ?`` -> ``CLQ_``)."""
    if column in table.colnames:
        return column
    renamed = re.sub(r"[^0-9A-Za-z_]", "_", column)
    return renamed if renamed in table.colnames else None


def constraint_mask(values: Any, constraint: str, *, what: str) -> np.ndarray:
    """Which ``values`` satisfy a VizieR ``constraint`` (see the module docstring).

    Parameters
    ----------
    values : astropy Column, numpy or masked array
        One column of the answer.
    constraint : str
        The constraint as sent to VizieR, e.g. ``">3"``, ``"0..2"``, ``"*CLQ*"``.
    what : str
        The source, table and column, for messages.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per value.

    Raises
    ------
    mwlc.errors.SampleError
        If the constraint is outside the understood subset, or compares a numeric column with
        text.
    """
    data = np.ma.asarray(values)
    numeric = data.dtype.kind in "biuf"
    keep = ~np.ma.getmaskarray(data)
    for part in constraint.split("&"):
        keep &= _term_mask(data, part.strip(), numeric, what=f"{what} constraint {constraint!r}")
    return keep


def _term_mask(data: np.ma.MaskedArray, term: str, numeric: bool, *, what: str) -> np.ndarray:
    if "," in term or not term:
        raise SampleError(
            f"{what}: cannot be checked on the answer (understood: >x, >=x, <x, <=x, =x, !=x, a..b, "
            "text with * and ?, joined by &); write it in that form"
        )
    op = next((o for o in _OPERATORS if term.startswith(o)), None)
    if op is None and ".." in term and numeric:
        low, high = (_number(x, what) for x in term.split("..", 1))
        values = np.ma.filled(data.astype(float), np.nan)
        return (values >= low) & (values <= high)
    operand = term[len(op) :].strip() if op else term
    op = op or "="
    if numeric:
        target = _number(operand, what)
        values = np.ma.filled(data.astype(float), np.nan)
        with np.errstate(invalid="ignore"):
            return {
                ">": values > target,
                ">=": values >= target,
                "<": values < target,
                "<=": values <= target,
                "=": values == target,
                "!=": (values != target) & ~np.isnan(values),
            }[op]
    if op not in ("=", "!="):
        raise SampleError(f"{what}: {op!r} compares numbers, but the column holds text")
    texts = [str(v).strip() for v in np.ma.filled(data.astype(str), "")]
    wild = any(c in operand for c in "*?")
    same = np.array([fnmatch.fnmatchcase(t, operand) if wild else t == operand for t in texts], dtype=bool)
    return same if op == "=" else ~same


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SampleError(f"{what}: {text!r} is not a number, but the column is numeric") from None
