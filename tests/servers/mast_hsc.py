"""A fake MAST HSC catalogs API (``https://catalogs.mast.stsci.edu/api/v0.1/hsc``), HCV tables.

``GET {prefix}/v3/hcvsummary.csv?ra=&dec=&radius=`` (degrees) answers the summary rows (one per
MatchID and filter) within the cone; ``GET {prefix}/v3/hcv.csv?MatchID=&Filter=`` answers the
epochs of one object in one filter; ``GET {prefix}/v3/{hcvsummary|hcv}/metadata`` answers the
table's column list as JSON (``[{"name", "type", "description"}, ...]``, what the STScI
``hcvmetadata`` helper reads). Columns follow the HCV tables as the STScI HCV notebooks use
them (HCVmatch + HCVfilter for the summary, HCVdetailed for the epochs); a query without rows
answers an empty body, which is what the Fornax client tested for (``tab == ''``). Anything else
is a 400 with a message, like the API's answers to bad parameters.

Schema variations, for the client's column checks (both reset by :meth:`FakeHsc.reset`):
``header_case`` (``"as-is"``, ``"lower"`` or ``"upper"``) rewrites the column names of every CSV
header and of the metadata; ``missing_columns`` leaves those columns out of both.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .base import Request, Response

SUMMARY_COLUMNS = [
    "MatchID",
    "Filter",
    "GroupID",
    "SubGroupID",
    "RA",
    "Dec",
    "AutoClass",
    "ExpertClass",
    "VarQualFlag",
    "FilterDetFlag",
    "NumLC",
    "MeanMag",
    "MeanCorrMag",
    "MAD",
    "Chi2",
]
DETAIL_COLUMNS = ["MatchID", "Filter", "MJD", "ImageName", "Mag", "CorrMag", "MagErr", "CI", "D"]
#: Columns of each table, as its ``/metadata`` lists them.
TABLE_COLUMNS = {"hcvsummary": SUMMARY_COLUMNS, "hcv": DETAIL_COLUMNS}
#: What ``header_case`` does to a column name.
HEADER_CASES = {"as-is": str, "lower": str.lower, "upper": str.upper}


@dataclass(frozen=True)
class HcvObject:
    """One HCV object: ``MatchID``, position (deg) and epochs per HCV filter name.

    ``epochs`` maps a filter (``"ACS_F814W"``) to a frame with ``MJD``, ``CorrMag``, ``MagErr``.
    """

    match_id: int
    ra: float
    dec: float
    epochs: dict[str, pd.DataFrame]


def _separation_deg(ra0: float, dec0: float, ra1: float, dec1: float) -> float:
    r0, d0, r1, d1 = map(np.radians, (ra0, dec0, ra1, dec1))
    cos_d = np.sin(d0) * np.sin(d1) + np.cos(d0) * np.cos(d1) * np.cos(r1 - r0)
    return float(np.degrees(np.arccos(np.clip(cos_d, -1.0, 1.0))))


class FakeHsc:
    """The HCV part of the HSC API over fixture objects.

    Attributes
    ----------
    queries : list of (str, dict)
        Table name and parameters of every answered request.
    latency_s : float
        Time each answer takes (s), spent while counted as in flight.
    max_in_flight : int
        Most requests handled at the same time since the last :meth:`reset`.
    header_case : {"as-is", "lower", "upper"}
        Case of the column names in every answer (CSV headers and metadata).
    missing_columns : set of str
        Columns left out of every answer (CSV and metadata).
    """

    def __init__(self, objects: Sequence[HcvObject], *, prefix: str = "/api/v0.1/hsc") -> None:
        self.objects = {obj.match_id: obj for obj in objects}
        self.prefix = prefix.rstrip("/")
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.latency_s = 0.0
        self.max_in_flight = 0
        self.header_case = "as-is"
        self.missing_columns: set[str] = set()
        self._in_flight = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the logged queries; answer with the usual columns again."""
        with self._lock:
            self.queries.clear()
            self.max_in_flight = 0
            self.header_case = "as-is"
            self.missing_columns = set()

    def handle(self, request: Request) -> Response:
        """Answer ``hcvsummary.csv`` and ``hcv.csv`` (after ``latency_s``)."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.latency_s)
            return self._answer(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, request: Request) -> Response:
        params = {key: values[0] for key, values in request.form().items()}
        table = request.path.removeprefix(f"{self.prefix}/v3/").removesuffix(".csv")
        with self._lock:
            self.queries.append((table, params))
        if table == "hcvsummary":
            return self._csv(self._summary(params))
        if table == "hcv":
            return self._csv(self._detail(params))
        name, _, endpoint = table.partition("/")
        if endpoint == "metadata" and name in TABLE_COLUMNS:
            return self._metadata(name)
        return Response(400, f"unknown table {request.path}")

    def _metadata(self, table: str) -> Response:
        """The table's column list (name, type, description), as the real API's ``/metadata``."""
        rename = HEADER_CASES[self.header_case]
        columns = [
            {"name": rename(name), "type": "float", "description": f"{name} of the HCV {table} table"}
            for name in TABLE_COLUMNS[table]
            if name not in self.missing_columns
        ]
        return Response(200, json.dumps(columns), "application/json")

    def _csv(self, answer: pd.DataFrame | Response) -> Response:
        """CSV with a header row (case and columns as configured); no rows -> an empty body."""
        if isinstance(answer, Response):
            return answer
        if answer.empty:
            return Response(200, "", "text/csv")
        frame = answer.drop(columns=[c for c in answer.columns if c in self.missing_columns])
        frame.columns = [HEADER_CASES[self.header_case](name) for name in frame.columns]
        return Response(200, frame.to_csv(index=False, float_format="%.10g"), "text/csv")

    def _summary(self, params: dict[str, str]) -> pd.DataFrame | Response:
        try:
            ra, dec, radius = float(params["ra"]), float(params["dec"]), float(params["radius"])
        except (KeyError, ValueError):
            return Response(400, "ra, dec and radius are required")
        if radius > 0.5:
            return Response(400, "radius must be <= 0.5 degrees")
        rows = [
            self._summary_row(obj, name, frame)
            for obj in self.objects.values()
            if _separation_deg(ra, dec, obj.ra, obj.dec) <= radius
            for name, frame in obj.epochs.items()
        ]
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    @staticmethod
    def _summary_row(obj: HcvObject, name: str, frame: pd.DataFrame) -> list:
        mag = frame["CorrMag"].to_numpy(np.float64)
        mad = float(np.median(np.abs(mag - np.median(mag))))
        return [
            obj.match_id,
            name,
            1000 + obj.match_id,
            1,
            obj.ra,
            obj.dec,
            1,
            0,
            "AAAAA",
            1,
            len(frame),
            float(mag.mean()) + 0.01,
            float(mag.mean()),
            mad,
            1.5,
        ]

    def _detail(self, params: dict[str, str]) -> pd.DataFrame | Response:
        try:
            match_id = int(params["MatchID"])
        except (KeyError, ValueError):
            return Response(400, "MatchID is required")
        obj = self.objects.get(match_id)
        wanted = params.get("Filter")
        frames = (
            []
            if obj is None
            else [
                frame.assign(
                    MatchID=match_id,
                    Filter=name,
                    ImageName=[f"hst_{match_id}_{i:02d}_acs_wfc" for i in range(len(frame))],
                    Mag=frame["CorrMag"] + 0.01,
                    CI=1.1,
                    D=0.02,
                )
                for name, frame in obj.epochs.items()
                if wanted in (None, name)
            ]
        )
        if not frames:
            return pd.DataFrame(columns=DETAIL_COLUMNS)
        return pd.concat(frames, ignore_index=True)[DETAIL_COLUMNS]
