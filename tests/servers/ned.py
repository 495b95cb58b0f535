"""A fake NED object search (what ``astroquery.ipac.ned.Ned.query_refcode`` calls).

``GET /cgi-bin/objsearch?search_type=Search&refcode=<refcode>&of=xml_main&...`` answers NED's
main-table VOTable (``TABLE ID="NED_MainTable"``, fields ``main_col1..17``) with the current
column names ``No., Object Name, RA, DEC, Type, Velocity, Redshift, Redshift Flag, Magnitude and
Filter, Separation, References, Notes, Photometry Points, Positions, Redshift Points, Diameter
Points, Associations`` (RA/DEC in degrees). ``legacy`` refcodes use the older header
(``RA(deg)``, ``DEC(deg)``, ``Distance (arcmin)``). Objects come in RA order when the request
asks for it (``obj_sort=RA or Longitude``, as astroquery does), else in the fixture's order. An
unknown refcode gets NED's error document (``PARAM name="Error"``), which astroquery turns into
``RemoteServiceError``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from astropy.table import Table

from .base import Request, Response
from .votable import attr

C_KM_S = 299_792.458

#: (name, datatype, unit, ucd) of NED's main table, current header.
FIELDS = [
    ("No.", "int", None, "meta.number"),
    ("Object Name", "char", None, "meta.id;meta.main"),
    ("RA", "double", "degrees", "pos.eq.ra;meta.main"),
    ("DEC", "double", "degrees", "pos.eq.dec;meta.main"),
    ("Type", "char", None, "src.class"),
    ("Velocity", "double", "km/sec", "src.veloc.hc"),
    ("Redshift", "double", None, "src.redshift"),
    ("Redshift Flag", "char", None, "meta.code;src.redshift"),
    ("Magnitude and Filter", "char", None, "meta.code;src.magnitude"),
    ("Separation", "double", "arcmin", "pos.distance"),
    ("References", "int", None, "meta.bib;meta.number"),
    ("Notes", "int", None, "meta.note;meta.number"),
    ("Photometry Points", "int", None, "phot;meta.number"),
    ("Positions", "int", None, "pos;meta.number"),
    ("Redshift Points", "int", None, "src.redshift;meta.number"),
    ("Diameter Points", "int", None, "phys.size.diameter;meta.number"),
    ("Associations", "int", None, "meta.id.assoc;meta.number"),
]
LEGACY_NAMES = {"RA": "RA(deg)", "DEC": "DEC(deg)", "Separation": "Distance (arcmin)"}

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.1">
<DEFINITIONS><COOSYS ID="J2000" equinox="2000." epoch="2000." system="eq_FK5"/></DEFINITIONS>
<RESOURCE type="results">
<DESCRIPTION>Results from query to NASA/IPAC Extragalactic Database (NED) (loopback fake)
</DESCRIPTION>
<INFO name="QUERY_STATUS" value="OK"/>
<PARAM name="queryDateTime" ucd="time.creation" datatype="char" arraysize="*"
 value="2026-11-26T00:00:00PST"/>
"""


def _field(i: int, name: str, datatype: str, unit: str | None, ucd: str) -> str:
    extra = ' arraysize="*"' if datatype == "char" else ""
    unit_attr = f" unit={attr(unit)}" if unit else ""
    return (
        f'<FIELD ID="main_col{i}" name={attr(name)} ucd={attr(ucd)} '
        f'datatype="{datatype}"{extra}{unit_attr}/>\n'
    )


def _rows(objects: Table) -> list[list[object]]:
    rows = []
    for i, obj in enumerate(objects, start=1):
        z = float(obj["z"]) if "z" in objects.colnames else 0.1
        kind = str(obj["type"]) if "type" in objects.colnames else "QSO"
        rows.append(
            [
                i,
                str(obj["name"]),
                float(obj["ra"]),
                float(obj["dec"]),
                kind,
                round(C_KM_S * z),
                z,
                "SPEC",
                "18.5g",
                0.0,
                12,
                1,
                40,
                6,
                3,
                0,
                0,
            ]
        )
    return rows


def ned_votable(refcode: str, objects: Table, *, legacy: bool = False) -> str:
    """NED's answer for ``refcode`` listing ``objects`` (columns name, ra, dec[, type, z])."""
    fields = "".join(
        _field(i, LEGACY_NAMES.get(name, name) if legacy else name, dt, unit, ucd)
        for i, (name, dt, unit, ucd) in enumerate(FIELDS, start=1)
    )
    body = "".join(
        "<TR>" + "".join(f"<TD>{escape(str(v))}</TD>" for v in row) + "</TR>\n" for row in _rows(objects)
    )
    title = attr(f"Main Information Table for object(s) in publication {refcode}")
    return (
        _HEAD
        + f'<TABLE ID="NED_MainTable" name={title}>\n'
        + fields
        + "<DATA><TABLEDATA>\n"
        + body
        + "</TABLEDATA></DATA>\n</TABLE>\n"
        "</RESOURCE>\n</VOTABLE>\n"
    )


def ned_error(message: str) -> str:
    """NED's error document (second PARAM named ``Error``)."""
    return (
        _HEAD + f'<PARAM name="Error" datatype="char" arraysize="*" value={attr(message)}/>\n'
        "</RESOURCE>\n</VOTABLE>\n"
    )


class FakeNed:
    """NED refcode search over fixture papers.

    Parameters
    ----------
    papers : mapping of str to Table or DataFrame
        Refcode -> objects (``name``, ``ra``, ``dec`` in deg, optional ``type``, ``z``).
    legacy : collection of str
        Refcodes answered with the older column names.

    Attributes
    ----------
    refcodes : list of str
        Refcode of every query received.
    shuffle_seed : int or None
        When set, the objects of every answer come in a random order (seeded) instead of RA
        order (``obj_sort=RA or Longitude``, astroquery's default) or the fixture's;
        :meth:`reset` unsets it.
    """

    def __init__(self, papers: Mapping[str, Table | pd.DataFrame], legacy: Collection[str] = ()) -> None:
        self.papers = {k: v if isinstance(v, Table) else Table.from_pandas(v) for k, v in papers.items()}
        self.legacy = set(legacy)
        self.refcodes: list[str] = []
        self.shuffle_seed: int | None = None
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the logged queries; answer in the fixture's order again."""
        with self._lock:
            self.refcodes.clear()
            self.shuffle_seed = None

    def handle(self, request: Request) -> Response:
        """Answer ``/cgi-bin/objsearch``."""
        if request.path.rstrip("/") != "/cgi-bin/objsearch":
            return Response(404, f"not found: {request.path}")
        if request.param("search_type") != "Search" or request.param("of") != "xml_main":
            return Response(200, ned_error("this fake answers search_type=Search, of=xml_main"), "text/xml")
        refcode = request.param("refcode", "")
        with self._lock:
            self.refcodes.append(refcode)
        if refcode not in self.papers:
            return Response(200, ned_error(f" Reference code {refcode} not found."), "text/xml")
        objects = self.papers[refcode]
        if request.param("obj_sort") == "RA or Longitude":  # what astroquery asks for
            objects = objects[np.argsort(objects["ra"], kind="stable")]
        if self.shuffle_seed is not None:
            objects = objects[np.random.default_rng(self.shuffle_seed).permutation(len(objects))]
        return Response(200, ned_votable(refcode, objects, legacy=refcode in self.legacy), "text/xml")
