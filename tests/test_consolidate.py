"""Consolidation of near-duplicate sample rows (friends-of-friends within a radius)."""

from __future__ import annotations

import time

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord, search_around_sky
from astropy.table import Table, join, join_skycoord

from mwlc.errors import ConfigError, SampleError
from mwlc.sample import consolidate as consolidate_module
from mwlc.sample.consolidate import (
    MAX_LABELS_CHARS,
    OUTPUT_COLUMNS,
    consolidate,
    friends_of_friends,
    join_labels,
)

ARCSEC = 1 / 3600


def rows(*positions: tuple[float, float, str], source: str = "file data/x.csv") -> pd.DataFrame:
    """Raw sample rows (ra deg, dec deg, label) with origins ``"<source> row <i>"``."""
    ra, dec, label = zip(*positions, strict=True)
    return pd.DataFrame(
        {
            "ra": np.array(ra, dtype=float),
            "dec": np.array(dec, dtype=float),
            "label": list(label),
            "origin": [f"{source} row {i}" for i in range(len(positions))],
        }
    )


def random_sky(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform on the sphere, degrees, ra in [0, 360)."""
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return ra, dec


def offset(ra: np.ndarray, dec: np.ndarray, sep_arcsec: np.ndarray, rng: np.random.Generator):
    """Positions ``sep_arcsec`` from (ra, dec) in random directions (astropy, on the sphere)."""
    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(
        rng.uniform(0, 360, len(ra)) * u.deg, sep_arcsec * u.arcsec
    )
    return moved.ra.deg, moved.dec.deg


def close_pairs(ra: np.ndarray, dec: np.ndarray, radius_arcsec: float):
    """Index pairs (i < j) at most ``radius_arcsec`` apart, from astropy's ``search_around_sky``."""
    coords = SkyCoord(ra * u.deg, dec * u.deg)
    first, second, _, _ = search_around_sky(coords, coords, radius_arcsec * u.arcsec)
    keep = first < second
    return first[keep], second[keep]


def union_find_roots(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Smallest row index of each row's group after joining the pairs (plain union-find)."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(first.tolist(), second.tolist(), strict=True):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(n)])


# --- geometry -------------------------------------------------------------------------------


def test_pair_across_ra_zero_merges():
    sample = rows((360 - 5 * ARCSEC, 0.0, "A"), (5 * ARCSEC, 0.0, "B"))
    result = consolidate(sample, 18)
    assert len(result) == 1
    assert result.loc[0, "ra"] == pytest.approx(360 - 5 * ARCSEC)
    assert result.loc[0, "labels"] == "A; B"
    assert result.loc[0, "n_merged"] == 2


def test_pair_near_pole_with_different_ra_merges():
    # 0.001 deg from the pole and 180 deg apart in ra: 7.2 arcsec apart on the sky
    sample = rows((10.0, 89.999, "A"), (190.0, 89.999, "B"))
    result = consolidate(sample, 18)
    assert len(result) == 1
    assert result.loc[0, "labels"] == "A; B"
    assert len(consolidate(sample, 7.3)) == 1
    assert len(consolidate(sample, 7.1)) == 2  # the separation is 7.2", not 180 deg
    south = rows((0.0, -89.999, "A"), (270.0, -89.999, "B"))  # 90 deg apart: 5.09"
    assert len(consolidate(south, 5.2)) == 1
    assert len(consolidate(south, 5.0)) == 2


def test_chain_collapses_transitively():
    # A-B and B-C are 15" apart, A-C 30": friends-of-friends makes one object
    sample = rows((100.0, 0.0, "A"), (100 + 15 * ARCSEC, 0.0, "B"), (100 + 30 * ARCSEC, 0.0, "C"))
    result = consolidate(sample, 18)
    assert len(result) == 1
    assert result.loc[0, ["label", "labels", "n_merged"]].tolist() == ["A", "A; B; C", 3]
    assert result.loc[0, "origin"] == "file data/x.csv row 0"


@pytest.mark.parametrize(
    "order, original_groups", [("ABCD", [["A", "B", "C", "D"]]), ("ACDB", [["A", "B"], ["C", "D"]])]
)
def test_chain_example_of_the_module_docstring(order, original_groups):
    """The documented example: the original's join cuts a chain by row order, friends-of-friends does not."""
    dec = {"A": 0.0, "B": 10 * ARCSEC, "C": 20 * ARCSEC, "D": 30 * ARCSEC}
    frame = rows(*[(150.0, dec[name], name) for name in order])
    table = Table(
        [SkyCoord(frame["ra"].to_numpy() * u.deg, frame["dec"].to_numpy() * u.deg), list(order)],
        names=["coord", "label"],
    )
    joined = join(
        table,
        table,
        keys="coord",
        join_funcs={"coord": join_skycoord(18 * u.arcsec)},
        table_names=["", "_2"],
        uniq_col_name="{col_name}{table_name}",
    )
    groups = joined.to_pandas().groupby("coord_id")["label"].agg(lambda labels: sorted(set(labels)))
    assert sorted(groups.tolist()) == original_groups  # the original clean_sample's join
    assert len(set(friends_of_friends(frame["ra"].to_numpy(), frame["dec"].to_numpy(), 18.0))) == 1
    assert consolidate(frame, 18.0)["labels"].tolist() == ["; ".join(order)]


def test_pair_beyond_radius_stays_separate():
    sample = rows((50.0, 20.0, "A"), (50.0, 20 + 19 * ARCSEC, "B"))
    separate = consolidate(sample, 18)
    assert separate["label"].tolist() == ["A", "B"]
    assert separate["labels"].tolist() == ["A", "B"]
    assert separate["n_merged"].tolist() == [1, 1]
    assert len(consolidate(sample, 20)) == 1


def test_radius_zero_disables_merging_even_for_exact_duplicates():
    sample = rows((50.0, 20.0, "A"), (50.0, 20.0, "A"))
    assert len(consolidate(sample, 0)) == 2
    assert len(consolidate(sample, 1e-6)) == 1


@pytest.mark.parametrize("radius", [-1.0, float("nan"), float("inf")])
def test_bad_radius_is_a_config_error(radius):
    with pytest.raises(ConfigError, match="radius_arcsec"):
        consolidate(rows((1.0, 1.0, "A")), radius)


# --- which row and labels survive ------------------------------------------------------------


def test_first_row_in_input_order_wins_and_labels_lists_all_distinct():
    sample = rows(
        (200.0, -30.0, "Yang 18"),
        (10.0, 10.0, "SDSS"),  # unrelated
        (200.0 + 3 * ARCSEC, -30.0, "SDSS"),
        (200.0, -30.0 + 2 * ARCSEC, "Yang 18"),  # repeated label is listed once
        (200.0, -30.0 - 4 * ARCSEC, "Ruan 16"),
    )
    result = consolidate(sample, 18)
    assert list(result.columns) == list(OUTPUT_COLUMNS)
    assert result["origin"].tolist() == ["file data/x.csv row 0", "file data/x.csv row 1"]
    merged = result.iloc[0]
    assert (merged["ra"], merged["dec"]) == (200.0, -30.0)
    assert merged["label"] == "Yang 18"
    assert merged["labels"] == "Yang 18; SDSS; Ruan 16"
    assert merged["n_merged"] == 4
    assert result.iloc[1]["labels"] == "SDSS"
    assert result["n_merged"].dtype == np.int64


@pytest.mark.parametrize("n_labels", [1, 2, 66, 67, 68, 500])
def test_labels_are_cut_at_the_limit_with_the_count_left_out(n_labels):
    """Labels of 28 characters: 66 fit whole in 2,000 characters (66 x 30 - 2 = 1,978); from 67
    on, as many as fit before ``(+N more)`` are kept."""
    labels = pd.Series([f"SDSS J{i:06d}.00+000000.0 abc" for i in range(n_labels)])
    assert {len(label) for label in labels} == {28}
    joined = join_labels(labels)
    assert len(joined) <= MAX_LABELS_CHARS
    parts = joined.split("; ")
    if n_labels <= 66:
        assert parts == labels.tolist()
        return
    kept = len(parts) - 1
    assert parts[:kept] == labels.tolist()[:kept]
    assert parts[-1] == f"(+{n_labels - kept} more)"
    assert len(joined) + 30 + len(f"(+{n_labels - kept - 1} more)") - len(parts[-1]) > MAX_LABELS_CHARS


def test_too_many_close_pairs_are_refused_naming_the_densest_row(monkeypatch):
    """40 rows within 1 arcsec (780 pairs) and 10 apart: over a limit of 500 pairs, counted
    before any pair is made; the error names a row of the blob."""
    monkeypatch.setattr(consolidate_module, "MAX_CLOSE_PAIRS", 500)
    blob = [(200.0 + i * 0.02 / 3600, -30.0, f"d{i}") for i in range(40)]
    spread = [(10.0 + i, 10.0, f"o{i}") for i in range(10)]
    with pytest.raises(
        SampleError, match=r"^780 pairs of sample rows lie within 18 arcsec of each other \(at most 500"
    ):
        consolidate(rows(*blob, *spread), 18)
    with pytest.raises(
        SampleError, match=r"sample row 'file data/x.csv row \d+' alone has 39\. A crowded field"
    ):
        consolidate(rows(*blob, *spread), 18)
    monkeypatch.setattr(consolidate_module, "MAX_CLOSE_PAIRS", 780)
    assert len(consolidate(rows(*blob, *spread), 18)) == 11


def test_result_is_independent_of_the_order_of_unrelated_rows():
    rng = np.random.default_rng(7)
    centre_ra, centre_dec = random_sky(300, rng)
    members = rng.integers(1, 5, 300)  # 1..4 rows per object, within 5" of the centre
    group = np.repeat(np.arange(300), members)
    ra, dec = offset(centre_ra[group], centre_dec[group], rng.uniform(0, 5, len(group)), rng)
    sample = pd.DataFrame(
        {
            "ra": ra,
            "dec": dec,
            "label": [f"L{i % 7}" for i in range(len(group))],
            "origin": [f"row {i}" for i in range(len(group))],
        }
    )
    order = rng.permutation(len(sample))
    for g in range(300):  # keep the relative order inside each group
        slots = np.flatnonzero(group[order] == g)
        order[slots] = np.sort(order[slots])
    assert not np.array_equal(order, np.arange(len(sample)))

    before = consolidate(sample, 18)
    after = consolidate(sample.iloc[order].reset_index(drop=True), 18)
    assert len(before) == 300
    pd.testing.assert_frame_equal(
        before.sort_values("origin").reset_index(drop=True),
        after.sort_values("origin").reset_index(drop=True),
    )


# --- against an independent reference, and at scale -----------------------------------------


def test_dense_patch_across_ra_zero_matches_astropy_reference():
    # 20k rows in 1 x 1 deg around (0, 0): ~1.6 neighbours within 18" each -> many chains
    rng = np.random.default_rng(11)
    ra = rng.uniform(-0.5, 0.5, 20_000) % 360
    dec = rng.uniform(-0.5, 0.5, 20_000)
    expected_root = union_find_roots(len(ra), *close_pairs(ra, dec, 18))
    group = friends_of_friends(ra, dec, 18)
    # same partition: rows share a group exactly when they share a reference root
    pairs = pd.DataFrame({"group": group, "root": expected_root}).drop_duplicates()
    assert pairs["group"].is_unique and pairs["root"].is_unique

    origin = np.arange(20_000).astype(str)
    sample = pd.DataFrame({"ra": ra, "dec": dec, "label": "P", "origin": origin})
    result = consolidate(sample, 18)
    roots, sizes = np.unique(expected_root, return_counts=True)
    assert len(result) == len(roots) < 15_000  # the test exercises real merging
    assert result["origin"].astype(int).tolist() == roots.tolist()  # kept row = first of group
    assert result["n_merged"].tolist() == sizes.tolist()
    assert sizes.max() >= 5  # chains longer than a pair occur


def test_500k_objects_consolidate_in_seconds(capsys):
    rng = np.random.default_rng(2024)
    n_unique, n_dup = 498_000, 2_000
    ra, dec = random_sky(n_unique, rng)
    source = rng.integers(0, n_unique, n_dup)
    dup_ra, dup_dec = offset(ra[source], dec[source], rng.uniform(0, 15, n_dup), rng)
    sample = pd.DataFrame(
        {
            "ra": np.concatenate([ra, dup_ra]),
            "dec": np.concatenate([dec, dup_dec]),
            "label": "SDSS",
            "origin": np.arange(n_unique + n_dup).astype(str),
        }
    )
    start = time.perf_counter()
    result = consolidate(sample, 18)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nconsolidate: 500,000 rows -> {len(result):,} objects in {elapsed:.2f} s")
    assert elapsed < 30

    first, second = close_pairs(sample["ra"].to_numpy(), sample["dec"].to_numpy(), 18)
    assert len(first) >= n_dup  # every injected duplicate, plus chance coincidences
    expected = np.unique(union_find_roots(len(sample), first, second))
    assert len(result) == len(expected) < n_unique
    assert result["origin"].astype(int).tolist() == expected.tolist()
    assert int(result["n_merged"].sum()) == len(sample)
