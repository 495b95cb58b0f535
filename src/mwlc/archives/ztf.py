"""ZTF DR24 light curves from IRSA's HATS collection.

As the Fornax original: for each band (filterid 1, 2, 3 = ``ztf_g``, ``ztf_r``, ``ztf_i``) the
nearest ZTF object within ``radius_arcsec`` of each sample object is found, chosen
independently per band; epochs with ``catflags >= catflags_max`` are dropped; AB magnitudes
become mJy and ``hmjd`` is kept as the time (HMJD, as released).

A source observed in overlapping ZTF fields (another ``fieldid``/``rcid``) has one ZTF objectid
per field and band, so the nearest-only match (``match="nearest"``, the default, as the
original) keeps the epochs of one field. ``match="all"`` keeps every ZTF object of the band within
the radius: their epochs are merged under the sample object, and which ZTF objectids were merged
is recorded in the shard file's footer (key ``mwlc.matches``, see :func:`matches_metadata`).

Unlike the original, the collection is read by :mod:`mwlc.archives._crossmatch`: each leaf file
the shard touches is read once for all bands, first its positions (to find the matches), then
the light curves of the matched rows only, ``read_batch_rows`` rows at a time. A fetch job's
memory is bounded by that batch, whatever the size of IRSA's partitions (several GB) or of their
row groups.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mwlc.archives import Fetched, _crossmatch, _hats, _nested, require_sample_columns
from mwlc.archives._preflight import Finding, check_hats
from mwlc.archives.base import JobOptions, job_options
from mwlc.archives.descriptors.ztf import ARCHIVE
from mwlc.photometry import ab_mag_err_to_mjy, ab_mag_to_mjy
from mwlc.schema import dictionary_take, lightcurve_batch

log = logging.getLogger(__name__)

NAME = ARCHIVE.name
BANDS = list(ARCHIVE.bands)
#: ZTF ``filterid`` of each band.
FILTERIDS = {"ztf_g": 1, "ztf_r": 2, "ztf_i": 3}
#: The ZTF objectid and band columns, and the light-curve fields read for the matched rows.
ID_COLUMN = "objectid"
BAND_COLUMN = "filterid"
#: Footer key of the matches recorded with ``match="all"``.
MATCHES_KEY = b"mwlc.matches"
LIGHTCURVE_COLUMNS = ["lightcurve.hmjd", "lightcurve.mag", "lightcurve.magerr", "lightcurve.catflags"]
#: Rows decoded at a time. A DR24 row is one object's light curve in one band (hundreds to a few
#: thousand epochs, ~20 bytes each): 2,000 rows are ~40-160 MB decoded.
DEFAULT_READ_BATCH_ROWS = ARCHIVE.param("read_batch_rows").default


def fetch(
    sample: pd.DataFrame,
    *,
    source: str,
    radius_arcsec: float = 1.0,
    bands: Sequence[str] = BANDS,
    catflags_max: int = 32768,
    match: str = "nearest",
    read_batch_rows: int = DEFAULT_READ_BATCH_ROWS,
    **job: Unpack[JobOptions],
) -> Iterator[pa.RecordBatch]:
    """ZTF light curves of the sample objects, streamed a batch of catalog rows at a time.

    ``sample``, ``radius_arcsec``, ``read_batch_rows``, ``**job`` and the errors raised are every
    HATS reader's (:mod:`mwlc.archives`).

    Parameters
    ----------
    source : str
        URI of the ZTF DR24 light-curve HATS collection: a local path, ``s3://`` or ``https://``
        (the real one is ``s3://ipac-irsa-ztf/ztf/enhanced/dr24/lc/hats``). A catalog without a
        margin (e.g. the catalog directory inside the collection) is read with its neighbouring
        partitions instead.
    bands : sequence of str, default all of :data:`BANDS`
        Bands to fetch.
    catflags_max : int, default 32768
        Epochs with ``catflags >= catflags_max`` are dropped (use 1 for clean epochs only).
    match : {"nearest", "all"}, default "nearest"
        Per sample object and band, the nearest ZTF object within the radius (as the original),
        or every one of them (epochs of the same source in overlapping fields), recorded in
        the returned :class:`~mwlc.archives.Fetched`'s ``metadata``.

    Returns
    -------
    mwlc.archives.Fetched
        Lazy batches in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`; ``time`` is HMJD (d), ``flux`` and
        ``err`` are mJy. With ``match="all"``, its ``metadata`` holds the matches once the batches
        are read.
    """
    threads, mem_mb, storage_options = job_options(job, NAME)
    require_sample_columns(sample, "ZTF")
    checked = ARCHIVE.check_params(
        {
            "radius_arcsec": radius_arcsec,
            "bands": bands,
            "catflags_max": catflags_max,
            "match": match,
            "read_batch_rows": read_batch_rows,
        }
    )
    radius_arcsec, bands = float(checked["radius_arcsec"]), checked["bands"]
    catalog = _hats.open_catalog(source, archive="ZTF", storage_options=storage_options)
    catalog.check_radius(radius_arcsec)
    catalog.require_columns([ID_COLUMN, BAND_COLUMN, *LIGHTCURVE_COLUMNS])
    if sample.empty:
        return Fetched(())
    metadata: dict[bytes, bytes] = {}
    query = _crossmatch.Query(
        radius_arcsec,
        band_column=BAND_COLUMN,
        bands=[FILTERIDS[band] for band in bands],
        extra_columns=[ID_COLUMN],
        match=match,
    )
    batches = _stream(sample, catalog, query, catflags_max, read_batch_rows, threads, mem_mb, metadata)
    return Fetched(batches, metadata)


#: The columns the fetch reads, and the kind of their values (see :func:`preflight`).
COLUMN_KINDS = {
    ID_COLUMN: "integer",
    BAND_COLUMN: "integer",
    "lightcurve.hmjd": "number",
    "lightcurve.mag": "number",
    "lightcurve.magerr": "number",
    "lightcurve.catflags": "integer",
}


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """Open the collection as :func:`fetch` does (metadata only): one finding per problem or note.

    Checks the HATS properties and schema, the columns read with the kind of their values, and
    the margin catalog: its absence is a note (partitions are then read with their neighbours),
    a radius beyond its threshold a problem.
    """
    radius = params.get("radius_arcsec", ARCHIVE.param("radius_arcsec").default)
    _, findings = check_hats(
        source,
        archive=NAME,
        label="ZTF",
        columns=COLUMN_KINDS,
        storage_options=storage_options,
        radius_arcsec=radius,
    )
    return findings


def _stream(
    sample: pd.DataFrame,
    catalog: _hats.HatsCatalog,
    query: _crossmatch.Query,
    catflags_max: int,
    read_batch_rows: int,
    threads: int,
    mem_mb: int | None,
    metadata: dict[bytes, bytes],
) -> Iterator[pa.RecordBatch]:
    """Locate the matches, then stream their epochs (lazy: nothing is read until iterated)."""
    check = _crossmatch.batch_memory_check(
        "ZTF", LIGHTCURVE_COLUMNS, read_batch_rows, mem_mb, key="archives.ztf.read_batch_rows"
    )
    matches = _crossmatch.locate(
        catalog,
        sample["ra"].to_numpy(),
        sample["dec"].to_numpy(),
        query,
        batch_rows=read_batch_rows,
        threads=threads,
        check_batch=check,
    )
    log.info(
        "ZTF: %d (object, band) matches within %g arcsec (%s), bands %s",
        len(matches),
        query.radius_arcsec,
        query.match,
        [BANDS[filterid - 1] for filterid in query.bands],
    )
    pairs = _crossmatch.Pairs.of(matches, sample["objectid"].to_numpy(), sample["label"].to_numpy())
    if query.match == "all":
        metadata[MATCHES_KEY] = matches_metadata(pairs, matches)
    yield from _crossmatch.stream_matched(
        matches,
        pairs,
        LIGHTCURVE_COLUMNS,
        partial(epochs, catflags_max=catflags_max),
        batch_rows=read_batch_rows,
        threads=threads,
        archive="ZTF",
    )


def matches_metadata(pairs: _crossmatch.Pairs, matches: _crossmatch.Matches) -> bytes:
    """The matches as JSON for a shard's footer: ``{"columns": [...], "rows": [[...], ...]}``.

    Columns ``objectid`` (sample), ``band``, ``ztf_objectid``, ``dist_arcsec`` (3 decimals),
    one row per (sample object, ZTF object), sorted. Read it back with
    ``json.loads(pyarrow.parquet.read_metadata(shard).metadata[b"mwlc.matches"])``.
    """
    rows = sorted(
        zip(
            pairs.objectid.tolist(),
            _BAND_NAMES[pairs.band].tolist(),
            matches.extra[ID_COLUMN].tolist(),
            np.round(matches.dist_arcsec, 3).tolist(),
            strict=True,
        )
    )
    return json.dumps({"columns": ["objectid", "band", "ztf_objectid", "dist_arcsec"], "rows": rows}).encode()


#: Band name of each filterid (index = filterid).
_BAND_NAMES = np.array(["", *BANDS], dtype=object)


def epochs(rows: pa.RecordBatch, pairs: _crossmatch.Pairs, catflags_max: int) -> pa.RecordBatch:
    """Matched catalog rows -> light-curve rows of their kept epochs (time HMJD, flux and err mJy).

    Works on the nested column's Arrow buffers (no pandas frame per epoch); label and band are
    dictionary-encoded from the start.
    """
    lightcurve = rows.column("lightcurve")
    lengths, catflags = _nested.field_values(lightcurve, "catflags")
    keep = np.flatnonzero(pc.fill_null(catflags, catflags_max).to_numpy() < catflags_max)
    row = _nested.row_of_value(lengths)[keep]
    time, mag, magerr = (
        _nested.float_values(lightcurve, name)[1][keep] for name in ("hmjd", "mag", "magerr")
    )
    return lightcurve_batch(
        pairs.objectid[row],
        dictionary_take(pairs.label, row),
        dictionary_take(_BAND_NAMES[pairs.band], row),
        time,
        ab_mag_to_mjy(mag),
        ab_mag_err_to_mjy(mag, magerr),
    )
