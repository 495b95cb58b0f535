"""Config validation: defaults, old names, and one clear line per mistake."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from mwlc.archives.registry import ARCHIVES
from mwlc.config import check_config, enabled_archives
from mwlc.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def _merged(overrides: dict) -> dict:
    """config.yaml with ``overrides`` merged in, as Snakemake's --configfile does."""

    def merge(base, extra):
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    return merge(_load("config.yaml"), copy.deepcopy(overrides))


def test_default_config_is_valid_and_points_at_real_archives():
    config, notes = check_config(_load("config.yaml"))
    assert notes == []
    assert config["archives"]["ztf"]["source"] == "s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats"
    assert config["sample"]["sources"] == [{"source": "yang"}]
    assert config["sample"]["consolidate_radius_arcsec"] == 18.0
    assert enabled_archives(config) == list(ARCHIVES)  # a real run queries every archive


def test_demo_config_is_valid_and_local():
    config, _ = check_config(_merged(_load("demo.yaml")))
    assert config["run_id"] == "demo"
    assert config["archives"]["ztf"]["source"] == "resources/demo/ztf"
    assert "synthetic" in config["provenance_note"].lower()


def test_defaults_are_filled_in():
    config, _ = check_config(
        {"run_id": "x", "n_shards": 2, "sample": {"sources": [{"source": "yang"}]}, "archives": {"ztf": {}}}
    )
    assert config["archives"]["ztf"]["radius_arcsec"] == 1.0
    assert config["archives"]["ztf"]["bands"] == ["ztf_g", "ztf_r", "ztf_i"]
    assert config["services"]["retries"] == 3
    assert config["fetch_retries"] == 2


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"n_shard": 3}, "config key 'n_shard': unknown key; did you mean 'n_shards'?"),
        ({"n_shards": 0}, "config key 'n_shards': 0 is less than the minimum of 1"),
        ({"n_shards": "ten"}, "config key 'n_shards': expected an integer or 'auto', got 'ten' (str)"),
        ({"run_id": "my run/1"}, "config key 'run_id'"),
        (
            {"archives": {"ztf": {"radius_arcsec": -1}}},
            "config key 'archives.ztf.radius_arcsec': -1 is less than or equal to the minimum of 0",
        ),
        (
            {"archives": {"ztf": {"radius_arcsecs": 1}}},
            "config key 'archives.ztf.radius_arcsecs': unknown key; did you mean 'radius_arcsec'?",
        ),
        ({"archives": {"ztf": {"bands": ["ztf_q"]}}}, "config key 'archives.ztf.bands.0'"),
        ({"archives": {"ztff": {}}}, "config key 'archives.ztff': unknown archive 'ztff'"),
        (
            {"sample": {"sources": [{"source": "nedd_refcode"}]}},
            "config key 'sample.sources.0.source': unknown sample source 'nedd_refcode'; "
            "did you mean 'ned_refcode'?",
        ),
        ({"sample": {"sources": []}}, "config key 'sample.sources'"),
        (
            {"sample": {"consolidate_radius_arcsec": -5}},
            "config key 'sample.consolidate_radius_arcsec': -5 is less than the minimum of 0",
        ),
        ({"services": {"timeout_s": 0}}, "config key 'services.timeout_s'"),
        (
            {"archives": {"ztf": {"match_radius": 1 / 3600, "radius_arcsec": 2.0}}},
            "old name given together with 'radius_arcsec'",
        ),
        (
            {"archives": {"gaia": {"radius_arcsec": 1 / 3600}}},
            "config key 'archives.gaia.radius_arcsec': 0.000277778 looks like degrees (1 arcsec); "
            "this key is in arcsec",
        ),
        (
            {"archives": {"heasarc": {"catalogs": {"FERMIGTRIG": {"max_error_radius_arcsec": 1.0 / 3600}}}}},
            "config key 'archives.heasarc.catalogs.FERMIGTRIG.max_error_radius_arcsec': 0.000277778 "
            "looks like degrees",
        ),
        ({"fetch_retries": -1}, "config key 'fetch_retries': -1 is less than the minimum of 0"),
        ({"archives": {"wise": {"bands": ["W3"]}}}, "config key 'archives.wise.bands.0'"),
        (
            {"archives": {"ztf": {"enabled": "yes"}}},
            "config key 'archives.ztf.enabled': expected true or false, got 'yes' (str)",
        ),
        ({"archives": {"hcv": {"mag_system": "ST"}}}, "config key 'archives.hcv.mag_system'"),
        ({"archives": {"tess_kepler": {"downsample": 0}}}, "config key 'archives.tess_kepler.downsample'"),
        # YAML's .nan and .inf are numbers to JSON schema; an archive would meet them mid-run
        (
            {"archives": {"gaia": {"radius_arcsec": float("nan")}}},
            "config key 'archives.gaia.radius_arcsec': expected a finite number",
        ),
        (
            {"archives": {"heasarc": {"timeout_s": float("inf")}}},
            "config key 'archives.heasarc.timeout_s': expected a finite number",
        ),
        # a row count of 2.0 would fail every fetch job mid-run (range(2.0)), or reach TAP as MAXREC=2.0
        (
            {"archives": {"heasarc": {"chunk_rows": 50000.0}}},
            "config key 'archives.heasarc.chunk_rows': expected an integer, got 50000.0 (float)",
        ),
        ({"archives": {"heasarc": {"maxrec": 100.0}}}, "config key 'archives.heasarc.maxrec'"),
        (
            {"archives": {"gaia": {"radius_arcsec": np.float32("nan")}}},
            "'archives.gaia.radius_arcsec': expected a fin",
        ),
        # an empty author list would keep no light curve: refused with the config, not mid-run
        ({"archives": {"tess_kepler": {"author": []}}}, "config key 'archives.tess_kepler.author': []"),
        ({"monitor": {"interval_s": 0}}, "config key 'monitor.interval_s'"),
        (
            {"sample": {"sources": [{"source": "file"}]}},
            "config key 'sample.sources.0': source 'file' needs key(s) path",
        ),
        ({"sample": {"sources": [{"source": "sdss", "nmu": 10}]}}, "nmu"),
        ({"run_id": "abc\n"}, "config key 'run_id'"),  # a trailing newline matched the pattern's $
        (
            {"demo": {"directory": "resources/demo", "archives": ["sdss"]}},
            "config key 'demo.archives': unknown",
        ),
        # source values are checked when the config is read, before any source is queried
        (
            {"sample": {"sources": [{"source": "yang"}, {"source": "sdss", "num": "50000"}]}},
            "config key 'sample.sources.1': source 'sdss': key 'num' must be an integer, got '50000'",
        ),
        (
            {"sample": {"sources": [{"source": "sdss", "num": -5}]}},
            "config key 'sample.sources.0': source 'sdss': num=-5 must be 0 or more",
        ),
        (
            {"sample": {"sources": [{"source": "ztf_objectid", "objectids": "ZTF18aabtxvd, ZTF18aahqkbt"}]}},
            "key 'objectids' holds several ids in one string ('ZTF18aabtxvd, ZTF18aahqkbt'): write a list",
        ),
        (
            {"sample": {"sources": [{"source": "file", "path": 5}]}},
            "config key 'sample.sources.0': source 'file': key 'path' must be a file path",
        ),
        (
            {"sample": {"sources": [{"source": "IceCube"}]}},
            "config key 'sample.sources.0.source': unknown sample source",
        ),
        (
            {"archives": {name: {"enabled": False} for name in ARCHIVES}},
            "config key 'archives': no archive is enabled",
        ),
        ({"archives": {"panstarrs": {"radius": 1 / 3600}}}, "archives.panstarrs.radius"),
        (
            {"archives": {"IceCube": {"icecube_select_top": 3}}},
            "config key 'archives.IceCube.icecube_select_top'",
        ),
    ],
)
def test_bad_config_gives_one_line_naming_the_key(overrides, expected):
    with pytest.raises(ConfigError) as info:
        check_config(_merged(overrides), defaults=_load("config.yaml"))
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_values_from_python_are_checked_as_a_reader_takes_them():
    """``mwlc.run(config=...)`` may hold tuples and numpy numbers; .inf outside the archives is no limit."""
    config, _ = check_config(
        _merged(
            {
                "archives": {"ztf": {"bands": ("ztf_g",), "read_batch_rows": np.int64(500)}},
                "monitor": {"max_hours": float("inf")},
            }
        ),
        defaults=_load("config.yaml"),
    )
    assert config["archives"]["ztf"]["bands"] == ["ztf_g"]
    assert config["archives"]["ztf"]["read_batch_rows"] == 500
    assert config["monitor"]["max_hours"] == float("inf")


def test_old_ztf_parameters_are_converted_with_a_note():
    config, notes = check_config(
        _merged({"archives": {"ZTF": {"match_radius": 2 / 3600, "nworkers": 8, "bands": ["zg", "zr"]}}}),
        defaults=_load("config.yaml"),
    )
    ztf = config["archives"]["ztf"]
    assert ztf["radius_arcsec"] == pytest.approx(2.0)
    assert ztf["bands"] == ["ztf_g", "ztf_r"]
    assert "nworkers" not in ztf and "match_radius" not in ztf
    assert any("match_radius is deprecated" in n and "radius_arcsec" in n for n in notes)
    assert any("nworkers is obsolete" in n for n in notes)
    assert any("old band names" in n for n in notes)


def test_check_config_does_not_modify_its_input():
    raw = _merged({"archives": {"ztf": {"match_radius": 1 / 3600}}})
    before = copy.deepcopy(raw)
    check_config(raw, defaults=_load("config.yaml"))
    assert raw == before


def test_demo_archive_must_be_read_from_its_snapshot():
    with pytest.raises(ConfigError, match="archives.ztf.source"):
        check_config(_merged({**_load("demo.yaml"), "archives": {"ztf": {"source": "elsewhere"}}}))


def test_old_heasarc_constraints_in_degrees_are_converted():
    config, notes = check_config(
        _merged({"archives": {"HEASARC": {"catalog_constraints": {"FERMIGTRIG": 1.5}}}}),
        defaults=_load("config.yaml"),
    )
    catalogs = config["archives"]["heasarc"]["catalogs"]
    assert catalogs["FERMIGTRIG"] == {"max_error_radius_arcsec": pytest.approx(5400.0)}
    assert (
        catalogs["SAXGRBMGRB"] is None and catalogs["icecubepsc"] is None
    )  # not named: skipped, as the original
    assert any("catalog_constraints is deprecated" in n for n in notes)


def test_old_icecube_archive_becomes_heasarc_icecubepsc():
    config, notes = check_config(
        _merged({"archives": {"IceCube": {"icecube_select_topN": 5, "max_search_radius": 1.0}}}),
        defaults=_load("config.yaml"),
    )
    catalogs = config["archives"]["heasarc"]["catalogs"]
    assert catalogs["icecubepsc"] == {"max_radius_arcsec": pytest.approx(3600.0), "top_n": 5}
    assert catalogs["FERMIGTRIG"] == {"max_error_radius_arcsec": 3600}  # the defaults stay
    assert any("archive IceCube is now HEASARC's icecubepsc" in n for n in notes)


def test_heasarc_catalog_settings_are_validated():
    with pytest.raises(ConfigError, match="archives.heasarc.catalogs.icecubepsc.top_n"):
        check_config(_merged({"archives": {"heasarc": {"catalogs": {"icecubepsc": {"top_n": 0}}}}}))


def test_old_wise_names_are_converted():
    config, notes = check_config(
        _merged({"archives": {"WISE": {"bandlist": ["W1"], "radius": 2.0}}}), defaults=_load("config.yaml")
    )
    wise = config["archives"]["wise"]
    assert wise["bands"] == ["WISE_W1"] and wise["radius_arcsec"] == 2.0
    assert any("old band names" in n for n in notes) and any("bandlist is deprecated" in n for n in notes)


def test_old_gaia_search_radius_in_degrees_is_converted():
    config, notes = check_config(
        _merged({"archives": {"Gaia": {"search_radius": 1 / 3600, "verbose": 0}}}),
        defaults=_load("config.yaml"),
    )
    assert config["archives"]["gaia"]["radius_arcsec"] == pytest.approx(1.0)
    assert any("search_radius is deprecated" in n for n in notes) and any(
        "verbose is obsolete" in n for n in notes
    )


def test_old_panstarrs_radius_in_degrees_is_refused_not_reinterpreted():
    with pytest.raises(ConfigError, match="degrees"):
        check_config(
            _merged({"archives": {"PanSTARRS": {"radius": 1 / 3600}}}), defaults=_load("config.yaml")
        )
    config, _ = check_config(
        _merged({"archives": {"PanSTARRS": {"radius": 2.0}}}), defaults=_load("config.yaml")
    )
    assert config["archives"]["panstarrs"]["radius_arcsec"] == 2.0


def test_key_order_in_the_yaml_does_not_change_the_checked_config():
    """Snakemake compares params as written out: reordered keys must not look like new params."""
    source = {"source": "file", "path": "config/demo_sample.csv", "label_column": "label"}
    reordered = dict(reversed(list(source.items())))
    one, _ = check_config(_merged({"sample": {"sources": [source]}}), defaults=_load("config.yaml"))
    two, _ = check_config(_merged({"sample": {"sources": [reordered]}}), defaults=_load("config.yaml"))
    assert repr(one) == repr(two)
    assert list(one["sample"]["sources"][0]) == ["label_column", "path", "source"]
