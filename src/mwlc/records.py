"""What Snakemake recorded for an output, read back: the params of the job that wrote it.

Snakemake keeps, per output file, the params of the job that wrote it, each as its ``repr``
(sorted), and reruns the job when today's differ (the ``params`` rerun trigger). The workflow
reads a fetch shard's record to keep the params of shards written by an older mwlc unchanged
where only keys that are no longer params differ
(:meth:`mwlc.archives.base.Archive.job_params`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any


def recorded_mapping(serialized_params: Iterable[str] | None) -> dict[str, Any] | None:
    """The one mapping among a job's recorded params (as Snakemake serialized them), if exactly one.

    ``serialized_params`` is ``workflow.persistence.params(path)``: the ``repr`` of each param,
    or None when the output has no record. A fetch job has one mapping-valued param, its
    archive's parameters; its other params are strings or None. Returns None without a record,
    or when no param, or more than one, reads back as a mapping.
    """
    mappings = [value for value in map(_literal, serialized_params or ()) if isinstance(value, dict)]
    return mappings[0] if len(mappings) == 1 else None


def _literal(text: Any) -> Any:
    """``text`` read back as a Python literal, or None if it is none (e.g. an object's repr)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
