"""Session fixtures for Pan-STARRS: synthetic ``otmo`` + ``detection`` HATS collections, local and on S3.

The collections are built once per session by :func:`mwlc.demo.panstarrs.build_panstarrs_hats`
around sample objects chosen to exercise the crossmatch and the join:

* ``edge``: objects exactly on HEALPix order-0 boundaries (so on a partition boundary at every
  order), at RA 20-20.5 deg (boundary of base pixels 0/4) and 100-106 deg (1/5), every one on the
  polar side. Their 0.5" counterparts and 0.08"-scattered detections fall on either side, so
  some counterparts are held only by the otmo margin and some detections only by the detection
  margin, in sky where no other sample object lies;
* ``ra0``: objects at RA within 0.5" of 0/360 deg;
* ``cosmos``, ``south``: ordinary objects in two more sky regions (several partitions);
* ``nocover``: an object south of dec -30, where PS1 (and so the fixture) has no object.

:func:`ps1_sample` adds objects that were *not* given to the builder: ``lonely`` (in the
coverage, 40" from a built object, so no counterpart) and ``far`` (outside the coverage).
The moto fixtures reuse ``moto_endpoint`` and ``aws_env`` from :mod:`tests.fixtures_ztf`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.demo.panstarrs import build_panstarrs_hats
from tests.servers.s3 import upload_public

#: Where the real collections live; the moto copy uses the same bucket and key.
PS1_S3_BUCKET = "stpubdata"
PS1_S3_KEY = "panstarrs/ps1/public/hats"
PS1_S3_URI = f"s3://{PS1_S3_BUCKET}/{PS1_S3_KEY}"
N_FIELD_OBJECTS = 600
NOT_BUILT = ("lonely", "far")


def on_order0_boundary(ra: float) -> float:
    """Declination (deg) on the polar side of where the meridian ``ra`` leaves a polar base pixel."""
    low, high = 5.0, 41.0  # equatorial base pixel below, polar-cap base pixel above
    assert radec2pix(0, ra, low) != radec2pix(0, ra, high)
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if radec2pix(0, ra, mid) == radec2pix(0, ra, low) else (low, mid)
    return high


def _sample_rows() -> list[tuple[float, float, str]]:
    """(ra, dec, label) of every test object, built ones first."""
    cosmos = [(150.0 + 0.2 * i, 2.0 + 0.2 * j, "cosmos") for i in range(4) for j in range(3)]
    edge_ras = [20.0, 20.1, 20.2, 20.3, 20.4, 20.5, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0]
    edge = [(ra, on_order0_boundary(ra), "edge") for ra in edge_ras]
    ra0 = [(0.00005, 5.0, "ra0"), (359.99995, 5.1, "ra0"), (0.0001, 4.9, "ra0")]
    south = [(45.0, -25.0, "south"), (45.1, -25.1, "south")]
    nocover = [(60.0, -45.0, "nocover")]
    lonely = [(150.0, 2.0 + 40 / 3600, "lonely")]  # 40" north of the first cosmos object
    far = [(250.0, -60.0, "far")]
    return cosmos + edge + ra0 + south + nocover + lonely + far


@pytest.fixture(scope="session")
def ps1_sample() -> pd.DataFrame:
    """Every test object: ``objectid`` (1..N), ``ra``, ``dec`` (deg), ``label``."""
    ra, dec, label = zip(*_sample_rows(), strict=True)
    return pd.DataFrame(
        {"objectid": np.arange(1, len(ra) + 1, dtype=np.int64), "ra": ra, "dec": dec, "label": label}
    )


@pytest.fixture(scope="session")
def ps1_hats(tmp_path_factory, ps1_sample) -> Path:
    """The synthetic base directory (``otmo/``, ``detection/``) built around the sample minus
    ``lonely`` and ``far``; detection partitions are finer than otmo's, as in the real data."""
    built = ps1_sample[~ps1_sample["label"].isin(NOT_BUILT)]
    root = tmp_path_factory.mktemp("ps1") / "hats"
    return build_panstarrs_hats(built, root, n_field_objects=N_FIELD_OBJECTS)


@pytest.fixture(scope="session")
def ps1_hats_coarse_detection(tmp_path_factory, ps1_sample) -> Path:
    """Like :func:`ps1_hats` for the ``edge`` and ``ra0`` objects, but with detection partitions
    *coarser* than otmo's (the join then aligns on otmo's finer pixels)."""
    built = ps1_sample[ps1_sample["label"].isin(["edge", "ra0"])]
    root = tmp_path_factory.mktemp("ps1_coarse") / "hats"
    return build_panstarrs_hats(built, root, n_field_objects=200, n_partitions=(24, 2))


@pytest.fixture(scope="session")
def ps1_s3(moto_endpoint, ps1_hats) -> str:
    """The collections uploaded to ``s3://stpubdata/panstarrs/ps1/public/hats`` on moto.

    Objects get ACL public-read: hats reads ``s3://`` anonymously, and moto refuses unsigned
    GETs of private objects.
    """
    upload_public(moto_endpoint, ps1_hats, PS1_S3_BUCKET, PS1_S3_KEY)
    return PS1_S3_URI
