"""Photometric conversions shared by the archives. Fluxes are in mJy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mwlc.errors import ConfigError

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


# -- Gaia DR3 ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GaiaZeroPoint:
    """DR3 photometric zero points of one Gaia passband (Riello et al. 2021, A&A 649, A3, Table 3).

    A flux ``f`` in e-/s has magnitude ``ZP - 2.5 log10(f)`` in the system of ``ZP``.

    Attributes
    ----------
    ab : float
        AB zero point, mag: the one used for fluxes in mJy.
    vega : float
        Vega zero point, mag: the one of the released ``*_mag`` columns (documentation only).
    """

    ab: float
    vega: float


#: Gaia DR3 zero points per band (Riello et al. 2021, A&A 649, A3). The released magnitudes are
#: Vega magnitudes; fluxes in mJy come from the e-/s fluxes with the AB zero points.
GAIA_DR3_ZERO_POINTS: dict[str, GaiaZeroPoint] = {
    "Gaia_G": GaiaZeroPoint(ab=25.8010, vega=25.6874),
    "Gaia_BP": GaiaZeroPoint(ab=25.3540, vega=25.3385),
    "Gaia_RP": GaiaZeroPoint(ab=25.1040, vega=24.7479),
}


def gaia_mjy_per_e_s(band: str) -> float:
    """Flux density in mJy of a Gaia source giving 1 e-/s in ``band``: ``10**(-0.4 (ZP_AB - 23.9)) / 1000``.

    Raises
    ------
    mwlc.errors.ConfigError
        If ``band`` is not ``"Gaia_G"``, ``"Gaia_BP"`` or ``"Gaia_RP"``.
    """
    zero_point = GAIA_DR3_ZERO_POINTS.get(band)
    if zero_point is None:
        raise ConfigError(f"unknown Gaia band {band!r}; known bands: {list(GAIA_DR3_ZERO_POINTS)}")
    return 10.0 ** (-0.4 * (zero_point.ab - AB_MAG_1_UJY)) / 1000.0


def gaia_flux_to_mjy(flux_e_s: np.ndarray, band: str) -> np.ndarray:
    """Gaia DR3 flux (e-/s) to flux density in mJy, with the band's DR3 AB zero point.

    ``mJy = flux_e_s * 10**(-0.4 * (ZP_AB - 23.9)) / 1000``, i.e. the flux density of AB magnitude
    ``ZP_AB - 2.5 log10(flux_e_s)`` (:data:`GAIA_DR3_ZERO_POINTS`). Linear in the flux, so a
    zero or negative flux (a faint source's noise) keeps its value and sign instead of becoming
    an undefined magnitude.

    Parameters
    ----------
    flux_e_s : array-like
        Fluxes in e-/s (``g_transit_flux``, ``bp_flux``, ``rp_flux``).
    band : {"Gaia_G", "Gaia_BP", "Gaia_RP"}
        The passband of ``flux_e_s``.

    Returns
    -------
    numpy.ndarray
        float64 flux densities in mJy; NaN stays NaN.

    Raises
    ------
    mwlc.errors.ConfigError
        If ``band`` is not a Gaia band.
    """
    return np.asarray(flux_e_s, dtype=np.float64) * gaia_mjy_per_e_s(band)


def gaia_flux_error_to_mjy(flux_error_e_s: np.ndarray, band: str) -> np.ndarray:
    """1-sigma error (e-/s, e.g. ``g_transit_flux_error``) of a Gaia flux to mJy (same scale as the flux).

    Raises
    ------
    mwlc.errors.ConfigError
        If ``band`` is not a Gaia band.
    """
    return np.asarray(flux_error_e_s, dtype=np.float64) * gaia_mjy_per_e_s(band)


def gaia_flux_error_from_over_error(
    flux_e_s: np.ndarray, flux_over_error: np.ndarray, band: str
) -> np.ndarray:
    """1-sigma flux error in mJy from a flux (e-/s) and its ``flux_over_error`` (Gaia's flux / error).

    ``|flux_e_s / flux_over_error|`` in e-/s, scaled as :func:`gaia_flux_error_to_mjy`; the error
    is positive whatever the flux's sign. A zero ``flux_over_error`` gives NaN (no error known).

    Raises
    ------
    mwlc.errors.ConfigError
        If ``band`` is not a Gaia band.
    """
    flux = np.asarray(flux_e_s, dtype=np.float64)
    ratio = np.asarray(flux_over_error, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        error_e_s = np.where(ratio == 0, np.nan, np.abs(flux / ratio))
    return gaia_flux_error_to_mjy(error_e_s, band)
