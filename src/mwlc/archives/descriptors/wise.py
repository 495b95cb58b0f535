"""unWISE neo7 time-domain catalog (IRSA hive-partitioned parquet, pyarrow dataset): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import NEVER_REFETCHES, Archive, BandInfo, Param, band_list, radius_param

_TIME = "MJD (MJDMEAN of the unWISE epoch coadd)"
BANDS = ("WISE_W1", "WISE_W2")

ARCHIVE = Archive(
    name="wise",
    title="unWISE neo7 time-domain catalog (pyarrow dataset, HEALPix order-5 hive layout)",
    default_source=(
        "s3://nasa-irsa-wise/unwise/neo7/catalogs/time_domain/healpix_k5/"
        "unwise-neo7-time_domain-healpix_k5.parquet"
    ),
    source_help="dataset root (the folder holding `_metadata`)",
    bands={band: BandInfo("mJy", _TIME) for band in BANDS},
    params=(
        radius_param(
            maximum=60,
            description="match radius in arcsec; every detection within it is kept",
            doc="**every** detection within the radius is kept (as the original; not nearest-only)",
        ),
        band_list("bands", BANDS, BANDS, "bands"),
        Param(
            "batch_rows",
            "integer",
            "maximum rows per scanned batch (lowered to fit the job's memory)",
            default=131072,
            minimum=1,
            affects_rows=False,
            doc=f"maximum rows per scanned batch (lowered to fit the job's memory){NEVER_REFETCHES}",
        ),
    ),
    service="irsa_s3",
    demo_builder="mwlc.demo.wise",
)
