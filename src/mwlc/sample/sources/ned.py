"""Sources ``ned_refcode`` and ``papers_list``: objects of a publication, from NED.

astroquery 0.4.11 builds NED's URL once, at import (``Ned.OBJ_SEARCH_URL = conf.server +
'objsearch'``), and ``conf.server`` only accepts its listed default. So the query URL and timeout
are set on the module's ``Ned`` instance for the duration of one call (under a lock, restored
afterwards); the request itself is astroquery's own ``query_refcode`` (a VOTable GET).

NED is asked for its answer in right-ascension order, but that order is not checked: the answer
is sorted by (RA, Dec, name) here before rows are selected
(:func:`~mwlc.sample.sources._common.pick_rows`). ``objects`` keeps rows by NED object name,
``rows`` indexes the sorted answer (the original's row indices, when NED sorts as asked), and
the same objects come out in the same order whatever order NED sends them in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from mwlc.errors import ArchiveError, SampleError
from mwlc.net import call_with_retries, harden_session

from ._common import (
    Services,
    SourceKind,
    astroquery_no_cache,
    check_objects,
    check_rows,
    check_type,
    empty_frame,
    log_source,
    make_frame,
    pick_rows,
    text_values,
)

_NED_LOCK = threading.Lock()

#: Position columns of NED's main table: current names, then the legacy ones.
RA_NAMES = ("RA", "RA(deg)")
DEC_NAMES = ("DEC", "DEC(deg)")


def objsearch_url(services: Services) -> str:
    """NED's object-search endpoint under ``ned_url`` (``<ned_url>/cgi-bin/objsearch``)."""
    base = services.url("ned_url")
    return base + "/objsearch" if base.endswith("/cgi-bin") else base + "/cgi-bin/objsearch"


@contextmanager
def _ned_at(url: str, timeout_s: float) -> Iterator[Any]:
    """astroquery's NED client pointed at ``url`` (objsearch) for the duration; restored after."""
    from astroquery.ipac.ned import core

    names = ("OBJ_SEARCH_URL", "TIMEOUT")
    with _NED_LOCK:
        saved = {name: core.Ned.__dict__[name] for name in names if name in core.Ned.__dict__}
        core.Ned.OBJ_SEARCH_URL, core.Ned.TIMEOUT = url, timeout_s
        try:
            client = core.NedClass()
            harden_session(client._session, timeout_s)
            yield client
        finally:
            for name in names:
                if name in saved:
                    setattr(core.Ned, name, saved[name])
                else:
                    delattr(core.Ned, name)


def _column(table: Any, names: tuple[str, ...], refcode: str) -> Any:
    for name in names:
        if name in table.colnames:
            return table[name]
    raise ArchiveError(
        f"NED answer for refcode {refcode!r} has no {names[0]} column; columns: {', '.join(table.colnames)}"
    )


def query_refcode(refcode: str, services: Services) -> Any:
    """NED's table of the objects in publication ``refcode`` (astropy Table), with retries."""
    url = objsearch_url(services)

    def run() -> Any:
        with _ned_at(url, services.policy.timeout_s) as client, astroquery_no_cache():
            return client.query_refcode(refcode)

    return call_with_retries(run, service=f"NED (refcode {refcode})", url=url, policy=services.policy)


def refcode_frame(
    refcode: str,
    label: str,
    selection: tuple[list[int] | None, list[str] | None],
    services: Services,
    *,
    kind: str = "ned_refcode",
) -> pd.DataFrame:
    """Positions of the objects NED lists for ``refcode``, in RA order.

    ``selection`` is ``(rows, objects)``: 0-based rows of the RA-sorted answer, or NED object
    names to keep (at most one of them; neither keeps every row).
    """
    rows, objects = selection
    what = f"source {kind!r} refcode {refcode!r}"
    table = query_refcode(refcode, services)
    if table is None or len(table) == 0:
        return log_source(kind, refcode, empty_frame())
    ra = _column(table, RA_NAMES, refcode)
    dec = _column(table, DEC_NAMES, refcode)
    if "Object Name" in table.colnames:
        names = text_values(table["Object Name"])
    elif objects is not None:
        raise ArchiveError(
            f"NED answer for refcode {refcode!r} has no 'Object Name' column to select {objects} by; "
            f"columns: {', '.join(table.colnames)}"
        )
    else:
        names = [""] * len(table)
    keep, row_number = pick_rows(names, ra, dec, rows=rows, objects=objects, what=what)
    origins = [
        f"ned_refcode {refcode} row {n}" + (f" ({names[i]})" if names[i] else "")
        for i, n in zip(keep, row_number, strict=True)
    ]
    asked = (
        refcode + (f" rows {rows}" if rows is not None else "") + (f" objects {objects}" if objects else "")
    )
    return log_source(kind, asked, make_frame(ra[keep], dec[keep], label, origins))


def _paper_args(
    paper: dict[str, Any], what: str
) -> tuple[str, str, tuple[list[int] | None, list[str] | None]]:
    refcode = check_type(paper["refcode"], str, key="refcode", what=what, expected="a string")
    label = check_type(paper["label"], str, key="label", what=what, expected="a string")
    selection = (check_rows(paper.get("rows"), what=what), check_objects(paper.get("objects"), what=what))
    return refcode, label, selection


def fetch_ned_refcode(spec: dict[str, Any], services: Services) -> pd.DataFrame:
    """Objects of one publication from NED (``Ned.query_refcode``).

    Parameters
    ----------
    spec : dict
        ``refcode`` (19-character bibcode), ``label``, and at most one of ``objects`` (NED
        object names to keep, compared ignoring case and spaces) and ``rows`` (0-based indices
        into NED's answer sorted by RA, Dec, name); neither keeps every object.
    services : Services
        ``ned_url``: NED base URL; the query goes to ``<ned_url>/cgi-bin/objsearch``.

    Returns
    -------
    pandas.DataFrame
        ``ra``, ``dec`` (NED's ``RA``/``DEC``, deg), ``label``, ``origin`` =
        ``"ned_refcode <refcode> row <n> (<NED name>)"``, n 1-based in the sorted answer. Rows
        in the order of ``objects``, else in RA order.
    """
    return refcode_frame(*_paper_args(spec, "source 'ned_refcode'"), services)


_SELECTION = {"rows": None, "objects": None}
_PAPER_ENTRY = SourceKind(
    name="paper", fetch=fetch_ned_refcode, required=("refcode", "label"), optional=_SELECTION
)


def fetch_papers_list(spec: dict[str, Any], services: Services) -> pd.DataFrame:
    """Several publications from NED, concatenated in list order.

    Parameters
    ----------
    spec : dict
        ``papers``: list of ``{refcode, label, rows?, objects?}`` (as for ``ned_refcode``).
    services : Services
        As for ``ned_refcode``.
    """
    papers = spec["papers"]
    if not isinstance(papers, list):
        raise SampleError(
            "source 'papers_list': key 'papers' must be a list of {refcode, label, rows, objects}, "
            f"got {papers!r}"
        )
    frames = []
    for i, paper in enumerate(papers):
        what = f"source 'papers_list' paper {i}"
        if not isinstance(paper, dict):
            raise SampleError(
                f"{what}: must be a mapping with keys refcode, label, rows, objects; got {paper!r}"
            )
        paper = _PAPER_ENTRY.complete(paper, what=what)
        paper.pop("source")
        frames.append(refcode_frame(*_paper_args(paper, what), services, kind="papers_list"))
    if not frames:
        return log_source("papers_list", "0 papers", empty_frame())
    out = pd.concat(frames, ignore_index=True)
    return log_source("papers_list", f"{len(papers)} papers", out)


KIND = SourceKind(
    name="ned_refcode", fetch=fetch_ned_refcode, required=("refcode", "label"), optional=_SELECTION
)
PAPERS_LIST = SourceKind(name="papers_list", fetch=fetch_papers_list, required=("papers",))
