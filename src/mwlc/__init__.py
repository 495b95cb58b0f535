"""mwlc: multi-wavelength light curves for large samples."""
