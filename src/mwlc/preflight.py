"""Preflight: open each enabled archive's source the way its fetch jobs will, before they start.

A broken source (a renamed column, a changed type, a dead endpoint, a radius beyond the margin)
would otherwise be found by every fetch job of the archive, each after its start-up. The
workflow runs one ``preflight`` job per enabled archive first (its fetch jobs depend on it), and
``mwlc preflight --configfile my_run.yaml`` runs the same checks before a long run is submitted.
Each reader's ``preflight`` (see :mod:`mwlc.archives._preflight`) reads metadata only: HATS
properties and schemas, the unWISE dataset's schema, HEASARC's table columns, MAST and HSC
answering. Every problem is one line: archive, source, what was expected and what was found;
notes (e.g. no margin catalog) are reported but stop nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from mwlc.archives._preflight import Finding
from mwlc.archives.base import COMMON_KEYS
from mwlc.archives.registry import get_archive
from mwlc.errors import ArchiveError, ConfigError, MwlcError
from mwlc.joblog import redact
from mwlc.storage import DEFAULT_POLICY, config_policy, storage_options

log = logging.getLogger(__name__)


class PreflightFailed(ArchiveError):
    """A source failed its preflight; the message has one line per problem."""


def settings_key(source: str, params: Mapping[str, Any], s3_endpoint_url: str | None) -> str:
    """16 hex digits naming an archive's settings: its source, its fetch jobs' params and the S3
    endpoint (equal settings, equal key; the workflow's preflight report is named with it)."""
    settings = {"source": source, "params": dict(params), "s3_endpoint_url": s3_endpoint_url}
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def preflight_archive(
    archive: str, *, source: str, params: Mapping[str, Any], storage: Mapping[str, Any] | None = None
) -> list[Finding]:
    """The findings of one archive's preflight (problems and notes); raises for none of them.

    Parameters
    ----------
    archive : str
        The archive (any name the registry accepts).
    source : str
        Its source, as in the config.
    params : mapping
        Its parameters from the config (``enabled`` and ``source`` may be included).
    storage : mapping, optional
        The storage options the fetch jobs get (:func:`mwlc.storage.storage_options` of the
        config's ``storage`` section: the S3 endpoint, and the timeouts and retries of every
        read, so that a source that fails a moment, a 503 or a reset, does not fail the
        archive's whole run). Default: AWS, read with :data:`mwlc.storage.DEFAULT_POLICY`.
    """
    described = get_archive(archive)
    params = {key: value for key, value in params.items() if key not in COMMON_KEYS}
    options = dict(storage) if storage is not None else storage_options(None, DEFAULT_POLICY)
    try:
        described.check_params(params)
    except ConfigError as err:
        return [Finding(described.name, source, "parameters the archive's descriptor accepts", str(err))]
    try:
        return described.preflight(source, params, storage_options=options)
    except (MwlcError, OSError) as err:  # a check that could not run is a problem of the source
        return [
            Finding(described.name, source, "a source its preflight can open", f"{type(err).__name__}: {err}")
        ]


def check_archive(
    archive: str,
    *,
    source: str,
    params: Mapping[str, Any],
    storage: Mapping[str, Any] | None = None,
    report_path: str | Path | None = None,
    echo: TextIO | None = None,
) -> list[Finding]:
    """Run one archive's preflight, log every finding, and fail on a problem.

    Parameters
    ----------
    archive, source, params, storage
        As :func:`preflight_archive`.
    report_path : path-like, optional
        Written when the source passes: what was checked and the notes (the workflow's record
        that the preflight ran; its content never triggers a rerun).
    echo : text stream, optional
        Also gets the problem lines (e.g. the terminal running Snakemake, whose job logs are files).

    Returns
    -------
    list of Finding
        The notes.

    Raises
    ------
    PreflightFailed
        One line per problem (archive, source, expected, found).
    """
    findings = preflight_archive(archive, source=source, params=params, storage=storage)
    for finding in findings:
        (log.error if finding.problem else log.warning)("%s", finding.line())
    problems = [finding.line() for finding in findings if finding.problem]
    if problems and echo is not None:
        print("\n".join(problems), file=echo, flush=True)
    if problems:
        raise PreflightFailed("preflight failed:\n" + "\n".join(problems))
    name = get_archive(archive).name
    log.info("%s: %s passed its preflight (%d note(s))", name, source, len(findings))
    if report_path is not None:
        lines = [redact(f"{name}: {source}: ok"), *(finding.line() for finding in findings)]
        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        Path(report_path).write_text("\n".join(lines) + "\n")
    return findings


def preflight_config(
    config: Mapping[str, Any], archives: Iterable[str] | None = None
) -> dict[str, list[Finding]]:
    """The findings of every enabled archive (or of ``archives``) of a checked workflow config."""
    from mwlc.config import enabled_archives

    names = [get_archive(name).name for name in archives] if archives else enabled_archives(config)
    return {
        name: preflight_archive(
            name,
            source=config["archives"][name]["source"],
            params=config["archives"][name],
            storage=storage_options(config["storage"]["s3_endpoint_url"], config_policy(config["storage"])),
        )
        for name in names
    }


def load_config(configfiles: Sequence[str | Path]) -> dict[str, Any]:
    """The workflow's config: ``config/config.yaml`` with ``configfiles`` merged on, checked.

    The shipped defaults are the ``config/config.yaml`` of the current directory when there is
    one (a checkout, as Snakemake reads it), else the one shipped with mwlc.

    Raises
    ------
    ConfigError
        As the workflow would, before any job.
    """
    import yaml

    from mwlc.config import DEFAULTS_PATH, check_config, deep_merge

    local = Path("config/config.yaml")
    defaults = yaml.safe_load((local if local.is_file() else DEFAULTS_PATH).read_text())
    merged = defaults
    for path in configfiles:
        merged = deep_merge(merged, yaml.safe_load(Path(path).read_text()) or {})
    return check_config(merged, defaults=defaults)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """``mwlc preflight --configfile FILE [--archive NAME ...]``: exit 1 on any problem."""
    parser = argparse.ArgumentParser(
        prog="mwlc preflight",
        description="Open each enabled archive's source as the fetch jobs will (metadata only) and "
        "report every problem, one line each, before a long run is submitted.",
    )
    parser.add_argument(
        "--configfile", action="append", default=[], help="config file(s), merged onto config/config.yaml"
    )
    parser.add_argument("--archive", action="append", help="check only this archive (repeatable)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.configfile)
        results = preflight_config(config, args.archive)
    except (MwlcError, OSError) as err:  # a bad or missing config file
        print(f"mwlc preflight: {err}", file=sys.stderr)
        return 2
    failed = False
    for name, findings in results.items():
        problems = [finding for finding in findings if finding.problem]
        failed |= bool(problems)
        source = config["archives"][name]["source"]
        status = f"{len(problems)} problem(s)" if problems else "ok"
        print(redact(f"{name}: {source}: {status}"))
        for finding in findings:
            print(f"  {finding.line()}")
    return 1 if failed else 0
