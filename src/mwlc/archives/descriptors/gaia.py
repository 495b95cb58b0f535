"""Gaia DR3 epoch photometry (LINCC HATS collection, read with pyarrow): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import Archive, BandInfo, Param, band_list, radius_param
from mwlc.photometry import GAIA_DR3_ZERO_POINTS

_TIME = "MJD (TCB, barycentric): Gaia transit time + 55197.0"
BANDS = ("Gaia_G", "Gaia_BP", "Gaia_RP")


def _band_info(band: str) -> BandInfo:
    """A Gaia band's unit and time system, and the DR3 AB zero point its e-/s fluxes became mJy with."""
    zero_point = GAIA_DR3_ZERO_POINTS[band].ab
    return BandInfo(
        "mJy", f"{_TIME}; flux from e-/s with AB zero point {zero_point:.4f} (Gaia DR3, Riello et al. 2021)"
    )


ARCHIVE = Archive(
    name="gaia",
    title="Gaia DR3 epoch photometry (LINCC HATS, read with pyarrow)",
    default_source="https://data.lsdb.io/hats/gaia_dr3_epoch_phot/",
    source_help="HATS collection root (local path, http(s) or s3)",
    bands={band: _band_info(band) for band in BANDS},
    params=(
        radius_param(
            maximum=10,
            description="crossmatch radius in arcsec (nearest Gaia source)",
            doc="crossmatch radius; the nearest Gaia source is kept; at most the collection's margin",
        ),
        band_list("bands", BANDS, ("Gaia_G",), "photometric bands (G only by default, as the original)"),
        Param(
            "read_batch_rows",
            "integer",
            "catalog rows decoded at a time (one row is one Gaia source's transits); memory, not results "
            "- changing it never refetches",
            default=5000,
            minimum=1,
            affects_rows=False,
            doc="catalog rows decoded at a time (a row is one source's transits); bounds the job's memory, "
            "never changes the rows (changing it does not refetch). A value whose batch cannot fit the "
            "job's `fetch_mem_mb` is refused before any data is read, with the numbers",
        ),
    ),
    service="lincc_http",
    demo_builder="mwlc.demo.gaia",
)
