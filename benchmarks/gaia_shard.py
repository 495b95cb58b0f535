"""Peak memory of one Gaia fetch job: a 10,000-object shard, three bands, the demo generator's catalog.

    .venv/bin/python benchmarks/gaia_shard.py [--objects 10000] [--over-http]

Builds once (cached under ``benchmarks/.cache/``) the demo's synthetic Gaia DR3 epoch-photometry
collection (:func:`mwlc.demo.gaia.build_gaia_hats`: a counterpart within 0.3 arcsec of each
object, decoys and field sources, ~40 transits each, 45 nested fields) around ``--objects``
positions in a 10 x 10 deg patch, then runs ``gaia.fetch`` for all three bands in a fresh process
as a fetch job does (``threads=2``, ``mem_mb=3000``), writing the shard file. Prints one JSON
line: ``objects``, ``rows_out``, ``wall_s``, ``peak_rss_mb`` (the kernel's ``VmHWM``),
``bytes_read`` (``rchar``), ``catalog_bytes``, ``build_s``.

``--over-http``: the collection is served by a loopback HTTP range server (as the real one is,
over HTTPS) and read through the remote path with the default ``storage`` policy;
``bytes_read`` is then what the server sent and ``requests`` how many GETs it answered (see
``partition_scale.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
BANDS = ["Gaia_G", "Gaia_BP", "Gaia_RP"]


def sample(n_objects: int) -> pd.DataFrame:
    """``n_objects`` positions uniform in RA 150-160, Dec 0-10 deg (seeded)."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "objectid": np.arange(1, n_objects + 1, dtype=np.int64),
            "ra": rng.uniform(150.0, 160.0, n_objects),
            "dec": np.degrees(np.arcsin(rng.uniform(0.0, np.sin(np.radians(10.0)), n_objects))),
            "label": "bench",
        }
    )


def child(source: str, sample_path: str, out: str) -> None:
    """One fetch in this process; prints its measures as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from partition_scale import _rchar, _vm_hwm_mb

    from mwlc.archives import gaia
    from mwlc.io import write_lightcurve_shard
    from mwlc.schema import file_metadata
    from mwlc.storage import DEFAULT_POLICY, storage_options

    objects = pd.read_parquet(sample_path)
    remote = {"storage_options": storage_options(None, DEFAULT_POLICY)} if "://" in source else {}
    started, read_before = time.monotonic(), _rchar()
    batches = gaia.fetch(objects, source=source, bands=BANDS, threads=2, mem_mb=3000, **remote)
    rows = write_lightcurve_shard(batches, out, file_metadata("gaia", gaia.BANDS))
    print(
        json.dumps(
            {
                "wall_s": round(time.monotonic() - started, 2),
                "bytes_read": _rchar() - read_before,
                "peak_rss_mb": round(_vm_hwm_mb(), 1),
                "rows_out": rows,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--over-http", action="store_true", help="read through a loopback HTTP range server")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from mwlc.demo.gaia import build_gaia_hats

    root = CACHE / f"gaia-n{args.objects}-v1"
    objects = sample(args.objects)
    started = time.monotonic()
    if not (root / "done").exists():
        build_gaia_hats(objects, root / "hats")
        (root / "done").write_text("")
    build_s = time.monotonic() - started
    objects.to_parquet(root / "sample.parquet")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from partition_scale import run_child, serve

    server = None
    source = str(root / "hats")
    if args.over_http:
        server = serve(root)
        source = f"http://127.0.0.1:{server.server_address[1]}/hats/"
    measured = run_child(__file__, source, str(root / "sample.parquet"), str(root / "out.parquet"))
    if server is not None:
        measured |= {"bytes_read": server.sent_bytes, "requests": server.gets}
    catalog_bytes = sum(p.stat().st_size for p in (root / "hats").rglob("*.parquet"))
    print(
        json.dumps(
            {
                "objects": args.objects,
                **measured,
                "catalog_bytes": catalog_bytes,
                "build_s": round(build_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
