"""One factory for the archives' test sources: a case per archive, for tests that treat them alike.

:func:`archive_case` gives, for an archive name, where its offline source is (built by the
archive's own session fixtures, so nothing is built twice), a sample of which some objects have
data, a sample of which none has, and the parameters that make the fetch offline and fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fixtures_hcv import PREFIX as HCV_PREFIX


@dataclass(frozen=True)
class ArchiveCase:
    """An archive's offline source and samples for it.

    Attributes
    ----------
    name : str
        The archive.
    source : str
        Its offline source (local path or loopback URL).
    sample : pandas.DataFrame
        ``objectid, ra, dec, label``: some objects have data.
    unmatched : pandas.DataFrame
        Objects without any data.
    params : dict
        Fetch parameters for both samples (offline, no retry waits).
    unmatched_params : dict
        Extra parameters for ``unmatched`` (where no sample position lacks data).
    """

    name: str
    source: str
    sample: pd.DataFrame
    unmatched: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    unmatched_params: dict[str, Any] = field(default_factory=dict)


#: Labels of the HATS and unWISE test samples' objects that have no counterpart.
UNMATCHED = ("lonely", "far")


def _unmatched(sample: pd.DataFrame) -> pd.DataFrame:
    return sample[sample["label"].isin(UNMATCHED)]


def _ztf(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    sample = request.getfixturevalue("ztf_sample")
    return ArchiveCase("ztf", str(request.getfixturevalue("ztf_hats")), sample, _unmatched(sample))


def _gaia(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    sample = request.getfixturevalue("gaia_sample")
    source = str(request.getfixturevalue("gaia_hats"))
    return ArchiveCase("gaia", source, sample, _unmatched(sample), {"bands": ["Gaia_G", "Gaia_RP"]})


def _panstarrs(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    sample = request.getfixturevalue("ps1_sample")
    source = str(request.getfixturevalue("ps1_hats"))
    return ArchiveCase("panstarrs", source, sample, _unmatched(sample))


def _wise(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    sample = request.getfixturevalue("wise_sample")
    source = str(request.getfixturevalue("wise_dataset"))
    return ArchiveCase("wise", source, sample, _unmatched(sample))


def _heasarc(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    sample = request.getfixturevalue("heasarc_sample")
    source = str(request.getfixturevalue("heasarc_local"))
    tiny = {"FERMIGTRIG": {"max_error_radius_arcsec": 0.01}, "SAXGRBMGRB": None, "icecubepsc": None}
    return ArchiveCase("heasarc", source, sample, sample, unmatched_params={"catalogs": tiny})


def _tess_kepler(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    case = request.getfixturevalue("tk_case")
    index = tmp_path / "products.csv"
    case.index.to_csv(index, index=False)
    case.seed_cache(tmp_path / "cache")
    sample = case.sample
    params = {"cache_dir": str(tmp_path / "cache"), "retry_backoff_s": 0.0, "timeout_s": 5.0}
    return ArchiveCase("tess_kepler", str(index), sample, sample[sample["objectid"] == 3], params)


def _hcv(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    sample, _ = request.getfixturevalue("hcv_case")
    server = request.getfixturevalue("hcv_server")
    params = {"cache_dir": str(tmp_path / "cache"), "retry_backoff_s": 0.0, "timeout_s": 5.0}
    return ArchiveCase(
        "hcv", server.url + HCV_PREFIX, sample.iloc[:5], sample[sample["objectid"] == 3], params
    )


CASES: dict[str, Callable[[pytest.FixtureRequest, Path], ArchiveCase]] = {
    "ztf": _ztf,
    "gaia": _gaia,
    "panstarrs": _panstarrs,
    "wise": _wise,
    "heasarc": _heasarc,
    "tess_kepler": _tess_kepler,
    "hcv": _hcv,
}


@pytest.fixture
def archive_case(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveCase:
    """The case of the archive named by indirect parametrization (``request.param``)."""
    return CASES[request.param](request, tmp_path)
