"""Errors users see. Each message names the offending key, row or file and what was expected."""

from __future__ import annotations


class MwlcError(Exception):
    """Base class of every error mwlc raises on purpose."""


class ConfigError(MwlcError, ValueError):
    """A configuration value is missing, misspelt, of the wrong type or out of range."""


class SampleError(MwlcError, ValueError):
    """The sample input is unusable (bad coordinates, missing columns, no objects)."""


class ArchiveError(MwlcError, RuntimeError):
    """An archive could not be read (after retries), or answered something unexpected."""
