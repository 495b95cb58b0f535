"""Session fixtures for the ZTF archive: a small synthetic DR24 HATS collection, local and on S3.

The collection is built once per session by :func:`mwlc.demo.ztf.build_ztf_hats` (about 1,600
objects, 40 g-band epochs each, ~20 partitions, a few seconds) around sample objects chosen to
exercise the edge cases of a crossmatch:

* ``edge``: objects exactly on a HEALPix order-0 boundary (so on a partition boundary at every
  order); their 0.5" counterparts fall on either side, so some are held only by the margin;
* ``ra0``: objects at RA within 0.5" of 0/360 deg;
* ``cosmos``, ``south``: ordinary objects in two more sky regions (several partitions).

:func:`ztf_sample` adds objects that were *not* given to the builder: ``lonely`` (in the
coverage, 40" from a built object, so no counterpart) and ``far`` (outside the coverage).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.demo.ztf import build_ztf_hats
from tests.servers.s3 import upload_public

#: Where the real collection lives; the moto copy uses the same bucket and key.
ZTF_S3_BUCKET = "ipac-irsa-ztf"
ZTF_S3_KEY = "ztf/enhanced/dr24/lc/hats"
ZTF_S3_URI = f"s3://{ZTF_S3_BUCKET}/{ZTF_S3_KEY}"
EPOCHS_PER_BAND = 40
N_FIELD_OBJECTS = 1500


def _on_order0_boundary(ra: float) -> float:
    """Declination (deg) where the meridian ``ra`` crosses from base pixel 4 into base pixel 0."""
    low, high = 10.0, 40.0  # equatorial base pixel 4 below, polar-cap base pixel 0 above
    assert radec2pix(0, ra, low) != radec2pix(0, ra, high)
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if radec2pix(0, ra, mid) == radec2pix(0, ra, low) else (low, mid)
    return high


def _sample_rows() -> list[tuple[float, float, str]]:
    """(ra, dec, label) of every test object, built ones first."""
    cosmos = [(150.0 + 0.2 * i, 2.0 + 0.2 * j, "cosmos") for i in range(4) for j in range(3)]
    edge = [(ra, _on_order0_boundary(ra), "edge") for ra in (20.0, 20.1, 20.2, 20.3, 20.4, 20.5)]
    ra0 = [(0.00005, 5.0, "ra0"), (359.99995, 5.1, "ra0"), (0.0001, 4.9, "ra0")]
    south = [(45.0, -30.0, "south"), (45.1, -30.1, "south")]
    lonely = [(150.0, 2.0 + 40 / 3600, "lonely")]  # 40" north of the first cosmos object
    far = [(250.0, -60.0, "far")]
    return cosmos + edge + ra0 + south + lonely + far


@pytest.fixture(scope="session")
def ztf_sample() -> pd.DataFrame:
    """Every test object: ``objectid`` (1..N), ``ra``, ``dec`` (deg), ``label``."""
    ra, dec, label = zip(*_sample_rows(), strict=True)
    return pd.DataFrame(
        {"objectid": np.arange(1, len(ra) + 1, dtype=np.int64), "ra": ra, "dec": dec, "label": label}
    )


@pytest.fixture(scope="session")
def ztf_hats(tmp_path_factory, ztf_sample) -> Path:
    """The synthetic ZTF DR24 collection built around the sample minus ``lonely`` and ``far``."""
    built = ztf_sample[~ztf_sample["label"].isin(["lonely", "far"])]
    root = tmp_path_factory.mktemp("ztf") / "hats"
    return build_ztf_hats(built, root, epochs_per_band=EPOCHS_PER_BAND, n_field_objects=N_FIELD_OBJECTS)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, for the whole session: its ``http://`` URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def ztf_s3(moto_endpoint, ztf_hats) -> str:
    """The collection uploaded to ``s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats`` on moto.

    Objects get ACL public-read: hats reads ``s3://`` anonymously, and moto refuses unsigned
    GETs of private objects.
    """
    upload_public(moto_endpoint, ztf_hats, ZTF_S3_BUCKET, ZTF_S3_KEY)
    return ZTF_S3_URI


@pytest.fixture
def aws_env(monkeypatch, moto_endpoint) -> Iterator[str]:
    """Point the standard AWS variables at moto (dummy keys), as a user would; the endpoint.

    fsspec caches S3 filesystems by their options, not by the environment: the cache is cleared
    on entry and exit so no other test reuses a filesystem bound to this endpoint.
    """
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3fs.S3FileSystem.clear_instance_cache()
    yield moto_endpoint
    s3fs.S3FileSystem.clear_instance_cache()
