"""Photometric conversions against astropy's units."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from mwlc.photometry import ab_mag_err_to_mjy, ab_mag_to_mjy


def test_ab_mag_to_mjy_matches_astropy():
    mag = np.array([0.0, 10.0, 16.123, 20.5, 23.9, 25.0], dtype=np.float32)
    reference = (mag.astype(float) * u.ABmag).to_value(u.mJy)
    np.testing.assert_allclose(ab_mag_to_mjy(mag), reference, rtol=1e-12)
    assert ab_mag_to_mjy(23.9) == pytest.approx(1e-3, rel=1e-14)  # 23.9 AB mag = 1 uJy
    assert ab_mag_to_mjy(0.0) == pytest.approx(3630.78e3, rel=1e-6)  # zero point 3630.78 Jy


def test_ab_mag_err_is_half_the_flux_interval():
    mag, magerr = np.array([15.0, 19.5]), np.array([0.01, 0.2])
    bright = (np.array(mag - magerr) * u.ABmag).to_value(u.mJy)
    faint = (np.array(mag + magerr) * u.ABmag).to_value(u.mJy)
    np.testing.assert_allclose(ab_mag_err_to_mjy(mag, magerr), (bright - faint) / 2, rtol=1e-12)
