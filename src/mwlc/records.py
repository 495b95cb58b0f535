"""What Snakemake recorded for an output, read back: the params of the job that wrote it.

Snakemake keeps, per output file, the params of the job that wrote it, each as its ``repr``
(sorted), and reruns the job when today's differ (the ``params`` rerun trigger). The workflow
reads a fetch shard's record to keep the params of shards written by an older mwlc unchanged
where only keys that are no longer params differ
(:meth:`mwlc.archives.base.Archive.job_params`), and a job's record to give a param that must
never rerun it (the provenance note) its recorded value (:func:`kept_value`).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Mapping
from typing import Any


def recorded_mapping(serialized_params: Iterable[str] | None) -> dict[str, Any] | None:
    """The one mapping among a job's recorded params (as Snakemake serialized them), if exactly one.

    ``serialized_params`` is ``workflow.persistence.params(path)``: the ``repr`` of each param,
    or None when the output has no record. A fetch job has one mapping-valued param, its
    archive's parameters; its other params are strings or None. Returns None without a record,
    or when no param, or more than one, reads back as a mapping.
    """
    mappings = recorded_mappings(serialized_params)
    return mappings[0] if len(mappings) == 1 else None


def recorded_mappings(serialized_params: Iterable[str] | None) -> list[dict[str, Any]]:
    """The mappings among a job's recorded params (none without a record)."""
    return [value for value in map(_literal, serialized_params or ()) if isinstance(value, dict)]


def kept_mapping(
    recorded: Iterable[Mapping[str, Any]], today: Mapping[str, Any], how_keys: Collection[str]
) -> dict[str, Any]:
    """The value of a mapping param some of whose keys (``how_keys``: timeouts, retries) only
    say how a job works: ``today`` without them, or the first ``recorded`` mapping (those of the
    output's record, :func:`recorded_mappings`) that differs from that only by such keys (a
    record made while they were in the param), as it is, so that Snakemake sees the params of a
    finished output unchanged. Serves an archive's params
    (:meth:`mwlc.archives.base.Archive.job_params`) and the sample's services.
    """
    wanted = _without(today, how_keys)
    for value in recorded:
        if _without(value, how_keys) == wanted:
            return dict(value)
    return wanted


def _without(mapping: Mapping[str, Any], keys: Collection[str]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in keys}


def kept_value(serialized_params: Iterable[str] | None, today: Any, others: Iterable[Any]) -> Any:
    """The value to give a param that must never rerun a job (the provenance note), so that
    Snakemake sees the params of a finished output unchanged.

    ``serialized_params`` is the output's record (``workflow.persistence.params(path)``, None
    without one); ``others`` are the job's other params as given today. When all of those are
    among the recorded ones, the record's one other value is returned (the job's script does not
    read this param: it only mirrors the record). Otherwise ``today``: without a record the job
    runs anyway, and with another param changed it reruns anyway.
    """
    if serialized_params is None:
        return today
    recorded = set(serialized_params)
    given = {repr(value): value for value in others}
    if not set(given) <= recorded:
        return today
    rest = recorded - set(given)
    if not rest:  # the recorded value was equal to one of the others: that one keeps the set
        return today if repr(today) in recorded else next(iter(given.values()), today)
    if len(rest) == 1:
        text = rest.pop()
        value = _literal(text)
        return value if repr(value) == text else today
    return today


def _literal(text: Any) -> Any:
    """``text`` read back as a Python literal, or None if it is none (e.g. an object's repr)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
