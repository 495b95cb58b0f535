"""Preflight: each reader opens its source as its fetch will, and says what is wrong, one line each.

Sources are the archives' test fixtures, copies of their metadata with a renamed column or a
changed type, the loopback TAP and HSC services, and endpoints where nothing listens.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mwlc.archives import _hats
from mwlc.archives._preflight import Finding, leaf_type
from mwlc.archives.panstarrs import DETECTION_COLUMNS, DETECTION_KINDS
from mwlc.archives.ztf import BAND_COLUMN, COLUMN_KINDS, ID_COLUMN, LIGHTCURVE_COLUMNS
from mwlc.net import RetryPolicy
from mwlc.preflight import PreflightFailed, check_archive, main, preflight_archive
from mwlc.storage import storage_options
from tests.fixtures_hcv import PREFIX as HCV_PREFIX
from tests.fixtures_heasarc import HEASARC_TAP_PATH
from tests.servers.base import LoopbackServer
from tests.servers.tap import FakeTap

ZTF_CATALOG = "ztf_dr24_lc-hats"
FAST = {"retries": 0, "retry_backoff_s": 0.0, "timeout_s": 5.0}


def closed_port_url(path: str = "") -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def lines(findings: list[Finding]) -> list[str]:
    return [finding.line() for finding in findings]


# --------------------------------------------------------------------------- metadata copies


def metadata_copy(source: Path, target: Path) -> Path:
    """A HATS collection (or dataset) without its leaf files: what a preflight reads, nothing more."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("Npix=*", "healpix_k0=*"))
    return target


def change_field(field: pa.Field, path: list[str], change: Callable[[pa.Field], pa.Field]) -> pa.Field:
    if not path:
        return change(field)
    kind = field.type
    children = [kind.field(i) for i in range(kind.num_fields)]
    return field.with_type(
        pa.struct([change_field(c, path[1:], change) if c.name == path[0] else c for c in children])
    )


def rewrite_schema(path: Path, column: str, change: Callable[[pa.Field], pa.Field]) -> None:
    """Rewrite the schema of a ``_common_metadata``/``_metadata`` file with one field changed."""
    schema = pq.read_schema(path)
    name, *rest = column.split(".")
    index = schema.get_field_index(name)
    pq.write_metadata(schema.set(index, change_field(schema.field(index), rest, change)), path)


def rewrite_hats(catalog: Path, column: str, change: Callable[[pa.Field], pa.Field]) -> None:
    for name in ("_common_metadata", "_metadata"):
        if (catalog / "dataset" / name).exists():
            rewrite_schema(catalog / "dataset" / name, column, change)


def renamed(name: str) -> Callable[[pa.Field], pa.Field]:
    return lambda field: field.with_name(name)


def retyped(kind: pa.DataType) -> Callable[[pa.Field], pa.Field]:
    return lambda field: field.with_type(kind)


# --------------------------------------------------------------------------- the column checks


def test_the_checked_columns_are_those_the_readers_read():
    assert set(COLUMN_KINDS) == {ID_COLUMN, BAND_COLUMN, *LIGHTCURVE_COLUMNS}
    assert set(DETECTION_KINDS) == {*DETECTION_COLUMNS, "_healpix_29"}


@pytest.mark.parametrize("layout", ["struct of lists", "list of structs"])
def test_a_nested_fields_values_are_found_in_either_layout(layout):
    value = pa.float32()
    kind = (
        pa.struct([("time", pa.list_(value))])
        if layout == "struct of lists"
        else pa.list_(pa.struct([("time", value)]))
    )
    schema = pa.schema([("id", pa.int64()), ("lc", kind)])
    assert leaf_type(schema, "lc.time") == (value, [])
    assert leaf_type(schema, "lc.flux") == (None, ["time"])
    assert leaf_type(schema, "idx") == (None, ["id", "lc"])
    assert leaf_type(pa.schema([("id", pa.list_(pa.int64()))]), "id")[0] == pa.list_(
        pa.int64()
    )  # top level: as is


# --------------------------------------------------------------------------- HATS archives


def test_sound_hats_sources_pass_without_a_finding(ztf_hats, gaia_hats, ps1_hats):
    assert preflight_archive("ztf", source=str(ztf_hats), params={}) == []
    assert preflight_archive("panstarrs", source=str(ps1_hats), params={}) == []
    gaia = preflight_archive(
        "gaia", source=str(gaia_hats), params={"bands": ["Gaia_G", "Gaia_BP", "Gaia_RP"]}
    )
    assert [finding for finding in gaia if finding.problem] == []


def test_a_catalog_without_margin_is_a_note_not_a_problem(ztf_hats, tmp_path):
    source = str(ztf_hats / ZTF_CATALOG)
    findings = check_archive("ztf", source=source, params={}, report_path=tmp_path / "ztf.txt")
    assert lines(findings) == [
        f"ztf: {source}: note: expected a margin catalog (ZTF); found none: each partition is read "
        "with its neighbours instead (the same rows, more reads)"
    ]
    assert (tmp_path / "ztf.txt").read_text() == f"ztf: {source}: ok\n{lines(findings)[0]}\n"


def test_a_renamed_column_and_a_wrong_type_give_one_line_each(ztf_hats, tmp_path):
    copy = metadata_copy(ztf_hats, tmp_path / "hats")
    rewrite_hats(copy / ZTF_CATALOG, "lightcurve.hmjd", renamed("hmjd_utc"))
    rewrite_hats(copy / ZTF_CATALOG, "filterid", retyped(pa.string()))
    echo = io.StringIO()
    with pytest.raises(PreflightFailed) as failed:
        check_archive("ztf", source=str(copy), params={}, report_path=tmp_path / "ztf.txt", echo=echo)
    expected = [
        f"ztf: {copy}: expected column filterid (integer values); found filterid of type string",
        f"ztf: {copy}: expected column lightcurve.hmjd (number values); found no such column "
        "(there: hmjd_utc, mag, magerr, clrcoeff, catflags)",
    ]
    assert str(failed.value).splitlines()[1:] == expected
    assert echo.getvalue().splitlines() == expected
    assert not (tmp_path / "ztf.txt").exists()


def test_a_radius_beyond_the_margin_is_a_problem(ps1_hats, monkeypatch):
    (finding,) = preflight_archive("panstarrs", source=str(ps1_hats), params={"radius_arcsec": 30.0})
    assert finding.problem and finding.expected == "parameters the archive's descriptor accepts"
    assert "'archives.panstarrs.radius_arcsec': 30.0 is greater than the maximum of 10" in finding.found
    # a collection whose margin is narrower than the descriptor's limit (the real ones' 10 arcsec)
    opened = _hats.open_catalog
    narrower = lambda *a, **k: dataclasses.replace(opened(*a, **k), margin_threshold_arcsec=5.0)  # noqa: E731
    monkeypatch.setattr(_hats, "open_catalog", narrower)
    (finding,) = preflight_archive("panstarrs", source=str(ps1_hats), params={"radius_arcsec": 6.0})
    assert finding.problem and finding.expected == "radius_arcsec within the margin"
    assert "exceeds the margin threshold" in finding.found and finding.source.endswith("/otmo")


def test_parameters_the_descriptor_refuses_are_a_problem_before_the_source_is_asked(tmp_path):
    never = str(tmp_path / "never opened")
    (finding,) = preflight_archive("hcv", source="http://127.0.0.1:9", params={"timeout_s": "x"})
    assert finding.problem and "'archives.hcv.timeout_s': expected a number, got 'x'" in finding.found
    (finding,) = preflight_archive("ztf", source=never, params={"radius_arcsec": -1, "enabled": True})
    assert "'archives.ztf.radius_arcsec': -1 is less than or equal to the minimum of 0" in finding.found


def test_a_missing_collection_and_a_dead_endpoint_are_problems(ztf_hats, tmp_path):
    (missing,) = preflight_archive("ztf", source=str(tmp_path / "nowhere"), params={})
    assert missing.expected == "a HATS collection or catalog (ZTF)" and "does not exist" in missing.found
    dead = closed_port_url("/hats")
    once = RetryPolicy(retries=1, backoff_s=0.0, timeout_s=5.0)
    (unreachable,) = preflight_archive("gaia", source=dead, params={}, storage=storage_options(None, once))
    assert unreachable.problem and "failed after 2 attempt(s): ClientConnectorError" in unreachable.found


# --------------------------------------------------------------------------- unWISE


def test_unwise_dataset_schema_is_checked(wise_dataset, tmp_path):
    assert preflight_archive("wise", source=str(wise_dataset), params={}) == []
    copy = tmp_path / "unwise"
    copy.mkdir()
    shutil.copy(wise_dataset / "_metadata", copy / "_metadata")
    rewrite_schema(copy / "_metadata", "MJDMEAN", retyped(pa.string()))
    rewrite_schema(copy / "_metadata", "flux", renamed("flux_vega"))
    assert [finding.expected for finding in preflight_archive("wise", source=str(copy), params={})] == [
        "column MJDMEAN (number values)",
        "column flux (number values)",
    ]
    (missing,) = preflight_archive("wise", source=str(tmp_path / "none.parquet"), params={})
    assert missing.expected == "a parquet dataset with a _metadata file"


# --------------------------------------------------------------------------- HEASARC


def test_heasarc_tap_tables_and_columns(heasarc_tap, heasarc_local):
    url = heasarc_tap.url + HEASARC_TAP_PATH
    assert preflight_archive("heasarc", source=url, params=FAST) == []
    assert "TAP_SCHEMA.columns" in heasarc_tap.app.queries[-1]
    assert preflight_archive("heasarc", source=str(heasarc_local), params={}) == []


def test_heasarc_renamed_column_at_the_service_and_in_a_copy(heasarc_tables, heasarc_local, tmp_path):
    tables = {
        **heasarc_tables,
        "icecubepsc": heasarc_tables["icecubepsc"].rename(columns={"event_energy": "energy"}),
    }
    app = FakeTap(tables, prefix=HEASARC_TAP_PATH, prefix_unaliased=True)
    server = LoopbackServer(app).start()
    try:
        (finding,) = preflight_archive("heasarc", source=server.url + HEASARC_TAP_PATH, params=FAST)
    finally:
        server.stop()
        app.close()
    assert finding.expected == "column icecubepsc.event_energy (number values)"
    assert finding.found.startswith("no such column (there: dec, energy, error_radius")

    copy = shutil.copytree(heasarc_local, tmp_path / "copies")
    frame = pd.read_parquet(copy / "FERMIGTRIG.parquet").astype({"time": str})
    frame.to_parquet(copy / "FERMIGTRIG.parquet")
    (finding,) = preflight_archive("heasarc", source=str(copy), params={})
    assert finding.line() == (
        f"heasarc: {copy / 'FERMIGTRIG.parquet'}: expected column time (number values); "
        "found time of type large_string"
    )


def test_heasarc_dead_service():
    dead = closed_port_url(HEASARC_TAP_PATH)
    (finding,) = preflight_archive("heasarc", source=dead, params=FAST)
    assert finding.expected == "the TAP service answering a TAP_SCHEMA.columns query"
    assert "failed after 1 attempt(s)" in finding.found


# --------------------------------------------------------------------------- MAST


def test_hcv_column_lists_are_asked_afresh(hcv_server, tmp_path):
    source = hcv_server.url + HCV_PREFIX
    assert preflight_archive("hcv", source=source, params={**FAST, "cache_dir": str(tmp_path)}) == []
    hcv_server.app.missing_columns = {"CorrMag"}
    (finding,) = preflight_archive("hcv", source=source, params=FAST)
    assert finding.expected == "column CorrMag of table hcv (any case)"
    assert not any(tmp_path.iterdir())  # nothing cached


def test_dead_mast_endpoints_are_problems(tmp_path):
    dead = closed_port_url("/api/v0.1/hsc")
    (hcv, *_) = preflight_archive("hcv", source=dead, params=FAST)
    assert hcv.expected == f"the column list of table hcvsummary at {dead}/v3/hcvsummary/metadata"
    assert "failed after 1 attempt(s): ConnectionError" in hcv.found
    dead = closed_port_url()
    (tess,) = preflight_archive("tess_kepler", source=dead, params=FAST)
    assert tess.expected == f"MAST answering at {dead}"


def test_tess_kepler_local_index(tk_case, tmp_path):
    index = tmp_path / "products.csv"
    tk_case.index.to_csv(index, index=False)
    assert preflight_archive("tess_kepler", source=str(index), params={}) == []
    tk_case.index.drop(columns="dataURI").to_csv(index, index=False)
    (finding,) = preflight_archive("tess_kepler", source=str(index), params={})
    assert finding.expected == "a readable product index" and "dataURI" in finding.found


def test_mast_answering_with_any_status_below_500_passes(hcv_server):
    assert preflight_archive("tess_kepler", source=hcv_server.url + "/no/such/page", params=FAST) == []


# --------------------------------------------------------------------------- the command


def test_mwlc_preflight_checks_every_enabled_archive_of_a_config(ztf_hats, wise_dataset, tmp_path, capsys):
    from mwlc.archives.registry import ARCHIVES

    archives = {name: {"enabled": False} for name in ARCHIVES}
    archives["ztf"] = {"source": str(ztf_hats / ZTF_CATALOG)}
    archives["wise"] = {"source": str(wise_dataset)}
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"archives": archives}))
    assert main(["--configfile", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"ztf: {ztf_hats / ZTF_CATALOG}: ok" and "note: expected a margin catalog" in out[1]
    assert out[2] == f"wise: {wise_dataset}: ok"

    archives["wise"] = {"source": str(tmp_path / "gone")}
    config.write_text(yaml.safe_dump({"archives": archives}))
    assert main(["--configfile", str(config), "--archive", "WISE"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"wise: {tmp_path / 'gone'}: 1 problem(s)" and len(out) == 2
    assert main(["--configfile", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_credentials_in_a_source_are_masked():
    line = Finding("hcv", "https://user:secret@example.org/hsc", "x", "y").line()
    assert "secret" not in line and "user:" in line


def test_a_settings_key_is_the_one_older_runs_named_their_preflight_reports_with():
    """The workflow names each preflight report with this key, and a fetch job records the report
    as its input: a different key for the same settings would refetch every finished shard. The
    two keys are those of a demo run made with the code of 2026-12-06 (commit 3866948)."""
    from mwlc.preflight import settings_key

    gaia = {"bands": ["Gaia_G", "Gaia_BP", "Gaia_RP"], "radius_arcsec": 1.0}
    assert settings_key("resources/demo/gaia", gaia, None) == "eae3fd535446f260"
    from tests.test_archive_descriptors import JOB_PARAMS

    heasarc = JOB_PARAMS["heasarc"]  # with its request settings, as params were then
    assert settings_key("resources/demo/heasarc", heasarc, None) == "991970df641de52b"
    assert settings_key("resources/demo/heasarc", dict(reversed(heasarc.items())), None) == "991970df641de52b"
    assert settings_key("resources/demo/gaia", {**gaia, "radius_arcsec": 2.0}, None) != "eae3fd535446f260"
    assert settings_key("resources/demo/gaia", gaia, "http://127.0.0.1:9000") != "eae3fd535446f260"
