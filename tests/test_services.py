"""Per-service caps: each fetch job holds one unit of its archive's service, and both profiles cap
every service with a stated reason.

Snakemake never runs jobs whose summed units exceed a global resource (tests/test_workflow_mast.py
shows it for ``mast_requests`` with the jobs' log spans); so one unit per job and a cap of N
in the profile mean at most N jobs on that service at once. The DAG is inspected without running
anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mwlc.archives.registry import ARCHIVES, archive_services
from mwlc.archives.services import SERVICES, is_local_source, service_units
from tests.dag_jobs import REMOTE_RUN_SHARDS

REPO = Path(__file__).resolve().parents[1]
PROFILES = ("default", "slurm")


ARCHIVE_SERVICES = archive_services()


def test_every_archive_declares_a_known_service():
    assert set(ARCHIVE_SERVICES) == set(ARCHIVES)
    assert set(ARCHIVE_SERVICES.values()) == set(SERVICES)


def test_a_job_holds_one_unit_of_its_service_and_none_of_the_others():
    assert service_units("ztf", "s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats", 2) == {
        "irsa_s3": 1,
        "stsci_s3": 0,
        "lincc_http": 0,
        "heasarc_tap": 0,
        "mast_requests": 0,
    }
    assert service_units("gaia", "https://data.lsdb.io/hats/gaia_dr3_epoch_phot/", 2)["lincc_http"] == 1
    assert service_units("heasarc", "https://heasarc.gsfc.nasa.gov/xamin/vo/tap", 1)["heasarc_tap"] == 1
    assert service_units("hcv", "https://catalogs.mast.stsci.edu/api/v0.1/hsc", 3)["mast_requests"] == 3


def test_a_local_copy_holds_no_service_except_mast_requests():
    assert not any(service_units("ztf", "resources/demo/ztf", 2).values())
    assert not any(service_units("wise", "file:///data/unwise", 2).values())
    # the TESS/Kepler index may be local; its downloads still go to MAST
    assert service_units("tess_kepler", "config/tess_kepler_index.csv", 2)["mast_requests"] == 2
    assert is_local_source("/abs/path") and not is_local_source("s3://bucket/key")


def test_an_archive_without_a_service_is_named():
    with pytest.raises(KeyError, match="archive 'toy' declares no service"):
        service_units("toy", "s3://bucket", 1)


def test_both_profiles_cap_every_service_equally_and_say_why():
    caps = {}
    for profile in PROFILES:
        path = REPO / "profiles" / profile / "config.yaml"
        caps[profile] = yaml.safe_load(path.read_text())["resources"]
        lines = path.read_text().splitlines()
        for service in SERVICES:
            assert isinstance(caps[profile][service], int) and caps[profile][service] >= 1
            line = next(i for i, text in enumerate(lines) if text.strip().startswith(f"{service}:"))
            assert lines[line - 1].strip().startswith("#"), f"{profile}: no reason above {service}"
    assert caps["default"] == caps["slurm"]


@pytest.mark.workflow
def test_fetch_jobs_hold_their_archives_service_in_the_dag(remote_run_dag):
    fetches = [job for job in remote_run_dag if job["rule"] == "fetch_lightcurves"]
    enabled = {job["wildcards"]["archive"] for job in fetches}
    assert {"ztf", "gaia", "panstarrs", "wise", "heasarc", "hcv"} <= enabled  # config.yaml's defaults
    assert len(fetches) == len(enabled) * REMOTE_RUN_SHARDS
    for job in fetches:
        archive, held = job["wildcards"]["archive"], {s: job["resources"][s] for s in SERVICES}
        expected = dict.fromkeys(SERVICES, 0)
        if ARCHIVE_SERVICES[archive] == "mast_requests":
            expected["mast_requests"] = job["resources"]["_cores"]  # one per request in flight
        elif archive != "heasarc":  # a local copy (resources/heasarc) holds nothing
            expected[ARCHIVE_SERVICES[archive]] = 1
        assert held == expected, job
