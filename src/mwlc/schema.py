"""The light-curve schema shared by every archive writer.

One row is one photometric epoch (or one event, for HEASARC/IceCube) of one sample object:

=========  ======================  ==============================================
column     Arrow type              meaning
=========  ======================  ==============================================
objectid   int64                   the sample's object id (1..N)
label      dictionary<string>      the object's sample label (e.g. "Yang 18")
band       dictionary<string>      band name, e.g. ``ztf_g`` (see :data:`BANDS`)
time       float64                 epoch; MJD in the band's time system
flux       float64                 flux in the band's unit (mJy for most bands)
err        float64                 1-sigma uncertainty of ``flux``, same unit
=========  ======================  ==============================================

Units and time systems are not columns: they are per band and live in each file's
key-value metadata under ``mwlc.bands`` (see :func:`file_metadata`). The ``pandas`` metadata
makes ``pandas.read_parquet`` restore the original Fornax MultiIndex
(objectid, label, band, time) with columns flux, err.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pyarrow as pa

from mwlc.archives.base import BandInfo
from mwlc.archives.registry import all_bands

__all__ = [
    "BANDS",
    "INDEX_COLUMNS",
    "LIGHTCURVE_SCHEMA",
    "VALUE_COLUMNS",
    "BandInfo",
    "dictionary_take",
    "file_metadata",
    "lightcurve_batch",
    "read_band_info",
    "schema_with_metadata",
    "to_record_batch",
]

INDEX_COLUMNS = ("objectid", "label", "band", "time")
VALUE_COLUMNS = ("flux", "err")


#: Every band an archive may write, with its unit and time system (for Gaia, also its zero point):
#: declared by the archives' descriptors (:mod:`mwlc.archives.registry`).
BANDS: dict[str, BandInfo] = all_bands()


def _pandas_metadata() -> bytes:
    """The ``pandas`` schema metadata that restores the 4-level MultiIndex on read."""
    frame = pd.DataFrame(
        {
            "objectid": pd.Series([], dtype="int64"),
            "label": pd.Categorical([]),
            "band": pd.Categorical([]),
            "time": pd.Series([], dtype="float64"),
            "flux": pd.Series([], dtype="float64"),
            "err": pd.Series([], dtype="float64"),
        }
    ).set_index(list(INDEX_COLUMNS))
    return pa.Schema.from_pandas(frame, preserve_index=True).metadata[b"pandas"]


LIGHTCURVE_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("objectid", pa.int64(), nullable=False),
        pa.field("label", pa.dictionary(pa.int32(), pa.string())),
        pa.field("band", pa.dictionary(pa.int32(), pa.string())),
        pa.field("time", pa.float64()),
        pa.field("flux", pa.float64()),
        pa.field("err", pa.float64()),
    ],
    metadata={b"pandas": _pandas_metadata()},
)


def file_metadata(archive: str, bands: list[str], provenance: dict | None = None) -> dict[bytes, bytes]:
    """Key-value metadata for one archive's parquet file.

    Parameters
    ----------
    archive : str
        Archive name, e.g. ``"ztf"``.
    bands : list of str
        Bands the archive can write; each must be in :data:`BANDS`.
    provenance : dict, optional
        Free-form JSON-serialisable provenance (source URI, params, sample checksum, notes).

    Returns
    -------
    dict
        ``mwlc.archive``, ``mwlc.bands`` (band -> unit and time system, JSON) and
        ``mwlc.provenance`` (JSON), ready to merge into a schema's metadata.
    """
    unknown = [band for band in bands if band not in BANDS]
    if unknown:
        raise ValueError(f"unknown band(s) {unknown}; known bands: {sorted(BANDS)}")
    return {
        b"mwlc.archive": archive.encode(),
        b"mwlc.bands": json.dumps({band: asdict(BANDS[band]) for band in bands}).encode(),
        b"mwlc.provenance": json.dumps(provenance or {}, sort_keys=True).encode(),
    }


def schema_with_metadata(metadata: dict[bytes, bytes]) -> pa.Schema:
    """:data:`LIGHTCURVE_SCHEMA` with ``metadata`` added to its ``pandas`` metadata."""
    return LIGHTCURVE_SCHEMA.with_metadata({**LIGHTCURVE_SCHEMA.metadata, **metadata})


def read_band_info(schema: pa.Schema) -> dict[str, BandInfo]:
    """Band units and time systems recorded in a light-curve file's schema metadata."""
    raw = (schema.metadata or {}).get(b"mwlc.bands", b"{}")
    return {band: BandInfo(**info) for band, info in json.loads(raw).items()}


def to_record_batch(frame: pd.DataFrame) -> pa.RecordBatch:
    """Convert a flat frame with the six schema columns to a batch in :data:`LIGHTCURVE_SCHEMA`.

    ``label`` and ``band`` may be plain strings or categoricals; ``objectid`` any integer
    type; ``time``, ``flux`` and ``err`` any numeric type (cast to float64).
    """
    missing = [name for name in LIGHTCURVE_SCHEMA.names if name not in frame.columns]
    if missing:
        raise ValueError(f"light-curve frame lacks column(s) {missing}")
    arrays = [
        pa.array(frame["objectid"].to_numpy(dtype="int64")),
        pa.array(frame["label"].astype(str).to_numpy(), pa.string()).dictionary_encode(),
        pa.array(frame["band"].astype(str).to_numpy(), pa.string()).dictionary_encode(),
        *(pa.array(frame[name].to_numpy(dtype="float64")) for name in ("time", "flux", "err")),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=LIGHTCURVE_SCHEMA)


def lightcurve_batch(
    objectid: np.ndarray,
    label: pa.DictionaryArray,
    band: pa.DictionaryArray,
    time: np.ndarray,
    flux: np.ndarray,
    err: np.ndarray,
) -> pa.RecordBatch:
    """A batch in :data:`LIGHTCURVE_SCHEMA` from per-row arrays.

    ``label`` and ``band`` are dictionary arrays (see :func:`dictionary_take`); ``time``,
    ``flux`` and ``err`` are cast to float64.
    """
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.asarray(objectid, dtype=np.int64)),
            label,
            band,
            *(pa.array(np.asarray(values, dtype=np.float64)) for values in (time, flux, err)),
        ],
        schema=LIGHTCURVE_SCHEMA,
    )


def dictionary_take(values: np.ndarray, index: np.ndarray) -> pa.DictionaryArray:
    """``values[index]`` as a dictionary<string> array with int32 codes.

    ``values`` is short (one entry per matched object); ``index`` may be long (one per epoch): the
    values are factorized once and only their codes are repeated.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)[index]),
        pa.array(np.asarray(uniques, dtype=object).astype(str), pa.string()),
    )
