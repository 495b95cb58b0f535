"""From raw source rows to sample.ecsv and the shard files: validate, number, shard, write."""

from __future__ import annotations

import logging

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import Latitude, Longitude, SkyCoord
from astropy.table import Table
from cdshealpix.nested import lonlat_to_healpix

from mwlc.errors import ConfigError, SampleError
from mwlc.sample import build
from mwlc.sample.build import SHARD_SCHEMA, build_sample, read_shard, write_sample
from mwlc.sample.consolidate import MAX_LABELS_CHARS
from mwlc.sample.shard import assign_objectids, assign_shards, shard_of, shard_sizes
from mwlc.sample.validate import MAX_LABEL_CHARS, check_not_empty, validate_positions

ARCSEC = 1 / 3600


def rows(*positions: tuple[float, float, str], source: str = "file data/x.csv") -> pd.DataFrame:
    """Raw sample rows (ra deg, dec deg, label) with origins ``"<source> row <i>"``."""
    ra, dec, label = zip(*positions, strict=True) if positions else ((), (), ())
    return pd.DataFrame(
        {
            "ra": np.array(ra, dtype=float),
            "dec": np.array(dec, dtype=float),
            "label": pd.array(label, dtype="str"),
            "origin": [f"{source} row {i}" for i in range(len(positions))],
        }
    )


def random_rows(n: int, seed: int, label: str = "SDSS", source: str = "sdss") -> pd.DataFrame:
    """``n`` rows uniform on the sphere."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return rows(*zip(ra, dec, [label] * n, strict=True), source=source)


def sample_paths(tmp_path, n_shards: int):
    """ECSV path and shard paths under ``tmp_path``."""
    shards = [tmp_path / "sample_shards" / f"shard-{i}.parquet" for i in range(n_shards)]
    return tmp_path / "sample.ecsv", shards


# --- validation -----------------------------------------------------------------------------


def test_valid_rows_pass_including_the_edges():
    validate_positions(rows((0.0, -90.0, "A"), (359.999999, 90.0, "B"), (180.0, 0.0, "Yang 18")))


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (
            "dec",
            95.0,
            'sample row "file data/x.csv row 1": dec = 95.0 is outside [-90, 90] degrees',
        ),
        ("dec", -90.5, 'sample row "file data/x.csv row 1": dec = -90.5 is outside [-90, 90]'),
        ("ra", 400.0, 'sample row "file data/x.csv row 1": ra = 400.0 is outside [0, 360) degrees'),
        ("ra", 360.0, 'sample row "file data/x.csv row 1": ra = 360.0 is outside [0, 360) degrees'),
        ("ra", -0.5, 'sample row "file data/x.csv row 1": ra = -0.5 is outside [0, 360) degrees'),
        ("ra", np.nan, 'sample row "file data/x.csv row 1": ra = nan is not a finite number'),
        ("dec", np.inf, 'sample row "file data/x.csv row 1": dec = inf is not a finite number'),
    ],
)
def test_bad_position_names_row_value_and_limit(column, value, expected):
    sample = rows((10.0, 10.0, "A"), (20.0, 20.0, "B"), (30.0, 30.0, "C"))
    sample.loc[1, column] = value
    with pytest.raises(SampleError) as raised:
        validate_positions(sample)
    message = str(raised.value)
    assert expected in message
    assert "row 0" not in message and "row 2" not in message


def test_ra_error_says_it_is_not_wrapped():
    with pytest.raises(SampleError, match=r"not wrapped.*ra % 360"):
        validate_positions(rows((-10.0, 0.0, "A")))


def test_non_numeric_coordinate_is_reported_with_its_text():
    sample = rows((10.0, 10.0, "A")).astype({"ra": object})
    sample.loc[0, "ra"] = "12h30m"
    with pytest.raises(SampleError, match=r"row 0\": ra = '12h30m' is not a finite number"):
        validate_positions(sample)


def test_first_ten_offending_rows_are_listed_then_a_count():
    sample = random_rows(40, seed=1, source="sdss")
    sample.loc[5:19, "dec"] = 95.0  # 15 bad rows
    with pytest.raises(SampleError) as raised:
        validate_positions(sample)
    message = str(raised.value)
    listed = [f'"sdss row {i}"' for i in range(5, 15)]
    assert all(name in message for name in listed)
    assert '"sdss row 15"' not in message and '"sdss row 4"' not in message
    assert "and 5 more rows with this problem" in message


def test_every_reason_gets_its_own_block():
    sample = rows((10.0, 10.0, "A"), (400.0, 10.0, "B"), (10.0, 95.0, "C"), (10.0, 10.0, "D"))
    sample.loc[3, "label"] = np.nan
    with pytest.raises(SampleError) as raised:
        validate_positions(sample)
    lines = str(raised.value).splitlines()
    assert lines[0] == "invalid sample rows:"
    assert any(line.startswith('sample row "file data/x.csv row 1": ra = 400.0') for line in lines)
    assert any(line.startswith('sample row "file data/x.csv row 2": dec = 95.0') for line in lines)
    assert 'sample row "file data/x.csv row 3": label is missing (got nan)' in lines


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("", 'row 0": label is empty'),
        ("   ", 'row 0": label is empty'),
        (None, 'row 0": label is missing'),
        ("Yang 18; Ruan 16", "row 0\": label 'Yang 18; Ruan 16' contains ';'"),
        ("My\nsample", "row 0\": label 'My\\nsample' contains a line break"),
        ("one\r\ntwo", "row 0\": label 'one\\r\\ntwo' contains a line break"),
        ("trailing\n", "row 0\": label 'trailing\\n' contains a line break"),
        ("para\u2029graph", "row 0\": label 'para\\u2029graph' contains a line break"),
        ("x" * 201, "row 0\": label 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... has 201 characters"),
    ],
)
def test_bad_label_is_rejected(label, expected):
    sample = rows((10.0, 10.0, "A"), (20.0, 20.0, "B"))
    sample["label"] = pd.array([label, "B"], dtype=object)
    with pytest.raises(SampleError) as raised:
        validate_positions(sample)
    assert expected in str(raised.value)
    assert "row 1" not in str(raised.value)


def test_a_label_of_the_longest_length_passes():
    validate_positions(rows((10.0, 10.0, "x" * MAX_LABEL_CHARS)))


def test_missing_columns_are_named():
    sample = rows((10.0, 10.0, "A")).drop(columns=["dec", "origin"])
    with pytest.raises(SampleError, match=r"lack column\(s\) dec, origin; expected ra, dec"):
        validate_positions(sample)


def test_empty_sample_stops_the_run():
    with pytest.raises(SampleError, match=r"the sample is empty: sources sdss \(num=0\) returned"):
        check_not_empty(rows(), "sdss (num=0)")
    check_not_empty(rows((1.0, 1.0, "A")), "sdss")


def test_build_sample_with_only_empty_sources_names_them(tmp_path):
    ecsv, shards = sample_paths(tmp_path, 2)
    with pytest.raises(SampleError, match="sources sdss, file a.csv returned no objects"):
        build_sample(
            [rows(), rows()],
            consolidate_radius_arcsec=18,
            n_shards=2,
            ecsv_path=ecsv,
            shard_paths=shards,
            source_names=["sdss", "file a.csv"],
        )
    with pytest.raises(SampleError, match="the sample is empty"):
        build_sample([], consolidate_radius_arcsec=18, n_shards=2, ecsv_path=ecsv, shard_paths=shards)
    assert not ecsv.exists() and not any(path.exists() for path in shards)


# --- objectids and shards -------------------------------------------------------------------


def test_objectids_follow_healpix_order():
    sample = random_rows(5_000, seed=3)
    numbered = assign_objectids(sample)
    assert numbered["objectid"].tolist() == list(range(1, 5_001))
    assert numbered["objectid"].dtype == np.int64
    pixel = lonlat_to_healpix(
        Longitude(numbered["ra"].to_numpy() * u.deg),
        Latitude(numbered["dec"].to_numpy() * u.deg),
        29,
    ).astype(np.int64)
    assert np.all(np.diff(pixel) >= 0)
    assert sorted(numbered["origin"]) == sorted(sample["origin"])  # same rows, reordered


def test_objectid_ties_break_by_ra_dec_label_not_input_order():
    sample = rows((10.0, 20.0, "B"), (10.0, 20.0, "A"), (10.0, 20.0, "C"))
    expected = ["A", "B", "C"]
    assert assign_objectids(sample)["label"].tolist() == expected
    assert assign_objectids(sample.iloc[::-1])["label"].tolist() == expected


@pytest.mark.parametrize(
    ("n_objects", "n_shards"), [(10, 3), (11, 4), (50, 1), (7, 7), (3, 5), (499_776, 50)]
)
def test_shards_are_contiguous_and_balanced(n_objects, n_shards):
    shard = shard_of(np.arange(1, n_objects + 1), n_objects, n_shards)
    sizes = np.bincount(shard, minlength=n_shards)
    assert len(sizes) == n_shards
    assert np.all(np.diff(shard) >= 0) and np.all(np.diff(shard) <= 1)  # contiguous ranges
    assert sizes.max() - sizes.min() <= 1
    assert sizes.sum() == n_objects
    assert sizes.tolist() == shard_sizes(n_objects, n_shards).tolist()
    assert shard_of(1, n_objects, n_shards) == 0


def test_more_shards_than_objects_leaves_trailing_shards_empty():
    assert shard_of(np.arange(1, 4), 3, 5).tolist() == [0, 1, 2]
    assert shard_sizes(3, 5).tolist() == [1, 1, 1, 0, 0]
    assert shard_sizes(10, 3).tolist() == [4, 3, 3]


def test_bad_shard_arguments():
    with pytest.raises(ConfigError, match="n_shards = 0"):
        shard_of(1, 10, 0)
    with pytest.raises(ValueError, match=r"objectid must be in 1\.\.10"):
        shard_of(11, 10, 2)


# --- writing and reading --------------------------------------------------------------------


def numbered_sample(n: int, n_shards: int, seed: int = 5) -> pd.DataFrame:
    """Objects ready for :func:`write_sample`."""
    objects = random_rows(n, seed)
    objects["labels"] = objects["label"]
    return assign_shards(assign_objectids(objects), n_shards)


def test_ecsv_round_trip_restores_skycoord_and_values(tmp_path):
    sample = numbered_sample(300, 4)
    sample.loc[7, "label"] = "López-Navas 22"
    sample.loc[7, "labels"] = "López-Navas 22; SDSS"
    ecsv, shards = sample_paths(tmp_path, 4)
    write_sample(sample, ecsv, shards)

    table = Table.read(ecsv, format="ascii.ecsv")
    assert table.colnames == ["objectid", "coord", "label", "labels", "shard"]
    assert isinstance(table["coord"], SkyCoord) and table["coord"].frame.name == "icrs"
    assert table["objectid"].dtype == np.int64 and table["shard"].dtype == np.int64
    assert table["objectid"].tolist() == list(range(1, 301))
    np.testing.assert_allclose(table["coord"].ra.deg, sample["ra"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(table["coord"].dec.deg, sample["dec"], rtol=0, atol=1e-10)
    assert table["label"].tolist() == sample["label"].tolist()
    assert table["labels"][7] == "López-Navas 22; SDSS"
    assert table["shard"].tolist() == sample["shard"].tolist()
    text = ecsv.read_text()
    assert "name: coord.ra, unit: deg" in text and "frame: icrs" in text


def test_ecsv_written_in_chunks_is_the_file_astropy_writes_for_the_whole_table(tmp_path, monkeypatch):
    sample = numbered_sample(11, 3)
    sample.loc[4, "labels"] = 'A "quoted" label; Yang 18'
    ordered = sample.sort_values("objectid").reset_index(drop=True)
    whole = tmp_path / "whole.ecsv"
    ordered_table = Table.read(build._ecsv_text(ordered), format="ascii.ecsv")
    ordered_table.write(whole, format="ascii.ecsv")
    monkeypatch.setattr(build, "ECSV_CHUNK_ROWS", 4)  # chunks of 4, 4 and 3 objects
    ecsv, shards = sample_paths(tmp_path, 3)
    write_sample(sample, ecsv, shards)
    assert ecsv.read_bytes() == whole.read_bytes()
    assert Table.read(ecsv, format="ascii.ecsv")["labels"][4] == 'A "quoted" label; Yang 18'


def test_a_chain_through_a_crowded_field_is_refused_before_anything_is_written(tmp_path):
    """3,000 positions 10 arcsec apart along a meridian would chain into one object at 18 arcsec."""
    sample = rows(*((150.0, 2.0 + i * 10 / 3600, f"star {i}") for i in range(3000)), source="cluster")
    ecsv, shards = sample_paths(tmp_path, 2)
    with pytest.raises(SampleError) as refused:
        build_sample([sample], consolidate_radius_arcsec=18, n_shards=2, ecsv_path=ecsv, shard_paths=shards)
    assert str(refused.value).startswith(
        "consolidation within 18 arcsec chains 1 group(s) of more than 100 rows across more than "
        "twice that radius (largest: 3,000 rows spanning 29,990 arcsec from sample row 'cluster row 0')"
    )
    assert "lower sample.consolidate_radius_arcsec (e.g. 1), or set it to 0" in str(refused.value)
    assert not ecsv.exists() and not any(path.exists() for path in shards)
    assert (
        len(
            build_sample(
                [sample], consolidate_radius_arcsec=1, n_shards=2, ecsv_path=ecsv, shard_paths=shards
            )
        )
        == 3000
    )


def test_many_repeats_of_one_object_give_a_sample_astropy_reads(tmp_path, caplog):
    """3,000 rows within 2 arcsec of one position, each with its own label (repeated
    detections): one object, whose ``labels`` is cut (astropy reads no field over 131,072
    characters), with a warning."""
    n = 3000
    rng = np.random.default_rng(7)
    offsets = rng.uniform(-1.0, 1.0, (n, 2)) / 3600
    sample = rows(
        *((150.0 + dra, 2.0 + ddec, f"2MASS J{i:08d}+0000000") for i, (dra, ddec) in enumerate(offsets)),
        source="detections",
    )
    ecsv, shards = sample_paths(tmp_path, 2)
    with caplog.at_level(logging.WARNING, logger="mwlc.sample.consolidate"):
        build_sample([sample], consolidate_radius_arcsec=18, n_shards=2, ecsv_path=ecsv, shard_paths=shards)
    table = Table.read(ecsv, format="ascii.ecsv")
    assert len(table) == 1
    labels = table["labels"][0].split("; ")
    assert len(table["labels"][0]) <= MAX_LABELS_CHARS
    assert labels[:-1] == [f"2MASS J{i:08d}+0000000" for i in range(len(labels) - 1)]
    assert labels[-1] == f"(+{n - (len(labels) - 1)} more)"
    assert (
        "1 objects each merge more than 100 sample rows within 18 arcsec (largest: 3000 rows" in caplog.text
    )


def test_shard_files_hold_their_objectid_range(tmp_path):
    sample = numbered_sample(301, 4)
    ecsv, shards = sample_paths(tmp_path, 4)
    write_sample(sample.iloc[::-1], ecsv, shards)  # input order does not matter
    start = 1
    for i, path in enumerate(shards):
        assert pq.read_schema(path).remove_metadata().equals(SHARD_SCHEMA)
        shard = read_shard(path)
        assert list(shard.columns) == ["objectid", "ra", "dec", "label"]
        assert shard["objectid"].dtype == np.int64
        expected = sample[sample["shard"] == i]
        assert shard["objectid"].tolist() == list(range(start, start + len(expected)))
        np.testing.assert_array_equal(shard["ra"], expected["ra"])
        np.testing.assert_array_equal(shard["dec"], expected["dec"])
        assert shard["label"].tolist() == expected["label"].tolist()
        start += len(expected)
    assert start == 302
    assert [len(read_shard(path)) for path in shards] == [76, 75, 75, 75]


def test_empty_shards_are_written_with_the_schema(tmp_path):
    sample = numbered_sample(2, 5)
    ecsv, shards = sample_paths(tmp_path, 5)
    write_sample(sample, ecsv, shards)
    assert [len(read_shard(path)) for path in shards] == [1, 1, 0, 0, 0]
    empty = pq.read_table(shards[4])
    assert empty.num_rows == 0 and empty.schema.remove_metadata().equals(SHARD_SCHEMA)
    assert read_shard(shards[4]).dtypes.astype(str).tolist() == [
        "int64",
        "float64",
        "float64",
        "str",
    ]


def test_read_shard_rejects_another_schema(tmp_path):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"objectid": pa.array([1], pa.int32())}), path)
    with pytest.raises(SampleError, match="is not a sample shard"):
        read_shard(path)


def test_failed_write_leaves_no_final_or_temporary_file(tmp_path, monkeypatch):
    sample = numbered_sample(20, 2)
    ecsv, shards = sample_paths(tmp_path, 2)

    written_chunks = []
    ecsv_text = build._ecsv_text

    def format_then_fail(objects):
        if written_chunks:  # the first chunk of 8 objects is in the file, the second fails
            raise OSError("disk full")
        written_chunks.append(len(objects))
        return ecsv_text(objects)

    monkeypatch.setattr(build, "ECSV_CHUNK_ROWS", 8)
    monkeypatch.setattr(build, "_ecsv_text", format_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_sample(sample, ecsv, shards)
    assert written_chunks == [8]
    assert not ecsv.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample_shards"]
    assert not any(p.name.startswith(".") for p in (tmp_path / "sample_shards").iterdir())


def test_write_sample_rejects_non_contiguous_shards(tmp_path):
    sample = numbered_sample(10, 2)
    sample.loc[0, "shard"] = 1
    with pytest.raises(ValueError, match="non-decreasing"):
        write_sample(sample, *sample_paths(tmp_path, 2))


# --- the whole step -------------------------------------------------------------------------


def two_sources() -> list[pd.DataFrame]:
    """A paper list and an SDSS query sharing one object (4" apart)."""
    paper = rows((150.0, 2.0, "Yang 18"), (10.0, -5.0, "Yang 18"), source="ned 2018ApJ...862..109Y")
    sdss = random_rows(200, seed=9)
    sdss.loc[3, ["ra", "dec"]] = [150.0 + 4 * ARCSEC, 2.0]
    return [paper, sdss]


def test_build_sample_end_to_end(tmp_path, caplog):
    ecsv, shards = sample_paths(tmp_path, 3)
    with caplog.at_level(logging.INFO, logger="mwlc"):
        sample = build_sample(
            two_sources(),
            consolidate_radius_arcsec=18,
            n_shards=3,
            ecsv_path=ecsv,
            shard_paths=shards,
            source_names=["yang", "sdss"],
        )
    assert len(sample) == 201
    table = Table.read(ecsv, format="ascii.ecsv")
    merged = table[table["labels"] == "Yang 18; SDSS"]
    assert len(merged) == 1 and merged["label"][0] == "Yang 18"
    assert merged["coord"][0].ra.deg == 150.0  # the first source's position
    assert sorted(table["label"]).count("Yang 18") == 2
    assert sum(len(read_shard(path)) for path in shards) == 201
    assert table["shard"].tolist() == sample["shard"].tolist()
    assert sample["n_merged"].sum() == 202
    log = caplog.text
    assert "yang: 2 rows" in log and "sdss: 200 rows" in log
    assert "202 rows -> 201 objects" in log
    assert "3 shards: 67 to 67 objects each" in log


def test_same_input_gives_byte_identical_files(tmp_path):
    paths = []
    for run in ("a", "b"):
        ecsv, shards = sample_paths(tmp_path / run, 3)
        build_sample(
            two_sources(),
            consolidate_radius_arcsec=18,
            n_shards=3,
            ecsv_path=ecsv,
            shard_paths=shards,
        )
        paths.append((ecsv, shards))
    (ecsv_a, shards_a), (ecsv_b, shards_b) = paths
    assert ecsv_a.read_bytes() == ecsv_b.read_bytes()
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(shards_a, shards_b, strict=True))


def test_reordering_unrelated_rows_gives_identical_ecsv(tmp_path):
    paper, sdss = two_sources()
    shuffled = sdss.sample(frac=1.0, random_state=3)  # sdss rows merge with nothing in sdss
    outputs = []
    for run, frames in (("a", [paper, sdss]), ("b", [paper, shuffled])):
        ecsv, shards = sample_paths(tmp_path / run, 2)
        build_sample(frames, consolidate_radius_arcsec=18, n_shards=2, ecsv_path=ecsv, shard_paths=shards)
        outputs.append(ecsv.read_bytes())
    assert outputs[0] == outputs[1]


def test_shard_count_must_match_paths(tmp_path):
    ecsv, shards = sample_paths(tmp_path, 2)
    with pytest.raises(ConfigError, match="n_shards = 3 but 2 shard paths"):
        build_sample(
            two_sources(),
            consolidate_radius_arcsec=18,
            n_shards=3,
            ecsv_path=ecsv,
            shard_paths=shards,
        )


def test_validation_runs_before_anything_is_written(tmp_path, monkeypatch):
    frames = two_sources()
    frames[1].loc[17, "dec"] = 95.0
    ecsv, shards = sample_paths(tmp_path, 2)
    called = []
    monkeypatch.setattr(build, "write_sample", lambda *args: called.append(args))
    with pytest.raises(SampleError, match='"sdss row 17": dec = 95.0'):
        build_sample(frames, consolidate_radius_arcsec=18, n_shards=2, ecsv_path=ecsv, shard_paths=shards)
    assert called == []
