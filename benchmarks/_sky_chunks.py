"""Build a synthetic archive of a large sample in pieces of sky, so the build's memory is bounded by a piece.

The demo generators (:mod:`mwlc.demo`) hold a whole archive in memory before writing it: fine for
50,000 objects, but Pan-STARRS' detection table of 500,000 objects needs more than 24 GiB. So
:func:`build_in_sky_chunks` splits the sample by HEALPix pixel of order :data:`CHUNK_ORDER`
(~14.7 deg), builds each chunk with the generator into a scratch directory, keeps of each chunk
only the partitions (HATS) or the hive partitions (unWISE) inside its own pixels, and joins them
into one collection whose metadata is written again (hats' ``write_parquet_metadata``, the
partition list, the row counts).

What it gives up: rows the generator places across a chunk's boundary (a field object or a
detection of an object at the edge, a margin row from the neighbouring chunk) are dropped, about
one object in a thousand at order 2. This is a benchmark's archive, not a test's reference.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

#: HEALPix order of the sky pieces (nested scheme: every partition of order >= 2 lies in one).
CHUNK_ORDER = 2
_LEAF = re.compile(r"Norder=(\d+)/Dir=\d+/Npix=(\d+)\.parquet$")


def sky_chunks(positions: pd.DataFrame, max_objects: int) -> list[tuple[pd.DataFrame, set[int]]]:
    """The sample cut into runs of order-:data:`CHUNK_ORDER` pixels of at most ~``max_objects``.

    Returns
    -------
    list of (objects, pixels)
        The objects (``ra``, ``dec`` in deg) of each chunk and its set of pixels.
    """
    from hats.pixel_math.spatial_index import compute_spatial_index

    index = compute_spatial_index(positions["ra"].to_numpy(), positions["dec"].to_numpy())
    pixel = np.asarray(index, dtype=np.int64) >> (2 * (29 - CHUNK_ORDER))
    counts = pd.Series(pixel).value_counts().sort_index()
    chunks, current, size = [], [], 0
    for value, count in counts.items():
        if current and size + count > max_objects:
            chunks.append(set(current))
            current, size = [], 0
        current.append(int(value))
        size += int(count)
    chunks.append(set(current))
    return [(positions[np.isin(pixel, sorted(pixels))], pixels) for pixels in chunks]


def build_in_sky_chunks(
    build: Callable[[pd.DataFrame, Path], object],
    positions: pd.DataFrame,
    out: Path,
    *,
    max_objects: int,
    join: Callable[[list[tuple[Path, set[int]]], Path], None],
) -> None:
    """``build(positions, out)`` in one piece, or chunk by chunk joined by ``join`` if large."""
    chunks = sky_chunks(positions, max_objects)
    if len(chunks) == 1:
        build(positions, out)
        return
    scratch = out.with_name(out.name + ".chunks")
    shutil.rmtree(scratch, ignore_errors=True)
    built = []
    for i, (objects, pixels) in enumerate(chunks):
        build(objects, scratch / f"{i:03d}")
        built.append((scratch / f"{i:03d}", pixels))
    join(built, out)
    shutil.rmtree(scratch)


def _in_chunk(order: int, npix: int, pixels: set[int]) -> bool:
    """Whether partition ``(order, npix)`` lies in the chunk. A partition larger than a chunk is
    not kept: lsdb puts margin rows around pixels where the chunk has no partition into one
    low-order margin partition, which no partition of the chunk pairs with."""
    return order >= CHUNK_ORDER and npix >> (2 * (order - CHUNK_ORDER)) in pixels


def join_hats(chunks: list[tuple[Path, set[int]]], out: Path) -> None:
    """Join HATS collections built chunk by chunk: each chunk's own partitions, metadata anew."""
    from hats.io.parquet_metadata import write_parquet_metadata

    first = chunks[0][0]
    shutil.copytree(first, out, ignore=shutil.ignore_patterns("dataset", "*.fits", "per_partition_*"))
    for properties in sorted(out.rglob("hats.properties")):
        catalog = properties.parent
        relative = catalog.relative_to(out)
        kept = []
        for root, pixels in chunks:
            for leaf in sorted((root / relative / "dataset").rglob("Npix=*.parquet")):
                order, npix = (int(group) for group in _LEAF.search(leaf.as_posix()).groups())
                if _in_chunk(order, npix, pixels):
                    target = catalog / "dataset" / leaf.relative_to(root / relative / "dataset")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(leaf, target)
                    kept.append((order, npix))
        partitions = pd.DataFrame(sorted(kept), columns=["Norder", "Npix"])
        partitions.to_csv(catalog / "partition_info.csv", index=False)
        rows = write_parquet_metadata(catalog)
        size_kb = sum(f.stat().st_size for f in (catalog / "dataset").rglob("*.parquet")) // 1024
        text = re.sub(r"hats_nrows=\d+", f"hats_nrows={rows}", properties.read_text())
        properties.write_text(re.sub(r"hats_estsize=\d+", f"hats_estsize={size_kb}", text))


def join_hive(chunks: list[tuple[Path, set[int]]], out: Path) -> None:
    """Join unWISE hive datasets built chunk by chunk: each chunk's own ``healpix_k5`` partitions."""
    shutil.copytree(chunks[0][0], out, ignore=shutil.ignore_patterns("healpix_k0=*", "_metadata"))
    collected = []
    for root, pixels in chunks:
        for leaf in sorted(root.glob("healpix_k0=*/healpix_k5=*/*.parquet")):
            k5 = int(leaf.parent.name.removeprefix("healpix_k5="))
            if _in_chunk(5, k5, pixels):
                relative = leaf.relative_to(root)
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(leaf, out / relative)
                metadata = pq.read_metadata(out / relative)
                metadata.set_file_path(relative.as_posix())
                collected.append(metadata)
    schema = pq.read_schema(out / "_common_metadata")
    pq.write_metadata(schema, out / "_metadata", metadata_collector=collected)
