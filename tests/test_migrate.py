"""`mwlc migrate-config`: the scale_up notebook's three examples become valid mwlc configs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from mwlc.config import DEFAULTS_PATH, check_config, deep_merge
from mwlc.errors import ConfigError
from mwlc.migrate import archive_list, main, migrate_kwargs, original_kwargs, parse_kwargs_pairs

#: Example 1: the 500,000-object SDSS run (the bash script's -j, -a and -d flags).
EXAMPLE1_JSON = '{"get_samples": {"SDSS": {"num": 500000}}, "archives": {"ZTF": {"nworkers": 8}}}'
EXAMPLE1_ARCHIVES = "Gaia HEASARC IceCube WISE ZTF"

#: Example 2: the notebook's kwargs_dict, as written there.
EXAMPLE2 = {
    "run_id": "demo-Yang-sample",
    "get_samples": ["Yang"],
    "archives": {
        "Gaia": {"search_radius": 1 / 3600, "verbose": 0},
        "HEASARC": {"catalog_error_radii": {"FERMIGTRIG": 1.0, "SAXGRBMGRB": 3.0}},
        "IceCube": {"icecube_select_topN": 3, "max_search_radius": 2.0},
        "WISE": {"radius": 1.0, "bandlist": ["W1", "W2"]},
        "ZTF": {"match_radius": 1 / 3600, "nworkers": None},
    },
}

#: Example 3: the kwargs.yml that helpers.scale_up.write_kwargs_to_yaml writes.
EXAMPLE3_YAML = {
    "get_samples": {
        "green": {},
        "ruan": {},
        "papers_list": {
            "paper_kwargs": [
                {"paper_link": "2022ApJ...933...37W", "label": "Galex variable 22"},
                {"paper_link": "2020ApJ...896...10B", "label": "Palomar variable 20"},
            ]
        },
        "SDSS": {"num": 10, "zmin": 0.5, "zmax": 2, "randomize_z": True},
        "ZTF_objectid": {"objectids": ["ZTF18aabtxvd", "ZTF18aahqkbt", "ZTF18abxftqm", "ZTF18acaqdaa"]},
    },
    "consolidate_nearby_objects": False,
    "archives": {
        "Gaia": {"search_radius": 2 / 3600},
        "HEASARC": {"catalog_error_radii": {"FERMIGTRIG": 1.0, "SAXGRBMGRB": 3.0}},
        "IceCube": {"icecube_select_topN": 4, "max_search_radius": 2.0},
        "WISE": {"radius": 1.5, "bandlist": ["W1", "W2"]},
        "ZTF": {"nworkers": 6, "match_radius": 2 / 3600},
    },
    "run_id": "demo-kwargs-yaml",
}
EXAMPLE3_ARCHIVES = "Gaia HEASARC IceCube PanSTARRS WISE ZTF"


def as_workflow_sees_it(config: dict) -> dict:
    """The migrated config merged onto the shipped defaults and checked, as the workflow does."""
    defaults = yaml.safe_load(DEFAULTS_PATH.read_text())
    checked, _ = check_config(deep_merge(defaults, config), defaults=defaults)
    return checked


def enabled(config: dict) -> set[str]:
    return {name for name, params in config["archives"].items() if params["enabled"]}


def test_example1_sdss_500k_from_json_and_flags(tmp_path, capsys):
    output = tmp_path / "sdss-500k.yaml"
    code = main(
        [
            "-r",
            "sdss-500k",
            "-j",
            EXAMPLE1_JSON,
            "-a",
            EXAMPLE1_ARCHIVES,
            "-d",
            "overwrite_existing_sample=false",
            "-d",
            "overwrite_existing_lightcurves=false",
            "-o",
            str(output),
        ]
    )
    assert code == 0
    config = as_workflow_sees_it(yaml.safe_load(output.read_text()))
    assert config["run_id"] == "sdss-500k"
    assert config["sample"]["sources"] == [{"source": "sdss", "num": 500000}]
    assert config["sample"]["consolidate_radius_arcsec"] == 18.0
    assert config["n_shards"] == 50
    assert enabled(config) == {"gaia", "heasarc", "wise", "ztf"}  # IceCube is a HEASARC table
    assert config["archives"]["heasarc"]["catalogs"]["icecubepsc"] == {
        "max_radius_arcsec": 7200.0,
        "top_n": 3,
    }
    assert config["archives"]["heasarc"]["catalogs"]["FERMIGTRIG"] == {"max_error_radius_arcsec": 3600}
    messages = capsys.readouterr().err
    assert "nworkers is obsolete" in messages
    assert "no equivalent: overwrite_existing_sample=False" in messages
    assert "--forcerun sample`, once) fetches every shard of every archive again" in messages


def test_example2_kwargs_dict_converts_every_unit_and_name():
    migration = migrate_kwargs(EXAMPLE2, archive_names="all")
    config = as_workflow_sees_it(migration.config)
    archives = config["archives"]
    assert config["run_id"] == "demo-Yang-sample"
    assert config["sample"]["sources"] == [{"source": "yang"}]
    assert archives["gaia"]["radius_arcsec"] == pytest.approx(1.0)
    assert archives["ztf"]["radius_arcsec"] == pytest.approx(1.0)
    assert archives["wise"]["radius_arcsec"] == 1.0 and archives["wise"]["bands"] == ["WISE_W1", "WISE_W2"]
    assert archives["heasarc"]["catalogs"] == {
        "FERMIGTRIG": {"max_error_radius_arcsec": 3600.0},
        "SAXGRBMGRB": {"max_error_radius_arcsec": 10800.0},
        "icecubepsc": {"max_radius_arcsec": 7200.0, "top_n": 3},
    }
    assert enabled(config) >= {"gaia", "heasarc", "panstarrs", "wise", "ztf"}
    assert "verbose" not in archives["gaia"] and "nworkers" not in archives["ztf"]


def test_example3_kwargs_yml_through_the_command_line(tmp_path):
    kwargs_yml = tmp_path / "kwargs.yml"
    kwargs_yml.write_text(yaml.safe_dump(EXAMPLE3_YAML))  # as write_kwargs_to_yaml does: keys sorted
    output = tmp_path / "demo-kwargs-yaml.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mwlc.cli",
            "migrate-config",
            str(kwargs_yml),
            "-d",
            "use_yaml=true",
            "-a",
            EXAMPLE3_ARCHIVES,
            "-o",
            str(output),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    config = as_workflow_sees_it(yaml.safe_load(output.read_text()))
    assert config["run_id"] == "demo-kwargs-yaml"
    assert config["sample"]["consolidate_radius_arcsec"] == 0.0
    assert config["sample"]["sources"] == [  # in the file's order (the first source's label wins)
        {"source": "sdss", "num": 10, "zmin": 0.5, "zmax": 2, "randomize_z": True, "seed": 0},
        {
            "source": "ztf_objectid",
            "objectids": ["ZTF18aabtxvd", "ZTF18aahqkbt", "ZTF18abxftqm", "ZTF18acaqdaa"],
        },
        {"source": "green"},
        {
            "source": "papers_list",
            "papers": [
                {"label": "Galex variable 22", "refcode": "2022ApJ...933...37W"},
                {"label": "Palomar variable 20", "refcode": "2020ApJ...896...10B"},
            ],
        },
        {"source": "ruan"},
    ]
    assert config["archives"]["gaia"]["radius_arcsec"] == pytest.approx(2.0)
    assert config["archives"]["ztf"]["radius_arcsec"] == pytest.approx(2.0)
    assert config["archives"]["heasarc"]["catalogs"]["icecubepsc"]["top_n"] == 4
    assert enabled(config) == {"gaia", "heasarc", "panstarrs", "wise", "ztf"}
    assert "# changed: archives.gaia.search_radius" in output.read_text()  # the file says what changed
    assert "use_yaml=True: give the config file with `--configfile`" in result.stderr


def test_heasarc_without_icecube_skips_the_neutrino_table_and_vice_versa():
    grb_only = as_workflow_sees_it(migrate_kwargs({}, archive_names="HEASARC").config)
    assert grb_only["archives"]["heasarc"]["catalogs"]["icecubepsc"] is None
    assert grb_only["archives"]["heasarc"]["catalogs"]["FERMIGTRIG"] is not None
    neutrinos = as_workflow_sees_it(migrate_kwargs({}, archive_names=["IceCube"]).config)
    assert enabled(neutrinos) == {"heasarc"}
    assert neutrinos["archives"]["heasarc"]["catalogs"]["FERMIGTRIG"] is None
    assert neutrinos["archives"]["heasarc"]["catalogs"]["icecubepsc"] == {
        "max_radius_arcsec": 7200.0,
        "top_n": 3,
    }


def test_dash_d_beats_json_beats_yaml(tmp_path):
    kwargs_yml = tmp_path / "kwargs.yml"
    kwargs_yml.write_text(
        yaml.safe_dump(
            {"run_id": "from-yaml", "get_samples": {"yang": {}}, "consolidate_nearby_objects": True}
        )
    )
    kwargs = original_kwargs(
        kwargs_yml,
        '{"run_id": "from-json", "get_samples": {"SDSS": {"num": 5}}}',
        ["run_id=from-flag", "consolidate_nearby_objects=FALSE"],
    )
    assert kwargs["run_id"] == "from-flag"
    assert kwargs["consolidate_nearby_objects"] is False
    assert kwargs["get_samples"] == {"yang": {}, "sdss": {"num": 5}}  # merged one level deep


def test_flags_stay_strings_except_booleans():
    assert parse_kwargs_pairs(["a=true", "b=False", "c=10", "d=x=y"]) == {
        "a": True,
        "b": False,
        "c": "10",
        "d": "x=y",
    }
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_kwargs_pairs(["no-equals-sign"])


@pytest.mark.parametrize(
    ("given", "radius"), [("yes", 18.0), ("no", 18.0), ("0", 18.0), ("FALSE", 0.0), (False, 0.0), ("", 0.0)]
)
def test_consolidation_follows_the_originals_truth_of_a_flag(given, radius):
    """-d values other than true/false stayed strings in the original, whose `if` took any
    non-empty one as true: "yes" (and even "no") consolidated; "yes" turned it off here."""
    migration = migrate_kwargs({"consolidate_nearby_objects": given}, archive_names="ZTF")
    assert migration.config["sample"]["consolidate_radius_arcsec"] == radius
    assert f"consolidate_nearby_objects={given!r} -> sample.consolidate_radius_arcsec: {radius:g}" in (
        migration.changes
    )


def test_archive_shortcuts_expand_as_the_helper_did():
    assert archive_list("scaled") == ["Gaia", "HEASARC", "IceCube", "PanSTARRS", "WISE", "ZTF"]
    assert archive_list("core Gaia") == ["Gaia", "HEASARC", "IceCube", "WISE", "ZTF", "Gaia"]


def test_what_has_no_equivalent_is_reported_not_dropped_silently():
    migration = migrate_kwargs(
        {"get_samples": {"MacLeod16": {}, "yang": {"verbose": 1}}, "sample_filename": "x.ecsv"},
        archive_names="Rubin ZTF",
    )
    lines = "\n".join(migration.no_equivalent)
    assert "get_samples.macleod16: journal-page scraping is not provided" in lines
    assert "get_samples.yang.verbose=1" in lines
    assert "archive rubin: not provided by mwlc" in lines
    assert "sample_filename='x.ecsv'" in lines
    assert migration.config["sample"]["sources"] == [{"source": "yang"}]
    assert enabled(as_workflow_sees_it(migration.config)) == {"ztf"}


def test_a_degree_radius_for_panstarrs_is_refused_with_the_key(capsys):
    code = main(["-j", '{"archives": {"PanSTARRS": {"radius": 0.000277}}}', "-a", "PanSTARRS"])
    assert code == 2
    assert "archives.panstarrs.radius" in capsys.readouterr().err


def test_bad_json_is_one_line():
    with pytest.raises(ConfigError, match="-j: not valid JSON"):
        original_kwargs(kwargs_json="{get_samples: 1")
