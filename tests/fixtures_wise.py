"""Session fixtures for the WISE archive: a small synthetic unWISE neo7 dataset, local and on S3.

The dataset is built once per session by :func:`mwlc.demo.wise.build_unwise_dataset` (about 30
objects, ~15,000 detections, small row groups so files stream in several batches) around sample
objects chosen for the edge cases of the positional match:

* ``grid``: 12 objects 2.5 deg apart, spread over many order-5 pixels (one scan must cover all);
* ``edge``: objects exactly on an order-5 pixel boundary, so some of their detections lie in the
  neighbouring pixel;
* ``ra0``: objects within 0.2" of RA = 0/360 deg;
* ``pole``: an object 0.05" from the north celestial pole, where four pixels meet;
* ``pair``: two objects 1.2" apart, so a detection can be within 1" of both.

:func:`wise_sample` adds objects that were *not* given to the builder: ``lonely`` (40" from a
built object, so nothing within 1") and ``far`` (in a pixel the dataset does not have).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.demo.wise import build_unwise_dataset
from tests.servers.s3 import upload_public

#: Where the real dataset lives; the moto copy uses the same bucket and key.
WISE_S3_BUCKET = "nasa-irsa-wise"
WISE_S3_KEY = "unwise/neo7/catalogs/time_domain/healpix_k5/unwise-neo7-time_domain-healpix_k5.parquet"
WISE_S3_URI = f"s3://{WISE_S3_BUCKET}/{WISE_S3_KEY}"
#: Rows per row group in the fixture files (several per file, so a file streams in batches).
ROW_GROUP_ROWS = 400
UNBUILT_LABELS = ("lonely", "far")


def on_pixel_boundary(ra: float, dec_low: float = 20.0, dec_high: float = 24.0) -> float:
    """A declination (deg) where the meridian ``ra`` crosses from one order-5 pixel into another."""
    assert radec2pix(5, ra, dec_low) != radec2pix(5, ra, dec_high)
    for _ in range(60):
        mid = (dec_low + dec_high) / 2
        if radec2pix(5, ra, mid) == radec2pix(5, ra, dec_low):
            dec_low = mid
        else:
            dec_high = mid
    return dec_high


def _sample_rows() -> list[tuple[float, float, str]]:
    """(ra, dec, label) of every test object, built ones first."""
    grid = [(150.0 + 2.5 * i, 2.0 + 2.5 * j, "grid") for i in range(4) for j in range(3)]
    edge = [(ra, on_pixel_boundary(ra), "edge") for ra in (30.0, 30.2, 30.4, 30.6)]
    ra0 = [(0.00005, 5.0, "ra0"), (359.99995, 5.1, "ra0"), (0.0001, 4.9, "ra0")]
    pole = [(45.0, 90.0 - 0.05 / 3600, "pole")]
    pair = [(200.0, -30.0, "pair"), (200.0 + 1.2 / 3600 / np.cos(np.radians(30.0)), -30.0, "pair")]
    lonely = [(150.0, 2.0 + 40 / 3600, "lonely")]  # 40" north of the first grid object
    far = [(250.0, -60.0, "far")]
    return grid + edge + ra0 + pole + pair + lonely + far


@pytest.fixture(scope="session")
def wise_sample() -> pd.DataFrame:
    """Every test object: ``objectid`` (1..N), ``ra``, ``dec`` (deg), ``label``."""
    ra, dec, label = zip(*_sample_rows(), strict=True)
    return pd.DataFrame(
        {"objectid": np.arange(1, len(ra) + 1, dtype=np.int64), "ra": ra, "dec": dec, "label": label}
    )


@pytest.fixture(scope="session")
def wise_dataset(tmp_path_factory, wise_sample) -> Path:
    """The synthetic unWISE dataset built around the sample minus ``lonely`` and ``far``."""
    built = wise_sample[~wise_sample["label"].isin(UNBUILT_LABELS)]
    root = tmp_path_factory.mktemp("wise") / "unwise-neo7-time_domain-healpix_k5.parquet"
    return build_unwise_dataset(built, root, row_group_rows=ROW_GROUP_ROWS)


@pytest.fixture(scope="session")
def wise_s3(moto_endpoint, wise_dataset) -> str:
    """The dataset uploaded to ``s3://nasa-irsa-wise/unwise/neo7/...parquet`` on moto (public-read).

    The reader is anonymous, and moto refuses unsigned GETs of private objects.
    """
    upload_public(moto_endpoint, wise_dataset, WISE_S3_BUCKET, WISE_S3_KEY, region="us-west-2")
    return WISE_S3_URI
