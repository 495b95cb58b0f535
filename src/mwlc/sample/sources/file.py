"""Source ``file``: positions from a local CSV, ECSV or Parquet file."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord
from astropy.table import Table

from mwlc.errors import SampleError

from ._common import (
    Services,
    SourceKind,
    check_type,
    log_source,
    make_frame,
    text_values,
)

log = logging.getLogger(__name__)

#: File formats by name, and the suffixes that select them.
FORMATS = {"csv": (".csv", ".csv.gz"), "ecsv": (".ecsv", ".ecsv.gz"), "parquet": (".parquet", ".pq")}


def _format_of(path: Path, fmt: str | None, what: str) -> str:
    if fmt is not None:
        if fmt.lower() not in FORMATS:
            raise SampleError(f"{what}: unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
        return fmt.lower()
    name = path.name.lower()
    for known, suffixes in FORMATS.items():
        if name.endswith(suffixes):
            return known
    raise SampleError(
        f"{what}: cannot tell the format of {str(path)!r} from its extension; "
        f"use one of {', '.join(s for v in FORMATS.values() for s in v)} "
        f"or set 'format' to one of {', '.join(FORMATS)}"
    )


def _looks_binary(path: Path) -> bool:
    """A text table with NUL bytes near the start is UTF-16/32 or not text at all."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff"))


def read_table(path: Path, fmt: str, what: str) -> Table:
    """Read ``path`` as ``fmt`` into an astropy Table, or raise SampleError naming the file."""
    if not path.is_file():
        raise SampleError(f"{what}: file {str(path)!r} not found (working directory {Path.cwd()})")
    if fmt != "parquet" and not str(path).endswith(".gz") and _looks_binary(path):
        raise SampleError(
            f"{what}: {str(path)!r} is not a UTF-8 text {fmt.upper()} file (it "
            f"holds NUL bytes: UTF-16, or binary data); save it as UTF-8"
        )
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return Table.from_pandas(pq.read_table(path).to_pandas())
        table = Table.read(path, format="ascii.csv" if fmt == "csv" else "ascii.ecsv")
    except Exception as exc:
        raise SampleError(
            f"{what}: cannot read {str(path)!r} as {fmt.upper()}: {type(exc).__name__}: {exc}"
        ) from exc
    if table.colnames and table.colnames[0].startswith("\ufeff"):  # a UTF-8 byte-order mark (Excel)
        table.rename_column(table.colnames[0], table.colnames[0].removeprefix("\ufeff"))
    return table


def _missing(path: str, table: Table, column: str, key: str) -> SampleError:
    return SampleError(
        f"file {path!r}: no column {column!r} (key {key!r}); available columns: {', '.join(table.colnames)}"
    )


def _is_skycoord(table: Table, name: str) -> bool:
    return name in table.colnames and isinstance(table[name], SkyCoord)


def _to_icrs(ra: Any, dec: Any, frame: str, unit: Any, path: str) -> tuple[Any, Any]:
    """Convert columns in ``frame``/``unit`` (e.g. sexagesimal strings) to ICRS degrees."""
    try:
        coord = SkyCoord(ra, dec, frame=frame, unit=unit).icrs
        return coord.ra.deg, coord.dec.deg
    except Exception as first:
        for i, (r, d) in enumerate(zip(ra, dec, strict=True), start=1):
            try:
                SkyCoord(r, d, frame=frame, unit=unit)
            except Exception as exc:
                raise SampleError(
                    f"file {path!r} row {i}: cannot read ({r!r}, {d!r}) as a "
                    f"{frame} position in {unit}: {exc}"
                ) from exc
        raise SampleError(
            f"file {path!r}: cannot convert positions from {frame} in {unit}: {first}"
        ) from first


def _positions(table: Table, spec: dict[str, Any], path: str) -> tuple[Any, Any]:
    """ra, dec in degrees ICRS, from ra/dec columns or from a SkyCoord column."""
    ra_col, dec_col, coord_col = spec["ra_column"], spec["dec_column"], spec["coord_column"]
    has_radec = ra_col in table.colnames and dec_col in table.colnames
    if coord_col is not None or (not has_radec and _is_skycoord(table, "coord")):
        name = coord_col or "coord"
        if not _is_skycoord(table, name):
            raise SampleError(
                f"file {path!r}: column {name!r} (key 'coord_column') is not a "
                f"SkyCoord column; available columns: {', '.join(table.colnames)}"
            )
        icrs = table[name].icrs
        return icrs.ra.deg, icrs.dec.deg
    for col, key in ((ra_col, "ra_column"), (dec_col, "dec_column")):
        if col not in table.colnames:
            raise _missing(path, table, col, key)
    ra, dec = table[ra_col], table[dec_col]
    frame, unit = spec["frame"], spec["unit"]
    if ra.unit is not None or dec.unit is not None:  # units the file declares (ECSV)
        axes = zip((ra, dec), _axis_units(unit), KEYS, strict=True)
        ra, dec = (_declared_degrees(column, configured, key, path) for column, configured, key in axes)
        unit = "deg"
    numeric = ra.dtype.kind in "iuf" and dec.dtype.kind in "iuf"
    if numeric and frame.lower() == "icrs" and unit == "deg":
        _warn_if_hours(np.asarray(ra, dtype=float), path)
        return ra, dec
    ra_values, dec_values = text_or_numbers(ra), text_or_numbers(dec)
    if not numeric and unit == "deg":
        _refuse_sexagesimal_degrees(ra_values, path, ra_col)
    return _to_icrs(ra_values, dec_values, frame, unit, path)


#: The config keys naming the RA and Dec columns.
KEYS = ("ra_column", "dec_column")
#: A sexagesimal value without unit letters: ``10:20:30.5`` or ``10 20 30.5``.
_SEXAGESIMAL = re.compile(r"^[+-]?\d+(?::|\s+)\d+(?:(?::|\s+)\d+(?:\.\d*)?)?$")


def _axis_units(unit: Any) -> tuple[str, str]:
    """The configured ``unit`` as (RA unit, Dec unit): ``deg``, ``[hourangle, deg]``, ``"hourangle,deg"``."""
    units = [str(x).strip() for x in (unit if isinstance(unit, (list, tuple)) else str(unit).split(","))]
    return (units[0], units[0]) if len(units) == 1 else (units[0], units[1])


def _declared_degrees(column: Any, configured: str, key: str, path: str) -> np.ndarray:
    """A column whose unit the file declares, in degrees; refused when that unit is not an angle
    or contradicts a ``unit`` set in the config (the default ``deg`` defers to the file)."""
    declared = column.unit
    if declared is None:
        raise SampleError(
            f"file {path!r}: column {column.name!r} ({key}) has no unit while the other one has"
        )
    if not declared.is_equivalent(u.deg):
        raise SampleError(f"file {path!r}: column {column.name!r} ({key}) is in {declared}, not an angle")
    if configured != "deg" and u.Unit(configured) != declared:
        raise SampleError(
            f"file {path!r}: column {column.name!r} ({key}) is declared in {declared} in the file, but key "
            f"'unit' says {configured}: remove 'unit' or make it agree"
        )
    values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    return (values * declared).to_value(u.deg)


def _refuse_sexagesimal_degrees(ra_text: Any, path: str, column: str) -> None:
    """Sexagesimal RA read with the default unit ``deg`` would be hours taken as degrees."""
    for i, value in enumerate(ra_text, start=1):
        if isinstance(value, str) and _SEXAGESIMAL.match(value.strip()):
            raise SampleError(
                f"file {path!r} row {i}: ra {value!r} (column {column!r}) is sexagesimal and key 'unit' is "
                "deg: set unit: [hourangle, deg] for hours (the usual), or [deg, deg] if it is degrees"
            )


def _warn_if_hours(ra_deg: np.ndarray, path: str) -> None:
    """Say so when every right ascension of a file is below 24: hours given as degrees?"""
    finite = ra_deg[np.isfinite(ra_deg)]
    if len(finite) >= 10 and finite.max() < 24:
        log.warning(
            "file %s: all %d right ascensions are below 24 deg: if they are hours, set unit: "
            "[hourangle, deg] (read as degrees)",
            path,
            len(finite),
        )


def text_or_numbers(column: Any) -> Any:
    """Numbers stay numbers (float, NaN for masked); anything else becomes stripped text."""
    if column.dtype.kind in "iuf":
        return np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    return text_values(column)


def _labels(table: Table, spec: dict[str, Any], path: str) -> str | list[str]:
    if spec["label"] is not None:
        return check_type(spec["label"], str, key="label", what=f"file {path!r}", expected="a string")
    column = spec["label_column"]
    if column not in table.colnames:
        raise SampleError(
            f"file {path!r}: no column {column!r} (key 'label_column'); "
            f"available columns: {', '.join(table.colnames)}; or give a fixed "
            f"'label'"
        )
    return text_values(table[column])


def fetch_file(spec: dict[str, Any], services: Services) -> pd.DataFrame:
    """Positions from a local table file.

    Parameters
    ----------
    spec : dict
        ``path`` (CSV, ECSV or Parquet, by extension or ``format``), ``ra_column`` and
        ``dec_column`` (default ``ra``/``dec``, degrees unless ``unit`` says otherwise),
        ``coord_column`` (a SkyCoord column, e.g. the ``coord`` of an ECSV written by astropy;
        used automatically when ra/dec columns are absent), ``frame`` (default ``icrs``; other
        frames are converted to ICRS), ``unit`` (default ``deg``; e.g. ``[hourangle, deg]`` for
        sexagesimal strings), and ``label`` (fixed string) or ``label_column`` (default
        ``label``).
    services : Services
        Unused (local file).

    Returns
    -------
    pandas.DataFrame
        ``ra``, ``dec`` (deg, ICRS), ``label``, ``origin`` = ``"file <path> row <n>"`` with n the
        1-based data row.
    """
    path = str(_check_path(spec))
    table = read_table(Path(path), _format_of(Path(path), spec["format"], f"file {path!r}"), "source 'file'")
    ra, dec = _positions(table, spec, path)
    labels = _labels(table, spec, path)
    origins = [f"file {path} row {i}" for i in range(1, len(table) + 1)]
    return log_source("file", path, make_frame(ra, dec, labels, origins))


def _check_path(spec: dict[str, Any]) -> str | Path:
    return check_type(spec["path"], (str, Path), key="path", what="source 'file'", expected="a file path")


KIND = SourceKind(
    name="file",
    fetch=fetch_file,
    check=_check_path,
    required=("path",),
    optional={
        "format": None,
        "ra_column": "ra",
        "dec_column": "dec",
        "coord_column": None,
        "label": None,
        "label_column": "label",
        "frame": "icrs",
        "unit": "deg",
    },
)
