"""TESS, Kepler and K2 light curves through lightkurve (MAST, one object per request): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import (
    NEVER_REFETCHES,
    Archive,
    BandInfo,
    Param,
    progress_param,
    radius_param,
    request_params,
)

_TESS_TIME = "MJD (TDB, barycentric): TESS BTJD + 56999.5"
_KEPLER_TIME = "MJD (TDB, barycentric): Kepler/K2 BKJD + 54832.5"

ARCHIVE = Archive(
    name="tess_kepler",
    title="TESS, Kepler and K2 light curves through lightkurve (MAST), one object per request",
    default_source="https://mast.stsci.edu",
    source_help="MAST base URL, or a local product index file (csv/ecsv/parquet) for offline nodes",
    source_type="URL or file",
    bands={
        "TESS": BandInfo("electron / s", _TESS_TIME),
        "Kepler": BandInfo("electron / s", _KEPLER_TIME),
        "K2": BandInfo("electron / s", _KEPLER_TIME),
    },
    params=(
        radius_param(
            maximum=60,
            description="search radius in arcsec",
            doc="search radius (the original's `radius`, also arcsec)",
        ),
        Param(
            "author",
            ("null", "string", "array"),
            "pipelines to keep (e.g. SPOC, Kepler, K2); null keeps every one",
            default=None,
            items={"type": "string", "minLength": 1},
            keywords={"minItems": 1, "minLength": 1},
            doc="pipelines to keep (`SPOC`, `Kepler`, `K2`, ...); null keeps all, as the original",
        ),
        Param(
            "downsample",
            "integer",
            "keep every Nth cadence (the original's 30)",
            default=30,
            minimum=1,
        ),
        Param(
            "quality_bitmask",
            "string",
            "lightkurve's quality mask",
            default="default",
            choices=("none", "default", "hard", "hardest"),
        ),
        Param(
            "cache_dir",
            "string",
            "search answers and downloaded files (mastDownload/ layout); reruns reuse them",
            default="resources/cache/tess_kepler",
            affects_rows=False,
            doc="search answers and files (lightkurve's `mastDownload/` layout); shared by runs: a rerun "
            "downloads nothing twice. A file is cached only once it is a complete FITS file (an error "
            "page or a body cut short is asked for again, then fails the job); a cached file that is not "
            f"(an older interrupted download) is downloaded again{NEVER_REFETCHES}",
        ),
        Param(
            "download_url",
            ("null", "string"),
            "MAST download endpoint (null = <source>/api/v0.1/Download/file)",
            default=None,
            doc="download endpoint (null: `<source>/api/v0.1/Download/file`)",
        ),
        *request_params(timeout_s=120, retries=3, retry_backoff_s=2),
        progress_param(),
    ),
    aliases=("tess", "kepler"),
    service="mast_requests",
)
