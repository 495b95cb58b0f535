"""How long Snakemake takes to build the DAG of a large run (dry run, nothing is fetched).

    .venv/bin/python benchmarks/dag_scale.py --objects 500000 --shards 50

Writes a synthetic sample file of ``--objects`` positions (CSV, source ``file``) and a config
with five archives enabled (ZTF, Gaia, Pan-STARRS, WISE, HEASARC; any other off; local sources that need
not exist for a dry run) and ``n_shards = --shards``, then times ``snakemake -n`` (best of
``--repeats``, each a fresh process, as a user would run it). Prints one JSON line: ``objects,
shards, archives, jobs, fetch_jobs, dry_run_s`` (best) and ``dry_run_all_s``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
ARCHIVES = ["ztf", "gaia", "panstarrs", "wise", "heasarc"]


def write_run(workdir: Path, n_objects: int, n_shards: int) -> None:
    """The sample CSV and ``config/dag.yaml`` in a fresh ``workdir``."""
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(REPO / "config", workdir / "config")
    rng = np.random.default_rng(500)
    sample = pd.DataFrame(
        {
            "ra": rng.uniform(120.0, 240.0, n_objects),
            "dec": np.degrees(np.arcsin(rng.uniform(0.0, np.sin(np.radians(60.0)), n_objects))),
            "label": "SDSS-like",
        }
    )
    sample.to_csv(workdir / "sample.csv", index=False, float_format="%.7f")
    defaults = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["archives"]
    config = {
        "run_id": "dag",
        "n_shards": n_shards,
        "sample": {"sources": [{"source": "file", "path": "sample.csv", "label_column": "label"}]},
        "archives": {name: {"enabled": name in ARCHIVES, "source": f"archives/{name}"} for name in defaults},
    }
    (workdir / "config" / "dag.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def dry_run(workdir: Path) -> tuple[float, dict[str, int]]:
    """One ``snakemake -n``: (wall s, jobs per rule)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        "config/dag.yaml",
        "-n",
        "--quiet",
        "rules",
    ]
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    wall_s = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    counts = {}
    for line in (result.stdout + result.stderr).splitlines():
        match = re.fullmatch(r"\s*([a-z_]+)\s+(\d+)\s*", line)
        if match:
            counts[match.group(1)] = int(match.group(2))
    return wall_s, counts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=500_000)
    parser.add_argument("--shards", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    workdir = args.cache_dir / f"run-dag-n{args.objects}-s{args.shards}"
    write_run(workdir, args.objects, args.shards)
    runs = [dry_run(workdir) for _ in range(args.repeats)]
    counts = runs[0][1]
    result = {
        "objects": args.objects,
        "shards": args.shards,
        "archives": len(ARCHIVES),
        "jobs": counts.get("total"),
        "fetch_jobs": counts.get("fetch_lightcurves"),
        "dry_run_s": round(min(wall for wall, _ in runs), 2),
        "dry_run_all_s": [round(wall, 2) for wall, _ in runs],
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
