"""The archive descriptors are the one home of each archive: everything that repeats them agrees.

The config schema and the demo builders come from the descriptors at run time; ``config.yaml``,
the tables of ``config/README.md`` and the defaults in each ``fetch`` signature are checked
against them here; and the params that reach a fetch job (which decide what Snakemake refetches)
are pinned to what they were before the descriptors existed.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mwlc.archives._per_object import REQUEST_KEYS, ObjectJobOptions, object_job
from mwlc.archives.base import (
    JOB_DEFAULTS,
    NO_DEFAULT,
    Archive,
    BandInfo,
    DescriptorError,
    Param,
    job_options,
)
from mwlc.archives.docs import built_in_archives, update_readme
from mwlc.archives.registry import (
    ALIASES,
    ARCHIVES,
    BUILT_IN,
    build_registry,
    canonical_name,
    demo_builders,
    extra_archive_paths,
    get_archive,
)
from mwlc.config import check_config, deep_merge, load_schema
from mwlc.errors import ConfigError
from mwlc.schema import BANDS

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = yaml.safe_load((REPO / "config/config.yaml").read_text())

#: archive -> the params of its fetch jobs for config/config.yaml alone, as runs made before
#: 2026-12-07 recorded them (the same before the descriptors, commit c17dccb). Snakemake reruns a
#: job whose params differ from its record: without NO_LONGER_PARAMS, the params of today's runs
#: must stay these. Compared as JSON, so 2 != 2.0.
JOB_PARAMS = {
    "ztf": {"bands": ["ztf_g", "ztf_r", "ztf_i"], "catflags_max": 32768, "radius_arcsec": 1.0},
    "gaia": {"bands": ["Gaia_G"], "radius_arcsec": 1.0},
    "panstarrs": {
        "bands": ["Pan-STARRS g", "Pan-STARRS r", "Pan-STARRS i", "Pan-STARRS z", "Pan-STARRS y"],
        "radius_arcsec": 1.0,
    },
    "wise": {"bands": ["WISE_W1", "WISE_W2"], "batch_rows": 131072, "radius_arcsec": 1.0},
    "heasarc": {
        "catalogs": {
            "FERMIGTRIG": {"max_error_radius_arcsec": 3600},
            "SAXGRBMGRB": {"max_error_radius_arcsec": 10800},
            "icecubepsc": {"max_radius_arcsec": 7200, "top_n": 3},
        },
        "chunk_rows": 50000,
        "maxrec": None,
        "retries": 3,
        "retry_backoff_s": 10,
        "timeout_s": 600,
    },
    "tess_kepler": {
        "author": None,
        "cache_dir": "resources/cache/tess_kepler",
        "download_url": None,
        "downsample": 30,
        "progress_every": 100,
        "quality_bitmask": "default",
        "radius_arcsec": 1.0,
        "retries": 3,
        "retry_backoff_s": 2,
        "timeout_s": 120,
    },
    "hcv": {
        "cache_dir": "resources/cache/hcv",
        "filters": ["F814W"],
        "mag_system": "AB",
        "progress_every": 100,
        "radius_arcsec": 1.0,
        "retries": 3,
        "retry_backoff_s": 2,
        "timeout_s": 60,
    },
}
#: The demo changes only Gaia's bands (and the sources, which are params of their own).
DEMO_JOB_PARAMS = {**JOB_PARAMS, "gaia": {"bands": ["Gaia_G", "Gaia_BP", "Gaia_RP"], "radius_arcsec": 1.0}}
#: Keys that are no params since 2026-12-07: how an archive is read (timeouts, retries, chunk
#: sizes, progress lines, the answers' cache), never what.
_REQUESTS = {"timeout_s", "retries", "retry_backoff_s"}
NO_LONGER_PARAMS = {
    "wise": {"batch_rows"},
    "heasarc": {"chunk_rows", "maxrec", *_REQUESTS},
    "tess_kepler": {"cache_dir", "progress_every", *_REQUESTS},
    "hcv": {"cache_dir", "progress_every", *_REQUESTS},
}


def checked(user: dict) -> dict:
    """``user`` merged onto config.yaml and checked, as the workflow does."""
    return check_config(deep_merge(DEFAULTS, user), defaults=DEFAULTS)[0]


def job_params(config: dict) -> dict:
    return {name: get_archive(name).job_params(config["archives"][name]) for name in ARCHIVES}


@pytest.mark.parametrize(
    ("user", "expected"),
    [({}, JOB_PARAMS), (yaml.safe_load((REPO / "config/demo.yaml").read_text()), DEMO_JOB_PARAMS)],
    ids=["config.yaml", "demo.yaml"],
)
def test_fetch_job_params_are_those_of_older_runs_without_the_keys_that_only_say_how_to_read(user, expected):
    got = job_params(checked(user))
    now = {
        name: {key: value for key, value in params.items() if key not in NO_LONGER_PARAMS.get(name, ())}
        for name, params in expected.items()
    }
    assert json.dumps(got, sort_keys=True) == json.dumps(now, sort_keys=True)
    for name, keys in NO_LONGER_PARAMS.items():
        section = checked(user)["archives"][name]
        assert set(get_archive(name).reading_params(section)) == keys, name


@pytest.mark.parametrize(
    ("user", "expected"),
    [({}, JOB_PARAMS), (yaml.safe_load((REPO / "config/demo.yaml").read_text()), DEMO_JOB_PARAMS)],
    ids=["config.yaml", "demo.yaml"],
)
def test_a_shard_recorded_by_an_older_run_keeps_its_recorded_params_until_a_science_key_changes(
    user, expected
):
    """A shard's record holds the request settings as params: handed back as recorded (as
    Snakemake serializes them, repr), so the shard is not refetched; also after a timeout is
    raised. A changed science key gives today's params, so the shard is refetched."""
    for name, old in expected.items():
        archive = get_archive(name)
        section = checked(user)["archives"][name]
        assert repr(archive.job_params(section, recorded=old)) == repr(old), name
        assert archive.job_params(section, recorded=None) == archive.job_params(section)
        if name in NO_LONGER_PARAMS:
            slower = {key: 999 for key in ("timeout_s", "chunk_rows", "batch_rows") if key in section}
            patient = checked(deep_merge(user, {"archives": {name: slower}}))["archives"][name]
            assert repr(archive.job_params(patient, recorded=old)) == repr(old), name
        science = {"catalogs": {"FERMIGTRIG": {"max_error_radius_arcsec": 1800}}}
        if "radius_arcsec" in section:
            science = {"radius_arcsec": 0.5}
        changed = checked(deep_merge(user, {"archives": {name: science}}))["archives"][name]
        now = archive.job_params(changed, recorded=old)
        assert now == archive.job_params(changed) and now != old, name
        assert not set(now) & NO_LONGER_PARAMS.get(name, set()), name


# --------------------------------------------------------------------------- the config schema


def test_the_schema_has_one_generated_section_per_registered_archive():
    schema = load_schema()
    sections = schema["properties"]["archives"]["properties"]
    assert list(sections) == list(ARCHIVES)
    for name, archive in ARCHIVES.items():
        keys = sections[name]["properties"]
        assert list(keys) == ["enabled", "source", *(param.name for param in archive.params)]
        assert keys["source"]["default"] == archive.default_source
    assert schema["properties"]["fetch_mem_mb"]["propertyNames"]["enum"] == ["default", *ARCHIVES]


def test_the_schema_file_does_not_repeat_the_archives():
    text = (REPO / "workflow/schemas/config.schema.yaml").read_text()
    for archive in ARCHIVES.values():
        for param in archive.params:
            assert f"\n          {param.name}:" not in text, (archive.name, param.name)


def test_hcv_radius_limit_is_the_apis_in_the_schema_and_in_fetch(tmp_path):
    from mwlc.archives import hcv
    from mwlc.archives.descriptors.hcv import MAX_RADIUS_ARCSEC

    assert get_archive("hcv").param("radius_arcsec").maximum == MAX_RADIUS_ARCSEC == 1800
    assert checked({"archives": {"hcv": {"radius_arcsec": 1800}}})["archives"]["hcv"]["radius_arcsec"] == 1800
    too_large = "'archives.hcv.radius_arcsec': 1800.5 is greater than the maximum of 1800"
    with pytest.raises(ConfigError, match=too_large):
        checked({"archives": {"hcv": {"radius_arcsec": 1800.5}}})
    sample = pd.DataFrame({"objectid": [1], "ra": [10.0], "dec": [0.0], "label": ["a"]})
    with pytest.raises(ConfigError, match=too_large):  # before any request: nothing listens there
        hcv.fetch(sample, source="http://127.0.0.1:9", cache_dir=str(tmp_path), radius_arcsec=1800.5)


# --------------------------------------------------------------------------- files that repeat them


def test_config_yaml_gives_every_archive_its_descriptor_defaults():
    archives = DEFAULTS["archives"]
    assert list(archives) == [archive.name for archive in built_in_archives()]
    for archive in built_in_archives():
        section = archives[archive.name]
        assert section["enabled"] is True and section["source"] == archive.default_source, archive.name
        for key, value in section.items():
            if key in ("enabled", "source"):
                continue
            param = archive.param(key)
            assert param.effective_default is not NO_DEFAULT, (archive.name, key)
            assert value == param.effective_default, (archive.name, key)


def test_config_readme_tables_are_generated_from_the_descriptors():
    text = (REPO / "config/README.md").read_text()
    assert text == update_readme(text, built_in_archives()), (
        "config/README.md is out of date: run `python -m mwlc.archives.docs config/README.md`"
    )


def test_readme_table_lists_every_key_with_its_default_and_limits():
    text = (REPO / "config/README.md").read_text()
    ztf = text[text.index("<!-- archive: ztf -->") : text.index("<!-- end archive: ztf -->")]
    assert "| `radius_arcsec` | number, arcsec, (0, 10] | `1.0` |" in ztf
    assert "| `match` | `nearest` or `all` | `nearest` (when absent) |" in ztf
    heasarc = text[text.index("<!-- archive: heasarc -->") : text.index("<!-- end archive: heasarc -->")]
    assert "| `catalogs.icecubepsc.top_n` | integer, >= 1 | `3` (when absent) |" in heasarc


@pytest.mark.parametrize("name", list(BUILT_IN), ids=lambda path: path.rsplit(".", 1)[-1])
def test_fetch_signature_defaults_are_the_descriptors(name):
    archive = importlib.import_module(name).ARCHIVE
    signature = inspect.signature(archive.reader_module().fetch)
    for param in archive.params:
        if archive.per_object and param.name in REQUEST_KEYS:
            continue  # in **job (ObjectJobOptions), default taken from the descriptor: see below
        assert param.name in signature.parameters, (archive.name, param.name)
        default = signature.parameters[param.name].default
        expected = param.effective_default
        if param.name == "catalogs":  # None stands for DEFAULT_CATALOGS, resolved inside fetch
            assert default is None and expected == archive.reader_module().DEFAULT_CATALOGS
            continue
        assert default == (tuple(expected) if isinstance(default, tuple) else expected), (
            archive.name,
            param.name,
        )
    assert archive.reader_module().BANDS == list(archive.bands)
    job = [p for p in signature.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert [p.name for p in job] == ["job"], archive.name  # threads, mem_mb, storage_options


@pytest.mark.parametrize("name", ["hcv", "tess_kepler"])
def test_per_object_request_keywords_take_the_descriptors_defaults(name):
    archive = importlib.import_module(f"mwlc.archives.descriptors.{name}").ARCHIVE
    assert set(REQUEST_KEYS) <= ObjectJobOptions.__optional_keys__
    run = object_job({}, archive)
    assert run.policy.timeout_s == archive.param("timeout_s").default
    assert run.policy.retries == archive.param("retries").default
    assert run.policy.backoff_s == archive.param("retry_backoff_s").default
    assert (run.progress_every, run.threads) == (archive.param("progress_every").default, 1)
    run = object_job({"timeout_s": 7, "retries": 0, "threads": 3}, archive)
    assert (run.policy.timeout_s, run.policy.retries, run.threads) == (7.0, 0, 3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['timeout'\]"):
        object_job({"timeout": 7}, archive)
    with pytest.raises(ConfigError, match=f"'archives.{name}.retries': -1 is less than the minimum of 0"):
        object_job({"retries": -1}, archive)
    with pytest.raises(ConfigError, match=f"'archives.{name}.timeout_s': expected a finite number"):
        object_job({"timeout_s": float("inf")}, archive)


def test_a_readers_arguments_are_checked_as_the_config_would_be():
    ztf = get_archive("ztf")
    for bands in (("ztf_g", "ztf_r"), np.array(["ztf_g"]), pd.Series(["ztf_i"])):
        ztf.check_params({"bands": bands, "radius_arcsec": np.float64(1.5), "read_batch_rows": np.int64(10)})
    with pytest.raises(ConfigError, match="'archives.ztf.bands': expected a list, got 'ztf_g'"):
        ztf.check_params({"bands": "ztf_g"})
    with pytest.raises(ConfigError, match="'archives.ztf.read_batch_rows': expected an integer, got True"):
        ztf.check_params({"read_batch_rows": True})
    with pytest.raises(ConfigError, match="'archives.ztf.bands.0': 'zg' is not one of .*'zg' is now 'ztf_g'"):
        ztf.check_params({"bands": ["zg"]})


def test_job_options_fill_defaults_and_refuse_a_misspelt_parameter():
    assert job_options({}, "ztf") == (1, None, None) == tuple(JOB_DEFAULTS.values())
    assert job_options({"threads": 4, "mem_mb": 2000}, "ztf") == (4, 2000, None)
    with pytest.raises(TypeError, match=r"ztf fetch\(\) got unexpected keyword argument\(s\) \['radius'\]"):
        job_options({"threads": 2, "radius": 1.0}, "ztf")


def test_hcv_filters_are_the_zero_point_table():
    from mwlc.archives import hcv

    assert list(hcv.ACS_WFC_ZEROPOINTS) == list(get_archive("hcv").param("filters").items["enum"])


# --------------------------------------------------------------------------- the registry


def test_bands_units_per_object_archives_and_demo_builders_come_from_the_descriptors():
    assert BANDS == {band: info for archive in ARCHIVES.values() for band, info in archive.bands.items()}
    assert [name for name, archive in ARCHIVES.items() if archive.per_object] == ["tess_kepler", "hcv"]
    assert demo_builders() == {
        name: f"mwlc.demo.{name}" for name in ("ztf", "gaia", "panstarrs", "wise", "heasarc")
    }
    assert ALIASES["ps1"] == "panstarrs" and canonical_name("TESS") == "tess_kepler"
    assert canonical_name("IceCube") == "heasarc"  # an old archive name (mwlc.legacy)


def toy_descriptor(**changes) -> Archive:
    fields = {
        "name": "toy",
        "title": "a toy",
        "reader": "toy_module",
        "default_source": "nowhere",
        "source_help": "anything",
        "bands": {"toy_v": BandInfo("mJy", "MJD")},
        "params": (Param("radius_arcsec", "number", "radius", default=1.0, exclusive_minimum=0),),
        "service": "irsa_s3",
    }
    return Archive(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Toy"}, "name must match"),
        ({"bands": {}}, "declares no band"),
        ({"service": "irsa_http"}, "service 'irsa_http' is none of"),
        (
            {"params": (Param("radius_arcsec", "number", "r", default=-1.0, exclusive_minimum=0),)},
            "default -1.0 fails",
        ),
        ({"params": (Param("source", "string", "s"),)}, "reserved names"),
        ({"params": (Param("a", "integer", "a"), Param("a", "integer", "a"))}, "declared twice"),
        (
            {"params": (Param("a", "integer", "a", default=1, absent_means=2),)},
            "both a default and absent_means",
        ),
        (
            {"params": (Param("radius_arcsec", "number", "r", default=1.0, bounds_memory=True),)},
            "radius_arcsec bounds memory but is no integer that never changes the rows",
        ),
        (
            {"params": (Param("batch", "integer", "b", default=9, bounds_memory=True),)},
            "batch bounds memory but is no integer that never changes the rows",
        ),
    ],
)
def test_a_contradictory_descriptor_is_refused_when_declared(changes, message):
    with pytest.raises(DescriptorError, match=message):
        toy_descriptor(**changes)


def test_extra_archives_come_from_the_environment_and_must_be_descriptors(tmp_path, monkeypatch):
    (tmp_path / "toy_descriptor.py").write_text(
        "from tests.test_archive_descriptors import toy_descriptor\nARCHIVE = toy_descriptor()\n"
    )
    (tmp_path / "not_a_descriptor.py").write_text("ARCHIVE = 'toy'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert extra_archive_paths({"MWLC_EXTRA_ARCHIVES": " toy_descriptor,other  third"}) == [
        "toy_descriptor",
        "other",
        "third",
    ]
    registry = build_registry([*BUILT_IN, "toy_descriptor"])
    assert list(registry)[-1] == "toy" and list(registry)[:-1] == list(ARCHIVES)
    with pytest.raises(ConfigError, match="registered twice"):
        build_registry(["toy_descriptor", "toy_descriptor"])
    with pytest.raises(ConfigError, match="defines no ARCHIVE descriptor"):
        build_registry(["not_a_descriptor"])
    with pytest.raises(ConfigError, match="'no_such_module' cannot be imported"):
        build_registry(["no_such_module"])


def test_a_fetch_job_reads_as_the_config_says_and_records_only_the_science(monkeypatch, tmp_path):
    """A shard recorded by an older run hands the fetch its old request settings among the
    params: the config's (``reading``) are the ones used, and only the science is provenance."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mwlc.archives.base import Archive
    from mwlc.fetch import fetch_shard
    from mwlc.sample.build import SHARD_SCHEMA

    asked = []
    monkeypatch.setattr(Archive, "fetch", lambda self, sample, **kwargs: asked.append(kwargs) or iter(()))
    shard = tmp_path / "shard-0000.parquet"
    sample = {"objectid": [1], "ra": [10.0], "dec": [-5.0], "label": ["a"]}
    pq.write_table(pa.Table.from_pydict(sample, schema=SHARD_SCHEMA), shard)
    old = JOB_PARAMS["heasarc"]  # timeout_s 600, retries 3, chunk_rows 50000
    job = {"shard_path": str(shard), "source": "resources/heasarc"}
    fetch_shard(
        "heasarc", output_path=str(tmp_path / "new.parquet"), params=old, reading={"timeout_s": 1200}, **job
    )
    assert asked[-1]["timeout_s"] == 1200 and asked[-1]["retries"] == 3
    assert asked[-1]["catalogs"] == old["catalogs"]
    provenance = json.loads(pq.read_schema(tmp_path / "new.parquet").metadata[b"mwlc.provenance"])
    assert provenance["params"] == {"catalogs": old["catalogs"]}
    # called with a whole config section and no `reading` (a notebook): its request settings
    fetch_shard("heasarc", output_path=str(tmp_path / "nb.parquet"), params={**old, "timeout_s": 30}, **job)
    assert asked[-1]["timeout_s"] == 30 and asked[-1]["chunk_rows"] == 50000
