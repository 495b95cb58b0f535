"""Photometric conversions against astropy's units."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from mwlc.errors import ConfigError
from mwlc.photometry import (
    GAIA_DR3_ZERO_POINTS,
    ab_mag_err_to_mjy,
    ab_mag_to_mjy,
    gaia_flux_error_from_over_error,
    gaia_flux_error_to_mjy,
    gaia_flux_to_mjy,
)
from mwlc.schema import BANDS

#: Riello et al. 2021 (A&A 649, A3), Table 3: band -> (ZP_AB, ZP_Vega), mag.
RIELLO_2021 = {"Gaia_G": (25.8010, 25.6874), "Gaia_BP": (25.3540, 25.3385), "Gaia_RP": (25.1040, 24.7479)}


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


# -- Gaia DR3 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("band", sorted(RIELLO_2021))
def test_gaia_flux_matches_astropy_abmag_of_the_ab_zero_point(band):
    zp_ab, zp_vega = RIELLO_2021[band]
    assert (GAIA_DR3_ZERO_POINTS[band].ab, GAIA_DR3_ZERO_POINTS[band].vega) == (zp_ab, zp_vega)
    flux_e_s = np.array([1e-3, 0.5, 1.0, 123.456, 2.5e4, 8.8e7])
    reference = ((zp_ab - 2.5 * np.log10(flux_e_s)) * u.ABmag).to_value(u.mJy)
    np.testing.assert_allclose(gaia_flux_to_mjy(flux_e_s, band), reference, rtol=1e-9, atol=0)
    np.testing.assert_allclose(gaia_flux_error_to_mjy(flux_e_s, band), reference, rtol=1e-9, atol=0)


def test_gaia_vega_magnitudes_read_as_ab_were_too_bright():
    """The original's ab_mag_to_mjy(Vega mag) over the AB-zero-point flux: G +11 %, BP +1.4 %, RP +39 %."""
    flux_e_s = np.array([3.0e3])
    ratio = {
        band: (ab_mag_to_mjy(zp_vega - 2.5 * np.log10(flux_e_s)) / gaia_flux_to_mjy(flux_e_s, band))[0]
        for band, (_, zp_vega) in RIELLO_2021.items()
    }
    assert ratio == pytest.approx({"Gaia_G": 1.110, "Gaia_BP": 1.0144, "Gaia_RP": 1.388}, abs=1e-3)


def test_gaia_flux_keeps_sign_nan_and_shape():
    flux = np.array([[-50.0, 0.0], [np.nan, 50.0]], dtype=np.float32)
    out = gaia_flux_to_mjy(flux, "Gaia_BP")
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert out[0, 0] == -out[1, 1] and out[0, 1] == 0.0 and np.isnan(out[1, 0])
    assert gaia_flux_to_mjy([1.0], "Gaia_G")[0] == pytest.approx(10 ** (-0.4 * (25.8010 - 23.9)) / 1000)


def test_gaia_error_from_flux_over_error():
    flux = np.array([200.0, -40.0, 10.0, 5.0])
    over_error = np.array([20.0, -4.0, 0.0, np.nan])
    err = gaia_flux_error_from_over_error(flux, over_error, "Gaia_RP")
    np.testing.assert_allclose(err[:2], gaia_flux_error_to_mjy([10.0, 10.0], "Gaia_RP"), rtol=1e-15)
    assert np.isnan(err[2:]).all()  # no error known


@pytest.mark.parametrize("band", ["G", "gaia_g", "Gaia_X", "ztf_g"])
def test_gaia_unknown_band_is_a_clear_error(band):
    message = rf"unknown Gaia band '{band}'; known bands: \['Gaia_G', 'Gaia_BP', 'Gaia_RP'\]"
    for convert in (gaia_flux_to_mjy, gaia_flux_error_to_mjy):
        with pytest.raises(ConfigError, match=message):
            convert(np.array([1.0]), band)
    with pytest.raises(ConfigError, match=message):
        gaia_flux_error_from_over_error(np.array([1.0]), np.array([1.0]), band)


@pytest.mark.parametrize("band", sorted(RIELLO_2021))
def test_gaia_band_metadata_names_the_ab_zero_point(band):
    info = BANDS[band]
    assert info.unit == "mJy"
    assert f"AB zero point {RIELLO_2021[band][0]:.4f}" in info.time_system
    assert "Riello et al. 2021" in info.time_system and "55197.0" in info.time_system
