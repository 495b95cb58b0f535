"""Sample sources against loopback SkyServer, NED, VizieR, SIMBAD (TAP) and ALeRCE.

astroquery's own code runs unmodified; only base URLs differ (fixtures in tests/servers).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.config import paths as astropy_paths
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, Table

from mwlc.errors import ArchiveError, ConfigError, SampleError
from mwlc.sample.presets import DEFAULT_PRESET
from mwlc.sample.sources import (
    DEFAULT_SERVICES,
    PRESETS,
    SOURCE_NAMES,
    fetch_source,
    source_keys,
)
from mwlc.sample.sources._common import https_host, resolve_services
from mwlc.sample.sources._constraints import constraint_mask, find_column
from mwlc.sample.sources.ned import query_refcode
from mwlc.sample.sources.sdss import HASH_PRIME, _hash_coefficients, sdss_query
from mwlc.sample.sources.simbad import query_bibobj
from mwlc.sample.sources.vizier import parse_sdss_name
from tests.servers.base import LoopbackServer
from tests.servers.sample_data import CLAGN, GREEN_NOTES, NED_PAPERS, SIMBAD_PAPERS
from tests.servers.skyserver import FakeSkyServer

KINDS = {"file", "sdss", "ned_refcode", "papers_list", "vizier", "simbad_bibcode", "ztf_objectid"}


def assert_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["ra", "dec", "label", "origin"]
    assert frame["ra"].dtype == np.float64 and frame["dec"].dtype == np.float64
    assert all(isinstance(v, str) for v in frame["label"])
    assert all(isinstance(v, str) and v for v in frame["origin"])


def positions(indices: list[int]) -> tuple[list[float], list[float]]:
    return [CLAGN[i][1] for i in indices], [CLAGN[i][2] for i in indices]


def by_ra(indices: list[int]) -> list[int]:
    """CLAGN indices in right-ascension order (NED's order when asked, and ours)."""
    return sorted(indices, key=lambda i: (CLAGN[i][1], CLAGN[i][2]))


# -- registry, spec checking ------------------------------------------------------------------
def test_source_names_cover_kinds_presets_and_old_names():
    assert KINDS | set(PRESETS) | {"csv", "paper"} == set(SOURCE_NAMES)
    assert DEFAULT_PRESET == "yang"
    assert set(PRESETS) == {
        "yang",
        "lamassa",
        "ruan",
        "macleod19",
        "sheng",
        "green",
        "lyu",
        "lopeznavas",
        "hon",
        "sanchezsaez",
    }


def test_source_keys_per_kind():
    assert source_keys("sdss") == {"source", "num", "zmin", "zmax", "randomize_z", "seed", "label"}
    assert source_keys("ned_refcode") == {"source", "refcode", "label", "rows", "objects"}
    assert source_keys("papers_list") == {"source", "papers"}
    assert source_keys("vizier") == {
        "source",
        "catalog",
        "table",
        "filters",
        "contains",
        "ra_column",
        "dec_column",
        "name_column",
        "label",
    }
    assert source_keys("simbad_bibcode") == {"source", "bibcode", "label", "rows", "objects"}
    assert source_keys("ztf_objectid") == {"source", "objectids", "label"}
    assert source_keys("file") == {
        "source",
        "path",
        "format",
        "ra_column",
        "dec_column",
        "coord_column",
        "label",
        "label_column",
        "frame",
        "unit",
    }
    assert source_keys("Sheng") == source_keys("ned_refcode")
    assert source_keys("macleod19") == source_keys("vizier")
    assert {"csv_path", "ra_colname", "dec_colname", "path"} <= source_keys("csv")
    with pytest.raises(SampleError, match="did you mean 'sheng'"):
        source_keys("shng")


def test_unknown_source_has_did_you_mean_and_lists_known():
    with pytest.raises(SampleError) as err:
        fetch_source({"source": "lamasa"}, {})
    message = str(err.value)
    assert "unknown sample source 'lamasa'" in message
    assert "did you mean 'lamassa'?" in message
    assert "known sources: csv, file, green" in message


def test_unknown_key_names_key_kind_and_suggestion():
    with pytest.raises(SampleError) as err:
        fetch_source({"source": "sdss", "zmxa": 3}, {})
    message = str(err.value)
    assert "source 'sdss': unknown key 'zmxa' (did you mean 'zmax'?)" in message
    assert "allowed keys: label, num, randomize_z, seed, source, zmax, zmin" in message


def test_missing_required_key_and_missing_source():
    with pytest.raises(SampleError, match="source 'ned_refcode': missing required key 'refcode'"):
        fetch_source({"source": "ned_refcode", "label": "x"}, {})
    with pytest.raises(SampleError, match="has no 'source' key"):
        fetch_source({"refcode": "2018ApJ...862..109Y"}, {})


def test_preset_rejects_keys_of_other_kinds():
    with pytest.raises(
        SampleError,
        match=r"source 'yang' \(a preset of 'ned_refcode'\): "
        r"unknown key 'num'",
    ):
        fetch_source({"source": "yang", "num": 3}, {})


def test_ill_typed_values_are_sample_errors():
    with pytest.raises(SampleError, match="key 'num' must be an integer"):
        fetch_source({"source": "sdss", "num": "ten"}, {})
    with pytest.raises(SampleError, match="key 'rows' must be a list of 0-based row indices"):
        fetch_source({"source": "ned_refcode", "refcode": "x", "label": "x", "rows": [-1]}, {})
    with pytest.raises(SampleError, match="zmin=3 must be below zmax=1"):
        fetch_source({"source": "sdss", "zmin": 3, "zmax": 1}, {})
    with pytest.raises(SampleError, match="exceeds the SkyServer limit of 500000"):
        fetch_source({"source": "sdss", "num": 500_001}, {})


# -- services -----------------------------------------------------------------------------------
def test_services_defaults_and_validation():
    assert DEFAULT_SERVICES == {
        "sdss_skyserver_url": "https://skyserver.sdss.org",
        "ned_url": "https://ned.ipac.caltech.edu",
        "vizier_url": "https://vizier.cds.unistra.fr",
        "simbad_url": "https://simbad.cds.unistra.fr/simbad/sim-tap",
        "alerce_url": "https://api.alerce.online/ztf/v1",
        "timeout_s": 60,
        "retries": 3,
        "retry_backoff_s": 10,
    }
    resolved = resolve_services({"retries": 0, "other_service_url": "x"})
    assert resolved.policy.attempts == 1 and resolved.policy.timeout_s == 60
    for bad in ({"timeout_s": 0}, {"retries": -1}, {"retries": 1.5}, {"retry_backoff_s": "2"}):
        with pytest.raises(ConfigError, match=f"services.{next(iter(bad))}"):
            resolve_services(bad)


def test_https_only_services_accept_host_or_url():
    services = resolve_services(
        {"vizier_url": "vizier.cds.unistra.fr", "simbad_url": "https://127.0.0.1:8443/"}
    )
    assert https_host(services, "vizier_url") == "vizier.cds.unistra.fr"
    assert https_host(services, "simbad_url", path="/simbad/sim-tap") == "127.0.0.1:8443"
    for bad in (
        {"simbad_url": "http://127.0.0.1:80/simbad/sim-tap"},
        {"simbad_url": "https://simbad.cds.unistra.fr/tap"},
    ):
        with pytest.raises(ConfigError, match="services.simbad_url"):
            fetch_source({"source": "lopeznavas"}, bad)


# -- file ---------------------------------------------------------------------------------------
def test_file_csv_defaults(tmp_path: Path):
    path = tmp_path / "my.csv"
    path.write_text("ra,dec,label\n10.5,-3.25,A\n200.0,45.0,B\nnan,100.0,C\n")
    frame = fetch_source({"source": "file", "path": str(path)}, {})
    assert_contract(frame)
    assert frame["ra"].tolist()[:2] == [10.5, 200.0] and np.isnan(frame["ra"][2])
    assert frame["dec"].tolist() == [-3.25, 45.0, 100.0]  # not range-checked here
    assert frame["label"].tolist() == ["A", "B", "C"]
    assert frame["origin"].tolist() == [f"file {path} row {i}" for i in (1, 2, 3)]


def test_file_custom_columns_fixed_label_and_format_override(tmp_path: Path):
    path = tmp_path / "targets.txt"
    path.write_text("name,RAdeg,DEdeg\nx,1.0,2.0\ny,3.0,4.0\n")
    frame = fetch_source(
        {
            "source": "FILE",
            "path": str(path),
            "format": "csv",
            "ra_column": "RAdeg",
            "dec_column": "DEdeg",
            "label": "mine",
        },
        {},
    )
    assert frame["ra"].tolist() == [1.0, 3.0] and frame["dec"].tolist() == [2.0, 4.0]
    assert frame["label"].tolist() == ["mine", "mine"]


def test_file_ecsv_with_skycoord_like_original_object_sample(tmp_path: Path):
    path = tmp_path / "object_sample.ecsv"
    coords = SkyCoord([CLAGN[0][1], CLAGN[1][1]] * u.deg, [CLAGN[0][2], CLAGN[1][2]] * u.deg)
    Table({"objectid": [1, 2], "coord": coords, "label": ["Yang 18", "Ruan 16"]}).write(path)
    frame = fetch_source({"source": "file", "path": str(path)}, {})
    np.testing.assert_allclose(frame["ra"], [CLAGN[0][1], CLAGN[1][1]], atol=1e-9)
    np.testing.assert_allclose(frame["dec"], [CLAGN[0][2], CLAGN[1][2]], atol=1e-9)
    assert frame["label"].tolist() == ["Yang 18", "Ruan 16"]
    galactic = tmp_path / "galactic.ecsv"
    Table({"pos": coords.galactic, "label": ["a", "b"]}).write(galactic)
    frame = fetch_source({"source": "file", "path": str(galactic), "coord_column": "pos"}, {})
    np.testing.assert_allclose(frame["ra"], coords.ra.deg, atol=1e-9)


def test_file_parquet(tmp_path: Path):
    path = tmp_path / "s.parquet"
    pd.DataFrame({"ra": [1.5, 2.5], "dec": [-1.0, 1.0], "label": ["p", "q"]}).to_parquet(path)
    frame = fetch_source({"source": "file", "path": str(path)}, {})
    assert frame["ra"].tolist() == [1.5, 2.5] and frame["label"].tolist() == ["p", "q"]
    assert frame["origin"].tolist() == [f"file {path} row 1", f"file {path} row 2"]


def test_file_frame_and_unit_conversion(tmp_path: Path):
    target = SkyCoord(CLAGN[4][1] * u.deg, CLAGN[4][2] * u.deg)
    gal = tmp_path / "gal.csv"
    gal.write_text(f"l,b\n{float(target.galactic.l.deg)!r},{float(target.galactic.b.deg)!r}\n")
    frame = fetch_source(
        {
            "source": "file",
            "path": str(gal),
            "ra_column": "l",
            "dec_column": "b",
            "frame": "galactic",
            "label": "g",
        },
        {},
    )
    assert frame["ra"][0] == pytest.approx(target.ra.deg, abs=1e-9)
    assert frame["dec"][0] == pytest.approx(target.dec.deg, abs=1e-9)
    sexa = tmp_path / "sexa.csv"
    sexa.write_text("ra,dec\n02:26:52.24,-00:39:16.5\n")
    frame = fetch_source(
        {"source": "file", "path": str(sexa), "unit": ["hourangle", "deg"], "label": "s"}, {}
    )
    assert (frame["ra"][0], frame["dec"][0]) == pytest.approx(
        parse_sdss_name("J022652.24-003916.5"), abs=1e-9
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("ra,dec\n02:26:52.24,-00:39:16.5\nnot,aposition\n")
    with pytest.raises(SampleError, match=f"file '{bad}' row 2: cannot read"):
        fetch_source({"source": "file", "path": str(bad), "unit": ["hourangle", "deg"], "label": "s"}, {})


def test_file_units_declared_in_an_ecsv_are_honoured(tmp_path: Path):
    """Columns an ECSV declares in rad or hourangle were read as degrees, silently."""
    target = SkyCoord(68.75 * u.deg, -17.19 * u.deg)
    declared = tmp_path / "declared.ecsv"
    Table({"ra": [target.ra.rad] * u.rad, "dec": [target.dec.rad] * u.rad, "label": ["r"]}).write(declared)
    frame = fetch_source({"source": "file", "path": str(declared)}, {})
    assert (frame["ra"][0], frame["dec"][0]) == pytest.approx((68.75, -17.19), abs=1e-9)
    hours = tmp_path / "hours.ecsv"
    Table({"ra": [10.5] * u.hourangle, "dec": [2.0] * u.deg, "label": ["h"]}).write(hours)
    assert fetch_source({"source": "file", "path": str(hours)}, {})["ra"][0] == pytest.approx(157.5)
    agreeing = {"source": "file", "path": str(hours), "unit": ["hourangle", "deg"]}
    assert fetch_source(agreeing, {})["ra"][0] == pytest.approx(157.5)
    with pytest.raises(
        SampleError, match=r"'ra' \(ra_column\) is declared in hourangle in the file, but key"
    ):
        fetch_source({**agreeing, "unit": ["rad", "deg"]}, {})
    magnitudes = tmp_path / "mag.ecsv"
    Table({"ra": [1.0] * u.mag, "dec": [2.0] * u.deg, "label": ["m"]}).write(magnitudes)
    with pytest.raises(SampleError, match=r"column 'ra' \(ra_column\) is in mag, not an angle"):
        fetch_source({"source": "file", "path": str(magnitudes)}, {})


def test_file_sexagesimal_ra_needs_its_unit_and_hours_are_flagged(tmp_path: Path, caplog):
    sexa = tmp_path / "sexa.csv"
    sexa.write_text("ra,dec,label\n02:26:52.24,-00:39:16.5,a\n10 20 30.5,+20 10 05,b\n")
    with pytest.raises(SampleError, match=r"row 1: ra '02:26:52.24' \(column 'ra'\) is sexagesimal and key"):
        fetch_source({"source": "file", "path": str(sexa)}, {})  # was: 2.45 deg, not 36.72
    as_degrees = fetch_source({"source": "file", "path": str(sexa), "unit": ["deg", "deg"]}, {})
    assert as_degrees["ra"][0] == pytest.approx(2 + 26 / 60 + 52.24 / 3600)
    spelled = tmp_path / "spelled.csv"
    spelled.write_text("ra,dec,label\n02h26m52.24s,-00d39m16.5s,a\n")
    assert fetch_source({"source": "file", "path": str(spelled)}, {})["ra"][0] == pytest.approx(36.7176667)
    hours = tmp_path / "hours.csv"
    hours.write_text("ra,dec,label\n" + "".join(f"{h + 0.5},{h},x\n" for h in range(12)))
    with caplog.at_level(logging.WARNING, logger="mwlc.sample.sources"):
        fetch_source({"source": "file", "path": str(hours)}, {})
    assert "all 12 right ascensions are below 24 deg: if they are hours, set unit" in caplog.text


def test_file_csv_saved_by_excel_with_a_byte_order_mark(tmp_path: Path):
    path = tmp_path / "excel.csv"
    path.write_bytes("ra,dec,label\n1.5,2.5,é\n".encode("utf-8-sig"))
    frame = fetch_source({"source": "file", "path": str(path)}, {})
    assert frame["ra"].tolist() == [1.5] and frame["label"].tolist() == ["é"]


def test_file_old_csv_name_and_keys(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "old.csv"
    path.write_text("RA,DEC\n5.0,6.0\n")
    with caplog.at_level(logging.WARNING, logger="mwlc.sample.sources"):
        frame = fetch_source(
            {
                "source": "csv",
                "csv_path": str(path),
                "ra_colname": "RA",
                "dec_colname": "DEC",
                "label": "old",
            },
            {},
        )
    assert frame["ra"].tolist() == [5.0] and frame["label"].tolist() == ["old"]
    assert "sample source 'csv' is deprecated: use source 'file', csv_path -> path" in caplog.text


def test_file_missing_columns_name_file_column_and_available(tmp_path: Path):
    path = tmp_path / "cols.csv"
    path.write_text("RA,Dec,name\n1,2,a\n")
    with pytest.raises(SampleError) as err:
        fetch_source({"source": "file", "path": str(path)}, {})
    assert str(err.value) == (
        f"file '{path}': no column 'ra' (key 'ra_column'); available columns: RA, Dec, name"
    )
    with pytest.raises(SampleError, match="no column 'dec' \\(key 'dec_column'\\)"):
        fetch_source({"source": "file", "path": str(path), "ra_column": "RA"}, {})
    with pytest.raises(
        SampleError, match=f"file '{path}': no column 'label' .*available columns: RA, Dec, name"
    ):
        fetch_source({"source": "file", "path": str(path), "ra_column": "RA", "dec_column": "Dec"}, {})
    with pytest.raises(SampleError, match="column 'coord' \\(key 'coord_column'\\) is not a SkyCoord column"):
        fetch_source({"source": "file", "path": str(path), "coord_column": "coord"}, {})


def test_file_unreadable_files_are_named(tmp_path: Path):
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text("ra,dec,label\n1,2,a\n", encoding="utf-16")
    with pytest.raises(SampleError, match=f"'{utf16}' is not a UTF-8 text CSV file"):
        fetch_source({"source": "file", "path": str(utf16)}, {})
    garbage = tmp_path / "garbage.ecsv"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SampleError, match=f"'{garbage}' is not a UTF-8 text ECSV file"):
        fetch_source({"source": "file", "path": str(garbage)}, {})
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SampleError, match=f"cannot read '{broken}' as PARQUET"):
        fetch_source({"source": "file", "path": str(broken)}, {})
    with pytest.raises(SampleError, match="not found"):
        fetch_source({"source": "file", "path": str(tmp_path / "nope.csv")}, {})
    with pytest.raises(SampleError, match="cannot tell the format of"):
        fetch_source({"source": "file", "path": str(tmp_path / "x.dat")}, {})
    with pytest.raises(SampleError, match="unknown format 'fits'"):
        fetch_source({"source": "file", "path": str(utf16), "format": "fits"}, {})


# -- sdss ---------------------------------------------------------------------------------------
def eligible(specobj: Table, zmin: float, zmax: float) -> pd.DataFrame:
    frame = specobj.to_pandas()
    keep = (frame["class"] == "QSO") & (frame["zWarning"] == 0) & (frame["z"] > zmin) & (frame["z"] < zmax)
    return frame[keep]


def python_hash(frame: pd.DataFrame, seed: int) -> pd.Series:
    """The seeded ORDER BY of sdss.py, evaluated with Python integers."""
    a, b = _hash_coefficients(seed)
    p = HASH_PRIME
    x = ((frame["plate"].astype(object) * 1024 + frame["fiberID"]) * 100000 + frame["mjd"]) % p
    return ((x * a + b) % p) * x % p


def test_sdss_lowest_redshift(sample_services, sdss_skyserver, sample_source_data):
    frame = fetch_source({"source": "sdss", "num": 7, "zmin": 0.5, "zmax": 2.5}, sample_services)
    assert_contract(frame)
    expected = (
        eligible(sample_source_data.specobj, 0.5, 2.5).sort_values(["z", "plate", "mjd", "fiberID"]).head(7)
    )
    np.testing.assert_array_equal(frame["ra"], expected["ra"])
    np.testing.assert_array_equal(frame["dec"], expected["dec"])
    assert set(frame["label"]) == {"SDSS"}
    assert frame["origin"].tolist() == [
        f"sdss DR16 SpecObj row {i} specObjID {sid}" for i, sid in enumerate(expected["specObjID"], start=1)
    ]
    ((release, sql),) = sdss_skyserver.app.queries
    assert release == 16
    assert sql.strip() == (
        "SELECT TOP 7 specObjID, ra, dec, z FROM SpecObj WHERE class = 'QSO' "
        "AND zWarning = 0 AND z > 0.5 AND z < 2.5 ORDER BY z, plate, mjd, fiberID"
    )


def test_sdss_lowest_redshift_ties_cut_at_the_same_spectra(sample_services):
    """``TOP n ... ORDER BY z`` with equal redshifts must not depend on the server's row order."""
    specobj = Table(
        {
            "specObjID": [11, 12, 13, 14],
            "plate": [500, 300, 400, 300],
            "mjd": [51000, 51000, 51000, 50999],
            "fiberID": [1, 2, 3, 4],
            "class": ["QSO"] * 4,
            "zWarning": [0] * 4,
            "z": [0.5, 0.5, 0.5, 0.9],
            "ra": [1.0, 2.0, 3.0, 4.0],
            "dec": [0.0] * 4,
        }
    )
    answers = []
    for order in ([0, 1, 2, 3], [2, 3, 0, 1]):
        with LoopbackServer(FakeSkyServer({"SpecObj": specobj[order]})) as server:
            services = {**sample_services, "sdss_skyserver_url": server.url}
            answers.append(fetch_source({"source": "sdss", "num": 2, "zmax": 1}, services))
    pd.testing.assert_frame_equal(answers[0], answers[1])
    assert answers[0]["ra"].tolist() == [2.0, 3.0]  # z = 0.5 at plates 300, 400 (not 500)


def test_sdss_ids_above_int64_survive(sample_services, sample_source_data):
    frame = fetch_source({"source": "sdss", "num": 400}, sample_services)
    big = [o for o in frame["origin"] if int(o.rsplit(" ", 1)[1]) > 2**63]
    assert big, "fixture must hold specObjIDs above int64, as DR16 does"
    expected = {str(v) for v in sample_source_data.specobj["specObjID"]}
    assert {o.rsplit(" ", 1)[1] for o in frame["origin"]} <= expected


def test_sdss_seeded_randomization_is_reproducible(sample_services, sdss_skyserver, sample_source_data):
    spec = {"source": "sdss", "num": 12, "zmin": 0.2, "zmax": 4, "randomize_z": True, "seed": 7}
    first = fetch_source(spec, sample_services)
    again = fetch_source(spec, sample_services)
    other = fetch_source({**spec, "seed": 8}, sample_services)
    pd.testing.assert_frame_equal(first, again)
    assert set(first["origin"]) != set(other["origin"])
    pool = eligible(sample_source_data.specobj, 0.2, 4)
    expected = pool.assign(h=python_hash(pool, 7)).sort_values(["h", "plate", "mjd", "fiberID"])
    np.testing.assert_array_equal(first["ra"], expected["ra"].head(12))
    lowest = pool.sort_values("z").head(12)
    assert set(first["ra"]) != set(lowest["ra"])
    sql = sdss_skyserver.app.queries[0][1]
    assert "WHERE class = 'QSO' AND zWarning = 0 AND z > 0.2 AND z < 4 ORDER BY (((" in sql
    assert "NEWID" not in sql and sql.rstrip().endswith("plate, mjd, fiberID")


def test_sdss_hash_stays_in_bigint():
    assert "ORDER BY z" not in sdss_query(3, 0, 10, True, 0) and "ORDER BY z," in sdss_query(
        3, 0, 10, False, 0
    )
    for seed in range(50):
        a, b = _hash_coefficients(seed)
        assert 1 <= a < HASH_PRIME and 0 <= b < HASH_PRIME
        k_max = (16383 * 1024 + 1000) * 100000 + 99999
        assert k_max < 2**63
        x = HASH_PRIME - 1
        assert (x * a + b) < 2**63 and (HASH_PRIME - 1) * x < 2**63


def test_sdss_empty_results(sample_services, sdss_skyserver):
    frame = fetch_source({"source": "sdss", "num": 0}, sample_services)
    assert_contract(frame) if len(frame) else None
    assert list(frame.columns) == ["ra", "dec", "label", "origin"] and len(frame) == 0
    assert sdss_skyserver.app.queries == []  # num <= 0 skips the query
    frame = fetch_source({"source": "sdss", "num": 5, "zmin": 6.5, "zmax": 7}, sample_services)
    assert len(frame) == 0 and list(frame.columns) == ["ra", "dec", "label", "origin"]
    assert frame["ra"].dtype == np.float64


# -- NED ----------------------------------------------------------------------------------------
def test_ned_refcode_values_and_origins(sample_services, ned_service):
    refcode = "2022MNRAS.511...54H"
    frame = fetch_source({"source": "ned_refcode", "refcode": refcode, "label": "Hon 22"}, sample_services)
    assert_contract(frame)
    ras, decs = positions(NED_PAPERS[refcode])
    assert frame["ra"].tolist() == ras and frame["dec"].tolist() == decs
    assert frame["origin"].tolist() == [
        f"ned_refcode {refcode} row {n} ({CLAGN[i][0]})" for n, i in enumerate(NED_PAPERS[refcode], start=1)
    ]
    assert ned_service.app.refcodes == [refcode]


def test_ned_rows_selection_and_errors(sample_services, ned_service):
    refcode = "2018ApJ...862..109Y"
    frame = fetch_source(
        {"source": "ned_refcode", "refcode": refcode, "label": "Y", "rows": [3, 1]}, sample_services
    )
    assert frame["ra"].tolist() == positions([NED_PAPERS[refcode][3], NED_PAPERS[refcode][1]])[0]
    assert [o.split(" (")[0] for o in frame["origin"]] == [
        f"ned_refcode {refcode} row 4",
        f"ned_refcode {refcode} row 2",
    ]
    with pytest.raises(
        SampleError,
        match=r"rows \[4\] requested \(0-based\) but the service "
        r"answered 4 row\(s\)",
    ):
        fetch_source(
            {"source": "ned_refcode", "refcode": refcode, "label": "Y", "rows": [0, 4]}, sample_services
        )
    ned_service.reset()
    with pytest.raises(ArchiveError) as err:
        fetch_source(
            {"source": "ned_refcode", "refcode": "2099Fake..999..999Z", "label": "F"}, sample_services
        )
    assert "NED (refcode 2099Fake..999..999Z)" in str(err.value)
    assert "answered with an error after 1 attempt(s)" in str(err.value)
    assert "not found" in str(err.value)
    assert len(ned_service.requests) == 1  # an error answer is not retried


def test_papers_list_and_old_paper_name(sample_services):
    frame = fetch_source(
        {
            "source": "papers_list",
            "papers": [
                {"refcode": "2016ApJ...826..188R", "label": "Ruan 16", "rows": [2]},
                {"refcode": "2019A&A...627A..33D", "label": "Cicco19"},
            ],
        },
        sample_services,
    )
    assert frame["label"].tolist() == ["Ruan 16", "Cicco19", "Cicco19"]
    assert frame["ra"].tolist() == positions([7, 10, 12])[0]
    assert frame["origin"][0].startswith("ned_refcode 2016ApJ...826..188R row 3 ")
    old = fetch_source(
        {"source": "paper", "paper_link": "2019A&A...627A..33D", "label": "Cicco19"}, sample_services
    )  # NED's legacy RA(deg) header
    pd.testing.assert_frame_equal(old, frame.iloc[1:].reset_index(drop=True))
    with pytest.raises(SampleError, match="source 'papers_list' paper 1: unknown key 'refcod'"):
        fetch_source(
            {
                "source": "papers_list",
                "papers": [{"refcode": "2016ApJ...826..188R", "label": "R"}, {"refcod": "x", "label": "y"}],
            },
            sample_services,
        )
    assert len(fetch_source({"source": "papers_list", "papers": []}, sample_services)) == 0


# -- VizieR -------------------------------------------------------------------------------------
def test_vizier_server_side_filters(sample_services, vizier_service, sample_source_data):
    frame = fetch_source(
        {
            "source": "vizier",
            "catalog": "J/ApJ/874/8/table2",
            "label": "M",
            "filters": {"Nsigma": ">=4", "CLQ?": "1"},
        },
        sample_services,
    )
    table = sample_source_data.vizier_tables["J/ApJ/874/8/table2"]
    keep = [0, 4]  # CLQ?=1 with Nsigma 5.0 and 4.2
    assert frame["ra"].tolist() == [table["_RA"][i] for i in keep]
    assert frame["origin"].tolist() == ["vizier J/ApJ/874/8/table2 row 1", "vizier J/ApJ/874/8/table2 row 2"]
    ((options, constraints),) = vizier_service.app.scripts
    assert options["-source"] == "J/ApJ/874/8/table2" and options["-out.max"] == "unlimited"
    assert constraints == {"Nsigma": ">=4", "CLQ?": "1"}


def test_vizier_table_choice_and_errors(sample_services):
    spec = {"source": "vizier", "catalog": "J/ApJ/933/180", "label": "G"}
    by_name = fetch_source(
        {**spec, "table": "table2", "ra_column": "MJD", "dec_column": "MJD"}, sample_services
    )
    assert by_name["ra"].tolist() == [58000.0]
    with pytest.raises(SampleError, match=r"table 5 requested but VizieR answered 2 table\(s\)"):
        fetch_source({**spec, "table": 5}, sample_services)
    with pytest.raises(
        SampleError,
        match="no column 'RAJ2000' \\(key 'ra_column'\\); available columns: _RA, _DE, SDSS, Notes",
    ):
        fetch_source({**spec, "ra_column": "RAJ2000"}, sample_services)
    with pytest.raises(SampleError, match="key 'filters' must map column names to strings"):
        fetch_source({**spec, "filters": {"Nsigma": 3}}, sample_services)
    empty = fetch_source(
        {"source": "vizier", "catalog": "J/ApJ/874/8/table2", "label": "M", "filters": {"Nsigma": ">100"}},
        sample_services,
    )
    assert len(empty) == 0 and list(empty.columns) == ["ra", "dec", "label", "origin"]


def test_parse_sdss_name():
    assert parse_sdss_name("SDSS J022652.24-003916.5") == pytest.approx(
        (15 * (2 + 26 / 60 + 52.24 / 3600), -(39 / 60 + 16.5 / 3600))
    )
    assert parse_sdss_name("233602.98+001728.7")[1] == pytest.approx(17 / 60 + 28.7 / 3600)
    assert np.isnan(parse_sdss_name("Mrk 590")[0])


# -- SIMBAD -------------------------------------------------------------------------------------
def test_simbad_bibcode(sample_services, simbad_service):
    bibcode = "2022MNRAS.513L..57L"
    frame = fetch_source({"source": "simbad_bibcode", "bibcode": bibcode, "label": "LN"}, sample_services)
    assert_contract(frame)
    assert sorted(frame["ra"]) == sorted(positions(SIMBAD_PAPERS[bibcode])[0])
    names = [o.split(" (")[1].rstrip(")") for o in frame["origin"]]
    assert set(names) == {CLAGN[i][0] for i in SIMBAD_PAPERS[bibcode]}
    assert [o.split(" (")[0] for o in frame["origin"]] == [
        f"simbad_bibcode {bibcode} row {n}" for n in range(1, 7)
    ]
    (adql,) = simbad_service.app.queries
    assert "JOIN has_ref" in adql and f"bibcode = '{bibcode}'" in adql
    assert [r.path for r in simbad_service.requests] == [
        "/simbad/sim-tap/capabilities",
        "/simbad/sim-tap/sync",
    ]
    picked = fetch_source(
        {"source": "simbad_bibcode", "bibcode": bibcode, "label": "LN", "rows": [5, 0]}, sample_services
    )
    assert picked["origin"].tolist() == [frame["origin"][5], frame["origin"][0]]


# -- ALeRCE -------------------------------------------------------------------------------------
def test_ztf_objectid_defaults_and_order(sample_services, alerce_service, sample_source_data):
    frame = fetch_source({"source": "ztf_objectid"}, sample_services)
    assert_contract(frame)
    objects = sample_source_data.ztf_objects
    assert frame["ra"].tolist() == [objects["ZTF18aabtxvd"][0], objects["ZTF18aahqkbt"][0]]
    assert frame["label"].tolist() == ["ZTF-Objname"] * 2
    assert frame["origin"].tolist() == ["ztf_objectid ZTF18aabtxvd", "ztf_objectid ZTF18aahqkbt"]
    assert alerce_service.app.queries == [["ZTF18aabtxvd", "ZTF18aahqkbt"]]
    assert alerce_service.requests[0].path == "/ztf/v1/objects/"
    reverse = fetch_source(
        {"source": "ztf_objectid", "label": "Z", "objectids": ["ZTF18aahqkbt", "ZTF18aabtxvd"]},
        sample_services,
    )
    assert reverse["ra"].tolist() == frame["ra"].tolist()[::-1]


def test_ztf_objectid_chunks_and_pages(sample_services, alerce_service):
    ids = [f"ZTF19aa{n:05d}" for n in range(130)]
    alerce_service.app.max_page_size = 25
    try:
        frame = fetch_source({"source": "ztf_objectid", "objectids": ids}, sample_services)
    finally:
        alerce_service.app.max_page_size = 1000
    assert frame["origin"].tolist() == [f"ztf_objectid {i}" for i in ids]
    assert frame["ra"].tolist() == [10.0 + n * 0.01 for n in range(130)]
    assert len(alerce_service.requests) == 4 + 2  # 100 ids in 4 pages, then 30 in 2
    assert {len(q) for q in alerce_service.app.queries} == {100, 30}


def test_ztf_objectid_unknown_id(sample_services):
    with pytest.raises(SampleError, match="ALeRCE .* knows no object ZTF99zzzzzzz; check the ids"):
        fetch_source(
            {"source": "ztf_objectid", "objectids": ["ZTF18aabtxvd", "ZTF99zzzzzzz"]}, sample_services
        )


# -- presets ------------------------------------------------------------------------------------
NED_PRESETS = {  # preset -> (refcode, label, rows of the RA-sorted answer, or object names)
    "yang": ("2018ApJ...862..109Y", "Yang 18", None),
    "lamassa": ("2015ApJ...800..144L", "LaMassa 15", ["SDSS J015957.64+003310.5"]),
    "ruan": ("2016ApJ...826..188R", "Ruan 16", None),
    "sheng": ("2020ApJ...889...46S", "Sheng 20", [0, 1, 3]),
    "lyu": ("2022ApJ...927..227L", "Lyu 22", None),
    "hon": ("2022MNRAS.511...54H", "Hon 22", None),
    "sanchezsaez": ("2021AJ....162..206S", "Sanchez-Saez 21", None),
}


@pytest.mark.parametrize("preset", sorted(NED_PRESETS))
def test_ned_presets(preset, sample_services, ned_service):
    refcode, label, selection = NED_PRESETS[preset]
    frame = fetch_source({"source": preset.upper()}, sample_services)
    assert_contract(frame)
    answer = by_ra(NED_PAPERS[refcode])
    if selection and isinstance(selection[0], str):
        rows = [next(r for r, i in enumerate(answer) if CLAGN[i][0] == name) for name in selection]
    else:
        rows = selection or list(range(len(answer)))
    assert (frame["ra"].tolist(), frame["dec"].tolist()) == positions([answer[r] for r in rows])
    assert set(frame["label"]) == {label}
    assert frame["origin"].tolist() == [
        f"ned_refcode {refcode} row {r + 1} ({CLAGN[answer[r]][0]})" for r in rows
    ]
    assert ned_service.app.refcodes == [refcode]


@pytest.mark.parametrize("preset", ["lamassa", "sheng", "sanchezsaez", "lopeznavas"])
def test_presets_are_the_same_whatever_order_the_service_answers_in(
    preset, sample_services, ned_service, simbad_service
):
    """NED and SIMBAD promise no order: a reordered answer must select the same objects."""
    want = fetch_source({"source": preset}, sample_services)
    assert len(want) > 0
    for seed in (2, 3):  # both reorder every answer here (see the next test)
        ned_service.app.shuffle_seed = simbad_service.app.shuffle_seed = seed
        pd.testing.assert_frame_equal(fetch_source({"source": preset}, sample_services), want)


def test_the_fakes_really_reorder_their_answers(sample_services, ned_service, simbad_service):
    from astroquery.ipac.ned import Ned

    services = resolve_services(sample_services)
    refcode, bibcode = "2020ApJ...889...46S", "2022MNRAS.513L..57L"
    assert Ned.query_refcode(refcode, get_query_payload=True)["obj_sort"] == "RA or Longitude"
    ras = list(query_refcode(refcode, services)["RA"])
    assert ras == sorted(ras)  # NED's answer in RA order, as asked
    simbad_rows = list(query_bibobj(bibcode, services)["main_id"])
    for seed in (2, 3):
        ned_service.app.shuffle_seed = simbad_service.app.shuffle_seed = seed
        assert list(query_refcode(refcode, services)["RA"]) != ras
        assert list(query_bibobj(bibcode, services)["main_id"]) != simbad_rows


def test_objects_are_selected_by_name(sample_services):
    refcode, bibcode = "2020ApJ...889...46S", "2022MNRAS.513L..57L"
    frame = fetch_source(
        {"source": "ned_refcode", "refcode": refcode, "label": "S", "objects": ["1es 1927+654", "NGC  2617"]},
        sample_services,
    )
    assert frame["ra"].tolist() == positions([12, 10])[0]  # in the order asked, case and spaces ignored
    assert frame["origin"].tolist() == [
        f"ned_refcode {refcode} row 4 (1ES 1927+654)",
        f"ned_refcode {refcode} row 2 (NGC 2617)",
    ]
    simbad = fetch_source(
        {"source": "simbad_bibcode", "bibcode": bibcode, "label": "L", "objects": ["Mrk 590"]},
        sample_services,
    )
    assert simbad["ra"].tolist() == positions([9])[0]
    paper = fetch_source(
        {"source": "papers_list", "papers": [{"refcode": refcode, "label": "S", "objects": ["NGC 2617"]}]},
        sample_services,
    )
    assert paper["ra"].tolist() == positions([10])[0]


def test_unknown_object_names_and_double_selection_are_errors(sample_services):
    refcode = "2020ApJ...889...46S"
    spec = {"source": "ned_refcode", "refcode": refcode, "label": "S"}
    with pytest.raises(SampleError) as err:
        fetch_source({**spec, "objects": ["NGC 2617", "Mrk 9999"]}, sample_services)
    assert str(err.value).startswith(
        f"source 'ned_refcode' refcode '{refcode}': object(s) ['Mrk 9999'] requested but not in the "
        "service's answer of 4 object(s) (names compared ignoring case and spaces): "
        "SDSS J012032.19-005502.0, NGC 2617, SDSS J155440.25+362952.0, 1ES 1927+654"
    )
    with pytest.raises(SampleError, match="give 'objects' \\(names\\) or 'rows' \\(indices\\), not both"):
        fetch_source({**spec, "objects": ["NGC 2617"], "rows": [0]}, sample_services)
    with pytest.raises(SampleError, match="key 'objects' must be a list of object names"):
        fetch_source({**spec, "objects": "NGC 2617"}, sample_services)


def test_macleod19_preset(sample_services, vizier_service, sample_source_data):
    frame = fetch_source({"source": "macleod19"}, sample_services)
    table = sample_source_data.vizier_tables["J/ApJ/874/8/table2"]
    keep = [
        i
        for i in range(len(table))
        if table["CLQ?"][i] > 0 and not np.ma.is_masked(table["Nsigma"][i]) and table["Nsigma"][i] > 3
    ]
    assert keep == [0, 4]
    assert frame["ra"].tolist() == [table["_RA"][i] for i in keep]
    assert frame["dec"].tolist() == [table["_DE"][i] for i in keep]
    assert set(frame["label"]) == {"MacLeod 19"}
    ((_, constraints),) = vizier_service.app.scripts
    assert constraints == {"CLQ?": ">0", "Nsigma": ">3"}


def test_macleod19_filters_are_applied_even_if_the_service_ignores_them(
    sample_services, vizier_service, sample_source_data
):
    vizier_service.app.ignore_constraints = True
    frame = fetch_source({"source": "macleod19"}, sample_services)
    table = sample_source_data.vizier_tables["J/ApJ/874/8/table2"]
    assert frame["ra"].tolist() == [table["_RA"][i] for i in (0, 4)]  # CLQ? > 0 and Nsigma > 3
    assert frame["origin"].tolist() == ["vizier J/ApJ/874/8/table2 row 1", "vizier J/ApJ/874/8/table2 row 5"]
    ((_, constraints),) = vizier_service.app.scripts
    assert constraints == {"CLQ?": ">0", "Nsigma": ">3"}  # still asked of the service


def test_vizier_filter_the_answer_cannot_show_is_an_error(sample_services, vizier_service):
    vizier_service.app.ignore_constraints = True
    spec = {"source": "vizier", "catalog": "J/ApJ/874/8/table2", "label": "M", "filters": {"Flag": "=1"}}
    with pytest.raises(SampleError) as err:
        fetch_source(spec, sample_services)
    assert str(err.value).startswith(
        "source 'vizier' table 'J/ApJ/874/8/table2': filter on column 'Flag' cannot be checked, "
        "the answer has no such column; available columns: _RA, _DE, SDSS, z, CLQ?, Nsigma"
    )


def test_vizier_constraints_are_evaluated_as_vizier_does():
    numbers = MaskedColumn([5.0, 2.0, 10.0, 3.0, 4.2, 0.0], mask=[0, 0, 0, 0, 0, 1])
    cases = {
        ">3": [1, 0, 1, 0, 1, 0],
        ">=3": [1, 0, 1, 1, 1, 0],
        "<3": [0, 1, 0, 0, 0, 0],  # masked never matches
        "<=3": [0, 1, 0, 1, 0, 0],
        "3": [0, 0, 0, 1, 0, 0],
        "=3": [0, 0, 0, 1, 0, 0],
        "!=3": [1, 1, 1, 0, 1, 0],
        "2..4.2": [0, 1, 0, 1, 1, 0],
        ">2 & <10": [1, 0, 0, 1, 1, 0],
    }
    for constraint, want in cases.items():
        assert constraint_mask(numbers, constraint, what="t").tolist() == [bool(w) for w in want], constraint
    notes = MaskedColumn(["CLQ", "", "CLQ; turn-on", "QSO", "x", "candidate CLQ"], mask=[0, 0, 0, 0, 1, 0])
    assert constraint_mask(notes, "*CLQ*", what="t").tolist() == [True, False, True, False, False, True]
    assert constraint_mask(notes, "=QSO", what="t").tolist() == [False, False, False, True, False, False]
    assert constraint_mask(notes, "!=QSO", what="t").tolist() == [True, True, True, False, False, True]
    with pytest.raises(SampleError, match="'abc' is not a number, but the column is numeric"):
        constraint_mask(numbers, ">abc", what="t")
    with pytest.raises(SampleError, match="cannot be checked on the answer"):
        constraint_mask(numbers, "1,2,3", what="t")
    with pytest.raises(SampleError, match="'>' compares numbers, but the column holds text"):
        constraint_mask(notes, ">CLQ", what="t")
    table = Table({"CLQ_": [1], "Nsigma": [2.0]})  # older astroquery's name for CLQ?
    assert [find_column(table, c) for c in ("CLQ?", "Nsigma", "Other")] == ["CLQ_", "Nsigma", None]


def test_green_preset_parses_names_and_keeps_clq_notes(sample_services):
    frame = fetch_source({"source": "green"}, sample_services)
    rows = [i for i, note in enumerate(GREEN_NOTES) if note and "CLQ" in note]
    idx = [7, 8, 2, 3, 4, 6]
    truth = SkyCoord([CLAGN[idx[i]][1] for i in rows] * u.deg, [CLAGN[idx[i]][2] for i in rows] * u.deg)
    got = SkyCoord(frame["ra"].to_numpy() * u.deg, frame["dec"].to_numpy() * u.deg)
    assert (got.separation(truth) < 0.2 * u.arcsec).all()  # names truncate to 0.01 s / 0.1"
    assert [o.split(" (")[0] for o in frame["origin"]] == [
        f"vizier J/ApJ/933/180/table1 row {i + 1}" for i in rows
    ]
    assert set(frame["label"]) == {"Green 22"}


def test_lopeznavas_preset_keeps_first_four_rows_in_ra_order(sample_services):
    everything = fetch_source(
        {"source": "simbad_bibcode", "bibcode": "2022MNRAS.513L..57L", "label": "Lopez-Navas 22"},
        sample_services,
    )
    frame = fetch_source({"source": "lopeznavas"}, sample_services)
    pd.testing.assert_frame_equal(frame, everything.head(4))
    assert frame["ra"].tolist() == positions(by_ra(SIMBAD_PAPERS["2022MNRAS.513L..57L"])[:4])[0]


def test_preset_override_label_and_selection(sample_services):
    frame = fetch_source({"source": "Sheng", "label": "CLAGN", "rows": [2]}, sample_services)
    assert frame["label"].tolist() == ["CLAGN"]
    assert frame["ra"].tolist() == positions([by_ra(NED_PAPERS["2020ApJ...889...46S"])[2]])[0]
    named = fetch_source({"source": "sheng", "objects": ["NGC 2617"]}, sample_services)  # replaces rows
    assert named["ra"].tolist() == positions([10])[0]
    rows = fetch_source({"source": "lamassa", "rows": [1, 2]}, sample_services)  # replaces objects
    assert rows["ra"].tolist() == positions([11, 9])[0]


# -- retries, timeouts, failures ----------------------------------------------------------------
def test_retry_then_success_sdss(sample_services, sdss_skyserver):
    sdss_skyserver.fail_next(2, status=503)
    frame = fetch_source({"source": "sdss", "num": 3}, sample_services)
    assert len(frame) == 3
    assert len(sdss_skyserver.requests) == 3


def test_retry_then_success_vizier_simbad(sample_services, vizier_service, simbad_service):
    vizier_service.fail_next(1, status=500)
    simbad_service.fail_next(1, status=502)
    assert len(fetch_source({"source": "macleod19"}, sample_services)) == 2
    assert len(fetch_source({"source": "lopeznavas"}, sample_services)) == 4
    assert len(vizier_service.requests) == 2
    assert len(simbad_service.requests) == 3  # failed capabilities, capabilities, sync


def test_always_failing_service_raises_archive_error(sample_services, ned_service):
    ned_service.fail_always(status=503)
    with pytest.raises(ArchiveError) as err:
        fetch_source({"source": "yang"}, sample_services)
    message = str(err.value)
    assert message.startswith(
        f"NED (refcode 2018ApJ...862..109Y) ({ned_service.url}/cgi-bin/objsearch) failed after 3 attempt(s)"
    )
    assert "503" in message
    assert len(ned_service.requests) == 3


def test_backoff_is_exponential(sample_services, alerce_service):
    alerce_service.fail_always(status=503)
    start = time.monotonic()
    with pytest.raises(ArchiveError, match="ALeRCE"):
        fetch_source({"source": "ztf_objectid"}, {**sample_services, "retry_backoff_s": 0.2})
    assert time.monotonic() - start >= 0.2 + 0.4
    assert len(alerce_service.requests) == 3


def test_client_errors_are_not_retried(sample_services, alerce_service):
    alerce_service.fail_always(status=400, body='{"detail": "bad oid"}')
    with pytest.raises(
        ArchiveError,
        match=r"answered with an error after 1 attempt\(s\): "
        r"HTTPError: 400",
    ):
        fetch_source({"source": "ztf_objectid"}, sample_services)
    assert len(alerce_service.requests) == 1


def test_connection_refused_names_service_and_url(sample_services):
    class Nothing:
        def handle(self, request):  # pragma: no cover - never reached
            raise AssertionError

    dead = LoopbackServer(Nothing())
    url = dead.url
    dead.stop()
    with pytest.raises(ArchiveError) as err:
        fetch_source({"source": "ztf_objectid"}, {**sample_services, "alerce_url": url + "/ztf/v1"})
    assert str(err.value).startswith(f"ALeRCE ({url}/ztf/v1/objects/) failed after 3 attempt(s)")
    assert "ConnectionError" in str(err.value)


def test_timeout_applies_to_pyvo_requests(sample_services, simbad_service):
    simbad_service.delay_next(10, seconds=3)
    start = time.monotonic()
    with pytest.raises(ArchiveError) as err:
        fetch_source({"source": "lopeznavas"}, {**sample_services, "timeout_s": 0.3, "retries": 1})
    assert time.monotonic() - start < 2.5  # 2 attempts x 2 capabilities URLs x 0.3 s
    assert str(err.value).startswith("SIMBAD (bibcode 2022MNRAS.513L..57L)")
    assert "failed after 2 attempt(s)" in str(err.value)
    assert "Timeout" in str(err.value) or "timed out" in str(err.value)


# -- logging, cache -----------------------------------------------------------------------------
def test_one_log_line_per_source(sample_services, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO, logger="mwlc.sample.sources"):
        fetch_source({"source": "yang"}, sample_services)
        fetch_source({"source": "sdss", "num": 2}, sample_services)
    lines = [r.getMessage() for r in caplog.records if r.name == "mwlc.sample.sources"]
    assert lines == ["ned_refcode 2018ApJ...862..109Y: 4 rows", "sdss num=2 0<z<10 lowest z: 2 rows"]


def test_nothing_is_cached(sample_services, tmp_path: Path):
    with astropy_paths.set_temp_cache(tmp_path):
        for spec in ({"source": "yang"}, {"source": "sdss", "num": 2}, {"source": "green"}):
            fetch_source(spec, sample_services)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
