"""Pan-STARRS DR2 detections (STScI HATS collections otmo + detection, read with pyarrow): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import Archive, BandInfo, Param, band_list, radius_param

_TIME = "MJD (TAI), mid-exposure (PS1 obsTime)"
BANDS = tuple(f"Pan-STARRS {f}" for f in "grizy")

ARCHIVE = Archive(
    name="panstarrs",
    title="Pan-STARRS DR2 (STScI HATS otmo + detection, read with pyarrow)",
    default_source="s3://stpubdata/panstarrs/ps1/public/hats",
    source_help="base folder holding the `otmo/` and `detection/` collections",
    bands={band: BandInfo("mJy", _TIME) for band in BANDS},
    params=(
        radius_param(
            maximum=10,
            description="crossmatch radius in arcsec (nearest otmo object)",
            doc="crossmatch radius against `otmo`; the nearest object is kept (at most the otmo margin, "
            "10 arcsec)",
        ),
        band_list("bands", BANDS, BANDS, "bands (filterID 1-5)"),
        Param(
            "read_batch_rows",
            "integer",
            "catalog rows decoded at a time (one row is one PS1 detection); memory, not results - "
            "changing it never refetches",
            default=200000,
            minimum=1,
            affects_rows=False,
            doc="catalog rows decoded at a time (a row is one detection, ~50 bytes); bounds the job's "
            "memory, never changes the rows (changing it does not refetch). A value whose batch cannot "
            "fit the job's `fetch_mem_mb` is refused before any data is read, with the numbers",
        ),
    ),
    service="stsci_s3",
    aliases=("ps1", "pan-starrs"),
    demo_builder="mwlc.demo.panstarrs",
)
