"""What one Pan-STARRS fetch job reads: a 10,000-object shard, otmo then detection, the demo's collections.

    .venv/bin/python benchmarks/panstarrs_shard.py [--objects 10000] [--over-http [--ranges FILE]]

Builds once (cached under ``benchmarks/.cache/``, keyed by ``--objects``) the demo generator's
synthetic Pan-STARRS DR2 collections (:func:`mwlc.demo.panstarrs.build_panstarrs_hats`, as
``full_scale.py`` builds them: otmo partitioned at HEALPix order 5, detection at order 6, one
field object per sample object, each with its 10 arcsec margin catalog) around ``--objects``
positions in a 10 x 10 deg patch (``gaia_shard.py``'s), then runs ``panstarrs.fetch`` in a fresh
process as a fetch job does (``threads=2``, ``mem_mb=3000``, default ``read_batch_rows``), writing
the shard file. Prints one JSON line: ``objects``, ``rows_out``, ``wall_s``, ``peak_rss_mb`` (the
kernel's ``VmHWM``), ``bytes_read`` (``rchar`` around the fetch), ``bytes_one_pass`` (on-disk
bytes of the columns the fetch selects in the row groups it reads, per collection in
``one_pass``: otmo's positions, ``_healpix_29`` and ``objID`` in the partitions and margins of the
shard's objects; detection's ``DETECTION_COLUMNS`` and ``_healpix_29`` in the partitions around
the matched objects), ``read_over_one_pass``, ``footer_reads`` (what pyarrow reads to open the
touched leaves: the last 64 KiB of each, or all of a smaller one), ``footer_bytes`` (their
footers themselves), ``leaf_files``, ``matched``, ``catalog_bytes``, ``build_s``.

``--over-http``: after the local fetch (its ``bytes_read`` is ``local_bytes_read``), the
collections are served by a loopback HTTP range server (as S3 serves the real ones) and fetched
again through the remote path with the default ``storage`` policy
(:class:`mwlc.storage_retry.RetryingFile`): ``bytes_read`` is then what the server sent (the sum
of its answers' ``Content-Length``), ``requests`` how many GETs it answered, ``sent_over_local``
its ratio to the local read, and ``sent`` per collection (otmo and detection leaf files, and
``other``: HATS metadata) the bytes sent, the ``distinct`` bytes among them (each file's
union of ranges), the GETs and the files. ``--ranges FILE`` writes every GET there (path,
``Range``, bytes) as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gaia_shard import sample  # noqa: E402
from partition_scale import _CountingRangeHandler, run_child  # noqa: E402
from partition_scale import serve as serve_counting  # noqa: E402

#: Partition orders of otmo and detection, as ``full_scale.py`` builds them.
ORDERS = (5, 6)
VERSION = 1
#: Bytes pyarrow reads from the end of a parquet file to open it (``kDefaultFooterReadSize``).
FOOTER_READ_BYTES = 64 << 10


def build(objects: pd.DataFrame, out: Path) -> None:
    """The demo's otmo and detection collections around ``objects``, as ``full_scale.py`` has them."""
    from mwlc.demo.panstarrs import build_panstarrs_hats

    build_panstarrs_hats(objects, out, n_field_objects=len(objects), orders=ORDERS)


def _selected_bytes(path: str, columns: list[str], cover: np.ndarray) -> tuple[int, int, int]:
    """On-disk bytes of ``columns`` in the row groups of a leaf that ``cover`` reaches, of its footer,
    and of pyarrow's read of the footer (the file's last :data:`FOOTER_READ_BYTES`, or all of it)."""
    import pyarrow.parquet as pq

    from mwlc.archives import _parquet
    from mwlc.archives._hats import SPATIAL_INDEX_COLUMN

    metadata = pq.read_metadata(path)
    paths = set(_parquet.physical_columns(metadata, columns))
    total = 0
    for group in _parquet.row_groups_in_ranges(metadata, SPATIAL_INDEX_COLUMN, cover):
        row_group = metadata.row_group(group)
        total += sum(
            row_group.column(i).total_compressed_size
            for i in range(metadata.num_columns)
            if row_group.column(i).path_in_schema in paths
        )
    footer = metadata.serialized_size + 8  # the footer, its length and the magic
    return total, footer, min(os.path.getsize(path), FOOTER_READ_BYTES)


def one_pass(base: Path, objects: pd.DataFrame) -> dict:
    """Bytes the fetch must read, once: the selected columns of the row groups it reads, per collection.

    The leaves and row groups are chosen as ``panstarrs.fetch`` chooses them (the otmo plan and
    covers of :mod:`mwlc.archives._crossmatch`; the detection partitions around the matched
    objects), from the local copy; the otmo match itself is run here to know the matched objects.
    """
    from mwlc.archives import _crossmatch, _hats, panstarrs
    from mwlc.archives._hats import SPATIAL_INDEX_COLUMN

    otmo_uri, detection_uri = panstarrs.collection_uris(str(base))
    otmo = _hats.open_catalog(otmo_uri, archive="Pan-STARRS otmo")
    detection = _hats.open_catalog(detection_uri, archive="Pan-STARRS detection")
    ra, dec = objects["ra"].to_numpy(), objects["dec"].to_numpy()
    radius = panstarrs.ARCHIVE.param("radius_arcsec").default
    groups, leaves = _crossmatch._plan(otmo, ra, dec, radius)
    covers = [_crossmatch.cover_ranges(ra[members], dec[members], radius) for members in groups]
    otmo_columns = [otmo.ra_column, otmo.dec_column, SPATIAL_INDEX_COLUMN, panstarrs.ID_COLUMN]
    otmo_sizes = [_selected_bytes(leaf.file.path, otmo_columns, covers[leaf.group]) for leaf in leaves]
    matches = _crossmatch.locate(
        otmo,
        ra,
        dec,
        _crossmatch.Query(radius, extra_columns=[panstarrs.ID_COLUMN, otmo.ra_column, otmo.dec_column]),
        batch_rows=panstarrs.DEFAULT_READ_BATCH_ROWS,
    )
    cover = _crossmatch.cover_ranges(
        matches.extra[otmo.ra_column], matches.extra[otmo.dec_column], panstarrs.DETECTION_SEARCH_ARCSEC
    )
    detection_leaves = [
        leaf
        for i in detection.pixels.overlapping(cover)
        for leaf in detection.leaf_files(detection.pixels.pixels[i])
    ]
    detection_columns = [*panstarrs.DETECTION_COLUMNS, SPATIAL_INDEX_COLUMN]
    detection_sizes = [_selected_bytes(leaf.path, detection_columns, cover) for leaf in detection_leaves]
    return {
        "otmo": sum(size for size, _, _ in otmo_sizes),
        "detection": sum(size for size, _, _ in detection_sizes),
        "footer_bytes": sum(footer for _, footer, _ in otmo_sizes + detection_sizes),
        "footer_reads": sum(tail for _, _, tail in otmo_sizes + detection_sizes),
        "leaf_files": {"otmo": len(leaves), "detection": len(detection_leaves)},
        "matched": len(matches),
    }


# --------------------------------------------------------------------------- one measured fetch


def child(source: str, sample_path: str, out: str) -> None:
    """One fetch in this process; prints its measures as JSON."""
    from partition_scale import _rchar, _vm_hwm_mb

    from mwlc.archives import panstarrs
    from mwlc.io import write_lightcurve_shard
    from mwlc.schema import file_metadata
    from mwlc.storage import DEFAULT_POLICY, storage_options

    objects = pd.read_parquet(sample_path)
    remote = {"storage_options": storage_options(None, DEFAULT_POLICY)} if "://" in source else {}
    started, read_before = time.monotonic(), _rchar()
    batches = panstarrs.fetch(objects, source=source, threads=2, mem_mb=3000, **remote)
    rows = write_lightcurve_shard(batches, out, file_metadata("panstarrs", panstarrs.BANDS))
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


# --------------------------------------------------------------------------- the HTTP server


class _LoggingRangeHandler(_CountingRangeHandler):
    """``partition_scale``'s counting handler, also keeping each GET's path, range and length."""

    def send_header(self, keyword: str, value: str) -> None:
        if self.command == "GET" and keyword.lower() == "content-length":
            with self.server.lock:
                self.server.answers.append((self.path, self.headers.get("Range"), int(value)))
        super().send_header(keyword, value)


def serve(directory: Path) -> ThreadingHTTPServer:
    """A loopback HTTP range server of ``directory``, counting and logging what it sends."""
    server = serve_counting(directory, _LoggingRangeHandler)
    server.answers = []  # before any request: the fetch starts after this returns
    return server


def _span(path: str, byte_range: str | None, length: int) -> tuple[int, int]:
    """``[start, end)`` of one answer (a GET without ``Range`` is the whole body from 0)."""
    if not byte_range or not byte_range.startswith("bytes="):
        return 0, length
    start = int(byte_range.removeprefix("bytes=").split("-")[0])
    return start, start + length


def sent_by_collection(answers: list[tuple[str, str | None, int]]) -> dict:
    """Bytes sent and distinct bytes sent (union of the ranges, per file), GETs: per collection."""
    spans: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for path, byte_range, length in answers:
        kind = next(
            (name for name in ("otmo", "detection") if f"/{name}/" in path and path.endswith(".parquet")),
            "other",
        )
        if kind != "other" and "/dataset/Norder=" not in path:
            kind = "other"  # _metadata, _common_metadata: HATS metadata
        spans.setdefault(kind, {}).setdefault(path, []).append(_span(path, byte_range, length))
    report = {}
    for kind, files in sorted(spans.items()):
        sent = distinct = gets = 0
        for ranges in files.values():
            gets += len(ranges)
            sent += sum(end - start for start, end in ranges)
            reach = 0
            for start, end in sorted(ranges):
                distinct += max(0, end - max(start, reach))
                reach = max(reach, end)
        report[kind] = {"sent": sent, "distinct": distinct, "requests": gets, "files": len(files)}
    return report


# --------------------------------------------------------------------------- main


def measure(source: str, root: Path) -> dict:
    """One fetch of ``source`` in a fresh process: its measures."""
    return run_child(__file__, source, str(root / "sample.parquet"), str(root / "out.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--over-http", action="store_true", help="read through a loopback HTTP range server")
    parser.add_argument("--ranges", type=Path, help="with --over-http: write every GET here (JSON lines)")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    root = CACHE / f"panstarrs-n{args.objects}-o{ORDERS[0]}{ORDERS[1]}-v{VERSION}"
    objects = sample(args.objects)
    started = time.monotonic()
    if not (root / "done.json").exists():
        build(objects, root / "hats")
        (root / "done.json").write_text(json.dumps({"build_s": round(time.monotonic() - started, 1)}))
    build_s = json.loads((root / "done.json").read_text())["build_s"]
    objects.to_parquet(root / "sample.parquet")
    expected = one_pass(root / "hats", objects)
    bytes_one_pass = expected["otmo"] + expected["detection"]
    measured = measure(str(root / "hats"), root)
    server = None
    if args.over_http:
        local = measured
        server = serve(root)
        measured = measure(f"http://127.0.0.1:{server.server_address[1]}/hats/", root)
        measured |= {"bytes_read": server.sent_bytes, "requests": server.gets}
    report = {
        "objects": args.objects,
        **measured,
        "bytes_one_pass": bytes_one_pass,
        "read_over_one_pass": round(measured["bytes_read"] / bytes_one_pass, 3),
        "one_pass": {"otmo": expected["otmo"], "detection": expected["detection"]},
        "footer_reads": expected["footer_reads"],
        "footer_bytes": expected["footer_bytes"],
        "leaf_files": expected["leaf_files"],
        "matched": expected["matched"],
    }
    if server is not None:
        report |= {
            "local_bytes_read": local["bytes_read"],
            "sent_over_local": round(server.sent_bytes / local["bytes_read"], 3),
            "sent": sent_by_collection(server.answers),
        }
        if args.ranges:
            with args.ranges.open("w") as log:
                for path, byte_range, length in server.answers:
                    log.write(json.dumps({"path": path, "range": byte_range, "bytes": length}) + "\n")
    catalog_bytes = sum(p.stat().st_size for p in (root / "hats").rglob("*.parquet"))
    print(json.dumps(report | {"catalog_bytes": catalog_bytes, "build_s": build_s}))


if __name__ == "__main__":
    main()
