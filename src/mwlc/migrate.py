"""Turn a Fornax ``scale_up`` run's parameters into an equivalent mwlc config.

The original helper took its parameters as a kwargs dict (Python), a ``kwargs.yml`` file, a
``-j`` JSON string and ``-d key=value`` flags, with the archives to run given separately
(``-a "Gaia HEASARC IceCube WISE ZTF"``, or the shortcuts ``all`` / ``scaled``).
:func:`migrate_kwargs` maps all of that onto an mwlc config:

* ``run_id`` stays; ``get_samples`` (list of names or dict name → kwargs) becomes
  ``sample.sources`` in the same order (``paper_kwargs``/``paper_link`` → ``papers``/``refcode``,
  ``csv_path`` → ``path``, ...); ``consolidate_nearby_objects`` becomes
  ``sample.consolidate_radius_arcsec`` (18 arcsec = the original's 0.005 deg, or 0);
* the archive list decides ``enabled`` for every mwlc archive; the old ``IceCube`` archive is
  HEASARC's ``icecubepsc`` table; archive kwargs get their new names and units (degrees →
  arcsec) through the same conversions the workflow applies to old names
  (:mod:`mwlc.legacy`);
* ``n_shards`` is chosen for ~:data:`OBJECTS_PER_SHARD` objects per shard when the sample size is
  known (an SDSS ``num``);
* keys with no mwlc equivalent (``overwrite_existing_*``, ``use_yaml``, file names, ...) are
  listed with what replaces them.

Command line: ``mwlc migrate-config`` (see :func:`main`).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mwlc.archives.registry import ALIASES, ARCHIVES
from mwlc.errors import ConfigError
from mwlc.legacy import (
    ARCHIVE_LISTS,
    CONSOLIDATE_RADIUS_ARCSEC,
    DEFAULT_SAMPLES,
    HEASARC_TABLES,
    NEUTRINO_TABLE,
    NO_EQUIVALENT,
    OLD_ICECUBE_ARCHIVE,
    UNSUPPORTED_SAMPLES,
    convert_archive,
    papers_from_original,
)
from mwlc.sample.size import OBJECTS_PER_SHARD


@dataclass
class Migration:
    """An mwlc config made from an original run's parameters, and what the migration did.

    Attributes
    ----------
    config : dict
        The mwlc config (to be merged onto ``config/config.yaml``, as ``--configfile`` is).
    changes : list of str
        One line per renamed key, converted unit or derived value.
    no_equivalent : list of str
        One line per parameter that has no mwlc equivalent, with what to do instead.
    """

    config: dict
    changes: list[str] = field(default_factory=list)
    no_equivalent: list[str] = field(default_factory=list)

    def to_yaml(self, origin: str = "") -> str:
        """The config as YAML, headed by comments listing the changes."""
        head = [f"# mwlc config migrated from {origin or 'a Fornax scale_up run'} by `mwlc migrate-config`."]
        head += [f"# changed: {line}" for line in self.changes]
        head += [f"# no equivalent: {line}" for line in self.no_equivalent]
        return "\n".join(head) + "\n" + yaml.safe_dump(self.config, sort_keys=False, width=100)


# --- reading the original's parameters ---------------------------------------------------------


def parse_kwargs_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``-d key=value`` flags as the original read them: ``true``/``false`` (any case) become
    booleans, everything else stays a string.

    Raises
    ------
    ConfigError
        For a pair without ``=``.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"-d {pair!r}: expected key=value")
        out[key.strip()] = {"true": True, "false": False}.get(value.strip().lower(), value)
    return out


def original_kwargs(
    yaml_path: str | Path | None = None,
    kwargs_json: str | None = None,
    kwargs_pairs: Sequence[str] = (),
) -> dict[str, Any]:
    """The original run's kwargs from its ``kwargs.yml``, ``-j`` JSON and ``-d`` flags.

    Precedence as in the original: ``-d`` over ``-j`` over the yaml file; ``get_samples`` and
    ``archives`` are merged one level deep (per name).
    """
    layers = []
    if yaml_path is not None:
        layers.append(_read_yaml(Path(yaml_path)))
    if kwargs_json:
        try:
            layers.append(json.loads(kwargs_json))
        except json.JSONDecodeError as err:
            raise ConfigError(f"-j: not valid JSON ({err})") from None
    layers.append(parse_kwargs_pairs(kwargs_pairs))
    merged: dict[str, Any] = {}
    for layer in layers:
        if not isinstance(layer, Mapping):
            raise ConfigError(f"expected a mapping of keyword arguments, got {type(layer).__name__}")
        for key, value in layer.items():
            if key in ("get_samples", "archives") and key in merged:
                value = {**_by_name(merged[key], key), **_by_name(value, key)}
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None


def _by_name(value: Any, key: str) -> dict[str, dict]:
    """A list of names or a dict name -> kwargs, as a dict with lower-case names."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, Sequence):
        items = ((name, {}) for name in value)
    else:
        raise ConfigError(f"'{key}': expected a list of names or a mapping name -> kwargs, got {value!r}")
    out = {}
    for name, kwargs in items:
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise ConfigError(f"'{key}.{name}': expected a mapping of keyword arguments, got {kwargs!r}")
        out[str(name).lower()] = dict(kwargs or {})
    return out


def archive_list(names: str | Sequence[str]) -> list[str]:
    """The ``-a`` argument as a list of names: space-separated names or ``all``/``scaled``/``core``."""
    if isinstance(names, str):
        names = names.split()
    expanded: list[str] = []
    for name in names:
        expanded += ARCHIVE_LISTS.get(name.lower(), [name])
    return expanded


# --- the migration ------------------------------------------------------------------------------


def migrate_kwargs(kwargs: Mapping[str, Any], archive_names: str | Sequence[str] | None = None) -> Migration:
    """An mwlc config equivalent to an original run's kwargs.

    Parameters
    ----------
    kwargs : mapping
        The original kwargs dict (as given to ``helpers.scale_up.run`` or written to ``kwargs.yml``).
    archive_names : str or sequence of str, optional
        The archives the original ran (``-a``): names or ``all``/``scaled``/``core``. By default the
        archives named in ``kwargs["archives"]``, or ``all`` if it names none.

    Raises
    ------
    ConfigError
        For a value the original would also have refused (a malformed ``get_samples``, an unknown
        HEASARC table, a Pan-STARRS radius in degrees, ...).
    """
    migration = Migration(config={})
    kwargs = dict(kwargs)
    migration.config["run_id"] = str(kwargs.pop("run_id", "my-run"))
    sources = _sample_sources(kwargs.pop("get_samples", DEFAULT_SAMPLES), migration)
    migration.config["sample"] = {
        "consolidate_radius_arcsec": _consolidation(
            kwargs.pop("consolidate_nearby_objects", True), migration
        ),
        "sources": sources,
    }
    _choose_shards(sources, migration)
    old_archives = _by_name(kwargs.pop("archives", {}), "archives")
    migration.config["archives"] = _archives(old_archives, archive_names, migration)
    for key, value in kwargs.items():
        instead = NO_EQUIVALENT.get(key, "not a parameter mwlc knows")
        migration.no_equivalent.append(f"{key}={value!r}: {instead}")
    return migration


def _consolidation(consolidate: Any, migration: Migration) -> float:
    """The original tested ``if consolidate_nearby_objects:``, and its ``-d`` values other than
    true/false stayed strings: ``"yes"``, ``"no"`` and ``"0"`` consolidated, ``""`` did not."""
    given = consolidate
    if isinstance(consolidate, str) and consolidate.strip().lower() in ("true", "false"):
        consolidate = consolidate.strip().lower() == "true"
    radius = CONSOLIDATE_RADIUS_ARCSEC if consolidate else 0.0
    migration.changes.append(
        f"consolidate_nearby_objects={given!r} -> sample.consolidate_radius_arcsec: {radius:g}"
    )
    return radius


def _sample_sources(get_samples: Any, migration: Migration) -> list[dict]:
    from mwlc.sample.sources import ALIASES as OLD_SOURCES
    from mwlc.sample.sources import SOURCE_NAMES, source_keys

    sources = []
    for name, kwargs in _by_name(get_samples, "get_samples").items():
        if name in UNSUPPORTED_SAMPLES or name not in SOURCE_NAMES:
            why = "journal-page scraping is not provided" if name in UNSUPPORTED_SAMPLES else "unknown source"
            migration.no_equivalent.append(
                f"get_samples.{name}: {why}; give its positions as a file (source: file)"
            )
            continue
        kwargs = dict(kwargs)
        if name == "papers_list":
            kwargs = papers_from_original(kwargs)
            migration.changes.append("get_samples.papers_list.paper_kwargs -> papers (paper_link -> refcode)")
        elif name in OLD_SOURCES:
            new_name, renames = OLD_SOURCES[name]
            kwargs = {renames.get(key, key): value for key, value in kwargs.items()}
            migration.changes.append(
                f"get_samples.{name} -> source: {new_name}"
                + "".join(f", {old} -> {new}" for old, new in renames.items())
            )
            name = new_name
        allowed = source_keys(name)
        for key in sorted(set(kwargs) - allowed):
            migration.no_equivalent.append(
                f"get_samples.{name}.{key}={kwargs.pop(key)!r}: not a parameter of "
                f"this source (logging goes to the job's log)"
            )
        if name == "sdss" and kwargs.get("randomize_z"):
            kwargs.setdefault("seed", 0)
            migration.changes.append(
                "get_samples.sdss.randomize_z: the random selection is seeded "
                f"(seed: {kwargs['seed']}), so a rerun gives the same sample"
            )
        sources.append({"source": name, **kwargs})
    return sources


def _choose_shards(sources: list[dict], migration: Migration) -> None:
    sizes = [source.get("num") for source in sources if source["source"] == "sdss"]
    known = sum(int(size) for size in sizes if isinstance(size, (int, str)) and str(size).isdigit())
    if known >= OBJECTS_PER_SHARD:  # n_shards: auto would find the same; written out to be seen
        migration.config["n_shards"] = math.ceil(known / OBJECTS_PER_SHARD)
        migration.changes.append(
            f"n_shards: {migration.config['n_shards']} for ~{known:,} objects "
            f"(~{OBJECTS_PER_SHARD:,} per shard; one fetch job per archive and shard)"
        )


def _archives(old: dict[str, dict], names: str | Sequence[str] | None, migration: Migration) -> dict:
    if names is None:
        names = list(old) or ARCHIVE_LISTS["all"]
        migration.changes.append(f"no archive list given: running {', '.join(names)}")
    wanted = {name.lower() for name in archive_list(names)}
    unknown = [name for name in {*wanted, *old} if _canonical(name) is None]
    for name in sorted(unknown):
        migration.no_equivalent.append(f"archive {name}: not provided by mwlc (known: {', '.join(ARCHIVES)})")
    converted: dict[str, dict] = {}
    for name in sorted(wanted - set(unknown), key=lambda n: n == OLD_ICECUBE_ARCHIVE):  # joins HEASARC last
        canonical = _canonical(name)
        params, notes = convert_archive(name, canonical, old.get(name, {}))
        converted[canonical] = _merge_archive(converted.get(canonical), params)
        migration.changes += notes
    for name in sorted(set(old) - wanted - set(unknown)):
        migration.changes.append(
            f"archives.{name}: kwargs given but {name} is not in the archive list: disabled"
        )
    if "heasarc" in converted:
        _skip_unlisted_heasarc_tables(converted["heasarc"], wanted, migration)
    return {name: {"enabled": name in converted, **converted.get(name, {})} for name in ARCHIVES}


def _canonical(name: str) -> str | None:
    key = ALIASES.get(name.lower(), name.lower())
    return key if key in ARCHIVES else None


def _merge_archive(current: dict | None, params: dict) -> dict:
    """``params`` over ``current``; HEASARC tables merge one by one, a None table never wins."""
    merged = copy.deepcopy(current or {})
    for key, value in params.items():
        if key == "catalogs" and isinstance(merged.get(key), dict):
            merged[key].update({table: v for table, v in value.items() if v is not None})
        else:
            merged[key] = value
    return merged


def _skip_unlisted_heasarc_tables(heasarc: dict, wanted: set[str], migration: Migration) -> None:
    """The original ran IceCube and the HEASARC GRB tables as separate archives."""
    catalogs = heasarc.setdefault("catalogs", {})
    neutrino_only = "heasarc" not in wanted
    for table in HEASARC_TABLES:
        listed = OLD_ICECUBE_ARCHIVE in wanted if table == NEUTRINO_TABLE else not neutrino_only
        if not listed:
            catalogs[table] = None
            owner = "IceCube" if table == NEUTRINO_TABLE else "HEASARC"
            migration.changes.append(
                f"archives.heasarc.catalogs.{table}: null ({owner} is not in the archive list)"
            )


# --- command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mwlc migrate-config`` command line.

    ``mwlc migrate-config [kwargs.yml] [-j JSON] [-d key=value ...] [-a NAMES] [-r RUN_ID] -o out.yaml``
    """
    parser = argparse.ArgumentParser(
        prog="mwlc migrate-config",
        description="Write an mwlc config equivalent to a Fornax scale_up run's parameters "
        "(kwargs.yml, -j JSON, -d key=value, -a archives), converting names and units.",
    )
    parser.add_argument("kwargs_yml", nargs="?", type=Path, help="the original run's kwargs.yml")
    parser.add_argument("-j", "--kwargs-json", help="the original's -j JSON string")
    parser.add_argument(
        "-d",
        "--kwargs-dict",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="the original's -d flags (repeatable)",
    )
    parser.add_argument(
        "-a", "--archives", help='the original\'s -a list, e.g. "Gaia HEASARC IceCube WISE ZTF" or all'
    )
    parser.add_argument("-r", "--run-id", help="the original's -r run id (wins over the kwargs)")
    parser.add_argument("-o", "--output", help="config YAML to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        kwargs = original_kwargs(args.kwargs_yml, args.kwargs_json, args.kwargs_dict)
        if args.run_id:
            kwargs["run_id"] = args.run_id
        migration = migrate_kwargs(kwargs, args.archives)
        _check(migration.config)
    except ConfigError as err:
        print(f"mwlc migrate-config: {err}", file=sys.stderr)
        return 2
    text = migration.to_yaml(origin=_origin(args))
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    for line in migration.changes:
        print(f"changed: {line}", file=sys.stderr)
    for line in migration.no_equivalent:
        print(f"no equivalent: {line}", file=sys.stderr)
    if args.output:
        print(
            f"wrote {args.output}; run it with: snakemake --cores 8 --configfile {args.output}",
            file=sys.stderr,
        )
    return 0


def _origin(args: argparse.Namespace) -> str:
    parts = [str(args.kwargs_yml)] if args.kwargs_yml else []
    parts += ["-j JSON"] * bool(args.kwargs_json) + [f"-d {pair}" for pair in args.kwargs_dict]
    parts += [f'-a "{args.archives}"'] if args.archives else []
    return " ".join(parts)


def _check(config: dict) -> None:
    """Validate the migrated config as the workflow would (merged onto the shipped defaults)."""
    from mwlc.config import DEFAULTS_PATH, check_config, deep_merge

    defaults = yaml.safe_load(DEFAULTS_PATH.read_text())
    check_config(deep_merge(defaults, config), defaults=defaults)
