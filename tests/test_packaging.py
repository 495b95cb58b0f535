"""Packaging: environment.yml (conda) and pyproject.toml (pip) list the same dependencies."""

from __future__ import annotations

import tomllib
from glob import glob
from pathlib import Path

import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]

#: pyproject requirement name, or (name, extra) -> the conda-forge packages that provide it, each
#: with the requirement's version bounds (True) or with none (False).
CONDA_EQUIVALENTS: dict[str | tuple[str, str], list[tuple[str, bool]]] = {
    "snakemake": [("snakemake-minimal", True)],
    ("snakemake", "reports"): [("pygments", False)],
    "matplotlib": [("matplotlib-base", True)],
    ("dask", "distributed"): [("distributed", True)],
}


def pyproject_requirements() -> list[Requirement]:
    with open(REPO / "pyproject.toml", "rb") as f:
        return [Requirement(line) for line in tomllib.load(f)["project"]["dependencies"]]


def conda_packages() -> set[tuple[str, str]]:
    """(name, version bounds) of every package environment.yml installs, conda and pip alike."""
    dependencies = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    pip = next(entry["pip"] for entry in dependencies if isinstance(entry, dict))
    packages = set()
    for line in [entry for entry in dependencies if isinstance(entry, str)] + pip:
        if line in ("pip", "-e .") or line.startswith("python="):
            continue
        requirement = Requirement(line)
        packages.add((requirement.name.lower(), str(requirement.specifier)))
    return packages


def expected_conda_packages(requirements: list[Requirement]) -> set[tuple[str, str]]:
    expected = set()
    for requirement in requirements:
        name, bounds = requirement.name.lower(), str(requirement.specifier)
        keys = [name, *((name, extra) for extra in sorted(requirement.extras))]
        for key in keys:
            for package, versioned in CONDA_EQUIVALENTS.get(key, [(name, True)] if key == name else []):
                expected.add((package, bounds if versioned else ""))
    return expected


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    requirements = pyproject_requirements()
    names = [requirement.name.lower() for requirement in requirements]
    assert len(names) == len(set(names)), f"listed twice in pyproject.toml: {sorted(names)}"
    expected, listed = expected_conda_packages(requirements), conda_packages()
    assert not expected - listed, (
        f"missing from environment.yml (or other bounds): {sorted(expected - listed)}"
    )
    assert not listed - expected, f"not in pyproject.toml (or other bounds): {sorted(listed - expected)}"
    assert ("lightkurve", "!=2.6.0,>=2.5.1") in listed


def test_the_workflow_and_its_config_folder_are_package_data():
    from mwlc.config import DEFAULTS_PATH, SCHEMA_PATH, WORKFLOW_DIR
    from mwlc.runner import SNAKEFILE

    assert WORKFLOW_DIR == REPO / "workflow"  # the package's links lead to the checkout's folders
    assert SNAKEFILE.is_file() and SCHEMA_PATH.is_file()
    assert DEFAULTS_PATH == REPO / "config" / "config.yaml"
    with open(REPO / "pyproject.toml", "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["mwlc"]
    package = REPO / "src" / "mwlc"
    shipped = {path for pattern in patterns for path in glob(pattern, root_dir=package, recursive=True)}
    needed = {
        f"_data/{path.relative_to(REPO)}"
        for folder in ("workflow", "config")
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert len(needed) > 20 and needed <= shipped, sorted(needed - shipped)
