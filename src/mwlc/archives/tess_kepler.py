"""TESS, Kepler and K2 light curves through lightkurve, concurrently and cached.

For each sample object, as the Fornax original (``tess_kepler_get_lightcurves``):

1. **Search** the light-curve products within ``radius_arcsec``: with ``source`` a URL (MAST, the
   default), ``lightkurve.search_lightcurve`` (astroquery's MAST portal client); with ``source``
   a local product index (CSV/ECSV/parquet with the search-result columns :data:`INDEX_COLUMNS`
   plus ``s_ra``, ``s_dec`` in deg), the same cone selection is done locally (air-gapped nodes,
   tests). The product list of every object is cached on disk.
2. **Download** each product to ``cache_dir/mastDownload/<obs_collection>/<obs_id>/<productFilename>``,
   the layout lightkurve's own ``download_all(download_dir=cache_dir)`` looks in, from
   ``{download_url}?uri=<dataURI>`` (MAST's ``/api/v0.1/Download/file``), with a per-request
   timeout, retries with backoff and an atomic write, once it is found to be a complete FITS file
   (an error page or a body cut short is asked for again, then fails the job: never cached, never
   "no data"). A complete file already there is never requested again.
   (lightkurve's ``download_all`` is not used because it swaps the process-wide ``sys.stdout``,
   which races between threads, and astroquery writes files in place without retries.)
3. **Read** each file with ``lightkurve.read`` (default quality mask) and keep every
   ``downsample``-th cadence (the original's 30), finite values, and for TESS ``flux > 0``.
   Products lightkurve cannot read are skipped with a warning, as in the original.

Units and times: flux and err are lightkurve's ``flux``/``flux_err`` (PDCSAP for the mission
pipelines) in electron / s. lightkurve returns ``time`` as an astropy ``Time`` in TDB whose
format is ``btjd`` for TESS (BJD - 2457000) and ``bkjd`` for Kepler and K2 (BJD - 2454833);
we store ``time.mjd``, i.e. MJD = BTJD + 56999.5 (TESS) and MJD = BKJD + 54832.5 (Kepler, K2).
The original added the TESS offset to all three missions, which put Kepler and K2 epochs
2167 days late. Band = the product's mission (``TESS``, ``Kepler`` or ``K2``).
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Unpack

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import requests
from astropy.io import fits

from mwlc.archives._mast_search import harden_mast_search
from mwlc.archives._per_object import (
    ObjectJob,
    ObjectJobOptions,
    ResponseCache,
    Tally,
    check_sample,
    object_batches,
    object_job,
    write_atomic,
)
from mwlc.archives._preflight import Finding, check_answers
from mwlc.archives.descriptors.tess_kepler import ARCHIVE
from mwlc.errors import ArchiveError
from mwlc.net import IncompleteAnswer, RetryPolicy, call_with_retries, new_session

log = logging.getLogger(__name__)

NAME = ARCHIVE.name
BANDS = list(ARCHIVE.bands)
DEFAULT_SOURCE = ARCHIVE.default_source
#: MAST's file download endpoint, relative to a MAST base URL.
DOWNLOAD_PATH = "/api/v0.1/Download/file"
DEFAULT_CACHE_DIR = ARCHIVE.param("cache_dir").default
#: Search-result columns kept per product (lightkurve ``SearchResult.table`` names).
INDEX_COLUMNS = ("mission", "author", "obs_collection", "obs_id", "productFilename", "dataURI")
ELECTRON_PER_S = u.electron / u.s


def _lk() -> Any:
    """The lightkurve module (imported on first use; its import-time warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightkurve
    return lightkurve


def band_of(mission: str) -> str:
    """``TESS``, ``Kepler`` or ``K2`` from a search result's mission (``"TESS Sector 14"``)."""
    first = str(mission).split()[0] if str(mission).split() else ""
    if first not in BANDS:
        raise ArchiveError(f"TESS/Kepler: product mission {mission!r} is not one of {BANDS}")
    return first


def lightcurve_rows(lc: Any, band: str, downsample: int) -> pd.DataFrame:
    """``time`` (MJD), ``flux``, ``err`` (electron / s) of one lightkurve light curve.

    Keeps every ``downsample``-th cadence (positions 0, N, 2N... of the light curve as read, as
    the original), then rows with finite values, and for TESS only ``flux > 0``.
    """
    time_mjd = np.asarray(lc.time.mjd, dtype=np.float64)
    flux = _values(lc.flux)
    err = _values(lc.flux_err)
    keep = (
        (np.arange(len(time_mjd)) % downsample == 0)
        & np.isfinite(time_mjd)
        & np.isfinite(flux)
        & np.isfinite(err)
    )
    if band == "TESS":
        keep &= flux > 0
    return pd.DataFrame({"time": time_mjd[keep], "flux": flux[keep], "err": err[keep]})


def _values(quantity: Any) -> np.ndarray:
    """A (possibly masked) flux column in electron / s as float64, masked -> NaN."""
    quantity = u.Quantity(getattr(quantity, "unmasked", quantity))
    mask = np.asarray(getattr(quantity, "mask", False))
    values = quantity.to_value(ELECTRON_PER_S).astype(np.float64)
    return np.where(mask, np.nan, values)


# -- search -----------------------------------------------------------------------------------
class LocalIndex:
    """Products of a local index table, cone-searched per object."""

    def __init__(self, path: Path) -> None:
        frame = _read_table(path)
        missing = [name for name in (*INDEX_COLUMNS, "s_ra", "s_dec") if name not in frame.columns]
        if missing:
            raise ArchiveError(f"TESS/Kepler product index {path} lacks column(s) {missing}")
        self.path = path
        self.products = frame
        ra, dec = (
            np.radians(frame["s_ra"].to_numpy(np.float64)),
            np.radians(frame["s_dec"].to_numpy(np.float64)),
        )
        self._xyz = np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])

    def search(self, ra: float, dec: float, radius_arcsec: float) -> pd.DataFrame:
        """Products within ``radius_arcsec`` of (ra, dec) deg, nearest first."""
        r, d = np.radians(ra), np.radians(dec)
        cos_d = self._xyz @ np.array([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])
        distance = np.degrees(np.arccos(np.clip(cos_d, -1, 1))) * 3600.0
        near = distance <= radius_arcsec
        found = self.products.loc[near, list(INDEX_COLUMNS)].assign(distance=distance[near])
        return found.sort_values("distance", kind="stable").reset_index(drop=True)


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".ecsv":
        from astropy.table import Table

        return Table.read(path, format="ascii.ecsv").to_pandas()
    return pd.read_csv(path)


def mast_search(ra: float, dec: float, radius_arcsec: float, author: Sequence[str] | None) -> pd.DataFrame:
    """Light-curve products at MAST within ``radius_arcsec`` (``lightkurve.search_lightcurve``)."""
    from astropy.coordinates import SkyCoord

    result = _lk().search_lightcurve(
        SkyCoord(ra * u.deg, dec * u.deg), radius=radius_arcsec, author=list(author) if author else None
    )
    table = result.table
    if len(table) == 0:
        return pd.DataFrame({name: [] for name in (*INDEX_COLUMNS, "distance")})
    frame = {name: [str(v) for v in table[name]] for name in INDEX_COLUMNS}
    frame["distance"] = np.asarray(table["distance"], dtype=np.float64)
    return pd.DataFrame(frame)


#: Bytes in a FITS block: a FITS file is a whole number of them.
FITS_BLOCK_BYTES = 2880


def fits_problem(data: bytes | Path) -> str | None:
    """Why ``data`` (a download's bytes, or a cached file) is not a complete FITS light-curve
    product, or None if it is one.

    Finds what a failed download leaves: something that is not FITS (an error page), a file cut
    short (not a whole number of 2,880-byte blocks, an HDU whose data runs past the end) and a
    primary header without the light-curve extension every product has. Only the headers are
    read (a cached file's data is left to lightkurve). ``NEXTEND`` is not trusted (lightkurve's
    own ``to_fits`` declares 2 extensions and writes 1), so a file cut exactly after its
    light-curve extension passes (its light curve is whole). A complete FITS file that
    lightkurve cannot read is not a problem here: :meth:`TessKeplerClient.read` skips it.
    """
    if isinstance(data, Path):
        with open(data, "rb") as file:
            return _fits_file_problem(file, data.stat().st_size)
    return _fits_file_problem(io.BytesIO(data), len(data))


def _fits_file_problem(file: BinaryIO, size: int) -> str | None:
    """:func:`fits_problem` of an open file of ``size`` bytes."""
    head = file.read(40)
    file.seek(0)
    if not head.startswith(b"SIMPLE  ="):
        return f"not a FITS file (it starts with {head!r})"
    if size % FITS_BLOCK_BYTES:
        return f"cut short ({size:,} bytes, not a whole number of {FITS_BLOCK_BYTES}-byte FITS blocks)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's "File may have been truncated": measured below
        try:
            with fits.open(file, lazy_load_hdus=False) as hdus:
                spans = [hdu.fileinfo() for hdu in hdus]
        except OSError as exc:
            return f"not readable as FITS ({exc})"
    end = max(span["datLoc"] + span["datSpan"] for span in spans)
    if end > size:
        return f"cut short ({size:,} of {end:,} bytes)"
    if len(spans) < 2:
        return "cut short (a primary header without the light-curve extension)"
    return None


def _read_products(body: bytes) -> pd.DataFrame:
    """A cached product list (CSV of :data:`INDEX_COLUMNS` and more, all read as text)."""
    return pd.read_csv(io.BytesIO(body), dtype={name: str for name in INDEX_COLUMNS})


# -- client -----------------------------------------------------------------------------------
@dataclass
class TessKeplerClient:
    """Search, download and read, all cached on disk under ``cache.directory``.

    Parameters
    ----------
    source : str
        MAST base URL, or the path of a local product index.
    index : LocalIndex or None
        The local index when ``source`` is one.
    download_url : str or None
        MAST's download endpoint; None: products must already be in the cache.
    cache : ResponseCache
        Product lists; product files go to ``<cache dir>/mastDownload``.
    policy : RetryPolicy
        Per-request timeout (s), retries and backoff (s).
    """

    source: str
    index: LocalIndex | None
    download_url: str | None
    cache: ResponseCache
    policy: RetryPolicy

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        #: Striped locks: threads asking for the same product file wait for one download.
        self._path_locks = [threading.Lock() for _ in range(64)]
        self.downloads = 0
        self.unreadable = 0

    def products(self, row: Any, radius_arcsec: float, author: Sequence[str] | None) -> pd.DataFrame:
        """The products near one object (cached)."""
        if self.index is not None:
            return self.index.search(float(row.ra), float(row.dec), radius_arcsec)
        request = {
            "source": self.source,
            "ra": float(row.ra),
            "dec": float(row.dec),
            "radius_arcsec": radius_arcsec,
            "author": sorted(author) if author else None,
        }

        def fetch() -> bytes:
            found = call_with_retries(
                lambda: mast_search(float(row.ra), float(row.dec), radius_arcsec, author),
                service=f"TESS/Kepler search for objectid {row.objectid}",
                url=self.source,
                policy=self.policy,
            )
            return found.to_csv(index=False).encode()

        return self.cache.get_or_fetch("search", request, fetch, _read_products, suffix="csv")

    def local_path(self, product: Any) -> Path:
        """Where lightkurve's download_all would look for ``product``."""
        return (
            self.cache.directory
            / "mastDownload"
            / str(product.obs_collection)
            / str(product.obs_id)
            / str(product.productFilename)
        )

    def ensure_file(self, product: Any, objectid: int) -> Path:
        """The product's local file, downloaded first if missing or incomplete.

        A download is written to the cache only if it is a complete FITS file
        (:func:`fits_problem`); one that is not (an error page, a body cut short) is asked for
        again, then fails the job. A cached file that is not complete (written before this
        check, or damaged) is downloaded again, or, without ``download_url``, fails the job.
        """
        path = self.local_path(product)
        with self._path_locks[hash(path) % len(self._path_locks)]:  # one download per product
            return self._ensure_file(path, product, objectid)

    def _ensure_file(self, path: Path, product: Any, objectid: int) -> Path:
        if path.exists():
            problem = fits_problem(path)
            if problem is None:
                return path
            if self.download_url is None:
                raise ArchiveError(
                    f"TESS/Kepler objectid {objectid}: the cached product {path} is {problem}; "
                    "remove it, or configure download_url to download it again"
                )
            # not removed: the download replaces it atomically (a reader sees old or new bytes)
            log.warning(
                "TESS/Kepler objectid %d: the cached %s is %s: downloading it again", objectid, path, problem
            )
        if self.download_url is None:
            raise ArchiveError(
                f"TESS/Kepler objectid {objectid}: {path} is not in the cache and no "
                "download_url is configured (offline product index)"
            )
        url, params = self.download_url, {"uri": str(product.dataURI)}

        def once() -> bytes:
            response = self._session().get(url, params=params, timeout=self.policy.timeout_s)
            response.raise_for_status()
            problem = fits_problem(response.content)
            if problem is not None:
                raise IncompleteAnswer(f"the answer is {problem}")
            return response.content

        data = call_with_retries(
            once,
            service=f"TESS/Kepler download for objectid {objectid}",
            url=f"{url}?uri={params['uri']}",
            policy=self.policy,
        )
        write_atomic(path, data)
        with self._lock:
            self.downloads += 1
        return path

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = new_session(self.policy.timeout_s)
        return session

    def read(self, path: Path, objectid: int, quality_bitmask: str) -> Any | None:
        """``lightkurve.read`` of one product; None (and a warning) if lightkurve cannot read it."""
        lk = _lk()
        try:
            return lk.read(str(path), quality_bitmask=quality_bitmask)
        except FileNotFoundError:
            raise  # a file removed under the job is lost data, not an odd product
        except (lk.LightkurveError, OSError, ValueError, KeyError) as exc:
            log.warning(
                "TESS/Kepler objectid %d: skipping %s, which lightkurve cannot read (%s: %s)",
                objectid,
                path.name,
                type(exc).__name__,
                exc,
            )
            with self._lock:
                self.unreadable += 1
            return None


@dataclass(frozen=True)
class TessKeplerQuery:
    """Per-object settings: cone radius (arcsec), authors, cadence step, quality mask."""

    radius_arcsec: float
    author: tuple[str, ...] | None
    downsample: int
    quality_bitmask: str

    def object_rows(self, client: TessKeplerClient, row: Any) -> pd.DataFrame:
        """Light-curve rows of one object from every product found near it."""
        parts = []
        for product in client.products(row, self.radius_arcsec, self.author).itertuples(index=False):
            band = band_of(product.mission)
            lc = client.read(
                client.ensure_file(product, int(row.objectid)), int(row.objectid), self.quality_bitmask
            )
            if lc is None:
                continue
            if not u.Quantity(lc.flux).unit.is_equivalent(ELECTRON_PER_S):
                log.warning(
                    "TESS/Kepler objectid %d: skipping %s, flux unit %s is not electron / s",
                    row.objectid,
                    product.productFilename,
                    u.Quantity(lc.flux).unit,
                )
                continue
            parts.append(lightcurve_rows(lc, band, self.downsample).assign(band=band))
        if not parts:
            return pd.DataFrame({"time": [], "flux": [], "err": [], "band": [], "objectid": [], "label": []})
        rows = pd.concat(parts, ignore_index=True).sort_values(["band", "time"], kind="stable")
        return rows.assign(objectid=int(row.objectid), label=str(row.label))


# -- fetch ------------------------------------------------------------------------------------
def fetch(
    sample: pd.DataFrame,
    *,
    source: str = DEFAULT_SOURCE,
    radius_arcsec: float = 1.0,
    author: Sequence[str] | None = None,
    downsample: int = 30,
    quality_bitmask: str = "default",
    cache_dir: str = DEFAULT_CACHE_DIR,
    download_url: str | None = None,
    **job: Unpack[ObjectJobOptions],
) -> Iterator[pa.RecordBatch]:
    """TESS, Kepler and K2 light curves of the sample objects, in electron / s.

    Parameters
    ----------
    sample
        As every reader's (:meth:`mwlc.archives.base.Reader.fetch`).
    **job
        As every per-object reader's (:class:`~mwlc.archives._per_object.ObjectJobOptions`):
        ``timeout_s`` (default 120) is the timeout of each search and download request.
    source : str, default ``https://mast.stsci.edu``
        MAST (searched through lightkurve/astroquery, whose MAST server is astroquery's
        configuration), or the path of a local product index (see the module docstring).
    radius_arcsec : float, default 1.0
        Search radius around each object, arcsec (the original's 1.0).
    author : list of str, optional
        Only products of these pipelines (lightkurve ``author``: ``SPOC``, ``Kepler``, ``K2``,
        ``QLP``...); None (default) keeps all, as the original.
    downsample : int, default 30
        Keep every ``downsample``-th cadence (1 keeps all).
    quality_bitmask : str, default "default"
        lightkurve's quality mask (``none``, ``default``, ``hard``, ``hardest``).
    cache_dir : str, default ``resources/cache/tess_kepler``
        Product lists and files (``mastDownload/...``, lightkurve's layout); created if missing.
    download_url : str, optional
        Endpoint serving ``?uri=<dataURI>``; default ``{source}/api/v0.1/Download/file`` for a
        URL source, none for a local index (then every file must already be in the cache).

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Lazy, in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`, in sample order; bands ``TESS``,
        ``Kepler``, ``K2``; time in MJD (TDB); flux and err in electron / s.

    Raises
    ------
    mwlc.errors.ConfigError, mwlc.errors.SampleError
        As every per-object reader (:mod:`mwlc.archives._per_object`).
    mwlc.errors.ArchiveError
        For an unreadable local index (raised by this call); while iterating, if a search or a
        download still fails after the retries, or a product is missing offline (names the object).
    """
    checked = ARCHIVE.check_params(
        {
            "radius_arcsec": radius_arcsec,
            "author": author,
            "downsample": downsample,
            "quality_bitmask": quality_bitmask,
            "cache_dir": cache_dir,
            "download_url": download_url,
        }
    )
    author = checked["author"]
    query = TessKeplerQuery(
        radius_arcsec=float(checked["radius_arcsec"]),
        author=None if author is None else tuple([author] if isinstance(author, str) else author),
        downsample=checked["downsample"],
        quality_bitmask=quality_bitmask,
    )
    run = object_job(job, ARCHIVE)
    check_sample(sample, "TESS/Kepler")
    client = _client(str(source), download_url, ResponseCache(checked["cache_dir"]), run.policy)
    return _stream(sample, query, client, run)


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """MAST answering at ``source`` (one request, with the archive's timeout and retries), or the
    local product index readable with its columns: one finding per problem."""
    if str(source).startswith(("http://", "https://")):
        policy = ARCHIVE.retry_policy(params)
        return check_answers(str(source), archive=NAME, source=str(source), policy=policy, what="MAST")
    path = Path(source)
    if not path.is_file():
        return [Finding(NAME, str(source), "an http(s) URL or a product index file", "neither")]
    try:
        LocalIndex(path)
    except (ArchiveError, OSError, ValueError) as err:
        return [Finding(NAME, str(source), "a readable product index", f"{type(err).__name__}: {err}")]
    return []


def _client(
    source: str, download_url: str | None, cache: ResponseCache, policy: RetryPolicy
) -> TessKeplerClient:
    """The client for a MAST URL or a local product index."""
    if source.startswith(("http://", "https://")):
        url = download_url or source.rstrip("/") + DOWNLOAD_PATH
        harden_mast_search(policy.timeout_s)
        return TessKeplerClient(source.rstrip("/"), None, url, cache, policy)
    path = Path(source)
    if not path.is_file():
        raise ArchiveError(
            f"TESS/Kepler source {source!r} is neither an http(s) URL nor an existing product index file"
        )
    return TessKeplerClient(source, LocalIndex(path), download_url, cache, policy)


def _stream(
    sample: pd.DataFrame, query: TessKeplerQuery, client: TessKeplerClient, run: ObjectJob
) -> Iterator[pa.RecordBatch]:
    lk = _lk()
    tally = Tally()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lk.LightkurveWarning)
        yield from object_batches(sample, partial(query.object_rows, client), run, "TESS/Kepler", tally)
    log.info(
        "TESS/Kepler: done: %d objects, %d with data, %d rows; %d product lists searched, %d from "
        "cache; %d files downloaded; %d unreadable products skipped; cache %s",
        len(sample),
        tally.objects,
        tally.rows,
        client.cache.misses,
        client.cache.hits,
        client.downloads,
        client.unreadable,
        client.cache.directory,
    )
