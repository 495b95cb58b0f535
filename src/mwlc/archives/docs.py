"""The archive tables of ``config/README.md``, generated from the archive descriptors.

Each archive's section of the README holds a block between the markers
``<!-- archive: NAME -->`` and ``<!-- end archive: NAME -->``: the table of its keys (type and
unit, limits, default, meaning), written by :func:`archive_block` from its descriptor. The
heading and the prose around the block (output units, old names) are written by hand.
``python -m mwlc.archives.docs config/README.md`` rewrites the blocks; a test checks that the file
holds exactly what the descriptors give.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mwlc.archives.base import NO_DEFAULT, Archive, Param

_TYPE_NAMES = {
    "number": "number",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
    "object": "mapping",
    "array": "list",
}


def start_marker(name: str) -> str:
    return f"<!-- archive: {name} -->"


def end_marker(name: str) -> str:
    return f"<!-- end archive: {name} -->"


def archive_block(archive: Archive) -> str:
    """The README block of one archive: markers and the table of its keys (Markdown)."""
    rows = [
        "| key | type, unit | default | meaning |",
        "|---|---|---|---|",
        f"| `source` | {archive.source_type} | `{archive.default_source}` | {archive.source_help} |",
        *(_row(key, param, inherited) for key, param, inherited in _flattened(archive.params)),
    ]
    return "\n".join(
        [
            start_marker(archive.name),
            *rows,
            end_marker(archive.name),
        ]
    )


def _flattened(
    params: Iterable[Param], prefix: str = "", parent_default: Any = NO_DEFAULT
) -> Iterator[tuple[str, Param, Any]]:
    """``(dotted key, param, its value in the enclosing mapping's default)`` of every parameter,
    nested keys after their mapping."""
    for param in params:
        key = f"{prefix}{param.name}"
        inherited = (
            parent_default.get(param.name, NO_DEFAULT) if isinstance(parent_default, dict) else NO_DEFAULT
        )
        yield key, param, inherited
        own = param.effective_default
        yield from _flattened(param.fields, f"{key}.", inherited if own is NO_DEFAULT else own)


def _row(key: str, param: Param, inherited: Any = NO_DEFAULT) -> str:
    meaning = (param.doc or param.description).replace("|", "\\|")
    return f"| `{key}` | {type_text(param)} | {default_text(param, inherited)} | {meaning} |"


def type_text(param: Param) -> str:
    """What a value may be: type(s), unit and limits, e.g. ``number, arcsec, (0, 10]``."""
    types = [param.json_type] if isinstance(param.json_type, str) else list(param.json_type or ())
    if param.choices is not None:
        return _alternatives([f"`{value}`" for value in param.choices])
    names = []
    for kind in types:
        if kind == "array" and param.items and "enum" in param.items:
            names.append("list of " + ", ".join(f"`{value}`" for value in param.items["enum"]))
        elif kind != "null":
            names.append(_TYPE_NAMES[kind])
    text = _alternatives(names + (["null"] if "null" in types else []))
    parts = [text, param.unit, _range_text(param)]
    return ", ".join(part for part in parts if part)


def _alternatives(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def _range_text(param: Param) -> str:
    low, high = param.exclusive_minimum, param.maximum
    if param.minimum is not None:
        low = param.minimum
    if low is None and high is None:
        return ""
    if high is None:
        return f"> {_number(low)}" if param.exclusive_minimum is not None else f">= {_number(low)}"
    if low is None:
        return f"<= {_number(high)}"
    opening = "(" if param.exclusive_minimum is not None else "["
    return f"{opening}{_number(low)}, {_number(high)}]"


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def default_text(param: Param, inherited: Any = NO_DEFAULT) -> str:
    """The default as written in YAML, e.g. ```1.0```; what an absent key means (``inherited``:
    its value in the enclosing mapping's default); ``see below`` for a mapping of documented keys."""
    if param.has_default:
        return f"`{_yaml(param.default)}`"
    value = param.absent_means if param.absent_means is not NO_DEFAULT else inherited
    if value is NO_DEFAULT:
        return "none"
    if param.fields:
        return "see below"
    return f"`{_yaml(value)}` (when absent)"


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_yaml(item)}" for key, item in value.items()) + "}"
    return str(value)


def update_readme(text: str, archives: Iterable[Archive]) -> str:
    """``text`` with each archive's block replaced by the one its descriptor gives.

    Raises
    ------
    ValueError
        If an archive has no block (both markers) in ``text``.
    """
    for archive in archives:
        pattern = re.compile(
            re.escape(start_marker(archive.name)) + r".*?" + re.escape(end_marker(archive.name)), re.S
        )
        if not pattern.search(text):
            raise ValueError(
                f"no block for archive {archive.name!r}: add the lines {start_marker(archive.name)!r} "
                f"and {end_marker(archive.name)!r} where its table goes"
            )
        text = pattern.sub(lambda _, archive=archive: archive_block(archive), text)
    return text


def built_in_archives() -> list[Archive]:
    """The descriptors of the archives mwlc ships (not those added through the environment)."""
    from mwlc.archives.registry import BUILT_IN, load_descriptor

    return [load_descriptor(path) for path in BUILT_IN]


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the archive blocks of the README given as the only argument."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m mwlc.archives.docs config/README.md", file=sys.stderr)
        return 2
    path = Path(args[0])
    path.write_text(update_readme(path.read_text(), built_in_archives()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
