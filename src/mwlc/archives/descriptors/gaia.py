"""Gaia DR3 epoch photometry (LINCC HATS collection, read with pyarrow): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import Archive, BandInfo, band_list, radius_param, read_batch_param
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
        read_batch_param(5000, row="one Gaia source's transits", row_doc="one source's transits"),
    ),
    service="lincc_http",
    demo_builder="mwlc.demo.gaia",
)
