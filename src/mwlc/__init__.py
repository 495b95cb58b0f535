"""mwlc: multi-wavelength light curves for large samples."""

from __future__ import annotations

__all__ = ["load_lightcurves", "load_sample"]


def __getattr__(name: str):
    """Load the notebook API on first use, so the workflow's jobs do not pay for it."""
    if name in __all__:
        from mwlc import api

        return getattr(api, name)
    raise AttributeError(f"module 'mwlc' has no attribute {name!r}")
