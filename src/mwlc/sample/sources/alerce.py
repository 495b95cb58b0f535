"""Source ``ztf_objectid``: positions of ZTF objects by name, from the ALeRCE ZTF API.

Endpoint (what the ``alerce`` client's ``query_objects(oid=[...])`` calls; the client itself is
not a dependency): ``GET <alerce_url>/objects/?oid=<id>&oid=<id>...&page=<p>&page_size=<n>``
with ``alerce_url`` = ``https://api.alerce.online/ztf/v1``. The JSON answer is paginated:
``{"total", "page", "next", "has_next", "prev", "has_prev", "items": [{"oid", "meanra",
"meandec", ...}]}``; ``meanra``/``meandec`` are degrees. Ids are sent in chunks of
:data:`CHUNK` and every page is read.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mwlc.errors import ArchiveError, SampleError
from mwlc.net import call_with_retries, new_session

from ._common import Services, SourceKind, empty_frame, log_source, make_frame

#: Object ids per request (and page size).
CHUNK = 100


def _page(session: Any, url: str, oids: list[str], page: int, services: Services) -> dict:
    def run() -> dict:
        response = session.get(
            url, params={"oid": oids, "page": page, "page_size": len(oids)}, timeout=services.policy.timeout_s
        )
        response.raise_for_status()
        return response.json()

    answer = call_with_retries(run, service="ALeRCE", url=url, policy=services.policy)
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        raise ArchiveError(f"ALeRCE ({url}) answered without an 'items' list: {str(answer)[:200]}")
    return answer


def query_objects(oids: list[str], services: Services) -> dict[str, dict]:
    """ALeRCE's object records by oid, for every id in ``oids`` it knows."""
    url = services.url("alerce_url") + "/objects/"
    found: dict[str, dict] = {}
    with new_session(services.policy.timeout_s) as session:
        for start in range(0, len(oids), CHUNK):
            chunk = list(dict.fromkeys(oids[start : start + CHUNK]))
            page = 1
            while True:
                answer = _page(session, url, chunk, page, services)
                found.update({str(item.get("oid")): item for item in answer["items"]})
                if not answer.get("has_next") or not answer["items"]:
                    break
                page += 1
    return found


def _check(objectids: Any, label: Any) -> list[str]:
    what = "source 'ztf_objectid'"
    if isinstance(objectids, str):
        several = objectids.replace(",", " ").split()
        if len(several) > 1:
            raise SampleError(
                f"{what}: key 'objectids' holds several ids in one string ({objectids!r}): write a list, "
                f"e.g. [{', '.join(several[:2])}]"
            )
        objectids = [objectids]
    if not isinstance(objectids, list) or not all(isinstance(o, str) and o for o in objectids):
        raise SampleError(
            f"{what}: key 'objectids' must be a list of ZTF object ids (e.g. ZTF18aabtxvd), got {objectids!r}"
        )
    if not isinstance(label, str):
        raise SampleError(f"{what}: key 'label' must be a string, got {label!r}")
    return [o.strip() for o in objectids]


def fetch_ztf_objectid(spec: dict[str, Any], services: Services) -> pd.DataFrame:
    """Mean positions of ZTF objects from ALeRCE.

    Parameters
    ----------
    spec : dict
        ``objectids`` (list of ZTF object ids), ``label``.
    services : Services
        ``alerce_url``: ALeRCE ZTF API base, e.g. ``https://api.alerce.online/ztf/v1``.

    Returns
    -------
    pandas.DataFrame
        One row per requested id, in the given order: ``ra``/``dec`` = ALeRCE
        ``meanra``/``meandec`` (deg), ``label``, ``origin`` = ``"ztf_objectid <oid>"``.

    Raises
    ------
    mwlc.errors.SampleError
        If ALeRCE does not know some of the ids (they are listed).
    """
    oids = _check(spec["objectids"], spec["label"])
    if not oids:
        return log_source("ztf_objectid", "0 ids", empty_frame())
    found = query_objects(oids, services)
    unknown = [o for o in oids if o not in found]
    if unknown:
        raise SampleError(
            f"source 'ztf_objectid': ALeRCE ({services.url('alerce_url')}) knows "
            f"no object {', '.join(unknown)}; check the ids"
        )
    ra = [found[o].get("meanra") for o in oids]
    dec = [found[o].get("meandec") for o in oids]
    ra = [float("nan") if v is None else v for v in ra]
    dec = [float("nan") if v is None else v for v in dec]
    frame = make_frame(ra, dec, spec["label"], [f"ztf_objectid {o}" for o in oids])
    return log_source("ztf_objectid", f"{len(oids)} ids", frame)


def _check_spec(spec: dict[str, Any]) -> None:
    _check(spec["objectids"], spec["label"])


KIND = SourceKind(
    name="ztf_objectid",
    fetch=fetch_ztf_objectid,
    check=_check_spec,
    optional={"objectids": ["ZTF18aabtxvd", "ZTF18aahqkbt"], "label": "ZTF-Objname"},
)
