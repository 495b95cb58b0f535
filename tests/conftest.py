"""Shared pytest fixtures: loopback servers and generated archive fixtures."""

pytest_plugins = [
    "tests.servers.fixtures",
    "tests.fixtures_ztf",
    "tests.fixtures_heasarc",
    "tests.fixtures_wise",
    "tests.fixtures_gaia",
    "tests.fixtures_panstarrs",
    "tests.fixtures_hcv",
    "tests.fixtures_tess_kepler",
    "tests.fixtures_workflow",
    "tests.fixtures_archives",
    "tests.dag_jobs",
]
