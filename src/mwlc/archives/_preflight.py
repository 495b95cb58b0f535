"""Checks a reader's ``preflight`` makes: open a source as ``fetch`` does, read no light curve.

Each check returns :class:`Finding` objects, one per problem (the fetch would fail, or give wrong
rows) or note (it would work differently than usual, e.g. without a margin catalog); nothing is
raised for a source that is merely broken, so one run reports every problem at once.
:mod:`mwlc.preflight` runs the readers' ``preflight`` for a whole config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from mwlc.errors import ArchiveError, ConfigError
from mwlc.joblog import redact
from mwlc.net import RetryPolicy

if TYPE_CHECKING:
    from mwlc.archives._hats import HatsCatalog


@dataclass(frozen=True)
class Finding:
    """One result of a preflight: what was expected of a source and what was found.

    Attributes
    ----------
    archive : str
        The archive (canonical name).
    source : str
        The source checked (a URI, a path, a URL).
    expected : str
        What the fetch needs, e.g. ``"column lightcurve.hmjd (number values)"``.
    found : str
        What is there instead.
    problem : bool, default True
        True if the fetch would fail or give wrong rows; False for a note.
    """

    archive: str
    source: str
    expected: str
    found: str
    problem: bool = True

    def line(self) -> str:
        """One line: ``archive: source: [note: ]expected ...; found ...`` (credentials masked)."""
        note = "" if self.problem else "note: "
        return redact(f"{self.archive}: {self.source}: {note}expected {self.expected}; found {self.found}")


def note(archive: str, source: str, expected: str, found: str) -> Finding:
    """A finding that is no problem."""
    return Finding(archive, source, expected, found, problem=False)


#: What a column's values may be: kind -> test of an Arrow type.
KINDS: dict[str, Callable[[pa.DataType], bool]] = {
    "integer": pa.types.is_integer,
    "number": lambda kind: pa.types.is_integer(kind) or pa.types.is_floating(kind),
    "boolean": pa.types.is_boolean,
    "string": lambda kind: pa.types.is_string(kind) or pa.types.is_large_string(kind),
}


def _unlisted(kind: pa.DataType) -> pa.DataType:
    while pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return kind


def leaf_type(schema: pa.Schema, column: str) -> tuple[pa.DataType | None, list[str]]:
    """The type of column ``a`` or nested field ``a.b``, and the names beside it.

    A nested field's values are what its lists hold (struct of lists or list of structs alike);
    a top-level column's type is its own.

    Returns
    -------
    (pyarrow.DataType or None, list of str)
        The type (None if there is no such column), and the column names at the level where the
        name was looked for.
    """
    name, _, rest = column.partition(".")
    if name not in schema.names:
        return None, list(schema.names)
    kind = schema.field(name).type
    for part in rest.split(".") if rest else []:
        kind = _unlisted(kind)
        names = [kind.field(i).name for i in range(kind.num_fields)] if pa.types.is_struct(kind) else []
        if part not in names:
            return None, names
        kind = kind.field(part).type
    return (_unlisted(kind) if rest else kind), []


def check_columns(
    schema: pa.Schema, expected: Mapping[str, str], *, archive: str, source: str
) -> list[Finding]:
    """One finding per column of ``expected`` (name -> kind of :data:`KINDS`) missing or of another kind."""
    findings = []
    for column, kind in expected.items():
        found, beside = leaf_type(schema, column)
        wanted = f"column {column} ({kind} values)"
        if found is None:
            findings.append(Finding(archive, source, wanted, f"no such column (there: {', '.join(beside)})"))
        elif not KINDS[kind](found):
            findings.append(Finding(archive, source, wanted, f"{column} of type {found}"))
    return findings


def check_hats(
    uri: str,
    *,
    archive: str,
    label: str,
    columns: Mapping[str, str],
    storage_options: dict | None = None,
    radius_arcsec: float | None = None,
) -> tuple[HatsCatalog | None, list[Finding]]:
    """Open a HATS collection as the partition reader does; check its columns, margin and radius.

    Parameters
    ----------
    uri : str
        The collection (or bare catalog).
    archive : str
        The archive, for the findings.
    label : str
        What the catalog is, for messages (e.g. ``"Pan-STARRS otmo"``).
    columns : mapping
        Columns the fetch reads -> kind of values (the position columns are added).
    storage_options : dict, optional
        fsspec options for ``s3://``.
    radius_arcsec : float, optional
        The match radius: checked against the margin. None: the margin is not used (no note).

    Returns
    -------
    (HatsCatalog or None, list of Finding)
        The catalog (None if it cannot be opened) and the findings; a catalog without a margin
        is a note, not a problem (the reader then reads neighbouring partitions).
    """
    from mwlc.archives import _hats

    try:
        catalog = _hats.open_catalog(uri, archive=label, storage_options=storage_options)
    except ArchiveError as err:
        return None, [Finding(archive, uri, f"a HATS collection or catalog ({label})", str(err))]
    positions = {catalog.ra_column: "number", catalog.dec_column: "number"}
    findings = check_columns(catalog.schema, {**positions, **columns}, archive=archive, source=uri)
    if radius_arcsec is None:
        return catalog, findings
    if not catalog.has_margin:
        findings.append(
            note(
                archive,
                uri,
                f"a margin catalog ({label})",
                "none: each partition is read with its neighbours instead (the same rows, more reads)",
            )
        )
    else:
        try:
            catalog.check_radius(radius_arcsec)
        except ConfigError as err:
            findings.append(Finding(archive, uri, "radius_arcsec within the margin", str(err)))
    return catalog, findings


def check_answers(url: str, *, archive: str, source: str, policy: RetryPolicy, what: str) -> list[Finding]:
    """One finding if ``GET url`` does not answer (connection, timeout, 5xx) after the policy's retries.

    Any answer below 500 counts: the service is up (a base URL may well answer 404 or 400).
    """
    from mwlc.net import call_with_retries, new_session

    session = new_session(policy.timeout_s)

    def get() -> None:
        session.get(url, timeout=policy.timeout_s).close()

    try:
        call_with_retries(get, service=f"{archive} preflight", url=url, policy=policy)
    except ArchiveError as err:
        return [Finding(archive, source, f"{what} answering at {url}", str(err))]
    finally:
        session.close()
    return []
