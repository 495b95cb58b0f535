"""A run without mwlc's workflow profile is told what it lacks (mwlc.profile_check)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mwlc.archives.services import SERVICES
from mwlc.profile_check import missing_profile_settings, uncapped_services
from mwlc.runner import RERUN_TRIGGERS

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE_TRIGGERS = ["mtime", "params", "input", "code", "software-env"]  # its default: all
#: Every archive at the shipped config's source (S3, HTTPS, TAP, MAST).
REMOTE = {
    name: section["source"]
    for name, section in yaml.safe_load((REPO / "config/config.yaml").read_text())["archives"].items()
}


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_a_run_with_a_workflow_profile_lacks_nothing(profile):
    settings = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    assert (
        missing_profile_settings(
            settings["rerun-triggers"], settings["resources"], REMOTE, threads=2, profile="P"
        )
        == []
    )


def test_snakemakes_own_settings_are_named_with_the_profile_and_what_to_give():
    code, caps = missing_profile_settings(SNAKEMAKE_TRIGGERS, {"mem_mb"}, REMOTE, threads=2, profile="P")
    assert code.startswith("this run redoes a finished job when its rule's code changes")
    assert code.endswith(
        "Run from the mwlc folder, or add --workflow-profile P, or --rerun-triggers "
        + " ".join(RERUN_TRIGGERS)
    )
    assert caps.startswith("no cap on the service(s) heasarc_tap (HEASARC's TAP service); irsa_s3 (")
    assert all(f"{service} ({description})" in caps for service, description in SERVICES.items())


def test_only_the_services_of_the_fetch_jobs_left_and_without_a_cap_are_named():
    # --resources mem_mb=14000 irsa_s3=16: the rest of the profile's list is gone
    assert uncapped_services({"mem_mb", "irsa_s3"}, REMOTE, threads=2) == [
        "heasarc_tap",
        "lincc_http",
        "mast_requests",
        "stsci_s3",
    ]
    # local copies hold no service; a per-object archive holds MAST requests whatever its index
    local = {"ztf": "resources/demo/ztf", "wise": "file:///data/wise", "tess_kepler": "index.csv"}
    assert uncapped_services(set(), local, threads=2) == ["mast_requests"]
    assert uncapped_services(set(), {}, threads=2) == []  # `--until sample`: no fetch job left
    assert missing_profile_settings(RERUN_TRIGGERS, set(), {}, threads=2, profile="P") == []
