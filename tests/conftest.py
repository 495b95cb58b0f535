"""Shared pytest fixtures: loopback servers and generated archive fixtures."""

pytest_plugins = ["tests.servers.fixtures", "tests.fixtures_ztf"]
