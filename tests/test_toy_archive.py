"""Adding an archive takes its module and one registry line: a toy archive, registered through
``MWLC_EXTRA_ARCHIVES`` (``tests/data/toy_archive.py``), runs through the workflow to the merge."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from astropy.table import Table

from mwlc.archives.registry import ARCHIVES
from tests.test_workflow import job_counts, new_workdir, snakemake

pytestmark = pytest.mark.workflow

TOY_MODULE_DIR = Path(__file__).parent / "data"
N_SHARDS = 2
CONFIGS = ("--configfile", "config/demo.yaml", "config/toy.yaml")


def toy_config() -> dict:
    """The demo sample; every archive mwlc ships off; the toy archive on, from its demo snapshot."""
    return {
        "run_id": "toy",
        "n_shards": N_SHARDS,
        "monitor": {"enabled": False},
        "demo": {"directory": "resources/demo", "archives": ["toy"]},
        "archives": {
            **{name: {"enabled": False} for name in ARCHIVES},
            "toy": {"source": "resources/demo/toy"},
        },
    }


def test_a_toy_archive_runs_through_the_dry_run_and_the_merge(tmp_path):
    workdir = new_workdir(tmp_path)
    (workdir / "config/toy.yaml").write_text(yaml.safe_dump(toy_config()))
    refused = snakemake(workdir, "-n", *CONFIGS, check=False)
    refusal = "config key 'archives.toy': unknown archive 'toy'"
    assert refused.returncode != 0 and refusal in refused.stdout + refused.stderr

    path = os.pathsep.join([str(TOY_MODULE_DIR), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "MWLC_EXTRA_ARCHIVES": "toy_archive"}
    dry = snakemake(workdir, "-n", "--quiet", "rules", *CONFIGS, env=env)
    counts = job_counts(dry)
    assert {rule: counts[rule] for rule in ("build_demo_archive", "preflight", "fetch_lightcurves")} == {
        "build_demo_archive": 1,
        "preflight": 1,
        "fetch_lightcurves": N_SHARDS,
    }

    snakemake(workdir, "--cores", "2", "--until", "merge_lightcurves", *CONFIGS, env=env)
    frame = pd.read_parquet(workdir / "results/toy/lightcurves.parquet").reset_index()
    sample = Table.read(workdir / "results/toy/sample.ecsv", format="ascii.ecsv")
    assert set(frame["archive"]) == {"toy"} and set(frame["band"]) == {"toy_v"}
    # three epochs at each demo position: an object is one position, or several within 1" merged
    demo_positions = pd.read_csv(workdir / "config/demo_sample.csv")
    assert len(frame) == 3 * len(demo_positions) and frame.groupby("objectid").size().mod(3).eq(0).all()
    assert sorted(frame["objectid"].unique()) == list(sample["objectid"])
    summary = pd.read_csv(workdir / "results/toy/summary.csv").set_index("band")
    assert summary.loc["toy_v", "unit"] == "mJy" and summary.loc["toy_v", "rows"] == len(frame)
