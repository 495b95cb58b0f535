"""The merge's by-object table at a high-cadence shard: memory against the shard's size.

    .venv/bin/python benchmarks/merge_scale.py [--objects 10000] [--epochs 3000] [--order sorted|shuffled]

1. Writes once (cached under ``benchmarks/.cache/merge-scale-*``) one ZTF shard file of
   ``--objects`` objects x ``--epochs`` rows each, in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`,
   in row groups of :data:`mwlc.io.ROW_GROUP_ROWS` rows as a fetch writes them: objectid order
   (``sorted``, as the HATS readers find objects in HEALPix order) or the rows shuffled across
   the file (``shuffled``, the worst case: every row group meets every range of objects).
2. In a fresh process, :func:`mwlc.merge.write_by_object` makes the by-object table of that
   shard, as the merge job does (2,000 objects a row group).
3. Prints one JSON line: ``rows``, ``shard_file_mb``, ``peak_rss_mb`` (the kernel's high-water
   mark, ``VmHWM``, of the merging process, imports included), ``bytes_read`` (``rchar`` of
   ``/proc/self/io`` around the merge) and ``wall_s``.

The merge job declares ``mem_mb=2000`` (``workflow/rules/merge.smk``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
#: Rows built at a time when writing the shard file.
WRITE_ROWS = 2_000_000


def objects(n: int) -> pd.DataFrame:
    """The shard's objects as the merge reads them from ``sample.ecsv``."""
    ids = np.arange(1, n + 1, dtype=np.int64)
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "objectid": ids,
            "ra": rng.uniform(280.0, 281.0, n),
            "dec": rng.uniform(44.0, 45.0, n),
            "label": "KIC",
            "labels": "KIC",
        }
    )


def write_shard(path: Path, n_objects: int, epochs: int, order: str) -> None:
    """One shard file of ``n_objects x epochs`` rows, objectid-sorted or shuffled."""
    from mwlc.io import ROW_GROUP_ROWS
    from mwlc.schema import LIGHTCURVE_SCHEMA

    rng = np.random.default_rng(1)
    ids = np.repeat(np.arange(1, n_objects + 1, dtype=np.int64), epochs)
    if order == "shuffled":
        rng.shuffle(ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, LIGHTCURVE_SCHEMA) as writer:
        for start in range(0, len(ids), WRITE_ROWS):
            part = ids[start : start + WRITE_ROWS]
            bands = np.where(part % 3 == 0, "ztf_i", np.where(part % 2 == 0, "ztf_g", "ztf_r"))
            table = pa.table(
                {
                    "objectid": part,
                    "label": pa.array(["KIC"] * len(part)).dictionary_encode(),
                    "band": pa.array(bands).dictionary_encode(),
                    "time": 58000.0 + 2000.0 * rng.random(len(part)),
                    "flux": rng.random(len(part)),
                    "err": 0.01 * rng.random(len(part)),
                }
            )
            writer.write_table(table.cast(LIGHTCURVE_SCHEMA), row_group_size=ROW_GROUP_ROWS)
    tmp.rename(path)


def merge_in_child(dataset: Path, n_objects: int) -> dict:
    """Run ``write_by_object`` on shard 0000 in a fresh process; its peak RSS, bytes read, wall."""
    code = f"""
import json, time
from pathlib import Path
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from merge_scale import objects
from mwlc.merge import write_by_object
def io():
    return int(next(l for l in open('/proc/self/io') if l.startswith('rchar')).split()[1])
shard = objects({n_objects})
start, read = time.perf_counter(), io()
write_by_object([shard], {str(dataset)!r}, ['ztf'], ['0000'], {str(dataset / "by_object.parquet")!r})
wall, read = time.perf_counter() - start, io() - read
hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))
print(json.dumps({{"peak_rss_mb": int(hwm.split()[1]) / 1024, "bytes_read": read, "wall_s": wall}}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3_000)
    parser.add_argument("--order", choices=("sorted", "shuffled"), default="sorted")
    args = parser.parse_args()
    dataset = CACHE / f"merge-scale-{args.objects}x{args.epochs}-{args.order}"
    shard = dataset / "archive=ztf" / "shard-0000.parquet"
    start = time.perf_counter()
    if not shard.exists():
        write_shard(shard, args.objects, args.epochs, args.order)
    build_s = time.perf_counter() - start
    result = merge_in_child(dataset, args.objects)
    print(
        json.dumps(
            {
                "objects": args.objects,
                "epochs": args.epochs,
                "order": args.order,
                "rows": args.objects * args.epochs,
                "shard_file_mb": round(shard.stat().st_size / 1e6, 1),
                "build_s": round(build_s, 1),
                **{key: round(value, 1) for key, value in result.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
