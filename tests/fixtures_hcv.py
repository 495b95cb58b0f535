"""Fixtures of the HCV archive: a loopback HSC API over a few objects near a small sample.

The sample (``hcv_sample``) and the served objects are built together so each case is known:

* objectid 1: two HCV objects, at 0.3" (MatchID 101, F814W) and 0.8" (MatchID 102, F814W):
  the nearer one's epochs are expected;
* objectid 2: one HCV object at 0.5" observed only in F606W (MatchID 201);
* objectid 3: nothing within 1";
* objectid 4: an HCV object at 2.5" (MatchID 401): outside the default 1" radius;
* objectid 5: one HCV object at 0.2" in F606W and F814W (MatchID 501);
* objectids 6..(5 + n_extra): one F814W object each at 0.1" (MatchIDs 1000+i), for concurrency.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from tests.servers.base import LoopbackServer
from tests.servers.mast_hsc import FakeHsc, HcvObject

N_EXTRA = 20


def _epochs(seed: int, n: int, mag0: float) -> pd.DataFrame:
    """``n`` epochs of a variable source: MJD, CorrMag, MagErr (seeded)."""
    rng = np.random.default_rng(seed)
    mjd = np.sort(rng.uniform(53000.0, 59000.0, n)).round(6)
    return pd.DataFrame(
        {
            "MJD": mjd,
            "CorrMag": (mag0 + rng.normal(0, 0.2, n)).round(4),
            "MagErr": rng.uniform(0.01, 0.05, n).round(4),
        }
    )


def _offset(ra: float, dec: float, arcsec: float) -> tuple[float, float]:
    """A position ``arcsec`` north of (ra, dec)."""
    return ra, dec + arcsec / 3600.0


def build_hcv_case() -> tuple[pd.DataFrame, list[HcvObject]]:
    """The sample and the HCV objects served for it (see the module docstring)."""
    positions = [(150.10, 2.20), (150.20, 2.25), (150.30, 2.30), (150.40, 2.35), (150.50, 2.40)]
    positions += [(151.0 + 0.01 * i, -5.0 + 0.01 * i) for i in range(N_EXTRA)]
    sample = pd.DataFrame(
        {
            "objectid": np.arange(1, len(positions) + 1, dtype=np.int64),
            "ra": [p[0] for p in positions],
            "dec": [p[1] for p in positions],
            "label": [f"hcv-{i}" for i in range(1, len(positions) + 1)],
        }
    )
    objects = [
        HcvObject(101, *_offset(*positions[0], 0.3), {"ACS_F814W": _epochs(101, 12, 21.0)}),
        HcvObject(102, *_offset(*positions[0], 0.8), {"ACS_F814W": _epochs(102, 7, 23.0)}),
        HcvObject(201, *_offset(*positions[1], 0.5), {"ACS_F606W": _epochs(201, 9, 22.0)}),
        HcvObject(401, *_offset(*positions[3], 2.5), {"ACS_F814W": _epochs(401, 6, 20.0)}),
        HcvObject(
            501,
            *_offset(*positions[4], 0.2),
            {"ACS_F606W": _epochs(5011, 8, 22.5), "ACS_F814W": _epochs(5012, 10, 21.5)},
        ),
    ]
    objects += [
        HcvObject(1000 + i, *_offset(*positions[5 + i], 0.1), {"ACS_F814W": _epochs(1000 + i, 5, 22.0)})
        for i in range(N_EXTRA)
    ]
    return sample, objects


@pytest.fixture(scope="session")
def hcv_case() -> tuple[pd.DataFrame, list[HcvObject]]:
    """(sample, served HCV objects)."""
    return build_hcv_case()


@pytest.fixture(scope="session")
def _hcv_server(hcv_case) -> Iterator[LoopbackServer]:
    server = LoopbackServer(FakeHsc(hcv_case[1])).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hcv_server(_hcv_server: LoopbackServer) -> LoopbackServer:
    """The loopback HSC API (logs and faults reset per test); base URL ``server.url + PREFIX``."""
    _hcv_server.reset()
    _hcv_server.app.latency_s = 0.0
    return _hcv_server


PREFIX = "/api/v0.1/hsc"
