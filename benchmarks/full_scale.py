"""The whole workflow at scale: N objects, five survey archives, from the sample to the report.

    .venv/bin/python benchmarks/full_scale.py --objects 50000 [--shards S] [--kill-after K]

1. Builds once (cached under ``benchmarks/.cache/``, time printed as ``build_s``) an N-object
   SDSS-like sample file (positions uniform in RA 120-240, Dec 0-60 deg: ``_ztf_catalog``) and
   synthetic local copies of the five survey archives around it, with the demo generators in
   the real schemas and layouts (:mod:`mwlc.demo`) at the demo's volume per object: ZTF ~150 g
   epochs (r 1.2x, i 0.3x), a counterpart per band, two decoys and one field object per sample
   object; Gaia's 45-field epoch photometry, ~40 transits; Pan-STARRS otmo + 10-40 detections per
   object; unWISE's epochs with one field source per object; HEASARC's three tables around 1,000
   of the objects (their size does not grow with N, as the real tables' does not). The HATS
   collections are partitioned at fixed HEALPix orders as a real collection is over the whole
   sky (:data:`ORDERS`), not into a handful of partitions as the demo's are.
2. Runs the real workflow on them as a user would: ``snakemake --cores 2`` in a directory of its
   own with a config of its own (a ``file`` sample source, each archive's ``source`` on its local
   copy, ``n_shards: auto`` unless ``--shards``, the monitor on), then renders the report.
3. Optionally (``--kill-after K``) kills the run with SIGKILL after K finished fetch jobs,
   unlocks it and runs it again, counting what the rerun fetched and which finished shard files
   were kept untouched. Then checks that a second invocation has nothing to do.
4. Prints one JSON line: ``objects``, ``shards``, ``jobs``, ``wall_s``, ``wall_by_rule``,
   ``cpu_s_by_rule``, ``largest_job_rss_mb``, ``largest_job``, ``system_used_peak_mb`` (the
   monitor's samples: the run's own processes, Snakemake and its jobs, at their highest),
   ``rows_by_archive``, ``rows_read_back``, ``dataset_bytes``, ``report_s``, ``build_s``,
   ``second_run_nothing_to_do`` and, with ``--kill-after``, ``kill``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _ztf_catalog  # noqa: E402
from _sky_chunks import build_in_sky_chunks, join_hats, join_hive  # noqa: E402

CACHE = REPO / "benchmarks" / ".cache"
SNAKEFILE = REPO / "workflow" / "Snakefile"
#: HEALPix order of every partition: about the real collections' (ZTF DR24 leaves are order 5
#: and 6; Gaia epoch photometry is a small catalog, PS1's detection table a huge one).
ORDERS = {"ztf": 5, "gaia": 3, "panstarrs": (5, 6)}
VERSION = 2  # 2: HEASARC around a fixed 1,000 objects; Pan-STARRS and unWISE in sky chunks
#: Sample objects the HEASARC events are placed around (every k-th, uniform over the footprint):
#: the real tables have a size of their own (a few thousand GRB triggers), so the synthetic ones
#: must not grow with N (the demo's ~3.5 events per object would give matches growing as N**2).
HEASARC_OBJECTS = 1000
#: Sample objects per sky chunk of the archives whose generators hold everything in memory
#: (Pan-STARRS' and unWISE's): a 500k build is joined from chunks (``_sky_chunks``).
CHUNK_OBJECTS = 100_000


def build_archives(n_objects: int) -> tuple[Path, Path, float]:
    """The sample CSV and the directory of the five archives' copies, built once: (csv, dir, s)."""
    from mwlc.demo import gaia, heasarc, panstarrs, wise, ztf

    root = CACHE / f"full-n{n_objects}-v{VERSION}"
    sample_csv, archives = root / "sample.csv", root / "archives"
    done = root / "done.json"
    if done.exists():
        return sample_csv, archives, json.loads(done.read_text())["build_s"]
    archives.mkdir(parents=True, exist_ok=True)
    sample = _ztf_catalog.sample_positions(n_objects)
    sample[["ra", "dec", "label"]].to_csv(sample_csv, index=False, float_format="%.8f")
    sample[["ra", "dec"]] = pd.read_csv(sample_csv)[["ra", "dec"]]  # as the workflow reads them
    positions = sample[["objectid", "ra", "dec"]]
    builders = {
        "ztf": lambda out: ztf.build_ztf_hats(positions, out, n_field_objects=n_objects, order=ORDERS["ztf"]),
        "gaia": lambda out: gaia.build_gaia_hats(positions, out, n_field_sources=0, order=ORDERS["gaia"]),
        "panstarrs": lambda out: build_in_sky_chunks(
            lambda objects, to: panstarrs.build_panstarrs_hats(
                objects, to, n_field_objects=len(objects), orders=ORDERS["panstarrs"]
            ),
            positions,
            out,
            max_objects=CHUNK_OBJECTS,
            join=join_hats,
        ),
        "wise": lambda out: build_in_sky_chunks(
            lambda objects, to: wise.build_unwise_dataset(objects, to, n_field_per_object=1),
            positions,
            out,
            max_objects=CHUNK_OBJECTS,
            join=join_hive,
        ),
        "heasarc": lambda out: heasarc.build(positions.iloc[:: max(1, n_objects // HEASARC_OBJECTS)], out),
    }
    timings = {}
    for name, build in builders.items():  # an interrupted build keeps the archives it finished
        built = archives / f"{name}.built.json"
        if not built.exists():
            shutil.rmtree(archives / name, ignore_errors=True)
            began = time.monotonic()
            build(archives / name)
            built.write_text(json.dumps({"build_s": round(time.monotonic() - began, 1)}))
        timings[name] = json.loads(built.read_text())["build_s"]
        print(f"built {name} in {timings[name]} s", file=sys.stderr, flush=True)
    build_s = round(sum(timings.values()), 1)
    done.write_text(json.dumps({"objects": n_objects, "build_s": build_s, "by_archive": timings}))
    return sample_csv, archives, build_s


def write_config(workdir: Path, sample_csv: Path, archives: Path, n_objects: int, shards: int | None) -> Path:
    """The run's config: the demo's archive settings on the local copies, the monitor on."""
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config = {
        "run_id": f"full-{n_objects}",
        "n_shards": shards or "auto",
        "provenance_note": "SCALE BENCHMARK - synthetic light curves in real archive schemas, not science",
        "sample": {"sources": [{"source": "file", "path": str(sample_csv), "label": "SDSS-like"}]},
        "archives": {
            name: {**params, "source": str(archives / name)} if "source" in params else params
            for name, params in demo["archives"].items()
        },
    }
    path = workdir / "config" / "full_scale.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "config.yaml", workdir / "config" / "config.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, config: Path, *args: str) -> list[str]:
    """The snakemake command line for the run."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        *args,
    ]


def run(workdir: Path, config: Path, *args: str, log_name: str = "run.log") -> tuple[float, str]:
    """Run snakemake to the end: (wall s, its output). Raises if it fails."""
    started = time.monotonic()
    with open(workdir / log_name, "w") as log:
        done = subprocess.run(
            snakemake(workdir, config, *args), cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
    output = (workdir / log_name).read_text()
    if done.returncode:
        raise RuntimeError(f"snakemake failed ({done.returncode}); see {workdir / log_name}")
    return time.monotonic() - started, output


def killed_run(workdir: Path, config: Path, run_dir: Path, after: int) -> dict:
    """Kill the run (SIGKILL, whole process group) after ``after`` finished fetch jobs, rerun it."""
    log_path = workdir / "killed.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            snakemake(workdir, config, "--cores", "2"),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while log_path.read_text().count("(Rule: fetch_lightcurves)") < after:
            if process.poll() is not None:
                raise RuntimeError(f"the run ended before {after} fetch jobs; see {log_path}")
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finished = {
        p: p.stat().st_mtime_ns for p in (run_dir / "lightcurves.parquet").glob("archive=*/shard-*.parquet")
    }
    subprocess.run(snakemake(workdir, config, "--unlock"), cwd=workdir, check=True, capture_output=True)
    wall, output = run(workdir, config, "--cores", "2", "--rerun-incomplete", log_name="rerun.log")
    kept = sum(1 for path, mtime in finished.items() if path.stat().st_mtime_ns == mtime)
    return {
        "killed_after_fetch_jobs": after,
        "shard_files_before_kill": len(finished),
        "kept_untouched": kept,
        "fetch_jobs_in_rerun": output.count("(Rule: fetch_lightcurves)"),
        "rerun_wall_s": round(wall, 1),
    }


def measures(run_dir: Path, workdir: Path, log: str) -> dict:
    """What the run's own files say: jobs, time and memory per rule, rows, bytes."""
    import re

    import pyarrow.dataset as ds

    from mwlc.benchmarks import read_benchmark

    tsvs = sorted(p for p in workdir.glob("**/*.tsv") if ".snakemake" not in p.parts)
    bench = pd.concat(
        [
            read_benchmark(str(p)).assign(rule=_rule_of(p, workdir), job=str(p.relative_to(workdir)))
            for p in tsvs
        ],
        ignore_index=True,
    )
    largest = bench.loc[bench["max_rss_mib"].idxmax()]
    usage = pd.read_csv(run_dir / "monitor" / "usage.csv")
    own = usage[usage["kind"].isin(["job", "snakemake"])]
    summary = pd.read_csv(run_dir / "summary.csv")
    dataset = run_dir / "lightcurves.parquet"
    steps = re.findall(r"(\d+) of (\d+) steps", log)
    return {
        "jobs": int(steps[-1][1]) if steps else None,
        "wall_by_rule": bench.groupby("rule")["wall_s"].sum().round(1).to_dict(),
        "cpu_s_by_rule": bench.groupby("rule")["cpu_time_s"].sum().round(1).to_dict(),
        "largest_job_rss_mb": round(float(largest["max_rss_mib"]), 1),
        "largest_job": largest["job"],
        "system_used_peak_mb": round(float(own.groupby("time")["rss_mib"].sum().max()), 1),
        "rows_by_archive": summary.groupby("archive")["rows"].sum().astype(int).to_dict(),
        "rows_read_back": ds.dataset(dataset, format="parquet", partitioning="hive").count_rows(),
        "dataset_bytes": sum(p.stat().st_size for p in dataset.rglob("*.parquet"))
        + (run_dir / "lightcurves_by_object.parquet").stat().st_size,
    }


def _rule_of(tsv: Path, workdir: Path) -> str:
    """The rule of a benchmark file: its own name, or its first folder's under the run's folder."""
    parts = tsv.relative_to(workdir).parts
    run_folder = next(i for i, part in enumerate(parts) if part.startswith("full-"))
    rest = parts[run_folder + 1 :]
    if rest[0] == "benchmarks":  # results/<run>/benchmarks/<rule>/...
        rest = rest[1:]
    return rest[0].removesuffix(".tsv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, required=True)
    parser.add_argument("--shards", type=int, help="n_shards (default: auto, ~10,000 objects each)")
    parser.add_argument("--kill-after", type=int, metavar="K", help="kill -9 after K fetch jobs, then rerun")
    args = parser.parse_args()
    sample_csv, archives, build_s = build_archives(args.objects)
    workdir = CACHE / f"full-run-n{args.objects}"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    config = write_config(workdir, sample_csv, archives, args.objects, args.shards)
    run_dir = workdir / "results" / f"full-{args.objects}"
    wall_s, log = run(workdir, config, "--cores", "2")
    report_started = time.monotonic()
    run(workdir, config, "--report", str(run_dir / "report.html"), log_name="report.log")
    report_s = time.monotonic() - report_started
    nothing = subprocess.run(snakemake(workdir, config, "-n"), cwd=workdir, capture_output=True, text=True)
    result = {
        "objects": args.objects,
        "shards": len(list((run_dir / "sample_shards").glob("shard-*.parquet"))),
        **measures(run_dir, workdir, log),
        "wall_s": round(wall_s, 1),
        "report_s": round(report_s, 1),
        "build_s": build_s,
        "second_run_nothing_to_do": "Nothing to be done" in nothing.stdout + nothing.stderr,
    }
    if args.kill_after:  # on a fresh copy of the run's outputs: everything is fetched again
        for name in ("results", "logs", "benchmarks"):
            shutil.rmtree(workdir / name, ignore_errors=True)
        result["kill"] = killed_run(workdir, config, run_dir, args.kill_after)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
