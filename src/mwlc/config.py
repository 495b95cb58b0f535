"""Validate a workflow configuration before any job runs.

:func:`check_config` takes the config dict Snakemake assembled (``config/config.yaml`` plus
``--configfile`` overrides), maps old parameter names to current ones (the table of old names
is :mod:`mwlc.legacy`; one deprecation message each), validates it against
``workflow/schemas/config.schema.yaml`` and fills in defaults. Every problem is reported as one
line naming the key and what was expected.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mwlc import legacy, validation
from mwlc.archives.base import Archive
from mwlc.archives.registry import ARCHIVES, canonical_name
from mwlc.errors import ConfigError, SampleError

log = logging.getLogger(__name__)

#: The workflow folder (``Snakefile``, ``rules/``, ``schemas/``, ...), shipped as package data
#: ``mwlc/_data/workflow`` beside ``mwlc/_data/config``: in a checkout (an editable install, or
#: ``src/`` on the path) these link to its ``workflow/`` and ``config/``; a wheel holds copies.
#: A Snakefile run gives :func:`check_config` its own paths instead.
WORKFLOW_DIR = Path(str(resources.files("mwlc").joinpath("_data", "workflow"))).resolve()
#: The config schema of that workflow.
SCHEMA_PATH = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
#: The shipped defaults, onto which a user's ``--configfile`` is merged.
DEFAULTS_PATH = WORKFLOW_DIR.parent / "config" / "config.yaml"


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The config JSON schema: the YAML file, with the archive sections from the descriptors.

    The file describes everything but the archives; ``archives`` and the archive names of
    ``fetch_mem_mb`` come from :data:`mwlc.archives.registry.ARCHIVES` (see
    :func:`with_archive_sections`), so an archive's keys, defaults and limits live only in its
    descriptor.
    """
    with open(path) as f:
        return with_archive_sections(yaml.safe_load(f))


def with_archive_sections(schema: dict, archives: Iterable[Archive] | None = None) -> dict:
    """``schema`` with ``archives`` and ``fetch_mem_mb``'s archive names generated from descriptors.

    Parameters
    ----------
    schema : dict
        The config schema as written in ``config.schema.yaml`` (not modified).
    archives : iterable of Archive, optional
        The descriptors; default every registered archive.
    """
    archives = list(ARCHIVES.values() if archives is None else archives)
    schema = copy.deepcopy(schema)
    properties = schema["properties"]
    properties["archives"] = {
        **properties.get("archives", {}),
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {archive.name: archive.config_schema() for archive in archives},
    }
    properties["fetch_mem_mb"]["propertyNames"] = {
        "enum": ["default", *(archive.name for archive in archives)]
    }
    return schema


def check_config(
    config: dict, schema: dict | None = None, defaults: dict | None = None
) -> tuple[dict, list[str]]:
    """Validate ``config`` and return ``(checked_config, deprecation_messages)``.

    The returned config is a copy with archive names canonical, old parameter names converted
    and every default filled in, its mappings in sorted key order: Snakemake compares a rule's
    params as written out, so keys reordered in a YAML file must not rerun (refetch) anything.
    ``config`` itself is not modified.

    ``defaults`` is ``config/config.yaml`` as shipped, onto which Snakemake merged the user's
    ``--configfile``: an old parameter name given by the user then wins over the new name's
    shipped default, instead of being reported as a conflict.

    Raises
    ------
    ConfigError
        One line naming the first offending key and what was expected.
    """
    schema = schema or load_schema()
    checked = validation.plain(copy.deepcopy(config))  # as an archive's reader sees its arguments
    notes = _migrate(checked, (defaults or {}).get("archives") or {})
    # an archive meets a NaN or infinite parameter mid-run; elsewhere .inf may mean "no limit"
    validation.check(checked, schema, finite=False)
    validation.check_finite(checked.get("archives"), prefix=("archives",))
    _fill_defaults(checked, schema)
    if not enabled_archives(checked):
        raise ConfigError("config key 'archives': no archive is enabled; set enabled: true on at least one")
    _check_sample_sources(checked["sample"]["sources"])
    _check_arcsec_values(checked)
    _check_demo(checked)
    return sorted_mappings(checked), notes


def sorted_mappings(value: Any) -> Any:
    """``value`` with every mapping in it (at any depth, lists included) in sorted key order."""
    if isinstance(value, dict):
        return {key: sorted_mappings(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_mappings(item) for item in value]
    return value


def enabled_archives(config: dict) -> list[str]:
    """Canonical names of the archives with ``enabled: true``, in registry order."""
    return [name for name in ARCHIVES if config["archives"].get(name, {}).get("enabled", False)]


# --- archive names and old parameter names (the table: mwlc.legacy) ---------------------------


def deep_merge(base: dict, extra: dict) -> dict:
    """``extra`` merged over ``base``, mappings key by key (as Snakemake merges config files)."""
    merged = dict(base)
    for key, value in extra.items():
        both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = deep_merge(merged[key], value) if both_dicts else value
    return merged


def _migrate(config: dict, default_archives: dict) -> list[str]:
    """Rename archives to canonical names and convert old parameter names, in place.

    An archive spelt differently from its canonical name (``ZTF``, an alias such as the old
    ``IceCube``) can only come from the user's file, so its parameters are merged over the
    canonical entry's.
    """
    archives = config.get("archives")
    if not isinstance(archives, dict):
        return []
    notes: list[str] = []
    canonical = {}
    for name, params in archives.items():
        try:
            canonical[name] = canonical_name(name)
        except KeyError as err:
            raise ConfigError(f"config key 'archives.{name}': {err.args[0]}") from None
        if not isinstance(params, dict):
            raise ConfigError(f"config key 'archives.{name}': expected a mapping of parameters")
    given = dict(archives)
    archives.clear()
    for name in sorted(given, key=lambda n: n != canonical[n]):  # canonical spellings first
        params = given[name]
        if name.lower() == legacy.OLD_ICECUBE_ARCHIVE:
            params, note = legacy.old_icecube_archive(params)
            notes.append(note)
        archives[canonical[name]] = deep_merge(archives.get(canonical[name], {}), params)
    for name, params in archives.items():
        notes += legacy.convert_params(name, params, default_archives.get(name) or {})
    return notes


# --- defaults and cross-field checks ---------------------------------------------------------


def _fill_defaults(instance: dict, schema: dict) -> None:
    """Insert schema defaults for missing keys, recursing into nested mappings, in place."""
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if isinstance(instance.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(instance[key], sub)


def _check_sample_sources(sources: list[dict]) -> None:
    """Source kinds and their keys, with did-you-mean hints."""
    from mwlc.sample.sources import SOURCE_NAMES, check_source, required_keys, source_keys

    for index, spec in enumerate(sources):
        where = f"sample.sources.{index}"
        kind = str(spec["source"]).lower()
        if kind not in SOURCE_NAMES:
            hint = difflib.get_close_matches(kind, SOURCE_NAMES, n=1)
            suggestion = f"did you mean '{hint[0]}'? " if hint else ""
            raise ConfigError(
                f"config key '{where}.source': unknown sample source {spec['source']!r}; "
                f"{suggestion}known sources: {', '.join(sorted(SOURCE_NAMES))}"
            )
        allowed = source_keys(kind)
        for key in spec:
            if key != "source" and key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ""
                raise ConfigError(
                    f"config key '{where}.{key}': unknown key for source '{kind}'; "
                    f"{suggestion}allowed keys: {', '.join(sorted(allowed))}"
                )
        missing = sorted(required_keys(kind) - set(spec))
        if missing:
            raise ConfigError(f"config key '{where}': source '{kind}' needs key(s) {', '.join(missing)}")
        try:
            check_source(spec)
        except SampleError as error:
            raise ConfigError(f"config key '{where}': {error}") from None


#: A ``*_arcsec`` value below this (arcsec) is taken for a value in degrees given by mistake.
SMALLEST_ARCSEC = 0.01


def _check_arcsec_values(config: dict) -> None:
    """Refuse ``*_arcsec`` values so small they must be degrees (the original's ``1/3600``)."""
    for key, value in _arcsec_values(config, ()):
        if 0 < value < SMALLEST_ARCSEC:
            raise ConfigError(
                f"config key '{key}': {value:g} looks like degrees ({value * 3600:g} arcsec); "
                "this key is in arcsec"
            )


def _arcsec_values(node: Any, path: tuple) -> list[tuple[str, float]]:
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in _arcsec_values(value, (*path, key))]
    if isinstance(node, list):
        return [found for i, value in enumerate(node) for found in _arcsec_values(value, (*path, i))]
    named_arcsec = bool(path) and str(path[-1]).endswith("_arcsec")
    is_number = isinstance(node, (int, float)) and not isinstance(node, bool)
    return [(validation.key_name(path), float(node))] if named_arcsec and is_number else []


def _check_demo(config: dict) -> None:
    """Each demo archive must be enabled and read from ``<demo.directory>/<archive>``."""
    demo = config.get("demo")
    if not demo:
        return
    for archive in demo.get("archives", []):
        try:
            name = canonical_name(archive)
        except KeyError as error:
            raise ConfigError(f"config key 'demo.archives': {error.args[0]}") from None
        expected = f"{demo['directory'].rstrip('/')}/{name}"
        params = config["archives"].get(name)
        if params is None or params.get("source") != expected:
            raise ConfigError(
                f"config key 'archives.{name}.source': demo archive must be read from "
                f"'{expected}' (demo.directory/<archive>)"
            )
