"""ZTF at scale: our streamed fetch + gather through Snakemake vs. the original's in-memory path.

    .venv/bin/python benchmarks/ztf_scale.py --objects 50000 --epochs 150

1. Builds (once; cached under ``benchmarks/.cache/``) a ZTF DR24-like HATS collection with the
   real schema around ``--objects`` sample positions, ~``--epochs`` g-band epochs per object
   (r 1.2x, i 0.3x), and the sample as a CSV (:mod:`_ztf_catalog`).
2. Runs the workflow on it with Snakemake (``--cores 2``, ZTF only, the monitor off,
   ``n_shards = ceil(objects / shard_objects)``, default :data:`SHARD_OBJECTS`), up to
   ``gather_archive``, and reads every job's Snakemake benchmark file.
3. Measures the transform (one partition's matched frame -> Arrow batch) in CPU time.
4. Runs the original's in-memory approach (:mod:`_baseline`) on the same sample and collection
   in its own process (peak RSS from the kernel), unless its expected peak exceeds
   ``--baseline-max-gib``, and checks that both outputs hold the same rows.
5. Prints one JSON line (keys in :func:`main`'s docstring).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _ztf_catalog  # noqa: E402

from mwlc.benchmarks import read_benchmark  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
#: Default shard size (sample objects per shard): n_shards = ceil(objects / SHARD_OBJECTS).
SHARD_OBJECTS = 10_000
RUN_ID = "bench"
#: The original's measured cost per output row (bytes of peak RSS), to skip a baseline that
#: would not fit: measured here at 5k-50k objects (see README.md).
BASELINE_BYTES_PER_ROW = 400
KEY_COLUMNS = ["objectid", "band", "time"]


def run_with_peak(cmd: list[str], cwd: Path, log_path: Path) -> tuple[float, float, dict[str, float]]:
    """Run ``cmd``: (wall s, kernel peak RSS MiB of its largest process, peak MiB per job script).

    The first peak is ``ru_maxrss`` of the whole process tree (exact). The per-script peaks come
    from each descendant's ``VmHWM`` (the kernel's own high-water mark, so exact up to the last
    poll, every 0.2 s), keyed by the Snakemake script the process runs (e.g. ``fetch_lightcurves``).
    """
    started = time.monotonic()
    peaks: dict[str, float] = {}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        stop = threading.Event()
        poller = threading.Thread(target=_poll_high_water, args=(proc.pid, peaks, stop), daemon=True)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        stop.set()
        poller.join()
    wall_s = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); see {log_path}")
    return wall_s, usage.ru_maxrss / 1024, peaks  # ru_maxrss is KiB on Linux


def _poll_high_water(pid: int, peaks: dict[str, float], stop: threading.Event) -> None:
    """Record the largest ``VmHWM`` (MiB) of ``pid``'s descendants, per Snakemake script name."""
    root = psutil.Process(pid)
    while not stop.wait(0.2):
        try:
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            try:
                script = next((Path(a).name for a in child.cmdline() if a.endswith(".py")), None)
                with open(f"/proc/{child.pid}/status") as status:
                    hwm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
            except (psutil.Error, OSError, StopIteration):
                continue
            if script:
                name = script.rsplit(".", 2)[-2]  # .snakemake/scripts/tmpXXXX.fetch_lightcurves.py
                peaks[name] = max(peaks.get(name, 0.0), hwm_kib / 1024)


def default_archives() -> list[str]:
    """The archives of the default config (``config/config.yaml``)."""
    return list(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["archives"])


def write_config(workdir: Path, sample_csv: Path, hats: Path, n_shards: int) -> Path:
    """The run's config: ZTF only, from the local collection; monitor off; no consolidation."""
    shutil.copytree(REPO / "config", workdir / "config")
    config = {
        "run_id": RUN_ID,
        "n_shards": n_shards,
        "provenance_note": "BENCHMARK - synthetic ZTF collection (benchmarks/ztf_scale.py)",
        "sample": {
            "consolidate_radius_arcsec": 0.0,
            "sources": [{"source": "file", "path": str(sample_csv), "label_column": "label"}],
        },
        "archives": {
            "ztf": {"enabled": True, "source": str(hats)},
            **{name: {"enabled": False} for name in default_archives() if name != "ztf"},
        },
        "monitor": {"enabled": False},
    }
    path = workdir / "config" / "bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_workflow(workdir: Path, cores: int) -> tuple[float, float, dict[str, float]]:
    """Snakemake up to gather_archive for ZTF: see :func:`run_with_peak`."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        "config/bench.yaml",
        "--cores",
        str(cores),
        f"results/{RUN_ID}/summary/ztf.csv",
    ]
    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{env_path}"  # the venv's snakemake scripts
    return run_with_peak(cmd, workdir, workdir / "snakemake.log")


def job_benchmarks(workdir: Path) -> pd.DataFrame:
    """Every job's benchmark row: rule, job, wall_s, max_rss_mib, cpu_time_s."""
    rows = []
    for path in sorted((workdir / "results" / RUN_ID / "benchmarks").rglob("*.tsv")):
        frame = read_benchmark(str(path)).iloc[[-1]]
        rule = path.relative_to(workdir / "results" / RUN_ID / "benchmarks").parts[0]
        rows.append(
            {
                "rule": rule,
                "job": str(path.relative_to(workdir / "results" / RUN_ID / "benchmarks")),
                **frame[["wall_s", "max_rss_mib", "cpu_time_s"]].iloc[0].to_dict(),
            }
        )
    return pd.DataFrame(rows)


def transform_rows_per_core_s(workdir: Path, hats: Path, repeats: int = 3) -> tuple[float, int]:
    """CPU-time rate of the ZTF transform on the leaf file of shard 0 with most matches (r band).

    Returns
    -------
    (float, int)
        Output rows per CPU second (best of ``repeats``), and the rows of that leaf file.
    """
    from mwlc.archives import _crossmatch, _hats, _parquet, ztf
    from mwlc.sample.build import read_shard

    sample = read_shard(workdir / "results" / RUN_ID / "sample_shards" / "shard-0000.parquet")
    catalog = _hats.open_catalog(str(hats), archive="ZTF")
    query = _crossmatch.Query(1.0, band_column="filterid", bands=[ztf.FILTERIDS["ztf_r"]])
    matches = _crossmatch.locate(
        catalog, sample["ra"], sample["dec"], query, batch_rows=ztf.DEFAULT_READ_BATCH_ROWS
    )
    pairs = _crossmatch.Pairs.of(matches, sample["objectid"], sample["label"])
    leaf = int(np.bincount(matches.leaf).argmax())
    mine = np.flatnonzero(matches.leaf == leaf)
    with _parquet.open_parquet(matches.leaves[leaf], matches.metadata[leaf]) as parquet:
        parts = list(_parquet.take_rows(parquet, ztf.LIGHTCURVE_COLUMNS, matches.row[mine], batch_rows=10**9))
    rows = pa.Table.from_batches([batch for _, batch in parts]).combine_chunks().to_batches()[0]
    leaf_pairs = pairs[mine[np.concatenate([taken for taken, _ in parts])]]
    best = math.inf
    for _ in range(repeats):
        started = time.process_time()
        batch = ztf.epochs(rows, leaf_pairs, catflags_max=32768)
        best = min(best, time.process_time() - started)
    return batch.num_rows / best, batch.num_rows


def read_ours(workdir: Path) -> pa.Table:
    """Our ZTF shard files, key and value columns, sorted by (objectid, band, time)."""
    table = ds.dataset(workdir / "results" / RUN_ID / "lightcurves.parquet" / "archive=ztf").to_table(
        columns=["objectid", "label", "band", "time", "flux", "err"]
    )
    table = table.set_column(2, "band", pc.cast(table["band"], pa.string()))
    return table.sort_by([(name, "ascending") for name in KEY_COLUMNS])


def read_baseline(path: Path) -> pa.Table:
    """The baseline's parquet (MultiIndex written as columns), sorted like :func:`read_ours`."""
    table = ds.dataset(path).to_table(columns=["objectid", "label", "band", "time", "flux", "err"])
    return table.sort_by([(name, "ascending") for name in KEY_COLUMNS])


def same_rows(ours: pa.Table, baseline: pa.Table) -> str:
    """'' if both hold the same rows (keys exactly, flux and err to 1e-12 relative), else why not."""
    if ours.num_rows != baseline.num_rows:
        return f"row counts differ: ours {ours.num_rows}, baseline {baseline.num_rows}"
    for name in KEY_COLUMNS:
        a, b = (np.asarray(t[name].combine_chunks().to_numpy(zero_copy_only=False)) for t in (ours, baseline))
        if not np.array_equal(a, b):
            return f"column {name} differs at {int(np.flatnonzero(a != b)[0])} rows in"
    for name in ("flux", "err"):
        a, b = (t[name].to_numpy() for t in (ours, baseline))
        if not np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True):
            return f"column {name} differs beyond 1e-12 relative"
    labels = pc.cast(ours["label"], pa.string())
    if not labels.equals(pc.cast(baseline["label"], pa.string())):
        return "labels differ"
    return ""


def run_baseline(workdir: Path, hats: Path) -> tuple[float, float, Path]:
    """The original's approach in its own process: (wall s, peak RSS MiB, output parquet)."""
    shards = workdir / "results" / RUN_ID / "sample_shards"
    sample = workdir / "baseline-sample.parquet"
    pd.read_parquet(shards).to_parquet(sample)
    out = workdir / "baseline.parquet"
    wall_s, peak_mib, _ = run_with_peak(
        [sys.executable, str(Path(__file__).with_name("_baseline.py")), str(sample), str(hats), str(out)],
        workdir,
        workdir / "baseline.log",
    )
    return wall_s, peak_mib, out


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print one JSON line.

    Keys: ``objects``; ``rows_out`` (our output rows); ``wall_s`` (the Snakemake run: sample,
    fetch, gather); ``peak_rss_mb`` (the largest job's ``max_rss`` in its benchmark file, MiB);
    ``rows_per_s`` (``rows_out / wall_s``); ``bytes_per_row`` (``peak_rss_mb`` in bytes per
    output row, the measure the issue quotes for the original: ~310); ``baseline_wall_s``,
    ``baseline_peak_rss_mb`` (kernel ``ru_maxrss``);
    ``rss_ratio`` (baseline / ours); plus ``shards``, ``shard_objects``, ``epochs``,
    ``kernel_peak_rss_mb`` (largest single process of the Snakemake run, Snakemake included),
    ``hwm_peak_rss_mb`` (per job script, the largest kernel high-water mark ``VmHWM``, MiB),
    ``peak_rss_job``, ``fetch_wall_s``, ``transform_rows_per_core_s``, ``baseline_bytes_per_row``,
    ``output_bytes_per_row`` (on disk), ``same_rows``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, required=True, help="sample objects N")
    parser.add_argument("--epochs", type=int, default=150, help="typical g-band epochs per object")
    parser.add_argument("--shard-objects", type=int, default=SHARD_OBJECTS, help="objects per shard")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores")
    parser.add_argument("--no-baseline", action="store_true", help="skip the original's approach")
    parser.add_argument(
        "--baseline-max-gib",
        type=float,
        default=14.0,
        help="skip the baseline if its expected peak RSS exceeds this (GiB)",
    )
    parser.add_argument("--cache-dir", type=Path, default=CACHE)
    args = parser.parse_args(argv)

    sample_csv, hats = _ztf_catalog.cached_inputs(args.cache_dir, args.objects, args.epochs)
    workdir = args.cache_dir / f"run-ztf-n{args.objects}-e{args.epochs}-s{args.shard_objects}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    n_shards = math.ceil(args.objects / args.shard_objects)
    write_config(workdir, sample_csv.resolve(), hats.resolve(), n_shards)
    wall_s, kernel_peak_mib, script_peaks = run_workflow(workdir, args.cores)
    jobs = job_benchmarks(workdir)
    largest = jobs.loc[jobs["max_rss_mib"].idxmax()]
    fetch = jobs[jobs["rule"] == "fetch_lightcurves"]
    ours = read_ours(workdir)
    rows_out = ours.num_rows
    output_bytes = sum(
        p.stat().st_size for p in (workdir / "results" / RUN_ID / "lightcurves.parquet").rglob("*.parquet")
    )
    transform_rate, _ = transform_rows_per_core_s(workdir, hats)
    result = {
        "objects": args.objects,
        "rows_out": rows_out,
        "wall_s": round(wall_s, 1),
        "peak_rss_mb": round(float(largest["max_rss_mib"]), 1),
        "rows_per_s": round(rows_out / wall_s),
        "bytes_per_row": round(float(largest["max_rss_mib"]) * 2**20 / rows_out, 1),
        "baseline_wall_s": None,
        "baseline_peak_rss_mb": None,
        "rss_ratio": None,
        "epochs": args.epochs,
        "shards": n_shards,
        "shard_objects": args.shard_objects,
        "peak_rss_job": largest["job"],
        "fetch_peak_rss_mb": round(float(fetch["max_rss_mib"].max()), 1),
        "fetch_wall_s": round(float(fetch["wall_s"].sum()), 1),
        "kernel_peak_rss_mb": round(kernel_peak_mib, 1),
        "hwm_peak_rss_mb": {name: round(mib, 1) for name, mib in sorted(script_peaks.items())},
        "transform_rows_per_core_s": round(transform_rate),
        "output_bytes_per_row": round(output_bytes / rows_out, 2),
        "baseline_bytes_per_row": None,
        "same_rows": None,
    }
    expected_gib = BASELINE_BYTES_PER_ROW * rows_out / 2**30
    if args.no_baseline or expected_gib > args.baseline_max_gib:
        result["baseline_skipped"] = (
            f"expected peak {expected_gib:.1f} GiB" if not args.no_baseline else "--no-baseline"
        )
    else:
        base_wall, base_peak, base_out = run_baseline(workdir, hats)
        why = same_rows(ours, read_baseline(base_out))
        if why:
            raise AssertionError(f"our output and the baseline's differ: {why}")
        result.update(
            baseline_wall_s=round(base_wall, 1),
            baseline_peak_rss_mb=round(base_peak, 1),
            rss_ratio=round(base_peak / float(largest["max_rss_mib"]), 1),
            baseline_bytes_per_row=round(base_peak * 2**20 / rows_out, 1),
            same_rows=True,
        )
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
