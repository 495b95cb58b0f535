"""Source ``simbad_bibcode``: objects SIMBAD links to a publication.

astroquery 0.4.11 queries SIMBAD through its TAP service at ``https://<server>/simbad/sim-tap``
(pyvo): ``query_bibobj`` first reads ``/capabilities`` (the output hard limit), then POSTs
``/sync`` with an ADQL join of ``basic``, ``has_ref`` and ``ref`` on the bibcode. The mirror is
an https host only: ``conf.server`` and the ``server`` setter accept the two listed mirrors
only, so the host from ``simbad_url`` is set on the client instance we create (``_server``).

That ADQL has no ORDER BY, so SIMBAD may answer the rows in any order. The answer is sorted by
(RA, Dec, ``main_id``) before rows are selected, as NED's: ``objects`` keeps rows by
``main_id``, ``rows`` indexes the sorted answer, and the same objects come out in the same order
whatever order SIMBAD sends them in.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mwlc.errors import ArchiveError
from mwlc.net import call_with_retries, harden_session

from ._common import (
    Services,
    SourceKind,
    check_objects,
    check_rows,
    check_type,
    empty_frame,
    https_host,
    log_source,
    make_frame,
    pick_rows,
    text_values,
)

#: What astroquery appends to the mirror host.
TAP_PATH = "/simbad/sim-tap"


def query_bibobj(bibcode: str, services: Services) -> Any:
    """SIMBAD's table of the objects in ``bibcode`` (astropy Table), with retries."""
    from astroquery.simbad import SimbadClass

    host = https_host(services, "simbad_url", path=TAP_PATH)

    def run() -> Any:
        client = SimbadClass()
        client._server = host  # see module docstring
        harden_session(client._session, services.policy.timeout_s)
        return client.query_bibobj(bibcode)

    return call_with_retries(
        run, service=f"SIMBAD (bibcode {bibcode})", url=f"https://{host}{TAP_PATH}", policy=services.policy
    )


def fetch_simbad_bibcode(spec: dict[str, Any], services: Services) -> pd.DataFrame:
    """Objects of one publication from SIMBAD (``Simbad.query_bibobj``).

    Parameters
    ----------
    spec : dict
        ``bibcode``, ``label``, and at most one of ``objects`` (SIMBAD ``main_id`` names to
        keep, compared ignoring case and spaces) and ``rows`` (0-based indices into SIMBAD's
        answer sorted by RA, Dec, ``main_id``); neither keeps every object.
    services : Services
        ``simbad_url``: SIMBAD's TAP URL, ``https://<host>/simbad/sim-tap``.

    Returns
    -------
    pandas.DataFrame
        ``ra``, ``dec`` (SIMBAD ``basic.ra``/``dec``, deg, ICRS), ``label``, ``origin`` =
        ``"simbad_bibcode <bibcode> row <n> (<main_id>)"``, n 1-based in the sorted answer. Rows
        in the order of ``objects``, else in RA order.
    """
    what = "source 'simbad_bibcode'"
    bibcode = check_type(spec["bibcode"], str, key="bibcode", what=what, expected="a string")
    label = check_type(spec["label"], str, key="label", what=what, expected="a string")
    rows = check_rows(spec["rows"], what=what)
    objects = check_objects(spec["objects"], what=what)
    asked = (
        bibcode + (f" rows {rows}" if rows is not None else "") + (f" objects {objects}" if objects else "")
    )
    table = query_bibobj(bibcode, services)
    if len(table) == 0:
        return log_source("simbad_bibcode", asked, empty_frame())
    missing = [c for c in ("main_id", "ra", "dec") if c not in table.colnames]
    if missing:
        raise ArchiveError(
            f"SIMBAD answer for bibcode {bibcode!r} lacks column(s) {missing}; "
            f"columns: {', '.join(table.colnames)}"
        )
    names = text_values(table["main_id"])
    keep, row_number = pick_rows(
        names, table["ra"], table["dec"], rows=rows, objects=objects, what=f"{what} bibcode {bibcode!r}"
    )
    origins = [
        f"simbad_bibcode {bibcode} row {n} ({names[i]})" for i, n in zip(keep, row_number, strict=True)
    ]
    frame = make_frame(table["ra"][keep], table["dec"][keep], label, origins)
    return log_source("simbad_bibcode", asked, frame)


KIND = SourceKind(
    name="simbad_bibcode",
    fetch=fetch_simbad_bibcode,
    required=("bibcode", "label"),
    optional={"rows": None, "objects": None},
)
