"""HEASARC preflight: the tables and columns the fetch reads, from the TAP service or the copies.

A TAP service is asked for the columns of the configured tables (``TAP_SCHEMA.columns``, one
small sync query); a directory of local copies has each ``<table>.parquet`` schema read. Either
way, a missing table or column, or a column whose values are not numbers, is a problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mwlc.archives._preflight import Finding, check_columns
from mwlc.archives._tap import TapClient
from mwlc.archives.descriptors.heasarc import ARCHIVE
from mwlc.archives.heasarc.catalogs import Catalog, parse_catalogs
from mwlc.archives.heasarc.local import local_path
from mwlc.errors import ArchiveError, ConfigError
from mwlc.net import RetryPolicy

#: TAP_SCHEMA datatypes (VODataService and ADQL spellings, lower case) of number columns.
NUMBER_DATATYPES = frozenset(
    {"double", "float", "real", "double precision", "int", "integer", "long", "bigint", "short", "smallint"}
)


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """The configured tables and their columns at ``source``: one finding per problem.

    Parameters
    ----------
    source : str
        A TAP service URL, or a directory of ``<table>.parquet`` copies.
    params : mapping
        The archive's parameters (``catalogs``, and ``timeout_s``, ``retries``,
        ``retry_backoff_s`` for the TAP query).
    storage_options : dict, optional
        Unused (HEASARC is read over HTTP or from local files).
    """
    name = ARCHIVE.name
    try:
        catalogs = parse_catalogs(params.get("catalogs"))
    except ConfigError as err:
        return [Finding(name, source, "at least one table to query", str(err))]
    if str(source).startswith(("http://", "https://")):
        return _tap_findings(str(source), catalogs, ARCHIVE.retry_policy(params))
    directory = Path(source)
    if not directory.is_dir():
        return [
            Finding(name, source, "an http(s) TAP URL or a directory of <table>.parquet copies", "neither")
        ]
    findings = []
    for catalog in catalogs:
        try:
            path = local_path(directory, catalog)
        except ArchiveError as err:
            findings.append(Finding(name, source, f"a copy of table {catalog.table}", str(err)))
            continue
        kinds = {column: "number" for column in catalog.columns}
        findings += check_columns(pq.read_schema(path), kinds, archive=name, source=str(path))
    return findings


def columns_query(tables: list[str]) -> str:
    """ADQL listing the columns of ``tables`` (each as given and in lower case) in ``TAP_SCHEMA``."""
    names = sorted({spelling for table in tables for spelling in (table, table.lower())})
    quoted = ", ".join(f"'{table}'" for table in names)
    return f"SELECT table_name, column_name, datatype FROM TAP_SCHEMA.columns WHERE table_name IN ({quoted})"


def _tap_findings(url: str, catalogs: list[Catalog], policy: RetryPolicy) -> list[Finding]:
    name = ARCHIVE.name
    client = TapClient(url.rstrip("/"), policy, service_name="HEASARC TAP")
    try:
        listed = client.run_upload(columns_query([c.table for c in catalogs]), None, what="preflight")
    except ArchiveError as err:
        return [Finding(name, url, "the TAP service answering a TAP_SCHEMA.columns query", str(err))]
    columns: dict[str, dict[str, str]] = {}
    for row in listed:
        table, column, datatype = (str(row[key]) for key in ("table_name", "column_name", "datatype"))
        columns.setdefault(table.lower(), {})[column.lower()] = datatype.lower()
    findings = []
    for catalog in catalogs:
        have = columns.get(catalog.table.lower())
        if have is None:
            findings.append(
                Finding(name, url, f"table {catalog.table} in TAP_SCHEMA.columns", "no such table")
            )
            continue
        for column in catalog.columns:
            wanted = f"column {catalog.table}.{column} (number values)"
            if column not in have:
                findings.append(
                    Finding(name, url, wanted, f"no such column (there: {', '.join(sorted(have))})")
                )
            elif have[column] not in NUMBER_DATATYPES:
                findings.append(
                    Finding(name, url, wanted, f"{catalog.table}.{column} of datatype {have[column]}")
                )
    return findings
