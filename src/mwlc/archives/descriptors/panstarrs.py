"""Pan-STARRS DR2 detections (STScI HATS collections otmo + detection, read with pyarrow): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import Archive, BandInfo, band_list, radius_param, read_batch_param

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
        read_batch_param(200000, row="one PS1 detection", row_doc="one detection, ~50 bytes"),
    ),
    service="stsci_s3",
    aliases=("ps1", "pan-starrs"),
    demo_builder="mwlc.demo.panstarrs",
)
