"""mwlc.sky against astropy: unit vectors, chords, separations, offsets, RA wrapping, and the one
matching rule (KD-tree search a hair wide, inclusive angular test) shared by the matchers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from mwlc import sky
from mwlc.archives import wise
from mwlc.sample.consolidate import friends_of_friends

#: Positions that break naive formulas: both sides of RA 0/360, both poles, the equator.
EDGE_RA = np.array([0.0, 359.9999999, 1e-9, 180.0, 123.0, 0.0, 359.5, 45.0])
EDGE_DEC = np.array([0.0, 0.0, -45.0, 90.0, -90.0, 89.9999999, -89.9, 0.0])


def random_positions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-uniform positions (deg) plus :data:`EDGE_RA`/:data:`EDGE_DEC`."""
    rng = np.random.default_rng(seed)
    ra = np.concatenate([EDGE_RA, rng.uniform(0, 360, n)])
    dec = np.concatenate([EDGE_DEC, np.degrees(np.arcsin(rng.uniform(-1, 1, n)))])
    return ra, dec


def test_unit_vectors_are_astropys_cartesian_coordinates_for_any_ra():
    ra, dec = random_positions(1000, 1)
    expected = SkyCoord(ra * u.deg, dec * u.deg).cartesian.xyz.value.T
    np.testing.assert_allclose(sky.unit_vectors(ra, dec), expected, rtol=0, atol=1e-15)
    # RA outside [0, 360) gives the same vectors
    np.testing.assert_allclose(sky.unit_vectors(ra - 360.0, dec), expected, rtol=0, atol=1e-13)
    assert sky.unit_vectors(np.array([]), np.array([])).shape == (0, 3)


def test_separation_matches_astropy_from_milliarcseconds_to_antipodes_and_at_the_poles():
    ra1, dec1 = random_positions(2000, 2)
    rng = np.random.default_rng(3)
    distance_arcsec = 10 ** rng.uniform(-4, np.log10(180 * 3600), len(ra1))
    ra2, dec2 = sky.offset_by(ra1, dec1, rng.uniform(0, 360, len(ra1)), distance_arcsec)
    ra2[:3], dec2[:3] = (ra1[:3] + 180.0) % 360, -dec1[:3]  # exact antipodes
    expected = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg
    got = sky.separation_deg(ra1, dec1, ra2, dec2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    assert got[:3] == pytest.approx([180.0] * 3, abs=1e-12)
    # across RA 0: 0.2 deg apart, not 359.8
    assert sky.separation_deg(359.9, 0.0, 0.1, 0.0) == pytest.approx(0.2, abs=1e-12)
    # at a pole RA does not matter
    assert sky.separation_deg(10.0, 90.0, 250.0, 90.0) == pytest.approx(0.0, abs=1e-12)


def test_chord_and_angle_are_inverse_and_equal_the_distance_between_unit_vectors():
    ra1, dec1 = random_positions(500, 4)
    rng = np.random.default_rng(5)
    ra2, dec2 = sky.offset_by(ra1, dec1, rng.uniform(0, 360, len(ra1)), rng.uniform(1, 180 * 3600, len(ra1)))
    separation = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg
    distance = np.linalg.norm(sky.unit_vectors(ra1, dec1) - sky.unit_vectors(ra2, dec2), axis=1)
    np.testing.assert_allclose(sky.chord_from_angle(separation), distance, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(sky.angle_from_chord(distance), separation, rtol=1e-7)
    assert sky.chord_from_angle(180.0) == pytest.approx(2.0)
    assert sky.chord_from_angle(400.0) == pytest.approx(2.0)  # capped at the antipode
    assert sky.angle_from_chord(2.5) == pytest.approx(180.0)
    assert sky.chord_from_angle(0.0) == 0.0


def test_offset_by_agrees_with_astropy_directional_offset_and_wraps_ra():
    ra, dec = random_positions(2000, 6)
    rng = np.random.default_rng(7)
    angle, distance = rng.uniform(0, 360, len(ra)), rng.uniform(0, 7200, len(ra))
    got_ra, got_dec = sky.offset_by(ra, dec, angle, distance)
    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(angle * u.deg, distance * u.arcsec)
    np.testing.assert_array_equal(got_dec, moved.dec.deg)
    np.testing.assert_array_equal(got_ra, moved.ra.deg)
    assert (got_ra >= 0).all() and (got_ra < 360).all()
    # moved by the distance, over the pole and across RA 0
    start = SkyCoord([123.0, 359.9] * u.deg, [89.95, 0.0] * u.deg)
    ra2, dec2 = sky.offset_by(np.array([123.0, 359.9]), np.array([89.95, 0.0]), [0.0, 90.0], [1800.0, 1080.0])
    np.testing.assert_allclose(
        start.separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg, [0.5, 0.3], rtol=1e-9
    )
    assert dec2[0] == pytest.approx(89.55) and ra2[0] == pytest.approx(303.0)  # over the pole
    assert ra2[1] == pytest.approx(0.2, abs=1e-9) and dec2[1] == pytest.approx(0.0, abs=1e-9)


def test_wrap_ra_gives_zero_to_360_and_never_360_itself():
    got = sky.wrap_ra(np.array([-720.0, -1e-20, -0.5, 0.0, 359.5, 360.0, 725.0]))
    np.testing.assert_array_equal(got, [0.0, 0.0, 359.5, 0.0, 359.5, 0.0, 5.0])
    assert (np.asarray(-1e-20) % 360.0) == 360.0  # what the guard is for


def test_ra_difference_goes_the_short_way_round():
    got = sky.ra_difference(np.array([359.9, 0.1, 180.0, 10.0]), np.array([0.1, 359.9, 0.0, 10.0]))
    np.testing.assert_allclose(got, [-0.2, 0.2, -180.0, 0.0], atol=1e-12)


def boundary_pairs(radius_arcsec: float, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` pairs (ra1, dec1, ra2, dec2) a relative 1e-12 either side of ``radius_arcsec``."""
    rng = np.random.default_rng(seed)
    ra1, dec1 = random_positions(n - len(EDGE_RA), seed)
    distance = radius_arcsec * (1 + rng.choice([-1e-12, 0.0, 1e-12], n))
    ra2, dec2 = sky.offset_by(ra1, dec1, rng.uniform(0, 360, n), distance)
    return ra1, dec1, ra2, dec2


def test_search_chord_never_loses_a_pair_the_inclusive_test_keeps():
    radius_arcsec = 1.0
    ra1, dec1, ra2, dec2 = boundary_pairs(radius_arcsec, 20_000, 8)
    kept = sky.separation_deg(ra1, dec1, ra2, dec2) <= radius_arcsec / 3600
    assert 0.2 < kept.mean() < 0.8  # the test sits on the boundary
    distance = np.linalg.norm(sky.unit_vectors(ra1, dec1) - sky.unit_vectors(ra2, dec2), axis=1)
    assert (distance[kept] <= sky.search_chord(radius_arcsec / 3600)).all()
    assert (distance[kept] > sky.chord_from_angle(radius_arcsec / 3600)).any()  # the slack is needed


@pytest.mark.parametrize("radius_arcsec", [0.5, 18.0])
def test_consolidation_and_unwise_matching_apply_the_same_inclusive_rule(radius_arcsec):
    ra1, dec1, ra2, dec2 = boundary_pairs(radius_arcsec, 600, 9)
    expected = sky.separation_deg(ra1, dec1, ra2, dec2) <= radius_arcsec / 3600
    assert expected.any() and not expected.all()
    separated = np.min(
        sky.separation_deg(ra1[:, None], dec1[:, None], ra1[None, :], dec1[None, :]) + np.eye(len(ra1)) * 1e3,
        axis=1,
    )
    keep = np.flatnonzero(separated > 4 * radius_arcsec / 3600)  # pairs far apart never chain
    ra1, dec1, ra2, dec2, expected = ra1[keep], dec1[keep], ra2[keep], dec2[keep], expected[keep]

    group = friends_of_friends(np.concatenate([ra1, ra2]), np.concatenate([dec1, dec2]), radius_arcsec)
    merged = group[: len(ra1)] == group[len(ra1) :]
    np.testing.assert_array_equal(merged, expected)

    sample = pd.DataFrame({"objectid": np.arange(len(ra1)), "ra": ra1, "dec": dec1, "label": "x"})
    obj, det = wise._Matcher(sample, radius_arcsec).pairs(ra2, dec2)
    assert np.array_equal(obj, det)  # no pair across objects
    np.testing.assert_array_equal(np.isin(np.arange(len(ra1)), obj), expected)
