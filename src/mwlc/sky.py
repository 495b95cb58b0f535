"""Sky geometry: unit vectors, chords, separations, offsets and RA wrapping.

Positions are (ra, dec) in degrees, ICRS. Sample consolidation
(:mod:`mwlc.sample.consolidate`), the HEASARC local-copy matcher, the unWISE matcher and every
demo builder use these functions, so a radius means the same thing everywhere.

Matching rule
-------------
Pairs closer than a radius are found in two steps:

1. candidates come from a KD-tree on :func:`unit_vectors`, searched within
   :func:`search_chord` of the radius: the exact chord widened by a relative
   :data:`CHORD_SLACK` and an absolute :data:`CHORD_FLOOR`, so that rounding in the vectors
   never drops a pair the exact test keeps;
2. the decision is taken on the angular separation (:func:`separation_deg`), **inclusive**: a
   pair exactly at the radius matches.

The chord of an angle is the straight-line distance between two unit vectors that far apart on
the sphere; it grows monotonically with the angle up to 180 deg, which is why a KD-tree in
Cartesian space can search by angle.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import Latitude, Longitude
from astropy.coordinates import offset_by as _astropy_offset_by

#: Arcseconds per degree.
ARCSEC_PER_DEG = 3600.0
#: Relative widening of a KD-tree search chord (see :func:`search_chord`).
CHORD_SLACK = 1e-9
#: Absolute widening of a KD-tree search chord (unit-sphere lengths; ~2e-7 arcsec).
CHORD_FLOOR = 1e-12


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors of sky positions.

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        Right ascension and declination, degrees (any RA: the vectors wrap by themselves).

    Returns
    -------
    numpy.ndarray
        Shape (N, 3): ``(cos dec cos ra, cos dec sin ra, sin dec)``, in the input's floating
        dtype (float32 positions give float32 vectors, as lsdb computes them).
    """
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    cos_dec = np.cos(dec)
    return np.column_stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)])


def chord_from_angle(angle_deg: float | np.ndarray) -> float | np.ndarray:
    """Straight-line distance between unit vectors ``angle_deg`` apart on the sphere.

    Parameters
    ----------
    angle_deg : float or array_like
        Angle, degrees (>= 0); angles beyond 180 deg give the largest chord, 2.

    Returns
    -------
    float or numpy.ndarray
        ``2 sin(angle / 2)``, in units of the sphere's radius (0 to 2).
    """
    return 2.0 * np.sin(np.radians(np.minimum(angle_deg, 180.0)) / 2.0)


def angle_from_chord(chord: float | np.ndarray) -> float | np.ndarray:
    """Angle, degrees, between unit vectors a straight-line distance ``chord`` apart.

    The inverse of :func:`chord_from_angle`; chords beyond 2 give 180 deg.
    """
    return np.degrees(2.0 * np.arcsin(np.minimum(np.asarray(chord, np.float64) / 2.0, 1.0)))


def search_chord(angle_deg: float) -> float:
    """KD-tree search radius for pairs within ``angle_deg``: the chord, a hair wider.

    Parameters
    ----------
    angle_deg : float
        The match radius, degrees.

    Returns
    -------
    float
        ``chord_from_angle(angle_deg) * (1 + CHORD_SLACK) + CHORD_FLOOR``: wide enough that no
        pair the exact test (``separation_deg <= angle_deg``) keeps is lost to rounding in the
        vectors; the few extra candidates are removed by that test.
    """
    return float(chord_from_angle(angle_deg)) * (1.0 + CHORD_SLACK) + CHORD_FLOOR


def separation_deg(
    ra1_deg: np.ndarray, dec1_deg: np.ndarray, ra2_deg: np.ndarray, dec2_deg: np.ndarray
) -> np.ndarray:
    """Great-circle distance between positions, degrees.

    Vincenty's formula (as astropy's ``angular_separation``): accurate at every angle, from
    sub-milliarcsecond pairs to antipodes, and at the poles.

    Parameters
    ----------
    ra1_deg, dec1_deg, ra2_deg, dec2_deg : array_like
        The two positions, degrees (broadcast against each other).

    Returns
    -------
    numpy.ndarray
        Separations in degrees, 0 to 180.
    """
    ra1, dec1, ra2, dec2 = (
        np.radians(np.asarray(v, np.float64)) for v in (ra1_deg, dec1_deg, ra2_deg, dec2_deg)
    )
    delta = ra2 - ra1
    sin_d1, cos_d1, sin_d2, cos_d2 = np.sin(dec1), np.cos(dec1), np.sin(dec2), np.cos(dec2)
    east = cos_d2 * np.sin(delta)
    north = cos_d1 * sin_d2 - sin_d1 * cos_d2 * np.cos(delta)
    along = sin_d1 * sin_d2 + cos_d1 * cos_d2 * np.cos(delta)
    return np.degrees(np.arctan2(np.hypot(east, north), along))


def offset_by(
    ra_deg: np.ndarray,
    dec_deg: np.ndarray,
    position_angle_deg: np.ndarray,
    separation_arcsec: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``separation_arcsec`` away from (ra, dec) at a position angle.

    Exact on the sphere (astropy's :meth:`~astropy.coordinates.SkyCoord.directional_offset_by`
    arithmetic), across RA 0/360 and over the poles.

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        Starting positions, degrees.
    position_angle_deg : array_like
        Direction, degrees east of north.
    separation_arcsec : array_like
        Distance, arcseconds.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        RA in [0, 360) and Dec in [-90, 90], degrees.
    """
    ra, dec = _astropy_offset_by(
        lon=Longitude(np.asarray(ra_deg, np.float64) * u.deg),
        lat=Latitude(np.asarray(dec_deg, np.float64) * u.deg),
        posang=np.asarray(position_angle_deg, np.float64) * u.deg,
        distance=np.asarray(separation_arcsec, np.float64) * u.arcsec,
    )
    return wrap_ra(ra.to_value(u.deg)), np.asarray(dec.to_value(u.deg))


def wrap_ra(ra_deg: np.ndarray) -> np.ndarray:
    """Right ascension wrapped into [0, 360) degrees.

    ``ra % 360`` alone can round a tiny negative angle up to exactly 360.0; that becomes 0.
    """
    ra = np.asarray(ra_deg, np.float64) % 360.0
    return np.where(ra >= 360.0, 0.0, ra)


def ra_difference(ra_deg: np.ndarray, reference_ra_deg: np.ndarray) -> np.ndarray:
    """``ra - reference_ra`` wrapped into [-180, 180) degrees (the short way round)."""
    return (np.asarray(ra_deg, np.float64) - reference_ra_deg + 180.0) % 360.0 - 180.0
