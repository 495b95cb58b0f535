"""Check raw sample rows before anything is computed from them.

The rows come from every configured source, concatenated in source order, with columns
``ra`` and ``dec`` (float, degrees, ICRS), ``label`` (str) and ``origin`` (str naming the source
and row, e.g. ``"file data/x.csv row 12"``). Every error message names the offending rows by
their ``origin``, so a user can find them in their own input.

Policies
--------
* **Right ascension is rejected, never wrapped**, outside ``[0, 360)`` degrees: ``ra = 360`` and
  negative values are errors. Every archive and the original Fornax sample use ``[0, 360)``;
  silently wrapping would hide a wrong column (hours instead of degrees, or a swapped ra/dec).
  A source that really means ``[-180, 180)`` should convert (``ra % 360``) where it reads them.
* **Labels must be non-empty strings without** ``";"``: merged objects list every label in one
  ``labels`` column joined by :data:`LABEL_SEPARATOR` (``"; "``), which must stay splittable.
  A label holds at most :data:`MAX_LABEL_CHARS` characters on one line: ``sample.ecsv`` holds one
  object per line, and its string columns are as wide as their longest value (one 8,000-character
  label in 100,000 rows took 9.4 GB to write).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mwlc.errors import SampleError

#: Columns every raw sample frame must have.
REQUIRED_COLUMNS = ("ra", "dec", "label", "origin")

#: Joins the distinct labels of a merged object in the ``labels`` column.
LABEL_SEPARATOR = "; "

#: Longest label accepted, in characters (object names and paper labels are under 50).
MAX_LABEL_CHARS = 200

#: How many offending rows an error message lists per reason before "and N more".
MAX_LISTED_ROWS = 10


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...] = REQUIRED_COLUMNS) -> None:
    """Raise :class:`~mwlc.errors.SampleError` naming each of ``columns`` missing from ``frame``."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise SampleError(
            f"sample rows lack column(s) {', '.join(missing)}; "
            f"expected {', '.join(columns)}, got {', '.join(map(str, frame.columns)) or 'none'}"
        )


def validate_positions(frame: pd.DataFrame) -> None:
    """Reject rows with unusable coordinates or labels.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw rows with columns ``ra``, ``dec`` (degrees, ICRS), ``label``, ``origin``.

    Raises
    ------
    mwlc.errors.SampleError
        If a column is missing, or any row has a non-finite ``ra``/``dec``, ``ra`` outside
        ``[0, 360)`` degrees, ``dec`` outside ``[-90, 90]`` degrees, or a missing, empty or
        ``";"``-containing label. The message has one block per reason listing the first
        :data:`MAX_LISTED_ROWS` offending rows by ``origin``, then "and N more".
    """
    require_columns(frame)
    origins = frame["origin"].to_numpy(dtype=object)
    checks = _position_checks(frame) + _label_checks(frame)
    blocks = [_describe(mask, origins, what, hint) for mask, what, hint in checks if mask.any()]
    if blocks:
        raise SampleError("invalid sample rows:\n" + "\n".join(blocks))


#: One check: (mask of offending rows, row index -> what is wrong, hint printed once or "").
Check = tuple[np.ndarray, Callable[[int], str], str]


def _position_checks(frame: pd.DataFrame) -> list[Check]:
    """Checks of ``ra`` and ``dec``: finite numbers, ra in [0, 360), dec in [-90, 90] degrees."""
    raw_ra, raw_dec = frame["ra"].to_numpy(dtype=object), frame["dec"].to_numpy(dtype=object)
    ra = pd.to_numeric(frame["ra"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    dec = pd.to_numeric(frame["dec"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return [
        (~np.isfinite(ra), lambda i: f"ra = {_show(raw_ra[i])} is not a finite number", ""),
        (~np.isfinite(dec), lambda i: f"dec = {_show(raw_dec[i])} is not a finite number", ""),
        (
            np.isfinite(ra) & ((ra < 0) | (ra >= 360)),
            lambda i: f"ra = {_show(ra[i])} is outside [0, 360) degrees",
            "right ascension is not wrapped: convert it in the source, e.g. ra % 360",
        ),
        (
            np.isfinite(dec) & (np.abs(dec) > 90),
            lambda i: f"dec = {_show(dec[i])} is outside [-90, 90] degrees",
            "",
        ),
    ]


def _label_checks(frame: pd.DataFrame) -> list[Check]:
    """Checks of ``label``: a string, not blank, short, on one line, without the reserved ``";"``.

    Works on Python strings, never on a fixed-width numpy array, whose size would be the row
    count times the longest label.
    """
    labels = frame["label"].to_numpy(dtype=object)
    present = np.fromiter((isinstance(v, str) for v in labels), dtype=bool, count=len(labels))
    text = pd.Series(np.where(present, labels, ""), dtype=object)
    length = text.str.len().to_numpy()
    blank = present & (text.str.strip() == "").to_numpy()
    too_long = length > MAX_LABEL_CHARS
    # str.splitlines' line boundaries: \n, \r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029.
    line_break = np.fromiter((v.splitlines() != [v] for v in text), dtype=bool, count=len(text))
    return [
        (~present, lambda i: f"label is missing (got {_show(labels[i])})", ""),
        (blank, lambda i: "label is empty", ""),
        (
            too_long,
            lambda i: f"label {text[i][:40]!r}... has {length[i]:,} characters",
            f"labels hold at most {MAX_LABEL_CHARS} characters: use a name, not a description",
        ),
        (
            present & ~blank & ~too_long & line_break,
            lambda i: f"label {text[i]!r} contains a line break",
            "sample.ecsv holds one object per line: join the label's lines in the source or the config",
        ),
        (
            ~too_long & text.str.contains(";", regex=False).to_numpy(),
            lambda i: f"label {text[i]!r} contains ';'",
            f"';' is reserved: merged labels are joined by {LABEL_SEPARATOR!r} in 'labels'",
        ),
    ]


def check_not_empty(frame: pd.DataFrame, sources_description: str) -> None:
    """Stop the run when no source returned any object.

    Parameters
    ----------
    frame : pandas.DataFrame
        The concatenated raw rows.
    sources_description : str
        Human-readable list of the configured sources, e.g. ``"sdss (num=0), file data/x.csv"``.

    Raises
    ------
    mwlc.errors.SampleError
        If ``frame`` has no rows. An empty sample would give empty light curves for every
        archive; it is almost always a configuration or service problem.
    """
    if len(frame) == 0:
        raise SampleError(
            f"the sample is empty: sources {sources_description} returned no objects; "
            "check the sample section of the config (queries, file paths, limits)"
        )


def _describe(mask: np.ndarray, origins: np.ndarray, what: Callable[[int], str], hint: str) -> str:
    """One message block: the first offending rows by origin, "and N more", then ``hint``."""
    rows = np.flatnonzero(mask)
    lines = [f'sample row "{origins[i]}": {what(i)}' for i in rows[:MAX_LISTED_ROWS]]
    if len(rows) > MAX_LISTED_ROWS:
        lines.append(f"and {len(rows) - MAX_LISTED_ROWS} more rows with this problem")
    if hint:
        lines.append(f"({hint})")
    return "\n".join(lines)


def _show(value: object) -> str:
    """``value`` as a user would write it: ``95.0``, ``nan``, ``'abc'`` (no numpy type names)."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return repr(int(value))
    return repr(value)
