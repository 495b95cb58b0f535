"""ZTF DR24 light curves (IRSA HATS collection, read with pyarrow): the descriptor."""

from __future__ import annotations

from mwlc.archives.base import Archive, BandInfo, Param, band_list, radius_param, read_batch_param

_TIME = "HMJD (heliocentric MJD, UTC), as released by ZTF"
BANDS = ("ztf_g", "ztf_r", "ztf_i")

ARCHIVE = Archive(
    name="ztf",
    title="ZTF DR24 light curves (IRSA HATS, read with pyarrow)",
    default_source="s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats",
    source_help="HATS collection root (local path, s3 or http(s))",
    bands={band: BandInfo("mJy", _TIME) for band in BANDS},
    params=(
        radius_param(
            maximum=10,
            description="crossmatch radius in arcsec (nearest ZTF object per band)",
            doc="crossmatch radius; the nearest ZTF object per band is kept (as the original); at most "
            "the collection's margin",
        ),
        band_list("bands", BANDS, BANDS, "filters to fetch (filterid 1, 2, 3)"),
        Param(
            "catflags_max",
            "integer",
            "keep epochs with catflags below this value",
            default=32768,
            minimum=1,
            doc="epochs with `catflags` >= this are dropped (the original's cut; use 1 for only clean "
            "epochs)",
        ),
        Param(
            "match",
            None,
            "nearest (default, as the original): the nearest ZTF object per band; all: every ZTF object "
            "of the band within the radius (a source's epochs from overlapping fields), the objectids "
            "recorded in the shard file's footer (no default here, so that runs made before this key "
            "existed are not refetched)",
            choices=("nearest", "all"),
            absent_means="nearest",
            doc="`nearest`: the nearest ZTF object per band, as the original. `all`: every ZTF object of "
            "the band within the radius: a source observed in overlapping fields (another "
            "`fieldid`/`rcid`) has one ZTF objectid per field, and `nearest` keeps only one field's "
            "epochs; their epochs are merged under the sample object, and the shard file's footer "
            "records which ZTF objectids were merged "
            '(`json.loads(pyarrow.parquet.read_metadata(shard).metadata[b"mwlc.matches"])`: objectid, '
            "band, ztf_objectid, dist_arcsec)",
        ),
        read_batch_param(
            2000,
            row="one ZTF light curve in one band",
            row_doc="one ZTF object's light curve in one band, ~10-40 kB decoded",
        ),
    ),
    service="irsa_s3",
    demo_builder="mwlc.demo.ztf",
)
