"""HEASARC event tables (Fermi GBM triggers, BeppoSAX GRBM, IceCube) by TAP: the descriptor."""

from __future__ import annotations

from mwlc.archives.base import NEVER_REFETCHES, Archive, BandInfo, Param, request_params

_TIME = "MJD (event time from the HEASARC table)"
_MARKER = "none: event marker (flux = err = 0.1)"

#: Catalogs queried when ``catalogs`` is not given: the original's 1.0 deg (Fermi) and 3.0 deg
#: (SAX) maximum error radii, and its IceCube settings (top 3 events within 2.0 deg), which the
#: 2024 runs used (then as the separate ``IceCube`` archive).
DEFAULT_CATALOGS = {
    "FERMIGTRIG": {"max_error_radius_arcsec": 3600.0},
    "SAXGRBMGRB": {"max_error_radius_arcsec": 10800.0},
    "icecubepsc": {"max_radius_arcsec": 7200.0, "top_n": 3},
}


def _error_circle_catalog(table: str, what: str, original_deg: float) -> Param:
    return Param(
        table,
        ("object", "null"),
        f"{what}: events whose error circle holds the object; null skips the table",
        fields=(
            Param(
                "max_error_radius_arcsec",
                "number",
                "use only events whose error radius (arcsec) is below this",
                unit="arcsec",
                exclusive_minimum=0,
                absent_means=DEFAULT_CATALOGS[table]["max_error_radius_arcsec"],
                doc="events whose error circle holds the object and whose error radius is below this "
                f"(the original's {original_deg} deg)",
            ),
        ),
    )


_CATALOGS = Param(
    "catalogs",
    "object",
    "table -> settings; null skips the table",
    fields=(
        _error_circle_catalog("FERMIGTRIG", "Fermi GBM triggers", 1.0),
        _error_circle_catalog("SAXGRBMGRB", "BeppoSAX GRBM bursts", 3.0),
        Param(
            "icecubepsc",
            ("object", "null"),
            "IceCube track events; null skips the table",
            fields=(
                Param(
                    "max_radius_arcsec",
                    "number",
                    "events within this distance (arcsec) and inside their own error radius",
                    unit="arcsec",
                    exclusive_minimum=0,
                    absent_means=DEFAULT_CATALOGS["icecubepsc"]["max_radius_arcsec"],
                    doc="IceCube events within this distance and inside their own error radius (the "
                    "original's 2.0 deg)",
                ),
                Param(
                    "top_n",
                    "integer",
                    "most energetic events kept per object",
                    minimum=1,
                    absent_means=DEFAULT_CATALOGS["icecubepsc"]["top_n"],
                ),
            ),
        ),
    ),
    # No schema default: the shipped config.yaml holds the table (tables not named are skipped).
    absent_means=DEFAULT_CATALOGS,
    doc="tables to query and their settings (missing keys take the defaults, tables not named are "
    "skipped, `null` skips a table): the original's 1.0 deg (Fermi) and 3.0 deg (SAX) error radii and "
    "its IceCube top 3 within 2.0 deg",
)

ARCHIVE = Archive(
    name="heasarc",
    title="HEASARC event tables (Fermi GBM triggers, BeppoSAX GRBM, IceCube) by TAP",
    default_source="https://heasarc.gsfc.nasa.gov/xamin/vo/tap",
    source_help="TAP service URL, or a directory of `<table>.parquet` copies (same rows, no network)",
    source_type="URL or directory",
    bands={
        "FERMIGTRIG": BandInfo(_MARKER, _TIME),
        "SAXGRBMGRB": BandInfo(_MARKER, _TIME),
        "IceCube": BandInfo("log10(E / GeV) (err = 0)", _TIME),
    },
    params=(
        _CATALOGS,
        Param(
            "chunk_rows",
            "integer",
            "objects per TAP upload",
            default=50000,
            minimum=1,
            maximum=50000,
            affects_rows=False,
            doc=f"objects per TAP upload (the original's limit), and per local-copy chunk{NEVER_REFETCHES}",
        ),
        *request_params(timeout_s=600, retries=3, retry_backoff_s=10),
        Param(
            "maxrec",
            ("integer", "null"),
            "MAXREC sent with each query (null = the service default)",
            default=None,
            minimum=1,
            affects_rows=False,
            doc="MAXREC sent with each query (null: the service's default); a truncated answer is split "
            f"and queried again, never kept{NEVER_REFETCHES}",
        ),
    ),
    service="heasarc_tap",
    demo_builder="mwlc.demo.heasarc",
)
