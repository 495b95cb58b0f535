"""What every figure shares: saving, the provenance note, the empty-figure message, memory units."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 110) -> None:
    """Write ``figure`` (format from the suffix)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")


def add_note(figure: Figure, note: str) -> None:
    """The provenance note, in red under the axes (nothing when empty)."""
    if note and note.strip():
        figure.text(0.5, -0.01, note.strip(), ha="center", va="top", color="tab:red", fontsize=9, wrap=True)


def empty_figure(figure: Figure, text: str) -> Figure:
    """``figure`` with ``text`` in grey at its centre (a figure without data says why)."""
    figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="0.4")
    return figure


def memory_scale(max_mib: float) -> tuple[float, str]:
    """Divisor and unit to show memory given in MiB: GiB from 2 GiB up, else MiB."""
    return (1024.0, "GiB") if max_mib >= 2048 else (1.0, "MiB")


#: Figures aggregated per job group name this many jobs (the slowest, the largest) individually.
N_NAMED_JOBS = 5


def wildcard_values(wildcards: str) -> dict[str, str]:
    """``"archive=ztf,shard=0001"`` as ``{"archive": "ztf", "shard": "0001"}`` (empty for ``""``)."""
    pairs = (pair.partition("=") for pair in str(wildcards or "").split(",") if "=" in pair)
    return {key: value for key, _, value in pairs}


def job_groups(rules: Sequence[str], wildcards: Sequence[str]) -> list[str]:
    """Each job's group in aggregated figures, for one row per job: its rule, split by archive
    where the rule has several jobs of one archive (``"fetch_lightcurves ztf"``, but
    ``"gather_archive"`` for its one job per archive); ``"?"`` for a process without a rule. So
    the groups are bounded by rules + archives, whatever the number of shards."""
    rules = [rule or "?" for rule in rules]
    archives = [wildcard_values(w).get("archive") for w in wildcards]
    counts = Counter(zip(rules, archives, strict=True))
    split = {rule for (rule, archive), n in counts.items() if archive and n > 1}
    return [
        f"{rule} {archive}" if rule in split and archive else rule
        for rule, archive in zip(rules, archives, strict=True)
    ]


def short_job_name(rule: str, wildcards: str, job: str = "") -> str:
    """A job as a short label: its rule and wildcard values (``"fetch_lightcurves ztf/0001"``),
    else ``job`` (the monitor's name of a process without a rule)."""
    values = "/".join(wildcard_values(wildcards).values())
    if not rule:
        return job or "?"
    return f"{rule} {values}" if values else rule
