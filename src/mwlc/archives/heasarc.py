"""HEASARC event catalogs: Fermi GBM triggers, BeppoSAX GRBM bursts and IceCube neutrinos.

As the Fornax original (``heasarc_get_lightcurves``), each sample object gets one row per
catalogued event that could have come from it:

* ``FERMIGTRIG``, ``SAXGRBMGRB`` (:class:`ErrorCircleCatalog`): events whose own error circle
  contains the object and whose error radius is below a maximum. Rows are markers:
  flux = err = 0.1, band = the catalog name.
* ``icecubepsc`` (:class:`NeutrinoCatalog`): IceCube track events within a fixed radius of the
  object and closer to it than their own error radius; flux = log10(event_energy / GeV),
  err = 0, band ``IceCube``; only the ``top_n`` most energetic events of each object are kept.

Two ways to read the catalogs, chosen by ``source``:

* an ``http(s)://`` URL: a TAP service (HEASARC's, by default), queried with pyvo ``run_sync``,
  the sample uploaded in chunks of ``chunk_rows`` objects, one query per catalog and chunk;
* an existing directory holding local copies ``<table>.parquet`` of the tables (columns ``ra``,
  ``dec``, ``error_radius`` in deg, ``time`` in MJD, and ``event_energy`` in GeV for
  ``icecubepsc``): the same selection is computed locally with a KD-tree, chunk by chunk, so
  memory is bounded by a chunk (the original's IceCube match held all pairs: 34.5 GiB at 500k).

Both give identical rows, sorted the same way. One batch is yielded per catalog and chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

from mwlc.archives import require_sample_columns
from mwlc.archives._tap import (
    UPLOAD_NAME,
    TapClient,
    TapOverflow,
    column,
    upload_positions,
)
from mwlc.errors import ArchiveError, ConfigError, SampleError
from mwlc.net import RetryPolicy
from mwlc.schema import to_record_batch
from mwlc.sky import search_chord, separation_deg, unit_vectors

log = logging.getLogger(__name__)

NAME = "heasarc"
BANDS = ["FERMIGTRIG", "SAXGRBMGRB", "IceCube"]
#: HEASARC's TAP service (Xamin), the one astroquery's ``Heasarc`` uses.
DEFAULT_SOURCE = "https://heasarc.gsfc.nasa.gov/xamin/vo/tap"
#: Catalogs queried when ``catalogs`` is not given: the original's 1.0 deg (Fermi) and 3.0 deg
#: (SAX) maximum error radii, and its IceCube settings (top 3 events within 2.0 deg), which the
#: 2024 runs used (then as the separate ``IceCube`` archive).
DEFAULT_CATALOGS: dict[str, dict[str, Any]] = {
    "FERMIGTRIG": {"max_error_radius_arcsec": 3600.0},
    "SAXGRBMGRB": {"max_error_radius_arcsec": 10800.0},
    "icecubepsc": {"max_radius_arcsec": 7200.0, "top_n": 3},
}
#: Objects per TAP upload (the original's limit).
DEFAULT_CHUNK_ROWS = 50_000
#: flux and err of an event-marker row (FERMIGTRIG, SAXGRBMGRB), as in the original.
MARKER_FLUX = 0.1
#: Local-copy mode: candidate (object, event) pairs held at once, which sets the objects
#: matched per KD-tree block (about 100 bytes of temporaries per pair).
PAIR_BUDGET = 1_000_000

_ERROR_CIRCLE_TABLES = ("FERMIGTRIG", "SAXGRBMGRB")
_NEUTRINO_TABLE = "icecubepsc"


# -- catalogs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorCircleCatalog:
    """A catalog of events with error circles (``FERMIGTRIG``, ``SAXGRBMGRB``).

    Parameters
    ----------
    table : str
        Table name at HEASARC (and stem of its local copy); also the band name.
    max_error_radius_arcsec : float
        Events with ``error_radius`` >= this (arcsec; the table stores degrees) are ignored.
    """

    table: str
    max_error_radius_arcsec: float

    columns = ("ra", "dec", "error_radius", "time")

    @property
    def band(self) -> str:
        """Band name of the rows."""
        return self.table

    @property
    def max_error_radius_deg(self) -> float:
        """The maximum error radius in degrees (as compared with the table's column)."""
        return self.max_error_radius_arcsec / 3600.0

    def adql(self) -> str:
        """The query for one uploaded chunk: the object lies inside the event's error circle."""
        return (
            "SELECT up.objectid AS objectid, cat.time AS time "
            f"FROM {self.table} cat, TAP_UPLOAD.{UPLOAD_NAME} up "
            "WHERE CONTAINS(POINT('ICRS', up.ra, up.dec), "
            "CIRCLE('ICRS', cat.ra, cat.dec, cat.error_radius)) = 1 "
            f"AND cat.error_radius < {self.max_error_radius_deg!r}"
        )

    def usable(self, error_radius_deg: np.ndarray) -> np.ndarray:
        """Events that can match at all: error radius (deg) below the maximum (NaN fails)."""
        return error_radius_deg < self.max_error_radius_deg

    def search_radius_deg(self, largest_error_deg: float) -> float:
        """Largest object-event distance (deg) that can match, given the largest usable error radius."""
        return largest_error_deg

    def keep(self, distance_deg: np.ndarray, error_radius_deg: np.ndarray) -> np.ndarray:
        """Pairs where the object lies inside the event's circle (boundary included, as CONTAINS)."""
        return distance_deg <= error_radius_deg

    def reduce(self, matches: pd.DataFrame) -> pd.DataFrame:
        """Matches of a block of objects that :meth:`rows` may need: all of them."""
        return matches

    def rows(self, matches: pd.DataFrame) -> pd.DataFrame:
        """Light-curve rows (objectid, band, time, flux, err) of matched (objectid, time) pairs."""
        out = matches[["objectid", "time"]].sort_values(["objectid", "time"], kind="stable")
        return out.assign(band=self.band, flux=MARKER_FLUX, err=MARKER_FLUX)


@dataclass(frozen=True)
class NeutrinoCatalog:
    """IceCube track events (``icecubepsc``).

    Parameters
    ----------
    table : str
        Table name at HEASARC (and stem of its local copy).
    max_radius_arcsec : float
        Only events within this distance of the object (arcsec) are considered.
    top_n : int
        The ``top_n`` most energetic events per object are kept.
    """

    table: str
    max_radius_arcsec: float
    top_n: int

    columns = ("ra", "dec", "error_radius", "time", "event_energy")
    band = "IceCube"

    @property
    def max_radius_deg(self) -> float:
        """The search radius in degrees."""
        return self.max_radius_arcsec / 3600.0

    def adql(self) -> str:
        """The query for one uploaded chunk: events near the object and within their error."""
        return (
            "SELECT up.objectid AS objectid, cat.time AS time, cat.event_energy AS event_energy "
            f"FROM {self.table} cat, TAP_UPLOAD.{UPLOAD_NAME} up "
            "WHERE CONTAINS(POINT('ICRS', cat.ra, cat.dec), "
            f"CIRCLE('ICRS', up.ra, up.dec, {self.max_radius_deg!r})) = 1 "
            "AND DISTANCE(POINT('ICRS', cat.ra, cat.dec), POINT('ICRS', up.ra, up.dec)) "
            "< cat.error_radius"
        )

    def usable(self, error_radius_deg: np.ndarray) -> np.ndarray:
        """Events that can match at all: error radius (deg) > 0 (NaN fails)."""
        return error_radius_deg > 0

    def search_radius_deg(self, largest_error_deg: float) -> float:
        """Largest object-event distance (deg) that can match, given the largest usable error radius."""
        return min(self.max_radius_deg, largest_error_deg)

    def keep(self, distance_deg: np.ndarray, error_radius_deg: np.ndarray) -> np.ndarray:
        """Pairs within the search radius (inclusive) and closer than the event's error radius."""
        return (distance_deg <= self.max_radius_deg) & (distance_deg < error_radius_deg)

    def reduce(self, matches: pd.DataFrame) -> pd.DataFrame:
        """The ``top_n`` most energetic matches of each object, sorted by objectid, energy
        (descending) and time; blocks partition the objects, so reducing per block is exact."""
        ordered = matches.sort_values(
            ["objectid", "event_energy", "time"], ascending=[True, False, True], kind="stable"
        )
        return ordered.groupby("objectid", sort=False).head(self.top_n)

    def rows(self, matches: pd.DataFrame) -> pd.DataFrame:
        """Light-curve rows: log10(E / GeV), err 0, the ``top_n`` highest energies per object."""
        kept = self.reduce(matches)
        with np.errstate(divide="ignore", invalid="ignore"):
            flux = np.log10(kept["event_energy"].to_numpy(dtype=np.float64))
        return pd.DataFrame(
            {
                "objectid": kept["objectid"].to_numpy(),
                "time": kept["time"].to_numpy(),
                "flux": flux,
                "band": self.band,
                "err": 0.0,
            }
        )


Catalog = ErrorCircleCatalog | NeutrinoCatalog


# -- configuration ----------------------------------------------------------------------------
def _number(value: Any, key: str, *, minimum: float = 0.0) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not np.isfinite(value)
        or value <= minimum
    ):
        raise ConfigError(f"HEASARC: {key} must be a number > {minimum:g}, got {value!r}")
    return float(value)


def _integer(value: Any, key: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"HEASARC: {key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _catalog(table: str, spec: Mapping[str, Any]) -> Catalog:
    """One catalog from its config entry (missing keys take the defaults)."""
    defaults = DEFAULT_CATALOGS[table]
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"HEASARC: catalogs.{table} must be a mapping with keys "
            f"{sorted(defaults)} (or null to skip it), got {spec!r}"
        )
    unknown = sorted(set(spec) - set(defaults))
    if unknown:
        raise ConfigError(
            f"HEASARC: unknown key(s) {unknown} in catalogs.{table}; known keys: {sorted(defaults)}"
        )
    merged = {**defaults, **spec}
    if table == _NEUTRINO_TABLE:
        return NeutrinoCatalog(
            table,
            max_radius_arcsec=_number(merged["max_radius_arcsec"], f"catalogs.{table}.max_radius_arcsec"),
            top_n=_integer(merged["top_n"], f"catalogs.{table}.top_n", minimum=1),
        )
    key = f"catalogs.{table}.max_error_radius_arcsec"
    return ErrorCircleCatalog(table, max_error_radius_arcsec=_number(merged["max_error_radius_arcsec"], key))


def parse_catalogs(catalogs: Mapping[str, Any] | None) -> list[Catalog]:
    """The catalogs to query, from the ``catalogs`` parameter.

    Parameters
    ----------
    catalogs : mapping, optional
        Table name (case-insensitive: ``FERMIGTRIG``, ``SAXGRBMGRB``, ``icecubepsc``) -> its
        settings (see :data:`DEFAULT_CATALOGS`; missing keys take the defaults), or null/false to
        skip that table. Tables not named are skipped. None means :data:`DEFAULT_CATALOGS`.

    Returns
    -------
    list of ErrorCircleCatalog or NeutrinoCatalog
        In the order given.

    Raises
    ------
    mwlc.errors.ConfigError
        For an unknown table or key, a value out of range, or no table left to query.
    """
    if catalogs is None:
        catalogs = DEFAULT_CATALOGS
    if not isinstance(catalogs, Mapping):
        raise ConfigError(f"HEASARC: catalogs must be a mapping of table name to settings, got {catalogs!r}")
    known = {name.lower(): name for name in DEFAULT_CATALOGS}
    chosen: list[Catalog] = []
    for name, spec in catalogs.items():
        table = known.get(str(name).lower())
        if table is None:
            raise ConfigError(f"HEASARC: unknown catalog {name!r}; known catalogs: {list(DEFAULT_CATALOGS)}")
        if spec is None or spec is False:
            continue
        chosen.append(_catalog(table, {} if spec is True else spec))
    if not chosen:
        raise ConfigError(
            "HEASARC: no catalog to query (every entry of catalogs is null); disable the archive instead"
        )
    return chosen


# -- fetch ------------------------------------------------------------------------------------
#: (catalog, chunk of the sample, description) -> matched (objectid, time[, event_energy])
Matcher = Callable[[Catalog, pd.DataFrame, str], pd.DataFrame]


def fetch(
    sample: pd.DataFrame,
    *,
    source: str = DEFAULT_SOURCE,
    catalogs: Mapping[str, Any] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    timeout_s: float = 600.0,
    retries: int = 3,
    retry_backoff_s: float = 10.0,
    maxrec: int | None = None,
    threads: int = 1,
    mem_mb: int | None = None,
    storage_options: dict | None = None,
) -> Iterator[pa.RecordBatch]:
    """HEASARC event rows of the sample objects, one Arrow batch per catalog and chunk.

    Parameters
    ----------
    sample : pandas.DataFrame
        ``objectid`` (int64, unique), ``ra``, ``dec`` (deg, ICRS), ``label``.
    source : str, default :data:`DEFAULT_SOURCE`
        An ``http(s)://`` TAP service URL, or an existing directory with ``<table>.parquet``
        copies of the tables (file names matched case-insensitively).
    catalogs : mapping, optional
        Tables and their settings (see :func:`parse_catalogs`); default :data:`DEFAULT_CATALOGS`.
    chunk_rows : int, default 50000
        Objects per TAP upload (and per local-copy chunk). Also the unit of one batch.
    timeout_s : float, default 600
        Connect/read timeout of each TAP request, seconds.
    retries : int, default 3
        Attempts after the first one when a TAP request fails transiently (connection error,
        timeout, HTTP 429/5xx).
    retry_backoff_s : float, default 10
        Base of the exponential wait between attempts, seconds.
    maxrec : int, optional
        ``MAXREC`` sent with each TAP query (None: the service's default row limit). A truncated
        answer (``QUERY_STATUS=OVERFLOW``) is never kept: the chunk is split in two and re-queried.
    threads, mem_mb, storage_options
        Accepted for the common archive interface and unused: queries run one at a time (HEASARC
        is a shared service) and a chunk's memory is bounded by :data:`PAIR_BUDGET`.

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy; one batch per catalog and chunk that has rows, in
        :data:`mwlc.schema.LIGHTCURVE_SCHEMA`: ``time`` is the event's MJD; bands ``FERMIGTRIG``
        and ``SAXGRBMGRB`` have flux = err = 0.1 (markers), band ``IceCube`` has
        flux = log10(E / GeV), err = 0. Rows are sorted by objectid, then time (markers) or
        descending energy (IceCube).

    Raises
    ------
    mwlc.errors.ConfigError
        For an invalid parameter (before any I/O).
    mwlc.errors.SampleError
        If ``sample`` lacks a column, repeats an objectid or has a non-finite position.
    mwlc.errors.ArchiveError
        If ``source`` is neither a URL nor a directory, or a local copy is missing or lacks a
        column (raised by this call); if a TAP query still fails after the retries, answers with
        an error, or lacks a column (raised while iterating; the message names the service, the
        catalog and the chunk).
    """
    chosen = parse_catalogs(catalogs)
    policy = _policy(timeout_s, retries, retry_backoff_s)
    _integer(chunk_rows, "chunk_rows", minimum=1)
    if maxrec is not None:
        _integer(maxrec, "maxrec", minimum=1)
    _check_sample(sample)
    matcher = _matcher(source, chosen, policy, maxrec)
    if sample.empty:
        return iter(())
    return _stream(sample, chosen, matcher, chunk_rows, source)


def _policy(timeout_s: float, retries: int, retry_backoff_s: float) -> RetryPolicy:
    """The retry policy, validated."""
    _number(timeout_s, "timeout_s (s)")
    _integer(retries, "retries", minimum=0)
    if (
        isinstance(retry_backoff_s, bool)
        or not isinstance(retry_backoff_s, (int, float))
        or not retry_backoff_s >= 0
    ):
        raise ConfigError(f"HEASARC: retry_backoff_s must be a number >= 0 (s), got {retry_backoff_s!r}")
    return RetryPolicy(retries=retries, backoff_s=float(retry_backoff_s), timeout_s=float(timeout_s))


def _check_sample(sample: pd.DataFrame) -> None:
    require_sample_columns(sample, "HEASARC")
    if sample["objectid"].duplicated().any():
        raise SampleError("HEASARC fetch: sample objectids are not unique")
    positions = sample[["ra", "dec"]].to_numpy(dtype=np.float64)
    if not np.isfinite(positions).all():
        raise SampleError("HEASARC fetch: sample has non-finite ra/dec")


def _matcher(source: str, catalogs: list[Catalog], policy: RetryPolicy, maxrec: int | None) -> Matcher:
    """The matching function for ``source``: TAP for a URL, local copies for a directory."""
    if str(source).startswith(("http://", "https://")):
        client = TapClient(str(source).rstrip("/"), policy, maxrec, service_name="HEASARC TAP")
        return lambda catalog, chunk, what: _tap_matches(client, catalog, chunk, what)
    directory = Path(source)
    if not directory.is_dir():
        raise ArchiveError(
            f"HEASARC source {source!r} is neither an http(s) TAP URL nor an existing "
            "directory of local table copies"
        )
    paths = {catalog.table: _local_path(directory, catalog) for catalog in catalogs}
    loaded: dict[str, LocalTable] = {}

    def match(catalog: Catalog, chunk: pd.DataFrame, what: str) -> pd.DataFrame:
        if catalog.table not in loaded:
            loaded.clear()  # one table in memory at a time
            loaded[catalog.table] = LocalTable.read(paths[catalog.table], catalog)
        return loaded[catalog.table].match(chunk)

    return match


def _stream(
    sample: pd.DataFrame, catalogs: list[Catalog], matcher: Matcher, chunk_rows: int, source: str
) -> Iterator[pa.RecordBatch]:
    """Batches of every catalog and chunk, in turn."""
    n_chunks = -(-len(sample) // chunk_rows)
    for catalog in catalogs:
        n_rows = 0
        for index in range(n_chunks):
            chunk = sample.iloc[index * chunk_rows : (index + 1) * chunk_rows]
            what = (
                f"{catalog.table} chunk {index + 1}/{n_chunks}, objectids "
                f"{chunk['objectid'].iloc[0]}..{chunk['objectid'].iloc[-1]}"
            )
            started = time.monotonic()
            rows = catalog.rows(matcher(catalog, chunk, what))
            log.info(
                "HEASARC %s from %s: %d objects, %d rows in %.1f s",
                what,
                source,
                len(chunk),
                len(rows),
                time.monotonic() - started,
            )
            n_rows += len(rows)
            if len(rows):
                yield _batch(rows, chunk, what)
        log.info("HEASARC %s: done: %d chunks, %d rows", catalog.table, n_chunks, n_rows)


def _batch(rows: pd.DataFrame, chunk: pd.DataFrame, what: str) -> pa.RecordBatch:
    """Rows with the objects' labels, as a light-curve batch."""
    labels = pd.Series(chunk["label"].astype(str).to_numpy(), index=chunk["objectid"].to_numpy())
    label = labels.reindex(rows["objectid"].to_numpy())
    if label.isna().any():
        raise ArchiveError(f"HEASARC {what}: the answer names objectids that were not uploaded")
    return to_record_batch(rows.assign(label=label.to_numpy()).reset_index(drop=True))


# -- TAP mode ---------------------------------------------------------------------------------
def _tap_matches(client: TapClient, catalog: Catalog, chunk: pd.DataFrame, what: str) -> pd.DataFrame:
    """Matches of one chunk from the TAP service; a truncated answer splits the chunk in two."""
    try:
        table = client.run_upload(catalog.adql(), upload_positions(chunk), what=what)
    except TapOverflow as overflow:
        if len(chunk) == 1:
            raise ArchiveError(f"{overflow}; even a single object overflows: raise maxrec") from overflow
        half = len(chunk) // 2
        log.warning("%s; splitting the chunk into %d + %d objects", overflow, half, len(chunk) - half)
        parts = [chunk.iloc[:half], chunk.iloc[half:]]
        return pd.concat(
            [_tap_matches(client, catalog, part, f"{what}, part {i + 1}/2") for i, part in enumerate(parts)],
            ignore_index=True,
        )
    matches = {
        "objectid": column(table, "objectid", np.int64, what=what),
        "time": column(table, "time", np.float64, what=what),
    }
    if isinstance(catalog, NeutrinoCatalog):
        matches["event_energy"] = column(table, "event_energy", np.float64, what=what)
    return pd.DataFrame(matches)


# -- local-copy mode --------------------------------------------------------------------------
def _local_path(directory: Path, catalog: Catalog) -> Path:
    """``<table>.parquet`` in ``directory`` (case-insensitive), its columns checked."""
    wanted = f"{catalog.table}.parquet".lower()
    found = [path for path in directory.iterdir() if path.name.lower() == wanted]
    if not found:
        raise ArchiveError(f"HEASARC local copy {directory / f'{catalog.table}.parquet'} does not exist")
    names = pq.read_schema(found[0]).names
    missing = [name for name in catalog.columns if name not in names]
    if missing:
        raise ArchiveError(f"HEASARC local copy {found[0]} lacks column(s) {missing}; has {names}")
    return found[0]


@dataclass
class LocalTable:
    """A local copy of one catalog, indexed for matching.

    Attributes
    ----------
    catalog : ErrorCircleCatalog or NeutrinoCatalog
        What to match.
    events : dict of str to numpy.ndarray
        The usable events (finite position, ``catalog.usable``): ``catalog.columns`` as float64.
    tree : scipy.spatial.cKDTree
        KD-tree of the events' unit vectors.
    search_radius_deg : float
        Largest object-event distance that can match, deg.
    """

    catalog: Catalog
    events: dict[str, np.ndarray]
    tree: cKDTree
    search_radius_deg: float

    @classmethod
    def read(cls, path: Path, catalog: Catalog) -> LocalTable:
        """Read the needed columns of ``path`` (nulls -> NaN) and index the usable events."""
        table = pq.read_table(path, columns=list(catalog.columns))
        columns = {name: table.column(name).cast(pa.float64()).to_numpy() for name in catalog.columns}
        usable = (
            np.isfinite(columns["ra"]) & np.isfinite(columns["dec"]) & catalog.usable(columns["error_radius"])
        )
        events = {name: values[usable] for name, values in columns.items()}
        log.info(
            "HEASARC %s: %d of %d events in %s can match", catalog.table, usable.sum(), len(usable), path
        )
        error = events["error_radius"]
        radius = catalog.search_radius_deg(float(error.max()) if len(error) else 0.0)
        return cls(catalog, events, cKDTree(unit_vectors(events["ra"], events["dec"])), radius)

    def objects_per_block(self, n_objects: int) -> int:
        """Objects matched at once so that expected candidate pairs stay under :data:`PAIR_BUDGET`."""
        per_object = self.tree.n * (1 - np.cos(np.radians(self.search_radius_deg))) / 2  # if uniform
        return int(max(1, min(n_objects, PAIR_BUDGET // max(per_object, 1.0))))

    def match(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Matched ``objectid``, ``time`` (and ``event_energy``) of the objects in ``chunk``,
        reduced per block by ``catalog.reduce``."""
        block = self.objects_per_block(len(chunk))
        parts = [
            self.catalog.reduce(self._match_block(chunk.iloc[start : start + block]))
            for start in range(0, len(chunk), block)
        ]
        return pd.concat(parts, ignore_index=True)

    def _match_block(self, objects: pd.DataFrame) -> pd.DataFrame:
        ra, dec = objects["ra"].to_numpy(np.float64), objects["dec"].to_numpy(np.float64)
        pairs = cKDTree(unit_vectors(ra, dec)).sparse_distance_matrix(
            self.tree, search_chord(self.search_radius_deg), output_type="ndarray"
        )
        obj, evt = pairs["i"].astype(np.intp), pairs["j"].astype(np.intp)
        del pairs
        distance = separation_deg(ra[obj], dec[obj], self.events["ra"][evt], self.events["dec"][evt])
        keep = self.catalog.keep(distance, self.events["error_radius"][evt])
        obj, evt = obj[keep], evt[keep]
        out = {"objectid": objects["objectid"].to_numpy(np.int64)[obj], "time": self.events["time"][evt]}
        if isinstance(self.catalog, NeutrinoCatalog):
            out["event_energy"] = self.events["event_energy"][evt]
        return pd.DataFrame(out)
