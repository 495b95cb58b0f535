"""Gaia DR3 epoch photometry from LINCC's HATS collection.

As the Fornax original: the nearest Gaia DR3 source with epoch photometry within
``radius_arcsec`` of each sample object is found and its transits are flattened to one row each.

Differences from the original (see the README's "Differences from the Fornax notebooks"):

* **Flux.** A transit's flux in mJy comes from its e-/s flux with the band's DR3 AB zero point
  (:func:`mwlc.photometry.gaia_flux_to_mjy`, Riello et al. 2021), its error likewise from
  ``*_flux_error`` (or, where the collection has only that, from ``*_flux_over_error``). The
  original converted the Gaia magnitudes as if they were AB, but they are Vega magnitudes: its
  fluxes are ~11 % high in G, ~1.4 % in BP and ~39 % in RP.
* **Time.** Gaia times are BJD(TCB) - 2455197.5 d and JD 2455197.5 is MJD 55197.0, so
  ``time = transit time + 55197.0`` (:data:`MJD_OF_GAIA_TIME_ZERO`); the original adds 55197.5,
  half a day late. The time system stays TCB, barycentric.
* **Bands.** ``Gaia_G`` by default, as the original today; ``Gaia_BP`` and ``Gaia_RP`` (as in the
  2024 version) on request, with times ``bp_obs_time``/``rp_obs_time``.
* **Rows kept.** A transit is kept in a band when its time and flux are finite, whatever the
  flux's sign (the original dropped transits without a magnitude, i.e. with a non-positive flux,
  which biases faint light curves upward) and, when the collection has the field, its
  ``variability_flag_<band>_reject`` is not set (outliers rejected by DR3's variability
  processing; null counts as not set).
* **Streaming.** The collection is read by :mod:`mwlc.archives._crossmatch`: each leaf file the
  shard touches is read once, first its positions (to find the matches), then the epoch
  photometry of the matched rows only, ``read_batch_rows`` rows at a time, every requested band
  from the same read, so memory never grows with the shard, the sample or a partition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mwlc.archives import _crossmatch, _hats, _nested, require_sample_columns
from mwlc.archives._preflight import Finding, check_hats, note
from mwlc.archives.base import JobOptions, job_options
from mwlc.archives.descriptors.gaia import ARCHIVE
from mwlc.errors import ArchiveError
from mwlc.photometry import gaia_flux_error_from_over_error, gaia_flux_error_to_mjy, gaia_flux_to_mjy
from mwlc.schema import dictionary_take, lightcurve_batch

log = logging.getLogger(__name__)

NAME = ARCHIVE.name
BANDS = list(ARCHIVE.bands)
#: Bands fetched unless ``bands`` says otherwise (the original's current behaviour).
DEFAULT_BANDS = tuple(ARCHIVE.param("bands").default)
#: The real collection (LINCC, served over HTTPS).
DEFAULT_SOURCE = ARCHIVE.default_source
#: MJD of Gaia time zero: Gaia epochs are BJD(TCB) - 2455197.5 d, and JD 2455197.5 = MJD 55197.0.
MJD_OF_GAIA_TIME_ZERO = 55197.0
#: The nested column holding each source's transits.
NESTED = "epoch_photometry"


@dataclass(frozen=True)
class BandFields:
    """Names of one band's fields in the nested ``epoch_photometry`` column.

    Attributes
    ----------
    time : str
        Observation time, d (BJD(TCB) - 2455197.5).
    flux, flux_error : str
        Flux and its 1-sigma error, e-/s.
    flux_over_error : str
        Flux divided by its error (the error's other form, when ``flux_error`` is absent).
    reject : str
        Boolean: rejected by the DR3 variability processing.
    """

    time: str
    flux: str
    flux_error: str
    flux_over_error: str
    reject: str


FIELDS: dict[str, BandFields] = {
    "Gaia_G": BandFields(
        "g_transit_time",
        "g_transit_flux",
        "g_transit_flux_error",
        "g_transit_flux_over_error",
        "variability_flag_g_reject",
    ),
    **{
        f"Gaia_{b.upper()}": BandFields(
            f"{b}_obs_time",
            f"{b}_flux",
            f"{b}_flux_error",
            f"{b}_flux_over_error",
            f"variability_flag_{b}_reject",
        )
        for b in ("bp", "rp")
    },
}


@dataclass(frozen=True)
class BandRead:
    """How one band is read from a given collection: its fields, and which error and flag it has.

    Attributes
    ----------
    band : str
        The band name (``"Gaia_G"``...).
    fields : BandFields
        Its field names.
    error : str
        The error field read: ``fields.flux_error``, or ``fields.flux_over_error`` without it.
    reject : bool
        Whether the collection has the band's reject flag.
    """

    band: str
    fields: BandFields
    error: str
    reject: bool

    @property
    def columns(self) -> list[str]:
        """The nested fields to read, as ``epoch_photometry.<field>``."""
        names = [self.fields.time, self.fields.flux, self.error]
        return [f"{NESTED}.{name}" for name in (*names, *([self.fields.reject] if self.reject else []))]


#: First-pass columns: the position columns come from the catalog's properties.
ID_COLUMN = "source_id"
#: Rows decoded at a time: a source has ~40-250 transits; the fields read for three bands are
#: ~100 bytes per transit, so 5,000 rows are ~20-130 MB decoded.
DEFAULT_READ_BATCH_ROWS = ARCHIVE.param("read_batch_rows").default


def fetch(
    sample: pd.DataFrame,
    *,
    source: str,
    radius_arcsec: float = 1.0,
    bands: Sequence[str] = DEFAULT_BANDS,
    read_batch_rows: int = DEFAULT_READ_BATCH_ROWS,
    **job: Unpack[JobOptions],
) -> Iterator[pa.RecordBatch]:
    """Gaia DR3 epoch photometry of the sample objects, streamed a batch of catalog rows at a time.

    ``sample``, ``radius_arcsec``, ``read_batch_rows``, ``**job`` and the errors raised are every
    HATS reader's (:mod:`mwlc.archives`).

    Parameters
    ----------
    source : str
        URI of the Gaia DR3 epoch-photometry HATS collection: a local path, ``https://``,
        ``http://`` or ``s3://`` (the real one is :data:`DEFAULT_SOURCE`). A catalog without a
        margin is read with its neighbouring partitions instead.
    bands : sequence of str, default ``("Gaia_G",)``
        Bands to fetch, any of :data:`BANDS`.

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy, in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`; ``time`` is MJD (TCB, barycentric),
        ``flux`` and ``err`` are mJy.
    """
    threads, mem_mb, storage_options = job_options(job, NAME)
    require_sample_columns(sample, "Gaia")
    checked = ARCHIVE.check_params(
        {"radius_arcsec": radius_arcsec, "bands": bands, "read_batch_rows": read_batch_rows}
    )
    radius_arcsec, bands = float(checked["radius_arcsec"]), checked["bands"]
    catalog = _hats.open_catalog(source, archive="Gaia", storage_options=storage_options)
    catalog.check_radius(radius_arcsec)
    reads = band_reads(catalog, bands)
    if sample.empty:
        return iter(())
    return _stream(sample, catalog, radius_arcsec, reads, read_batch_rows, threads, mem_mb)


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """Open the collection as :func:`fetch` does (metadata only): one finding per problem or note.

    Checks the HATS properties and schema, ``source_id`` and each requested band's time, flux
    and flux error (``*_flux_error`` or else ``*_flux_over_error``) with the kind of their
    values, and the margin (its absence is a note). A band without its reject flag is a note:
    the fetch then keeps the transits DR3 rejected.
    """
    bands = list(params.get("bands", DEFAULT_BANDS))
    radius = params.get("radius_arcsec", ARCHIVE.param("radius_arcsec").default)
    columns = {ID_COLUMN: "integer"}
    for band in bands:
        fields = FIELDS[band]
        columns.update({f"{NESTED}.{fields.time}": "number", f"{NESTED}.{fields.flux}": "number"})
    catalog, findings = check_hats(
        source,
        archive=NAME,
        label="Gaia",
        columns=columns,
        storage_options=storage_options,
        radius_arcsec=radius,
    )
    if catalog is None:
        return findings
    available = _nested_fields(catalog.schema)
    for band in bands:
        fields = FIELDS[band]
        if not {fields.flux_error, fields.flux_over_error} & available:
            findings.append(
                Finding(
                    NAME,
                    source,
                    f"column {NESTED}.{fields.flux_error} or {NESTED}.{fields.flux_over_error} "
                    f"({band} error)",
                    "neither",
                )
            )
        if fields.reject not in available:
            findings.append(
                note(NAME, source, f"column {NESTED}.{fields.reject}", "none: rejected transits are kept")
            )
    return findings


def gaia_time_to_mjd(time: np.ndarray) -> np.ndarray:
    """Gaia epoch time (BJD(TCB) - 2455197.5, d) to MJD in the same (TCB, barycentric) system."""
    return np.asarray(time, dtype=np.float64) + MJD_OF_GAIA_TIME_ZERO


def _stream(
    sample: pd.DataFrame,
    catalog: _hats.HatsCatalog,
    radius_arcsec: float,
    reads: list[BandRead],
    read_batch_rows: int,
    threads: int,
    mem_mb: int | None,
) -> Iterator[pa.RecordBatch]:
    """Locate the matches, then stream their transits (lazy: nothing is read until iterated)."""
    columns = [column for read in reads for column in read.columns]
    check = _crossmatch.batch_memory_check(
        "Gaia", columns, read_batch_rows, mem_mb, key="archives.gaia.read_batch_rows"
    )
    matches = _crossmatch.locate(
        catalog,
        sample["ra"].to_numpy(),
        sample["dec"].to_numpy(),
        _crossmatch.Query(radius_arcsec),
        batch_rows=read_batch_rows,
        threads=threads,
        check_batch=check,
    )
    log.info(
        "Gaia: %d objects matched within %g arcsec, bands %s",
        len(matches),
        radius_arcsec,
        [read.band for read in reads],
    )
    pairs = _crossmatch.Pairs.of(matches, sample["objectid"].to_numpy(), sample["label"].to_numpy())
    yield from _crossmatch.stream_matched(
        matches,
        pairs,
        columns,
        partial(transits, reads=reads),
        batch_rows=read_batch_rows,
        threads=threads,
        archive="Gaia",
    )


def transits(rows: pa.RecordBatch, pairs: _crossmatch.Pairs, reads: list[BandRead]) -> pa.RecordBatch:
    """Matched catalog rows -> light-curve rows of their kept transits, every band (time MJD, mJy)."""
    photometry = rows.column(NESTED)
    parts = [_band_rows(photometry, read) for read in reads]
    row = np.concatenate([part[0] for part in parts])
    band_index = np.concatenate([np.full(len(part[0]), i) for i, part in enumerate(parts)])
    time, flux, err = (np.concatenate([part[k] for part in parts]) for k in (1, 2, 3))
    return lightcurve_batch(
        pairs.objectid[row],
        dictionary_take(pairs.label, row),
        dictionary_take(np.array([read.band for read in reads], dtype=object), band_index),
        time,
        flux,
        err,
    )


def _band_rows(photometry: pa.Array, read: BandRead) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One band's kept transits: (row of each, time MJD, flux mJy, err mJy)."""
    lengths, time = _nested.float_values(photometry, read.fields.time)
    flux = _nested.float_values(photometry, read.fields.flux)[1]
    error = _nested.float_values(photometry, read.error)[1]
    keep = np.isfinite(time) & np.isfinite(flux)
    if read.reject:
        flag = _nested.field_values(photometry, read.fields.reject)[1]
        keep &= ~pc.fill_null(flag, False).to_numpy(zero_copy_only=False)
    if read.error == read.fields.flux_error:
        err = gaia_flux_error_to_mjy(error[keep], read.band)
    else:
        err = gaia_flux_error_from_over_error(flux[keep], error[keep], read.band)
    row = _nested.row_of_value(lengths)[keep]
    return row, gaia_time_to_mjd(time[keep]), gaia_flux_to_mjy(flux[keep], read.band), err


def band_reads(catalog: _hats.HatsCatalog, bands: list[str]) -> list[BandRead]:
    """How each band is read from ``catalog``: its error field and whether it has a reject flag.

    The variability flags and the ``*_flux_error`` fields are read where the collection's schema
    has them (their presence in the real collection is unconfirmed); time and flux must be there.

    Raises
    ------
    ArchiveError
        If a band's time or flux, or both of its error fields, are missing; names them and the source.
    """
    available = _nested_fields(catalog.schema)
    reads = []
    for band in bands:
        fields = FIELDS[band]
        catalog.require_columns([ID_COLUMN, f"{NESTED}.{fields.time}", f"{NESTED}.{fields.flux}"])
        error = next(
            (name for name in (fields.flux_error, fields.flux_over_error) if name in available), None
        )
        if error is None:
            raise ArchiveError(
                f"Gaia source {catalog.uri} has neither {NESTED}.{fields.flux_error} nor "
                f"{NESTED}.{fields.flux_over_error}: no {band} flux error"
            )
        reads.append(BandRead(band, fields, error, fields.reject in available))
    missing = [read.fields.reject for read in reads if not read.reject]
    if missing:
        log.warning(
            "%s has no %s: transits rejected by DR3 variability processing are kept", catalog.uri, missing
        )
    return reads


def _nested_fields(schema: pa.Schema) -> frozenset[str]:
    """Field names of the nested ``epoch_photometry`` column (struct of lists, or list of structs)."""
    if NESTED not in schema.names:
        return frozenset()
    return _nested.field_names(schema.field(NESTED).type)
