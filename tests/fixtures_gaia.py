"""Session fixtures for the Gaia archive: a small synthetic DR3 epoch-photometry HATS collection,
read from a local path and served over HTTP by RangeHTTPServer.

The collection is built once per session by :func:`mwlc.demo.gaia.build_gaia_hats` (about 800
sources, ~40 transits each, a few seconds) around sample objects chosen to exercise the edge
cases of a crossmatch:

* ``edge``: objects exactly on a HEALPix order-0 boundary (so on a partition boundary at every
  order); their 0.3" counterparts fall on either side, so some are held only by the margin;
* ``ra0``: objects within 0.1" of RA 0/360 deg;
* ``cosmos``, ``south``: ordinary objects in two more sky regions (several partitions).

:func:`gaia_sample` adds objects that were *not* given to the builder: ``lonely`` (in the
coverage, 40" from a built object, so no counterpart) and ``far`` (outside the coverage).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hats.pixel_math.healpix_shim import radec2pix
from RangeHTTPServer import RangeRequestHandler

from mwlc.demo.gaia import build_gaia_hats

TRANSITS_PER_SOURCE = 40
N_FIELD_SOURCES = 700


def _on_order0_boundary(ra: float) -> float:
    """Declination (deg) where the meridian ``ra`` crosses from base pixel 4 into base pixel 0."""
    low, high = 10.0, 40.0  # equatorial base pixel 4 below, polar-cap base pixel 0 above
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if radec2pix(0, ra, mid) == radec2pix(0, ra, low) else (low, mid)
    return high


def _sample_rows() -> list[tuple[float, float, str]]:
    """(ra, dec, label) of every test object, built ones first."""
    cosmos = [(150.0 + 0.2 * i, 2.0 + 0.2 * j, "cosmos") for i in range(4) for j in range(3)]
    edge = [(ra, _on_order0_boundary(ra), "edge") for ra in (20.0, 20.1, 20.2, 20.3, 20.4, 20.5)]
    ra0 = [(0.00002, 5.0, "ra0"), (359.99998, 5.1, "ra0"), (0.00001, 4.9, "ra0"), (359.99999, 4.8, "ra0")]
    south = [(45.0, -30.0, "south"), (45.1, -30.1, "south")]
    lonely = [(150.0, 2.0 + 40 / 3600, "lonely")]  # 40" north of the first cosmos object
    far = [(250.0, -60.0, "far")]
    return cosmos + edge + ra0 + south + lonely + far


class QuietRangeRequestHandler(RangeRequestHandler):
    """RangeHTTPServer's handler, recording request lines on the server instead of logging them."""

    def log_message(self, format: str, *args: object) -> None:
        """Record the message, e.g. ``"GET /path HTTP/1.1" 206 -`` for an answered request."""
        self.server.requests.append(format % args)


@pytest.fixture(scope="session")
def gaia_sample() -> pd.DataFrame:
    """Every test object: ``objectid`` (1..N), ``ra``, ``dec`` (deg), ``label``."""
    ra, dec, label = zip(*_sample_rows(), strict=True)
    return pd.DataFrame(
        {"objectid": np.arange(1, len(ra) + 1, dtype=np.int64), "ra": ra, "dec": dec, "label": label}
    )


@pytest.fixture(scope="session")
def gaia_hats(tmp_path_factory, gaia_sample) -> Path:
    """The synthetic collection (``.../gaia_dr3_epoch_phot``) around the sample minus ``lonely``, ``far``."""
    built = gaia_sample[~gaia_sample["label"].isin(["lonely", "far"])]
    root = tmp_path_factory.mktemp("gaia") / "gaia_dr3_epoch_phot"
    return build_gaia_hats(
        built, root, transits_per_source=TRANSITS_PER_SOURCE, n_field_sources=N_FIELD_SOURCES
    )


@pytest.fixture(scope="session")
def gaia_http_server(gaia_hats) -> Iterator[ThreadingHTTPServer]:
    """A RangeHTTPServer on a free loopback port serving the collection's parent directory.

    ``server.requests`` lists its access-log lines (e.g. ``"GET /... HTTP/1.1" 206 -``).
    """
    handler = functools.partial(QuietRangeRequestHandler, directory=str(gaia_hats.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, name="gaia-range-http", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def gaia_http(gaia_http_server, gaia_hats) -> str:
    """The collection's ``http://127.0.0.1:<port>/gaia_dr3_epoch_phot/`` URL (like the real https one)."""
    host, port = gaia_http_server.server_address[:2]
    return f"http://{host}:{port}/{gaia_hats.name}/"
