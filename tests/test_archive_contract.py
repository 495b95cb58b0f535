"""The contract every archive keeps, checked once for all of them through their descriptors.

A shard written from an archive's batches reads back into the Fornax MultiIndex frame with
exactly those rows, in the light-curve schema, with the bands and units the descriptor declares;
an archive without data for a shard still writes the schema (zero rows); parameters the
descriptor refuses are refused before anything is read; a sample without a column is a
:class:`~mwlc.errors.SampleError`. What each archive finds, and the brute-force rows it must
give, are in its own test module (``test_ztf.py`` ...).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mwlc.archives import _hats
from mwlc.archives.registry import BUILT_IN, get_archive
from mwlc.errors import ConfigError, SampleError
from mwlc.io import write_lightcurve_shard
from mwlc.schema import LIGHTCURVE_SCHEMA, file_metadata, read_band_info
from tests.fixtures_archives import CASES, ArchiveCase

INDEX = ["objectid", "label", "band", "time"]

archives = pytest.mark.parametrize("archive_case", list(CASES), indirect=True)


def test_every_archive_mwlc_ships_has_a_case():
    assert list(CASES) == [path.rsplit(".", 1)[-1] for path in BUILT_IN]


def write_shard(case: ArchiveCase, sample: pd.DataFrame, path, **params) -> tuple[list[pa.RecordBatch], int]:
    """Fetch through the descriptor, keep the batches, write them as the workflow does."""
    archive = get_archive(case.name)
    batches = list(archive.fetch(sample, source=case.source, **{**case.params, **params}))
    metadata = file_metadata(archive.name, list(archive.bands), {"source": case.source})
    return batches, write_lightcurve_shard(iter(batches), path, metadata)


@archives
def test_a_shard_round_trips_into_the_fornax_frame_with_the_declared_bands(archive_case, tmp_path):
    archive = get_archive(archive_case.name)
    path = tmp_path / f"archive={archive.name}" / "shard-0000.parquet"
    batches, rows = write_shard(archive_case, archive_case.sample, path)
    assert all(batch.schema.equals(LIGHTCURVE_SCHEMA) for batch in batches)
    fetched = pa.Table.from_batches(batches, LIGHTCURVE_SCHEMA).replace_schema_metadata(None).to_pandas()
    assert rows == len(fetched) > 0

    frame = pd.read_parquet(path)
    assert list(frame.index.names) == INDEX and list(frame.columns) == ["flux", "err"]
    back = frame.reset_index().astype({"label": str, "band": str})
    want = fetched.astype({"label": str, "band": str})
    pd.testing.assert_frame_equal(back[want.columns], want, check_exact=True)

    assert set(back["band"]) <= set(archive.bands)
    assert read_band_info(pq.read_schema(path)) == dict(archive.bands)
    labels = archive_case.sample.set_index("objectid")["label"]
    assert (back["label"].to_numpy() == labels.loc[back["objectid"]].to_numpy()).all()
    assert np.isfinite(back["time"]).all()


@archives
def test_a_shard_without_data_is_written_with_the_schema_and_no_row(archive_case, tmp_path):
    for name, sample in [("unmatched", archive_case.unmatched), ("empty", archive_case.sample.iloc[:0])]:
        path = tmp_path / f"{name}.parquet"
        batches, rows = write_shard(archive_case, sample, path, **archive_case.unmatched_params)
        assert (rows, sum(batch.num_rows for batch in batches)) == (0, 0), name
        assert pq.read_schema(path).remove_metadata().equals(LIGHTCURVE_SCHEMA.remove_metadata()), name
        assert pd.read_parquet(path).index.names == INDEX, name


@archives
@pytest.mark.parametrize("through", ["descriptor", "reader"])
def test_parameters_out_of_their_limits_are_refused_before_any_read(archive_case, through, tmp_path):
    """The descriptor's limits hold for the config and for a notebook's call of the reader alike."""
    archive = get_archive(archive_case.name)
    fetch = archive.fetch if through == "descriptor" else archive.reader_module().fetch
    never_read = str(tmp_path / "never read")
    limited = [p for p in archive.params if p.minimum is not None or p.exclusive_minimum is not None]
    assert limited, "every archive has a parameter with a lower limit"
    for param in limited:
        low = param.minimum if param.minimum is not None else param.exclusive_minimum
        too_low = low - 1 if param.minimum is not None else low
        with pytest.raises(ConfigError, match=f"'archives.{archive.name}.{param.name}': "):
            fetch(archive_case.sample, source=never_read, **{param.name: too_low})
    for param in (p for p in archive.params if p.json_type == "number"):
        with pytest.raises(ConfigError, match=f"'archives.{archive.name}.{param.name}': expected a finite"):
            fetch(archive_case.sample, source=never_read, **{param.name: float("nan")})
    for param in (p for p in archive.params if p.choices is not None):
        with pytest.raises(
            ConfigError, match=f"'archives.{archive.name}.{param.name}': 'nonsense' is not one"
        ):
            fetch(archive_case.sample, source=never_read, **{param.name: "nonsense"})
    for param in (p for p in archive.params if p.items is not None and "enum" in p.items):
        # HCV's reader spells a filter as the descriptor does first (acs_f814w is F814W)
        with pytest.raises(
            ConfigError, match=f"(?i)'archives.{archive.name}.{param.name}.0': 'nonsense' is not"
        ):
            fetch(archive_case.sample, source=never_read, **{param.name: ["nonsense"]})
    with pytest.raises((ConfigError, TypeError), match="radius_arcsecs"):
        fetch(archive_case.sample, source=never_read, radius_arcsecs=1.0)
    with pytest.raises(ConfigError, match=f"{archive.name} fetch: threads must be an integer >= 1, got 0"):
        fetch(archive_case.sample, source=never_read, threads=0)


@archives
def test_numpy_arrays_numbers_and_paths_fetch_the_same_rows_as_lists_floats_and_strings(archive_case):
    """A notebook passes ``frame.band.unique()``, a radius read from a table, a ``Path``."""
    archive = get_archive(archive_case.name)
    fetch = archive.reader_module().fetch
    given = {
        p.name: p.default for p in archive.params if p.json_type in ("number", "array") and p.has_default
    }
    given.update(archive_case.params)

    def numpy_like(name, value):
        if isinstance(value, float):
            return np.float32(value)
        if isinstance(value, list):
            return np.array(value)
        return Path(value) if name == "cache_dir" else value

    def rows(params):
        batches = list(fetch(archive_case.sample, source=archive_case.source, **params))
        return pa.Table.from_batches(batches, LIGHTCURVE_SCHEMA)

    plain_rows = rows(given).to_pandas()
    assert len(plain_rows) > 0
    numpy_rows = rows({name: numpy_like(name, value) for name, value in given.items()}).to_pandas()
    pd.testing.assert_frame_equal(numpy_rows, plain_rows, check_exact=True)  # NaN fluxes equal too


@archives
def test_a_whole_float_is_no_integer(archive_case, tmp_path):
    """``chunk_rows: 2.0`` would fail mid-run (``range(2.0)``): refused before any read."""
    archive = get_archive(archive_case.name)
    integers = [p for p in archive.params if "integer" in (p.json_type or ()) and p.has_default]
    for param in integers:
        whole = float(param.default if param.default is not None else param.minimum or 1)
        for fetch in (archive.fetch, archive.reader_module().fetch):
            with pytest.raises(ConfigError, match=f"'archives.{archive.name}.{param.name}': expected an"):
                fetch(archive_case.sample, source=str(tmp_path / "never read"), **{param.name: whole})


@pytest.mark.parametrize("archive_case", ["gaia", "panstarrs", "ztf"], indirect=True)
def test_a_hats_reader_keeps_the_radius_within_the_margin(archive_case, monkeypatch):
    """The descriptor allows up to the real collections' 10 arcsec margin; a narrower one limits more."""
    archive = get_archive(archive_case.name)
    fetch = archive.reader_module().fetch
    with pytest.raises(ConfigError, match=f"'archives.{archive.name}.radius_arcsec': 10.5 is greater than"):
        list(fetch(archive_case.sample, source=archive_case.source, radius_arcsec=10.5))
    opened = _hats.open_catalog
    narrower = lambda *a, **k: dataclasses.replace(opened(*a, **k), margin_threshold_arcsec=5.0)  # noqa: E731
    monkeypatch.setattr(_hats, "open_catalog", narrower)
    with pytest.raises(
        ConfigError, match=r"radius_arcsec=6\.0 exceeds the margin threshold of .*\(5 arcsec\)"
    ):
        list(fetch(archive_case.sample, source=archive_case.source, radius_arcsec=6.0))


@archives
def test_a_sample_without_labels_is_a_sample_error(archive_case):
    archive = get_archive(archive_case.name)
    with pytest.raises(SampleError, match="label"):
        archive.fetch(
            archive_case.sample.drop(columns="label"), source=archive_case.source, **archive_case.params
        )
