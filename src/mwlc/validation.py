"""Values checked against a JSON schema, each problem told in one line naming its key.

The config (:func:`mwlc.config.check_config`) and an archive's parameters, whether they come from
the config or are passed to a reader's ``fetch`` in a notebook
(:meth:`mwlc.archives.base.Archive.check_params`), are checked here, with the same messages.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema

from mwlc.errors import ConfigError


def _is_integer(checker: Any, instance: Any) -> bool:
    """An ``integer`` is an int (Python or numpy), not a whole float such as ``2.0``, nor a bool."""
    return isinstance(instance, numbers.Integral) and not isinstance(instance, bool)


#: Draft 2020-12, but ``2.0`` is no integer: a row count or a retry count of ``2.0`` is refused with
#: the config instead of failing a fetch job mid-run (``range(2.0)``), or reaching a service as
#: ``MAXREC=2.0``.
Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def check(
    instance: Any, schema: Mapping[str, Any], prefix: Sequence[str] = (), *, finite: bool = True
) -> None:
    """Raise :class:`ConfigError` for the first problem of ``instance`` under ``schema``.

    The problems nearest the top come first, then in key order. With ``finite``, a number that is
    not finite (NaN, infinity: YAML's ``.nan``, ``.inf``), which JSON schema lets through, is one
    too. ``prefix`` is the path of ``instance`` in the config (``("archives", "gaia")``).
    """
    errors = sorted(
        Validator(schema).iter_errors(instance),
        key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))),
    )
    if errors:
        raise ConfigError(describe(errors[0], prefix))
    if finite:
        check_finite(instance, prefix)


def check_finite(instance: Any, prefix: Sequence[str] = ()) -> None:
    """Raise :class:`ConfigError` naming the first NaN or infinite number in ``instance``."""
    path = first_non_finite(instance)
    if path is not None:
        raise ConfigError(f"config key '{key_name((*prefix, *path))}': expected a finite number")


def plain(value: Any) -> Any:
    """``value`` as JSON schema sees a config: tuples, numpy arrays and pandas series as lists,
    numpy scalars as Python ones, paths as strings.

    A reader's arguments may be tuples (its default bands), arrays (``frame.band.unique()``) or
    numpy numbers (a value read from a table); strings stay strings, so that ``bands="G"`` is
    refused as no list.
    """
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy, pandas
        return plain(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def first_non_finite(node: Any, path: tuple = ()) -> tuple | None:
    """The path of the first NaN or infinite number in ``node`` (mappings and lists walked), or None."""
    if isinstance(node, Mapping):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return path if isinstance(node, float) and not math.isfinite(node) else None
    for key, value in items:
        found = first_non_finite(value, (*path, key))
        if found is not None:
            return found
    return None


def key_name(path: Sequence[Any]) -> str:
    """``archives.gaia.bands.0`` from a path of keys and list indices."""
    return ".".join(str(p) for p in path) or "(top level)"


def describe(error: jsonschema.ValidationError, prefix: Sequence[str] = ()) -> str:
    """One line naming the key (``prefix`` + the error's path) and what was expected."""
    path = (*prefix, *error.absolute_path)
    key = key_name(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        bad = sorted(str(name) for name in error.instance if name not in allowed)[0]
        where = f"{key}.{bad}" if path else bad
        hint = difflib.get_close_matches(bad, allowed, n=1)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        return f"config key '{where}': unknown key; {suggestion}allowed keys: {', '.join(allowed)}"
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    if error.validator in ("oneOf", "anyOf"):  # e.g. n_shards: an integer >= 1, or "auto"
        specific = [e for e in error.context if e.validator not in ("type", "const", "enum")]
        if specific:
            return describe(jsonschema.exceptions.best_match(specific), prefix)
        expected = [
            repr(branch["const"]) if "const" in branch else _expected_type(branch.get("type"))
            for branch in error.validator_value
        ]
        return (
            f"config key '{key}': expected {' or '.join(expected)}, "
            f"got {error.instance!r} ({type(error.instance).__name__})"
        )
    if error.validator == "type":
        return (
            f"config key '{key}': expected {_expected_type(error.validator_value)}, "
            f"got {error.instance!r} ({type(error.instance).__name__})"
        )
    description = schema.get("description")
    return f"config key '{key}': {error.message}" + (f" ({description})" if description else "")


def _expected_type(value) -> str:
    names = value if isinstance(value, list) else [value]
    return " or ".join(
        {
            "number": "a number",
            "integer": "an integer",
            "string": "a string",
            "boolean": "true or false",
            "object": "a mapping",
            "array": "a list",
            "null": "null",
        }.get(n, n)
        for n in names
    )
