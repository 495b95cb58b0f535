"""A fake ALeRCE ZTF API (``https://api.alerce.online/ztf/v1``), the objects list endpoint.

``GET {prefix}/objects/?oid=<id>&oid=<id>&page=<p>&page_size=<n>`` (``/objects`` too) answers
``{"total", "page", "next", "has_next", "prev", "has_prev", "items": [...]}`` with one item per
known oid, in the API's object-record shape (``oid``, ``meanra``, ``meandec`` in deg, ``ndet``,
``firstmjd``, ...). ``page_size`` defaults to 10, as on the real API.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from .base import Request, Response


def object_record(oid: str, ra: float, dec: float) -> dict:
    """An ALeRCE ZTF object record (fields of ``/objects``) for ``oid`` at (ra, dec) deg."""
    return {
        "oid": oid,
        "ndethist": 120,
        "ncovhist": 900,
        "mjdstarthist": 58200.25,
        "mjdendhist": 60300.5,
        "corrected": True,
        "stellar": False,
        "ndet": 118,
        "g_r_max": 0.42,
        "g_r_max_corr": 0.40,
        "g_r_mean": 0.45,
        "g_r_mean_corr": 0.43,
        "meanra": ra,
        "meandec": dec,
        "sigmara": 1.1e-5,
        "sigmadec": 1.0e-5,
        "deltajd": 2100.2,
        "firstmjd": 58200.25,
        "lastmjd": 60300.5,
        "step_id_corr": "23.x",
        "class": "QSO",
        "classifier": "lc_classifier",
        "probability": 0.81,
    }


class FakeAlerce:
    """ALeRCE objects over fixture positions.

    Parameters
    ----------
    objects : mapping of str to (ra, dec)
        ZTF object id -> mean position in degrees.
    prefix : str
        Path of the API base (``/ztf/v1``).
    max_page_size : int
        Largest page served whatever ``page_size`` asks (to exercise pagination).

    Attributes
    ----------
    queries : list of list of str
        The ``oid`` values of every request.
    """

    def __init__(
        self, objects: Mapping[str, Sequence[float]], *, prefix: str = "/ztf/v1", max_page_size: int = 1000
    ) -> None:
        self.objects = {oid: object_record(oid, float(ra), float(dec)) for oid, (ra, dec) in objects.items()}
        self.prefix = prefix.rstrip("/")
        self.max_page_size = max_page_size
        self.queries: list[list[str]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the logged queries."""
        with self._lock:
            self.queries.clear()

    def handle(self, request: Request) -> Response:
        """Answer ``{prefix}/objects/``."""
        if request.path.rstrip("/") != f"{self.prefix}/objects":
            return Response(404, f'{{"detail": "not found: {request.path}"}}', "application/json")
        oids = request.query.get("oid", [])
        with self._lock:
            self.queries.append(list(oids))
        try:
            page = int(request.param("page", "1"))
            size = min(int(request.param("page_size", "10")), self.max_page_size)
        except ValueError:
            return Response.json({"detail": "page and page_size must be integers"}, 400)
        found = [self.objects[o] for o in dict.fromkeys(oids) if o in self.objects]
        items = found[(page - 1) * size : page * size]
        has_next = page * size < len(found)
        return Response.json(
            {
                "total": len(found),
                "page": page,
                "next": page + 1 if has_next else None,
                "has_next": has_next,
                "prev": page - 1 if page > 1 else None,
                "has_prev": page > 1,
                "items": items,
            }
        )
