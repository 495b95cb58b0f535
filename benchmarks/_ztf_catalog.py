"""A cached ZTF DR24-like HATS collection and a matching sample, for the scale benchmark.

The sample is ``N`` positions drawn uniformly on the sphere inside an SDSS-like footprint
(RA 120-240 deg, Dec 0-60 deg, about 5,950 deg^2), seeded, so the same ``N`` always gives the same
sample. The collection is written by the demo's generator (:func:`mwlc.demo.ztf.ztf_objects`
and its light-curve columns: the real DR24 schema, one counterpart per band within 0.5 arcsec,
two decoys 2-5 arcsec away), with one field object per sample object and one thing the demo
builder does not do: partitions are capped at :data:`PARTITION_ROWS` ZTF objects, as a
real HATS import caps them (``hats_max_rows``). So a partition's size does not grow with ``N``:
a larger sample gives more partitions, as a larger sky area of the real collection would.
Each partition file has pyarrow's default row groups (up to 1 Mi rows, i.e. one row group per
file here), the layout of most HATS imports.
"""

from __future__ import annotations

import json
import logging
import shutil
from functools import partial
from pathlib import Path

import lsdb
import numpy as np
import pandas as pd

from mwlc.demo import ztf as demo_ztf

log = logging.getLogger(__name__)

#: Bump when the generated data change, so stale caches are rebuilt.
VERSION = 1
#: Footprint of the sample (deg): SDSS-like, RA 120-240, Dec 0-60.
RA_RANGE_DEG = (120.0, 240.0)
DEC_RANGE_DEG = (0.0, 60.0)
#: Largest number of ZTF objects (rows) in one partition of the collection.
PARTITION_ROWS = 30_000
#: Order at which partitions stop being split (pixel side ~0.9 deg).
HIGHEST_ORDER = 6
#: Unrelated ZTF objects 6-150 arcsec from the sample objects, per sample object.
FIELD_OBJECTS_PER_SAMPLE = 1
SEED = 2024


def sample_positions(n_objects: int, seed: int = SEED) -> pd.DataFrame:
    """``n_objects`` positions uniform on the sphere inside the footprint.

    Returns
    -------
    pandas.DataFrame
        ``objectid`` (int64, 1..N, generation order), ``ra``, ``dec`` (deg), ``label``.
    """
    if n_objects < 1:
        raise ValueError(f"n_objects must be >= 1, got {n_objects}")
    rng = np.random.default_rng(seed)
    ra = rng.uniform(*RA_RANGE_DEG, n_objects)
    sin_dec = rng.uniform(*np.sin(np.radians(DEC_RANGE_DEG)), n_objects)
    return pd.DataFrame(
        {
            "objectid": np.arange(1, n_objects + 1, dtype=np.int64),
            "ra": ra,
            "dec": np.degrees(np.arcsin(sin_dec)),
            "label": "SDSS-like",
        }
    )


def build_collection(sample: pd.DataFrame, out_dir: Path, epochs_per_band: int) -> Path:
    """Write the ZTF collection around ``sample``; partitions capped at :data:`PARTITION_ROWS`."""
    objects = demo_ztf.ztf_objects(
        sample,
        seed=SEED,
        n_field_objects=FIELD_OBJECTS_PER_SAMPLE * len(sample),
        epochs_per_band=epochs_per_band,
    )
    catalog = lsdb.from_dataframe(
        objects,
        ra_column="objra",
        dec_column="objdec",
        catalog_name=demo_ztf.ZTF_CATALOG_NAME,
        margin_threshold=demo_ztf.ZTF_MARGIN_ARCSEC,
        highest_order=HIGHEST_ORDER,
        partition_rows=PARTITION_ROWS,
    )
    # The demo generator's per-partition light curves (a private helper of mwlc.demo.ztf, reused
    # so the benchmark reads exactly the schema and values the tests and the demo read).
    add_lightcurves = partial(demo_ztf._add_lightcurves, seed=SEED)
    catalog = catalog.map_partitions(add_lightcurves, meta=add_lightcurves(catalog.meta))
    catalog.write_catalog(
        out_dir,
        catalog_name=demo_ztf.ZTF_CATALOG_NAME,
        overwrite=True,
        progress_bar=False,
        npix_suffix="/",
        npix_parquet_name="part0.snappy.parquet",
    )
    log.info("wrote %s: %d ZTF objects in %d partitions", out_dir, len(objects), catalog.npartitions)
    return out_dir


def cached_inputs(cache_dir: Path, n_objects: int, epochs_per_band: int) -> tuple[Path, Path]:
    """The sample CSV and the collection for ``(n_objects, epochs_per_band)``, built once.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        ``sample.csv`` (``ra``, ``dec`` in deg, ``label``) and the collection root.
    """
    key = f"ztf-n{n_objects}-e{epochs_per_band}-v{VERSION}"
    root = cache_dir / key
    done = root / "done.json"
    sample_csv, hats = root / "sample.csv", root / "hats"
    if done.exists():
        return sample_csv, hats
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    sample = sample_positions(n_objects)
    sample[["ra", "dec", "label"]].to_csv(sample_csv, index=False, float_format="%.8f")
    # The collection is built around the positions as written (8 decimals), i.e. as read back.
    sample[["ra", "dec"]] = pd.read_csv(sample_csv)[["ra", "dec"]]
    build_collection(sample, hats, epochs_per_band)
    done.write_text(json.dumps({"objects": n_objects, "epochs_per_band": epochs_per_band}))
    return sample_csv, hats
