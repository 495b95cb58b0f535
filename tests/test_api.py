"""The notebook API: load_sample and load_lightcurves with pushdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

import mwlc
from mwlc.merge import write_dataset_metadata
from tests.test_io_merge import lc_frame, write


@pytest.fixture
def run_dir(tmp_path):
    """A finished run in miniature: a sample and two archives' shard files."""
    Table(
        {
            "objectid": np.array([1, 2, 3], dtype=np.int64),
            "coord": SkyCoord([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], unit="deg"),
            "label": ["A", "A", "B"],
            "labels": ["A", "A", "B"],
            "shard": np.array([0, 0, 1]),
        }
    ).write(tmp_path / "sample.ecsv", format="ascii.ecsv")
    dataset = tmp_path / "lightcurves.parquet"
    write(
        dataset / "archive=ztf/shard-0000.parquet",
        [lc_frame([1, 2], band="ztf_g"), lc_frame([2], band="ztf_r")],
    )
    write(dataset / "archive=ztf/shard-0001.parquet", [lc_frame([3], band="ztf_g")])
    write(dataset / "archive=gaia/shard-0000.parquet", [lc_frame([1, 2], band="ztf_i")])
    return tmp_path


def test_load_sample_restores_the_skycoord(run_dir):
    sample = mwlc.load_sample(run_dir)
    assert list(sample["objectid"]) == [1, 2, 3]
    assert sample["coord"].dec.deg[2] == pytest.approx(2.0)


def test_load_lightcurves_selects_archives_objects_and_bands(run_dir):
    frame = mwlc.load_lightcurves(run_dir, archives=["ztf"], objectids=[2, 3], bands=["ztf_g"])
    assert frame.index.names == ["objectid", "label", "band", "time"]
    assert list(frame.columns) == ["flux", "err", "archive"]
    assert sorted(set(frame.index.get_level_values("objectid"))) == [2, 3]
    assert set(frame.index.get_level_values("band")) == {"ztf_g"}
    assert len(frame) == 2 * 3
    everything = pd.read_parquet(run_dir / "lightcurves.parquet")
    assert (
        len(mwlc.load_lightcurves(run_dir)) == len(everything) == 6 + 3 + 3 + 6
    )  # ztf shard 0 (g, r), shard 1, gaia


def test_other_archives_partitions_are_never_opened(run_dir):
    (run_dir / "lightcurves.parquet/archive=gaia/shard-0000.parquet").write_bytes(b"not parquet")
    frame = mwlc.load_lightcurves(run_dir, archives=["ztf"], objectids=[1, 2, 3])
    assert set(frame["archive"]) == {"ztf"} and len(frame) == 12
    with pytest.raises(Exception, match="(?i)parquet"):
        mwlc.load_lightcurves(run_dir)  # reading everything does open the broken partition


def test_a_merged_run_reads_the_files_of_its_last_merge(run_dir):
    """gaia disabled after a run: the merge lists ztf only in _metadata (and summary.csv, the
    by-object table); gaia's files stay in the folder, and pandas reading the folder sees them."""
    dataset = run_dir / "lightcurves.parquet"
    merged = ["archive=ztf/shard-0000.parquet", "archive=ztf/shard-0001.parquet"]
    common, metadata = str(dataset / "_common_metadata"), str(dataset / "_metadata")
    write_dataset_metadata(str(dataset), merged, common, metadata)
    frame = mwlc.load_lightcurves(run_dir)
    assert set(frame["archive"]) == {"ztf"} and len(frame) == 6 + 3 + 3
    assert len(mwlc.load_lightcurves(run_dir, objectids=[3])) == 3
    assert len(pd.read_parquet(dataset)) == 6 + 3 + 3 + 6


def test_plot_lightcurve_draws_the_objects_bands(run_dir):
    frame = mwlc.load_lightcurves(run_dir, archives=["ztf"])
    assert frame.attrs["band_units"]["ztf_g"] == "mJy"
    figure = mwlc.plot_lightcurve(frame, 2)
    top, zoom = figure.axes
    legend = [text.get_text() for text in top.get_legend().get_texts()]
    assert legend == ["ZTF g", "ZTF r"]  # object 2 has g and r in this run; object 3 only g
    assert top.get_legend().get_title().get_text() == "objectid: 2 (Yang 18)"  # the light curve's label
    assert {line.get_label() for line in zoom.lines} >= {"ZTF g 30-d mean", "ZTF r 30-d mean"}
    assert [t.get_text() for t in mwlc.plot_lightcurve(frame, 3).axes[0].get_legend().get_texts()] == [
        "ZTF g"
    ]


def test_plot_lightcurve_names_a_missing_object(run_dir):
    frame = mwlc.load_lightcurves(run_dir, archives=["ztf"])
    with pytest.raises(KeyError, match="objectid 99 has no light-curve rows"):
        mwlc.plot_lightcurve(frame, 99)


def test_more_than_fifty_objectids_read_only_the_row_groups_of_their_range(tmp_path):
    """pyarrow skips row groups on an ``isin`` of at most 50 values; above that it read every row
    group (a 500k run's whole 6.5 GB for one shard's objects). 200 objects x 50 rows in row
    groups of 10 objects: 60 consecutive ids keep the 6 row groups of their range."""
    from mwlc.api import lightcurve_dataset, objectid_filter
    from tests.test_io_merge import write_in_row_groups

    frame = lc_frame(list(range(1, 201)), n=50)
    write_in_row_groups(tmp_path / "lightcurves.parquet/archive=ztf/shard-0000.parquet", frame, 500)
    dataset = lightcurve_dataset(tmp_path)
    (fragment,) = dataset.get_fragments()
    ids = list(range(101, 161))
    kept = fragment.split_by_row_group(filter=objectid_filter(ids), schema=dataset.schema)
    assert len(kept) == 6 and fragment.num_row_groups == 20
    selected = mwlc.load_lightcurves(tmp_path, objectids=ids)
    assert sorted(set(selected.index.get_level_values("objectid"))) == ids and len(selected) == 60 * 50
    assert len(mwlc.load_lightcurves(tmp_path, objectids=np.int64(7))) == 50
    with pytest.raises(ValueError, match="objectids must be integers"):
        mwlc.load_lightcurves(tmp_path, objectids=["7"])


def test_names_the_run_does_not_have_are_refused_with_what_was_meant(run_dir):
    """``ZTF`` (the spelling of scale_up and migrate-config) silently gave an empty frame."""
    with pytest.raises(
        ValueError, match=r"archive\(s\) \['ZTF'\] are not in this run .*'ZTF': did you mean 'ztf'\?"
    ):
        mwlc.load_lightcurves(run_dir, archives=["ZTF"])
    with pytest.raises(ValueError, match=r"band\(s\) \['ZTF_G'\] are not in this run .*did you mean 'ztf_g'"):
        mwlc.load_lightcurves(run_dir, bands=["ZTF_G"])
    assert set(mwlc.load_lightcurves(run_dir, archives="ztf")["archive"]) == {"ztf"}  # one name, not z, t, f


def test_a_band_selection_opens_only_the_archives_holding_the_bands(run_dir):
    (run_dir / "lightcurves.parquet/archive=gaia/shard-0000.parquet").write_bytes(b"not parquet")
    frame = mwlc.load_lightcurves(run_dir, bands=["ztf_g"])
    assert set(frame.index.get_level_values("band")) == {"ztf_g"} and len(frame) == 9
