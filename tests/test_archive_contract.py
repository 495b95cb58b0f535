"""The contract every archive keeps, checked once for all of them through their descriptors.

A shard written from an archive's batches reads back into the Fornax MultiIndex frame with
exactly those rows, in the light-curve schema, with the bands and units the descriptor declares;
an archive without data for a shard still writes the schema (zero rows); parameters the
descriptor refuses are refused before anything is read; a sample without a column is a
:class:`~mwlc.errors.SampleError`. What each archive finds, and the brute-force rows it must
give, are in its own test module (``test_ztf.py`` ...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
def test_parameters_out_of_their_limits_are_refused_before_any_read(archive_case, tmp_path):
    archive = get_archive(archive_case.name)
    limited = [p for p in archive.params if p.minimum is not None or p.exclusive_minimum is not None]
    assert limited, "every archive has a parameter with a lower limit"
    for param in limited:
        low = param.minimum if param.minimum is not None else param.exclusive_minimum
        too_low = low - 1 if param.minimum is not None else low
        with pytest.raises(ConfigError, match=f"archives.{archive.name}.{param.name}: "):
            archive.fetch(archive_case.sample, source=str(tmp_path / "never read"), **{param.name: too_low})
    with pytest.raises(ConfigError, match=f"archives.{archive.name}.radius_arcsecs: unknown parameter"):
        archive.fetch(archive_case.sample, source=str(tmp_path / "never read"), radius_arcsecs=1.0)


@archives
def test_a_sample_without_labels_is_a_sample_error(archive_case):
    archive = get_archive(archive_case.name)
    with pytest.raises(SampleError, match="label"):
        archive.fetch(
            archive_case.sample.drop(columns="label"), source=archive_case.source, **archive_case.params
        )
