"""mwlc.legacy: the original's names and units, their conversions, and that the table agrees with
the archives and the config schema it converts into."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from mwlc import legacy
from mwlc.archives import heasarc
from mwlc.archives.registry import ALIASES, ARCHIVES, canonical_name
from mwlc.config import check_config, deep_merge, load_schema
from mwlc.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_original_catalog_constraints_convert_to_arcsec():
    assert legacy.catalogs_from_original({"FERMIGTRIG": 1.0, "SAXGRBMGRB": 3.0}) == {
        "FERMIGTRIG": {"max_error_radius_arcsec": 3600.0},
        "SAXGRBMGRB": {"max_error_radius_arcsec": 10800.0},
        "icecubepsc": None,
    }
    converted = legacy.catalogs_from_original({"icecubepsc": {"select_topN": 5, "max_search_radius": 0.5}})
    assert converted == {
        "FERMIGTRIG": None,
        "SAXGRBMGRB": None,
        "icecubepsc": {"max_radius_arcsec": 1800.0, "top_n": 5},
    }
    assert heasarc.parse_catalogs(converted) == [heasarc.NeutrinoCatalog("icecubepsc", 1800.0, 5)]
    assert legacy.icecube_from_original() == {"max_radius_arcsec": 7200.0, "top_n": 3}
    with pytest.raises(ConfigError, match="icecubepsc must be"):
        legacy.catalogs_from_original({"icecubepsc": {"select_topN": 3}})
    with pytest.raises(ConfigError, match="unknown catalog 'IceCube'"):
        legacy.catalogs_from_original({"IceCube": 1.0})


@pytest.mark.parametrize(
    ("constraints", "match"),
    [
        ({"FERMIGTRIG": "1.0"}, r"catalog_constraints\.FERMIGTRIG \(deg\) must be a number > 0, got '1\.0'"),
        ({"SAXGRBMGRB": True}, "must be a number > 0, got True"),
        ({"icecubepsc": {"select_topN": 0, "max_search_radius": 1.0}}, "select_topN must be an integer >= 1"),
        ({"icecubepsc": {"select_topN": 2, "max_search_radius": float("nan")}}, "max_search_radius"),
    ],
)
def test_original_values_that_are_no_numbers_are_refused(constraints, match):
    with pytest.raises(ConfigError, match=match):
        legacy.catalogs_from_original(constraints)


def test_panstarrs_radius_is_arcsec_and_degrees_are_refused():
    assert legacy.panstarrs_radius_to_arcsec(1) == 1.0
    assert legacy.panstarrs_radius_to_arcsec(2.5) == 2.5
    with pytest.raises(ConfigError, match=r"radius=0\.000277778 looks like degrees .*1 arcsec"):
        legacy.panstarrs_radius_to_arcsec(1 / 3600)


def test_heasarc_tables_are_the_archives_catalogs():
    assert legacy.HEASARC_TABLES == tuple(heasarc.DEFAULT_CATALOGS)
    assert legacy.NEUTRINO_TABLE in heasarc.DEFAULT_CATALOGS


def test_old_archive_names_resolve_through_the_registry():
    for old, new in legacy.OLD_ARCHIVE_NAMES.items():
        assert ALIASES[old] == new and canonical_name(old.upper()) == new


def test_old_bands_become_bands_the_archives_write():
    for archive, renames in legacy.OLD_BANDS.items():
        bands = ARCHIVES[archive].bands
        assert set(renames.values()) <= set(bands), archive
        assert not set(renames) & set(bands), archive


def test_old_parameters_become_keys_of_the_config_schema():
    archives = load_schema()["properties"]["archives"]["properties"]
    for archive, renames in legacy.OLD_PARAMS.items():
        keys = archives[archive]["properties"]
        for old, rename in renames.items():
            assert old not in keys, (archive, old)
            assert rename.new is None or rename.new in keys, (archive, rename.new)


def test_renamed_bands_hint_at_current_names():
    assert legacy.renamed_bands("wise", ["W1", "WISE_W2", "W3"]) == {"W1": "WISE_W1"}
    assert legacy.renamed_bands("hcv", ["W1"]) == {}


def test_convert_params_renames_converts_and_drops_with_one_note_each():
    params = {"match_radius": 0.5 / 3600, "nworkers": 8, "bands": ["zg", "ztf_r"]}
    notes = legacy.convert_params("ztf", params)
    assert params == {"radius_arcsec": pytest.approx(0.5), "bands": ["ztf_g", "ztf_r"]}
    assert len(notes) == 3 and "nworkers is obsolete" in notes[0] + notes[1]


def test_convert_archive_turns_the_old_icecube_archive_into_heasarc_catalogs():
    params = {"icecube_select_topN": 4, "max_search_radius": 1.5}
    converted, notes = legacy.convert_archive("IceCube", "heasarc", params)
    assert converted == {"catalogs": {"icecubepsc": {"max_radius_arcsec": 5400.0, "top_n": 4}}}
    assert params == {"icecube_select_topN": 4, "max_search_radius": 1.5}  # not modified
    assert notes == [
        "archive IceCube is now HEASARC's icecubepsc table: use archives.heasarc.catalogs.icecubepsc = "
        "{'max_radius_arcsec': 5400.0, 'top_n': 4} (radius converted from degrees to arcsec)"
    ]
    with pytest.raises(ConfigError, match="archives.IceCube.top_n"):
        legacy.old_icecube_archive({"top_n": 3})


def test_papers_from_original_renames_paper_kwargs_and_links():
    original = {"paper_kwargs": [{"paper_link": "2019ApJ...1L", "label": "X"}], "verbose": False}
    assert legacy.papers_from_original(original) == {
        "verbose": False,
        "papers": [{"label": "X", "refcode": "2019ApJ...1L"}],
    }
    assert "paper_kwargs" in original  # not modified


def test_config_converts_old_names_without_importing_an_archive_module(monkeypatch):
    for archive in ARCHIVES.values():  # importing any reader now raises ImportError
        monkeypatch.setitem(sys.modules, archive.reader, None)
    defaults = yaml.safe_load((REPO / "config/config.yaml").read_text())
    old = {
        "archives": {"HEASARC": {"catalog_error_radii": {"FERMIGTRIG": 1.0}}, "panstarrs": {"radius": 2.0}}
    }
    config, notes = check_config(deep_merge(defaults, old), defaults=defaults)
    assert config["archives"]["heasarc"]["catalogs"]["FERMIGTRIG"] == {"max_error_radius_arcsec": 3600.0}
    assert config["archives"]["panstarrs"]["radius_arcsec"] == 2.0
    old = {"archives": {"IceCube": {"icecube_select_topN": 2, "max_search_radius": 1.0}}}
    config, _ = check_config(deep_merge(defaults, old), defaults=defaults)
    assert config["archives"]["heasarc"]["catalogs"]["icecubepsc"] == {
        "max_radius_arcsec": 3600.0,
        "top_n": 2,
    }
