"""Session fixtures for the HEASARC archive: synthetic local table copies and a fake HEASARC TAP.

The tables are written once per session by :func:`mwlc.demo.heasarc.build` around
:func:`heasarc_sample` (20 objects, built in well under a second): ordinary objects, two pairs
of objects close enough to share events, objects within 1" of RA = 0/360 deg on either side,
and objects near both poles. The same rows are served by a :class:`tests.servers.tap.FakeTap` at
``/xamin/vo/tap`` (HEASARC's path) that names unaliased ``alias.column`` select items
``alias_column``, as HEASARC does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mwlc.demo.heasarc import build

from .servers.base import LoopbackServer
from .servers.tap import FakeTap

#: URL path of HEASARC's TAP service (https://heasarc.gsfc.nasa.gov/xamin/vo/tap).
HEASARC_TAP_PATH = "/xamin/vo/tap"
HEASARC_TABLES = ("FERMIGTRIG", "SAXGRBMGRB", "icecubepsc")


def _sample_rows() -> list[tuple[float, float, str]]:
    """(ra, dec, label) of the test objects."""
    ordinary = [(150.0 + 3.0 * i, 2.0 + 2.0 * (i % 3), "ordinary") for i in range(8)]
    close = [(200.0, -20.0, "close"), (200.3, -20.2, "close"), (45.0, 30.0, "close"), (45.2, 30.1, "close")]
    ra0 = [(0.0002, 10.0, "ra0"), (359.9998, 10.0001, "ra0"), (0.0, -5.0, "ra0")]
    pole = [(123.0, 89.95, "pole"), (303.0, 89.9, "pole"), (10.0, -89.97, "pole")]
    south = [(300.0, -60.0, "south"), (310.0, -45.0, "south")]
    return ordinary + close + ra0 + pole + south


@pytest.fixture(scope="session")
def heasarc_sample() -> pd.DataFrame:
    """The 20 test objects: ``objectid`` (1..20), ``ra``, ``dec`` (deg), ``label``."""
    ra, dec, label = zip(*_sample_rows(), strict=True)
    return pd.DataFrame(
        {"objectid": np.arange(1, len(ra) + 1, dtype=np.int64), "ra": ra, "dec": dec, "label": label}
    )


@pytest.fixture(scope="session")
def heasarc_local(tmp_path_factory: pytest.TempPathFactory, heasarc_sample: pd.DataFrame) -> Path:
    """Directory of synthetic ``<table>.parquet`` copies built around :func:`heasarc_sample`."""
    return build(heasarc_sample[["objectid", "ra", "dec"]], tmp_path_factory.mktemp("heasarc"))


@pytest.fixture(scope="session")
def heasarc_tables(heasarc_local: Path) -> dict[str, pd.DataFrame]:
    """The rows of each table (name -> frame), as in the local copies."""
    return {table: pd.read_parquet(heasarc_local / f"{table}.parquet") for table in HEASARC_TABLES}


@pytest.fixture(scope="session")
def heasarc_tap_server(heasarc_tables: dict[str, pd.DataFrame]) -> Iterator[LoopbackServer]:
    """A fake HEASARC TAP service over :func:`heasarc_tables` (``.app.queries`` logs the ADQL)."""
    app = FakeTap(heasarc_tables, prefix=HEASARC_TAP_PATH, prefix_unaliased=True)
    server = LoopbackServer(app).start()
    try:
        yield server
    finally:
        server.stop()
        app.close()


@pytest.fixture
def heasarc_tap(heasarc_tap_server: LoopbackServer) -> LoopbackServer:
    """:func:`heasarc_tap_server` with fresh logs and no injected faults."""
    heasarc_tap_server.reset()
    return heasarc_tap_server
