"""What every figure shares: saving, the provenance note, the empty-figure message, memory units."""

from __future__ import annotations

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
