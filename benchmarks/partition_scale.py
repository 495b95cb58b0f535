"""Fetch memory and bytes read at real partition sizes: the partition reader vs. a whole-partition read.

    .venv/bin/python benchmarks/partition_scale.py [--no-baseline] [--cases one-row-group/dense ...]
    .venv/bin/python benchmarks/partition_scale.py --over-http [--cases ...]

1. Builds once (cached under ``benchmarks/.cache/``) a ZTF DR24-like collection whose main
   partition is ~1.5 GB on disk, written twice: one row group per file, and 100,000-row row
   groups (:mod:`_big_partition`). Build time is printed as ``build_s``.
2. Samples, all inside that partition, at the host positions of ZTF objects (so each has a
   counterpart in every band within 0.5 arcsec): ``dense`` 10,000 objects and ``sparse`` 50
   spread over the partition, as a shard's objects are; ``compact`` 50 objects within 0.1 deg.
3. For each layout and sample, in a fresh process each: ``ztf.fetch`` writing the shard file
   as the workflow does (``threads=2``, ``mem_mb=3000``, default ``read_batch_rows``), and, as
   the baseline, lsdb's own crossmatch of the whole partition per band (today's path before the
   reader; ``tests/lsdb_reference.py``). Each reports the kernel's high-water mark of its RSS
   (``VmHWM``), the bytes it read from files (``rchar`` of ``/proc/self/io`` around the fetch:
   every ``read``/``pread``, page cache or not) and its wall time.
4. Prints one JSON line: per case ``peak_rss_mb``, ``baseline_peak_rss_mb``, ``bytes_read``,
   ``baseline_bytes_read``, ``bytes_one_pass`` (on-disk bytes of the columns the fetch selects,
   in the touched partition and its margin, read once), ``read_fraction`` (``bytes_read`` over the
   partition file's size), ``wall_s``, ``baseline_wall_s``, ``rows_out``, ``rows_equal``.

``--over-http``: the collection is served by a loopback HTTP range server (as the real Gaia
collection is served over HTTPS) and the reader fetches it through its remote path
(:class:`mwlc.storage_retry.RetryingFile`, the default ``storage`` policy); ``bytes_read`` is
then what the server sent (the sum of its answers' ``Content-Length``) and ``requests`` how many
GETs it answered. No baseline.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from RangeHTTPServer import RangeRequestHandler

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _big_partition  # noqa: E402

CACHE = REPO / "benchmarks" / ".cache"
SAMPLES = {"dense": 10_000, "sparse": 50, "compact": 50}
#: Samples the baseline also runs on (``compact`` is the reader's row-group-skipping case only).
BASELINE_SAMPLES = ("dense", "sparse")
FETCH = {"threads": 2, "mem_mb": 3000}
FIRST_PASS_COLUMNS = ["objra", "objdec", "filterid", "_healpix_29"]


def samples(hosts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The three samples (``objectid, ra, dec, label``), seeded, inside the big partition."""
    rng = np.random.default_rng(1)
    inside = hosts[hosts["in_partition"]].reset_index(drop=True)
    sizes = {name: min(size, len(inside) // 2) for name, size in SAMPLES.items()}
    centre = np.radians(_big_partition.CENTRE_DEG)
    ra, dec = np.radians(inside["ra"]), np.radians(inside["dec"])
    cos_sep = np.sin(dec) * np.sin(centre[1]) + np.cos(dec) * np.cos(centre[1]) * np.cos(ra - centre[0])
    near = inside[np.degrees(np.arccos(np.clip(cos_sep, -1, 1))) < 0.1]
    chosen = {
        "dense": inside.iloc[np.sort(rng.choice(len(inside), sizes["dense"], replace=False))],
        "sparse": inside.iloc[np.sort(rng.choice(len(inside), sizes["sparse"], replace=False))],
        "compact": near.iloc[np.sort(rng.choice(len(near), min(sizes["compact"], len(near)), replace=False))],
    }
    return {name: frame[["objectid", "ra", "dec"]].assign(label=name) for name, frame in chosen.items()}


def bytes_one_pass(collection: Path) -> int:
    """On-disk bytes of the selected columns of the big partition and its margin, read once."""
    import pyarrow.parquet as pq

    from mwlc.archives import _parquet, ztf

    total = 0
    pixel = _big_partition.big_pixel()
    leaves = collection.glob(
        f"*/dataset/Norder={_big_partition.ORDER}/Dir=*/Npix={pixel}/part0.snappy.parquet"
    )
    for leaf in leaves:
        metadata = pq.read_metadata(leaf)
        paths = set(_parquet.physical_columns(metadata, [*FIRST_PASS_COLUMNS, *ztf.LIGHTCURVE_COLUMNS]))
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            total += sum(
                row_group.column(i).total_compressed_size
                for i in range(metadata.num_columns)
                if row_group.column(i).path_in_schema in paths
            )
    return total


# --------------------------------------------------------------------------- one measured fetch


def _rchar() -> int:
    """Bytes this process has read through read()/pread() so far (``/proc/self/io``)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


def _vm_hwm_mb() -> float:
    """This process's RSS high-water mark (``VmHWM``), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(mode: str, source: str, sample_path: str, out: str) -> None:
    """Run one fetch in this process and print its measures as JSON (the parent parses it)."""
    import pyarrow.parquet as pq

    from mwlc.archives import ztf
    from mwlc.io import write_lightcurve_shard
    from mwlc.schema import file_metadata
    from tests import lsdb_reference

    sample = pd.read_parquet(sample_path)
    started, read_before = time.monotonic(), _rchar()
    if mode in ("reader", "reader-http"):
        from mwlc.storage import DEFAULT_POLICY, storage_options

        job = (
            {**FETCH, "storage_options": storage_options(None, DEFAULT_POLICY)}
            if mode == "reader-http"
            else FETCH
        )
        rows = write_lightcurve_shard(
            ztf.fetch(sample, source=source, **job), out, file_metadata("ztf", ztf.BANDS)
        )
    else:
        table = lsdb_reference.ztf_rows(sample, source)
        pq.write_table(table, out)
        rows = table.num_rows
    result = {
        "wall_s": round(time.monotonic() - started, 2),
        "bytes_read": _rchar() - read_before,
        "peak_rss_mb": round(_vm_hwm_mb(), 1),
        "rows_out": rows,
    }
    print(json.dumps(result))


class _CountingRangeHandler(RangeRequestHandler):
    """RangeHTTPServer's handler, counting the GETs answered and the body bytes they announce."""

    def send_header(self, keyword: str, value: str) -> None:
        if self.command == "GET" and keyword.lower() == "content-length":
            with self.server.lock:
                self.server.sent_bytes += int(value)
                self.server.gets += 1
        super().send_header(keyword, value)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(
    directory: Path, handler: type[_CountingRangeHandler] = _CountingRangeHandler
) -> ThreadingHTTPServer:
    """A loopback HTTP range server of ``directory``, counting what it sends (in a daemon thread);
    ``handler`` may count more (a subclass)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    server.lock, server.sent_bytes, server.gets = threading.Lock(), 0, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure(mode: str, source: Path | str, sample: pd.DataFrame, workdir: Path) -> tuple[dict, Path]:
    """One fetch in a fresh process: its measures, and the parquet file it wrote."""
    sample_path, out = workdir / f"{mode}-sample.parquet", workdir / f"{mode}-rows.parquet"
    sample.to_parquet(sample_path)
    return run_child(__file__, mode, str(source), str(sample_path), str(out)), out


def run_child(script: str, *args: str) -> dict:
    """``script --child *args`` in a fresh Python (this checkout's ``src`` first on its path): the
    JSON of its last output line. Exits naming the child's error if it fails."""
    cmd = [sys.executable, script, "--child", *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{Path(script).name} --child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_rows(ours: Path, theirs: Path) -> bool:
    """Whether two light-curve files hold the same rows (bit for bit, row order aside)."""
    from tests import lsdb_reference

    return lsdb_reference.sorted_rows(pq.read_table(ours)).equals(
        lsdb_reference.sorted_rows(pq.read_table(theirs))
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--child", nargs=4, metavar=("MODE", "SOURCE", "SAMPLE", "OUT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--no-baseline", action="store_true", help="measure the partition reader only")
    parser.add_argument("--cases", nargs="*", help="e.g. one-row-group/dense (default: all)")
    parser.add_argument(
        "--hosts",
        type=int,
        default=_big_partition.HOSTS_IN_PARTITION,
        help="host positions in the big partition (default gives ~1.5 GB; fewer for a quick check)",
    )
    parser.add_argument(
        "--over-http", action="store_true", help="read the collection through a loopback HTTP range server"
    )
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    started = time.monotonic()
    collections = _big_partition.cached_collections(CACHE, args.hosts)
    build_s = time.monotonic() - started
    chosen = samples(pd.read_parquet(collections["one-row-group"].parent / "hosts.parquet"))
    report: dict = {
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "build_s": round(build_s, 1),
        "cases": {},
    }
    server = serve(CACHE) if args.over_http else None
    for layout, collection in collections.items():
        partition = _big_partition.big_leaf(collection)
        report.setdefault("partition_bytes", partition.stat().st_size)
        one_pass = bytes_one_pass(collection)
        for name, sample in chosen.items():
            case = f"{layout}/{name}"
            if args.cases and case not in args.cases:
                continue
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                if server is None:
                    ours, our_rows = measure("reader", collection, sample, Path(tmp))
                else:
                    server.sent_bytes = server.gets = 0
                    url = f"http://127.0.0.1:{server.server_address[1]}/{collection.relative_to(CACHE)}"
                    ours, our_rows = measure("reader-http", url, sample, Path(tmp))
                    ours |= {"bytes_read": server.sent_bytes, "requests": server.gets}
                result = {
                    "objects": len(sample),
                    "peak_rss_mb": ours["peak_rss_mb"],
                    "bytes_read": ours["bytes_read"],
                    "bytes_one_pass": one_pass,
                    "read_over_one_pass": round(ours["bytes_read"] / one_pass, 3),
                    "read_fraction": round(ours["bytes_read"] / partition.stat().st_size, 4),
                    "wall_s": ours["wall_s"],
                    "rows_out": ours["rows_out"],
                    **({"requests": ours["requests"]} if server is not None else {}),
                }
                if not args.no_baseline and server is None and name in BASELINE_SAMPLES:
                    theirs, their_rows = measure("baseline", collection, sample, Path(tmp))
                    result |= {
                        "baseline_peak_rss_mb": theirs["peak_rss_mb"],
                        "baseline_bytes_read": theirs["bytes_read"],
                        "baseline_wall_s": theirs["wall_s"],
                        "rows_equal": same_rows(our_rows, their_rows),
                    }
            report["cases"][case] = result
            print(f"{case}: {json.dumps(result)}", file=sys.stderr, flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
