"""VOTable documents the fakes answer: TAP results, TAP errors, multi-table VizieR answers."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from astropy.io.votable import from_table
from astropy.io.votable.tree import Info, Resource, VOTableFile
from astropy.table import Table


def _bytes(vot: VOTableFile) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd column names ("CLQ?") are allowed, just noted
        vot.to_xml(out)
    return out.getvalue()


def _table_element(table: Table, *, name: str | None = None, ID: str | None = None) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        element = from_table(table).resources[0].tables[0]
    if name is not None:
        element.name = name
    if ID is not None:
        element.ID = ID
    return element


def tap_result(table: Table, *, overflow: bool = False) -> bytes:
    """A TAP sync answer: ``RESOURCE type="results"`` with ``QUERY_STATUS`` OK (or OVERFLOW)."""
    vot = VOTableFile()
    resource = Resource(type="results")
    resource.infos.append(Info(name="QUERY_STATUS", value="OVERFLOW" if overflow else "OK"))
    resource.tables.append(_table_element(table, name="result_S0"))
    vot.resources.append(resource)
    return _bytes(vot)


def tap_error(message: str) -> bytes:
    """A TAP error document (``QUERY_STATUS`` = ERROR with the message)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
        ' <RESOURCE type="results">\n'
        f'  <INFO name="QUERY_STATUS" value="ERROR">{escape(message)}</INFO>\n'
        " </RESOURCE>\n</VOTABLE>\n"
    ).encode()


def vizier_answer(
    catalogs: Sequence[tuple[str, str, Sequence[tuple[str, Table]]]], query_parameters: str
) -> bytes:
    """A VizieR ``viz-bin/votable`` answer.

    Parameters
    ----------
    catalogs : sequence of (catalog id, description, [(table name, table), ...])
        One RESOURCE per catalog (``name`` = catalog id, ``ID`` = yCat-like), one TABLE per
        table (``name`` = full table name such as ``J/ApJ/874/8/table2``).
    query_parameters : str
        Echoed in an INFO, as VizieR does.
    """
    vot = VOTableFile()
    info = Info(name="queryParameters", value=str(len(query_parameters.splitlines())))
    info.content = query_parameters
    vot.infos.append(info)
    for catalog, description, tables in catalogs:
        resource = Resource(name=catalog, ID="yCat_" + catalog.replace("/", "_"))
        resource.description = description
        for table_name, table in tables:
            resource.tables.append(_table_element(table, name=table_name, ID=table_name.replace("/", "_")))
        vot.resources.append(resource)
    return _bytes(vot)


def attr(value: object) -> str:
    """An XML attribute value, quoted."""
    return quoteattr(str(value))
