"""A cached ZTF DR24-like HATS collection with one partition of real size (>= 1.5 GB on disk).

The real collection's partitions are "several GB each" (IRSA); how its files are cut into row
groups is unknown. This builds the layout of the real collection (directory leaves
``Norder=5/Dir=0/Npix=N/part0.snappy.parquet``, the DR24 schema, a 10 arcsec margin catalog)
with one order-5 partition ``P`` holding ~550,000 ZTF objects (~70 M epochs) and its eight
neighbours holding a few thousand each, twice:

* ``one-row-group``: every leaf file is a single row group (``P``'s is ~1.5 GB);
* ``100k-row-groups``: the same rows, in row groups of 100,000 rows.

The objects are the demo generator's (:func:`mwlc.demo.ztf.ztf_objects`: per host position a
counterpart in each band within 0.5 arcsec, two decoys 2-5 arcsec away, field objects), around
host positions drawn uniformly in ``P`` and its neighbours; light curves are the demo's
(:func:`mwlc.demo.ztf._add_lightcurves`: ~150 g epochs, r 1.2x, i 0.3x), keyed on objectid so
a margin copy equals its main row. The structure (partitions, margins, properties) is written
by lsdb/hats with one-epoch light curves, then every leaf is rewritten with the full ones,
sorted by ``_healpix_29`` as a HATS import sorts them.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import lsdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hats.pixel_math.healpix_shim import radec2pix

from mwlc.demo import ztf as demo_ztf

log = logging.getLogger(__name__)

#: Bump when the generated data change, so stale caches are rebuilt.
VERSION = 2
SEED = 2026
ORDER = 5
#: The big partition holds this position (deg).
CENTRE_DEG = (180.0, 30.0)
#: Host positions (each gives ~4.7 ZTF objects) inside the big partition, and in its neighbours.
HOSTS_IN_PARTITION = 120_000
HOSTS_PER_NEIGHBOUR = 600
LAYOUTS = {"one-row-group": None, "100k-row-groups": 100_000}
#: Rows whose light curves are generated at a time while a leaf is rewritten.
CHUNK_ROWS = 50_000


def big_pixel() -> int:
    """The order-5 pixel of the big partition."""
    return int(np.ravel(radec2pix(ORDER, *CENTRE_DEG))[0])


def _uniform_in(pixels: set[int], n: int, rng: np.random.Generator, box_deg: float) -> np.ndarray:
    """``n`` positions (ra, dec deg) uniform on the sphere inside the union of order-5 ``pixels``."""
    ra0, dec0 = CENTRE_DEG
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        ra = rng.uniform(ra0 - box_deg, ra0 + box_deg, 4 * n)
        sin_dec = rng.uniform(*np.sin(np.radians([dec0 - box_deg, dec0 + box_deg])), 4 * n)
        dec = np.degrees(np.arcsin(sin_dec))
        inside = np.isin(np.asarray(radec2pix(ORDER, ra, dec)), list(pixels))
        found.append(np.column_stack([ra[inside], dec[inside]]))
        total += int(inside.sum())
    return np.concatenate(found)[:n]


def hosts(in_partition: int = HOSTS_IN_PARTITION) -> pd.DataFrame:
    """Host positions: ``objectid`` (1..N), ``ra``, ``dec`` (deg), ``in_partition`` (bool)."""
    from cdshealpix.nested import neighbours as pixel_neighbours

    rng = np.random.default_rng(SEED)
    centre = big_pixel()
    around_centre = pixel_neighbours(np.array([centre], dtype=np.uint64), ORDER)
    neighbours = {int(p) for p in np.ravel(around_centre) if p >= 0 and p != centre}
    inside = _uniform_in({centre}, in_partition, rng, box_deg=2.5)
    around = _uniform_in(neighbours, HOSTS_PER_NEIGHBOUR * len(neighbours), rng, box_deg=5.0)
    positions = np.concatenate([inside, around])
    return pd.DataFrame(
        {
            "objectid": np.arange(1, len(positions) + 1, dtype=np.int64),
            "ra": positions[:, 0],
            "dec": positions[:, 1],
            "in_partition": np.arange(len(positions)) < len(inside),
        }
    )


def _structure(objects: pd.DataFrame, out_dir: Path) -> None:
    """Partitions, margin and properties by lsdb, with one-epoch light curves (rewritten later)."""
    catalog = lsdb.from_dataframe(
        objects.assign(nepochs=1),
        ra_column="objra",
        dec_column="objdec",
        catalog_name=demo_ztf.ZTF_CATALOG_NAME,
        margin_threshold=demo_ztf.ZTF_MARGIN_ARCSEC,
        lowest_order=ORDER,
        highest_order=ORDER,
        partition_rows=10**8,
    )
    catalog.write_catalog(
        out_dir,
        catalog_name=demo_ztf.ZTF_CATALOG_NAME,
        overwrite=True,
        progress_bar=False,
        npix_suffix="/",
        npix_parquet_name="part0.snappy.parquet",
    )


def _lightcurve_array(part: pd.DataFrame) -> pa.StructArray:
    """The demo's ``lightcurve`` struct of lists for rows ``objectid, objra, nepochs``."""
    n_epochs = part["nepochs"].to_numpy(np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(n_epochs)]).astype(np.int32))
    columns = demo_ztf._lightcurve_columns(
        part["objectid"].to_numpy(np.int64), part["objra"].to_numpy(np.float64), n_epochs, SEED
    )
    types = {"hmjd": pa.float64(), "mag": pa.float32(), "magerr": pa.float32()}
    types |= {"clrcoeff": pa.float32(), "catflags": pa.int32()}
    lists = [
        pa.ListArray.from_arrays(
            offsets, pa.array(columns[name], kind), type=pa.list_(pa.field("element", kind))
        )
        for name, kind in types.items()
    ]
    return pa.StructArray.from_arrays(lists, names=list(types))


def _with_lightcurves(table: pa.Table, epochs: pd.Series) -> pa.Table:
    """A leaf's table with its real ``nepochs`` and full ``lightcurve`` column (before _healpix_29)."""
    frame = table.select(["objectid", "objra"]).to_pandas()
    frame["nepochs"] = epochs.loc[frame["objectid"]].to_numpy(np.int64)
    lightcurve = pa.chunked_array(
        [
            _lightcurve_array(frame.iloc[start : start + CHUNK_ROWS])
            for start in range(0, len(frame), CHUNK_ROWS)
        ]
    )
    flat = table.set_column(
        table.schema.get_field_index("nepochs"), "nepochs", pa.array(frame["nepochs"].to_numpy(np.int64))
    )
    return flat.add_column(flat.schema.get_field_index("_healpix_29"), "lightcurve", lightcurve)


def _rewrite(structure: Path, collections: dict[str, Path], epochs: pd.Series) -> None:
    """Write every leaf of ``structure`` with full light curves into each layout's collection."""
    for leaf in sorted(structure.glob("*/dataset/Norder=*/Dir=*/Npix=*/part0.snappy.parquet")):
        # sorted by the spatial index, as a HATS import writes its leaves (and row groups then
        # cover disjoint parts of the sky)
        table = pq.read_table(leaf).sort_by("_healpix_29")
        table = _with_lightcurves(table, epochs).combine_chunks()
        for name, row_group_rows in LAYOUTS.items():
            target = collections[name] / leaf.relative_to(structure)
            pq.write_table(table, target, row_group_size=row_group_rows or max(1, table.num_rows))
        log.info("rewrote %s: %d rows, %.0f MB", leaf, table.num_rows, target.stat().st_size / 1e6)
    for name in LAYOUTS:
        for catalog in collections[name].glob("*/hats.properties"):
            dataset = catalog.parent / "dataset"
            for stale in ("_metadata", "per_partition_statistics.parquet", "data_thumbnail.parquet"):
                (dataset / stale).unlink(missing_ok=True)
                (catalog.parent / stale).unlink(missing_ok=True)
            pq.write_metadata(table.schema.remove_metadata(), dataset / "_common_metadata")


def cached_collections(cache_dir: Path, hosts_in_partition: int = HOSTS_IN_PARTITION) -> dict[str, Path]:
    """The two layouts of the collection (``LAYOUTS`` name -> collection root), built once."""
    root = cache_dir / f"big-partition-h{hosts_in_partition}-v{VERSION}"
    done = root / "done.json"
    paths = {name: root / name for name in LAYOUTS}
    if done.exists():
        return paths
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    host = hosts(hosts_in_partition)
    host.to_parquet(root / "hosts.parquet")
    objects = demo_ztf.ztf_objects(host, seed=SEED, n_field_objects=len(host) // 3)
    epochs = objects.set_index("objectid")["nepochs"]
    structure = root / "structure"
    _structure(objects.drop(columns="nepochs"), structure)
    for name in LAYOUTS:
        shutil.copytree(structure, paths[name])
    _rewrite(structure, paths, epochs)
    shutil.rmtree(structure)
    done.write_text(json.dumps({"hosts": len(host), "objects": len(objects), "version": VERSION}))
    return paths


def big_leaf(collection: Path) -> Path:
    """The big partition's leaf file in ``collection``."""
    pixel = big_pixel()
    return (
        collection
        / demo_ztf.ZTF_CATALOG_NAME
        / "dataset"
        / f"Norder={ORDER}"
        / f"Dir={pixel // 10000 * 10000}"
        / f"Npix={pixel}"
        / "part0.snappy.parquet"
    )
