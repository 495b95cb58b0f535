"""The per-object MAST archives (tess_kepler, hcv) through the workflow, offline.

A loopback HSC API and a loopback MAST download endpoint stand in for MAST; the TESS/Kepler/K2
search runs on a local product index. The run also holds HEASARC (from its demo snapshot), so
the MAST partitions are read back together with another archive's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

import mwlc
from mwlc.archives.registry import get_archive
from tests.fixtures_hcv import PREFIX
from tests.fixtures_tess_kepler import DOWNLOAD_PATH
from tests.test_workflow import SNAKEFILE, new_workdir

pytestmark = pytest.mark.workflow
MAST_ARCHIVES = ("tess_kepler", "hcv")
N_SHARDS = 2


def write_config(workdir: Path, hcv_url: str, tk_case, download_url: str) -> None:
    """A run of the HCV and TESS/Kepler fixtures' objects, with HEASARC from a demo snapshot."""
    positions = pd.concat([tk_case.sample, _hcv_sample()], ignore_index=True)[["ra", "dec", "label"]]
    positions.to_csv(workdir / "config" / "mast_sample.csv", index=False)
    tk_case.index.to_csv(workdir / "config" / "tess_kepler_index.csv", index=False)
    config = {
        "run_id": "mast",
        "n_shards": N_SHARDS,
        "provenance_note": "TEST RUN - synthetic MAST answers from loopback servers",
        "sample": {"sources": [{"source": "file", "path": "config/mast_sample.csv"}]},
        "archives": {
            **{name: {"enabled": False} for name in ("ztf", "gaia", "panstarrs", "wise")},
            "heasarc": {"source": "resources/demo/heasarc"},
            "tess_kepler": {
                "source": "config/tess_kepler_index.csv",
                "download_url": download_url,
                "cache_dir": "cache/tess_kepler",
                "downsample": 30,
            },
            "hcv": {"source": hcv_url, "cache_dir": "cache/hcv", "filters": ["F814W", "F606W"]},
        },
        "demo": {"directory": "resources/demo", "archives": ["heasarc"]},
        "monitor": {"enabled": False},
    }
    (workdir / "config" / "mast.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _hcv_sample() -> pd.DataFrame:
    from tests.fixtures_hcv import build_hcv_case

    return build_hcv_case()[0]


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        "config/mast.yaml",
        *args,
    ]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}"
    return result


def log_span(path: Path) -> tuple[datetime, datetime]:
    """First and last timestamps of a job log."""
    stamps = [line.split("Z ", 1)[0] for line in path.read_text().splitlines() if line[:4].isdigit()]
    return datetime.fromisoformat(stamps[0]), datetime.fromisoformat(stamps[-1])


@pytest.fixture(scope="module")
def mast_run(tmp_path_factory, _hcv_server, tk_case, _tk_download_server):
    """A run up to the merged dataset (the report's figures prove nothing here), MAST jobs capped
    at one at a time (mast_requests=2, 2 threads each)."""
    workdir = new_workdir(tmp_path_factory.mktemp("mast"))
    _hcv_server.reset()
    _tk_download_server.reset()
    write_config(workdir, _hcv_server.url + PREFIX, tk_case, _tk_download_server.url + DOWNLOAD_PATH)
    run = run_snakemake(
        workdir, "--cores", "4", "--resources", "mast_requests=2", "--until", "merge_lightcurves"
    )
    (workdir / "snakemake.stderr").write_text(run.stderr)
    return workdir


def test_mast_partitions_read_back_with_the_rest(mast_run, tk_case):
    run_dir = mast_run / "results/mast"
    for archive in MAST_ARCHIVES:
        assert (
            len(list((run_dir / f"lightcurves.parquet/archive={archive}").glob("shard-*.parquet")))
            == N_SHARDS
        )
    frame = mwlc.load_lightcurves(run_dir)
    assert set(frame["archive"]) == {"tess_kepler", "hcv", "heasarc"}
    for archive, rows in frame.groupby("archive", observed=True):
        assert set(rows.index.get_level_values("band")) <= set(get_archive(archive).bands)
    bands = set(frame.index.get_level_values("band"))
    assert {"TESS", "Kepler", "K2", "HST_F814W", "HST_F606W"} <= bands
    assert frame.attrs["band_units"]["TESS"] == "electron / s"
    labels = set(frame[frame["archive"] == "tess_kepler"].index.get_level_values("label"))
    assert labels == {"tk-1", "tk-2", "tk-4"}  # tk-3 has no product within 1"


def test_a_run_without_the_workflow_profile_is_told_what_it_lacks(mast_run):
    """mwlc.profile_check at the start of a real run: Snakemake's own rerun triggers (no profile
    here) are named; the MAST cap given with --resources is seen (HEASARC reads a local copy)."""
    stderr = (mast_run / "snakemake.stderr").read_text()
    assert "mwlc: this run redoes a finished job when its rule's code changes" in stderr
    assert "--rerun-triggers mtime params input software-env" in stderr
    assert "no cap on the service" not in stderr


def test_mast_jobs_never_exceed_the_global_request_cap(mast_run):
    spans = sorted(
        log_span(path)
        for archive in MAST_ARCHIVES
        for path in (mast_run / f"logs/mast/fetch_lightcurves/{archive}").glob("*.log")
    )
    assert len(spans) == len(MAST_ARCHIVES) * N_SHARDS
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start  # each job holds 2 of the 2 mast_requests: one at a time


def test_a_forced_refetch_is_served_from_the_cache(mast_run, _hcv_server, _tk_download_server):
    before = (len(_hcv_server.requests), len(_tk_download_server.requests))
    assert before[0] > 0 and before[1] > 0  # the first run did ask
    mast_shards = [
        f"results/mast/lightcurves.parquet/archive={archive}/shard-{shard:04d}.parquet"
        for archive in MAST_ARCHIVES
        for shard in range(N_SHARDS)
    ]
    result = run_snakemake(mast_run, "--cores", "2", "--force", *mast_shards)
    rerun = re.findall(r"Fetching (\w+) light curves for shard (\d+)", result.stdout + result.stderr)
    assert sorted(rerun) == sorted((a, f"{s:04d}") for a in MAST_ARCHIVES for s in range(N_SHARDS))
    assert (len(_hcv_server.requests), len(_tk_download_server.requests)) == before
