"""mwlc: multi-wavelength light curves for large samples."""

from __future__ import annotations

__all__ = ["load_lightcurves", "load_sample", "plot_lightcurve", "run"]

#: public name -> module defining it
_API = {
    "load_lightcurves": "mwlc.api",
    "load_sample": "mwlc.api",
    "plot_lightcurve": "mwlc.api",
    "run": "mwlc.runner",
}


def __getattr__(name: str):
    """Load the notebook API on first use, so the workflow's jobs do not pay for it."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'mwlc' has no attribute {name!r}")
