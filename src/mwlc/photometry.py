"""Photometric conversions shared by the archives. Fluxes are in mJy."""

from __future__ import annotations

import numpy as np

#: AB magnitude of 1 microjansky: the AB zero point is 10**(0.4 * 23.9) uJy = 3630.78 Jy,
#: the value of astropy's ``u.ABmag`` (not a rounded 3631 Jy).
AB_MAG_1_UJY = 23.9


def ab_mag_to_mjy(mag: np.ndarray) -> np.ndarray:
    """AB magnitude to flux density in mJy (zero point 3630.78 Jy, as astropy's ``u.ABmag``)."""
    return 10.0 ** (-0.4 * (np.asarray(mag, dtype=np.float64) - AB_MAG_1_UJY)) / 1000.0


def ab_mag_err_to_mjy(mag: np.ndarray, magerr: np.ndarray) -> np.ndarray:
    """Symmetric 1-sigma flux error (mJy): ``(F(mag - magerr) - F(mag + magerr)) / 2``."""
    mag = np.asarray(mag, dtype=np.float64)
    magerr = np.asarray(magerr, dtype=np.float64)
    return (ab_mag_to_mjy(mag - magerr) - ab_mag_to_mjy(mag + magerr)) / 2.0
