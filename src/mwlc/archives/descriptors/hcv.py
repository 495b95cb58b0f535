"""Hubble Catalog of Variables through the MAST HSC API (one object per request): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import (
    NEVER_REFETCHES,
    Archive,
    BandInfo,
    Param,
    band_list,
    progress_param,
    radius_param,
    request_params,
)

_TIME = "MJD of the HST exposure, as in the HCV"
#: The ACS/WFC filters the HCV is read in.
FILTERS = ("F435W", "F475W", "F555W", "F606W", "F625W", "F775W", "F814W", "F850LP")
#: Largest cone the HSC API accepts (0.5 deg), arcsec.
MAX_RADIUS_ARCSEC = 1800.0

ARCHIVE = Archive(
    name="hcv",
    title="Hubble Catalog of Variables through the MAST HSC API (hcvsummary cone, then hcv rows)",
    default_source="https://catalogs.mast.stsci.edu/api/v0.1/hsc",
    source_help="HSC API base URL",
    source_type="URL",
    bands={f"HST_{name}": BandInfo("mJy", _TIME) for name in FILTERS},
    params=(
        radius_param(
            maximum=MAX_RADIUS_ARCSEC,
            description="cone radius in arcsec (the nearest match with a requested filter is kept); "
            "at most the API's 0.5 deg",
            doc="cone radius (the original's `radius` was in degrees: converted); at most the API's "
            "0.5 deg limit",
        ),
        band_list("filters", FILTERS, ("F814W",), "ACS/WFC filters; band names `HST_<filter>`"),
        Param(
            "mag_system",
            None,
            "magnitude system of the HCV magnitudes (converted to mJy)",
            default="AB",
            choices=("AB", "Vega"),
            doc="system of the catalog magnitudes: AB -> mJy = 10**(-0.4 (m - 23.9)) / 1000; Vega "
            "magnitudes are first moved to AB with the ACS/WFC zero points (the original's conversion "
            "lacked the lambda**2 factor)",
        ),
        Param(
            "cache_dir",
            "string",
            "API answers; reruns reuse them",
            default="resources/cache/hcv",
            affects_rows=False,
            doc="API answers; a rerun sends no request. An answer is cached only once it has been read "
            "(an error page fails the job, and is asked for again on the rerun); a cached answer that "
            f"cannot be read is asked for again and replaced{NEVER_REFETCHES}",
        ),
        *request_params(timeout_s=60, retries=3, retry_backoff_s=2),
        progress_param(),
    ),
    service="mast_requests",
)
