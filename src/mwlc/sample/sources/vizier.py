"""Source ``vizier``: rows of a VizieR catalog table, filtered by VizieR and again here.

The query is astroquery's ``Vizier(...).get_catalogs(catalog)``: a POST to
``https://<vizier host>/viz-bin/votable`` with ``-source=<catalog>``, ``-out.max=unlimited``
(``row_limit=-1``), ``-out=*`` and one ``<column>=<constraint>`` line per filter (VizieR's
constraint syntax: ``>3``, ``<=1.5``, ``0..2``, ``=CLQ``, ``*CLQ*``...). VizieR answers the
computed position columns ``_RA``/``_DE`` (deg, ICRS) alongside the catalog's own.

The filters are not only trusted to VizieR: each is applied again to the answered rows
(:mod:`mwlc.sample.sources._constraints`), so a service or mirror that ignores a constraint
(e.g. on a column whose name it spells differently, as ``CLQ?``) cannot widen the sample. A
filter on a column the answer lacks is an error, since it cannot be checked.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from mwlc.errors import SampleError
from mwlc.net import call_with_retries, harden_session

from ._common import (
    Services,
    SourceKind,
    astroquery_no_cache,
    check_type,
    empty_frame,
    https_host,
    log_source,
    make_frame,
    text_values,
)
from ._constraints import constraint_mask, find_column

#: An SDSS-style name: J HHMMSS.ss +DDMMSS.s (seconds with any number of decimals).
SDSS_NAME = re.compile(r"J?(\d{2})(\d{2})(\d{2}(?:\.\d*)?)\s*([+-])(\d{2})(\d{2})(\d{2}(?:\.\d*)?)")


def parse_sdss_name(name: str) -> tuple[float, float]:
    """(ra, dec) in degrees from an SDSS-style name ``[SDSS ]JHHMMSS.ss+DDMMSS.s``; NaN if none.

    SDSS names truncate the position, so the result is within 0.01 s of time / 0.1 arcsec of
    the catalog position.
    """
    match = SDSS_NAME.search(name or "")
    if not match:
        return float("nan"), float("nan")
    hh, mm, ss, sign, dd, am, asec = match.groups()
    ra = 15.0 * (int(hh) + int(mm) / 60 + float(ss) / 3600)
    dec = int(dd) + int(am) / 60 + float(asec) / 3600
    return ra, -dec if sign == "-" else dec


def _check(spec: dict[str, Any]) -> None:
    what = "source 'vizier'"
    check_type(spec["catalog"], str, key="catalog", what=what, expected="a catalog id string")
    check_type(spec["label"], str, key="label", what=what, expected="a string")
    check_type(spec["table"], (int, str), key="table", what=what, expected="a table index or name")
    for key in ("filters", "contains"):
        value = spec[key]
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise SampleError(f"{what}: key {key!r} must map column names to strings, got {value!r}")


def _pick_table(tables: Any, choice: int | str, catalog: str) -> Any:
    names = list(tables.keys())
    if isinstance(choice, int):
        if choice >= len(names) or choice < 0:
            raise SampleError(
                f"source 'vizier' catalog {catalog!r}: table {choice} requested "
                f"but VizieR answered {len(names)} table(s) with rows: {names}"
            )
        return names[choice], tables[choice]
    for name in names:
        if name == choice or name.endswith("/" + choice):
            return name, tables[name]
    raise SampleError(
        f"source 'vizier' catalog {catalog!r}: no table {choice!r} in VizieR's "
        f"answer; tables with rows: {names}"
    )


def _require(table: Any, column: str, key: str, name: str) -> Any:
    if column not in table.colnames:
        raise SampleError(
            f"source 'vizier' table {name!r}: no column {column!r} (key {key!r}); "
            f"available columns: {', '.join(table.colnames)}"
        )
    return table[column]


def _contains_mask(table: Any, contains: dict[str, str], name: str) -> np.ndarray:
    keep = np.ones(len(table), dtype=bool)
    for column, text in contains.items():
        values = text_values(_require(table, column, "contains", name))
        keep &= np.array([text in v for v in values], dtype=bool)
    return keep


def _filters_mask(table: Any, filters: dict[str, str], name: str) -> np.ndarray:
    """Rows of ``table`` that satisfy every filter (the constraints sent to VizieR)."""
    keep = np.ones(len(table), dtype=bool)
    for column, constraint in filters.items():
        found = find_column(table, column)
        if found is None:
            raise SampleError(
                f"source 'vizier' table {name!r}: filter on column {column!r} cannot be checked, the "
                f"answer has no such column; available columns: {', '.join(table.colnames)}"
            )
        keep &= constraint_mask(
            table[found], constraint, what=f"source 'vizier' table {name!r} column {column!r}"
        )
    return keep


def query_catalog(spec: dict[str, Any], services: Services) -> Any:
    """VizieR's answer (astroquery TableList) for the spec's catalog and filters, with retries."""
    from astroquery.vizier import Vizier

    host = https_host(services, "vizier_url")
    timeout = services.policy.timeout_s

    def run() -> Any:
        client = Vizier(
            columns=["*"],
            column_filters=dict(spec["filters"]),
            row_limit=-1,
            timeout=timeout,
            vizier_server=host,
        )
        harden_session(client._session, timeout)
        with astroquery_no_cache():
            return client.get_catalogs(spec["catalog"])

    return call_with_retries(
        run,
        service=f"VizieR (catalog {spec['catalog']})",
        url=f"https://{host}/viz-bin/votable",
        policy=services.policy,
    )


def fetch_vizier(spec: dict[str, Any], services: Services) -> pd.DataFrame:
    """Positions from one table of a VizieR catalog.

    Parameters
    ----------
    spec : dict
        ``catalog`` (e.g. ``J/ApJ/874/8/table2``), ``table`` (index among the answered tables
        that have rows, or a table name; default 0), ``filters`` (column -> VizieR constraint,
        sent to VizieR and applied again to its answer), ``contains`` (column -> substring,
        applied here), ``ra_column`` /
        ``dec_column`` (default ``_RA``/``_DE``, deg), ``name_column`` (parse positions from an
        SDSS-style ``JHHMMSS.ss+DDMMSS.s`` name instead), ``label``.
    services : Services
        ``vizier_url``: ``https://<host>`` of the VizieR mirror.

    Returns
    -------
    pandas.DataFrame
        ``ra``, ``dec`` (deg), ``label``, ``origin`` = ``"vizier <table> row <n>"`` (n 1-based in
        VizieR's answer), plus ``(<name>)`` when ``name_column`` is used.
    """
    _check(spec)
    asked = spec["catalog"] + "".join(f" {k}{v}" for k, v in spec["filters"].items())
    tables = query_catalog(spec, services)
    if len(tables) == 0:  # no table with rows: nothing matched the filters
        return log_source("vizier", asked, empty_frame())
    name, table = _pick_table(tables, spec["table"], spec["catalog"])
    keep = np.flatnonzero(
        _filters_mask(table, spec["filters"], name) & _contains_mask(table, spec["contains"], name)
    )
    ra, dec, notes = _positions(table, spec, name)
    origins = [f"vizier {name} row {i + 1}{notes[i]}" for i in keep]
    return log_source("vizier", asked, make_frame(ra[keep], dec[keep], spec["label"], origins))


def _positions(table: Any, spec: dict[str, Any], name: str) -> tuple[Any, Any, list[str]]:
    """ra, dec (deg) of every row, and a note per row for the origin (the parsed name)."""
    if spec["name_column"]:
        names = text_values(_require(table, spec["name_column"], "name_column", name))
        pairs = [parse_sdss_name(n) for n in names]
        ra = np.array([p[0] for p in pairs], dtype=float)
        dec = np.array([p[1] for p in pairs], dtype=float)
        return ra, dec, [f" ({n})" for n in names]
    ra = _require(table, spec["ra_column"], "ra_column", name)
    dec = _require(table, spec["dec_column"], "dec_column", name)
    as_float = [np.ma.filled(np.ma.asarray(c, dtype=float), np.nan) for c in (ra, dec)]
    return as_float[0], as_float[1], [""] * len(table)


KIND = SourceKind(
    name="vizier",
    fetch=fetch_vizier,
    required=("catalog", "label"),
    optional={
        "table": 0,
        "filters": {},
        "contains": {},
        "ra_column": "_RA",
        "dec_column": "_DE",
        "name_column": None,
    },
)
