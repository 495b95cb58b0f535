"""A HATS catalog's metadata as the partition reader needs it: pixels, leaf files, schema, margin.

Opening reads only metadata (``collection.properties``, ``hats.properties``,
``partition_info.csv`` and the schema in ``_common_metadata``), through hats, for the main
catalog and, when the collection has one, its default margin catalog. Leaf files are then read
by :mod:`mwlc.archives._crossmatch` with pyarrow directly, never by lsdb or dask.

With a read policy in the storage options (:func:`mwlc.storage.read_policy`), a remote source's
metadata, listings and leaf files are read with retries (:mod:`mwlc.storage_retry`).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from hats.pixel_math import HealpixPixel
from upath import UPath

from mwlc import storage_retry
from mwlc.archives._parquet import LeafFile
from mwlc.errors import ArchiveError, ConfigError, MwlcError
from mwlc.net import RetryPolicy
from mwlc.storage import fsspec_options, is_local, read_policy

if TYPE_CHECKING:
    from hats.catalog import Catalog, MarginCatalog

log = logging.getLogger(__name__)

#: Order of the HATS spatial index column ``_healpix_29``.
SPATIAL_INDEX_ORDER = 29
SPATIAL_INDEX_COLUMN = "_healpix_29"


class PixelIndex:
    """Which of a catalog's HEALPix pixels (of mixed orders) holds a given ``_healpix_29`` value."""

    def __init__(self, pixels: Sequence[HealpixPixel]):
        self.pixels = list(pixels)
        orders = np.array([p.order for p in self.pixels], dtype=np.int64)
        numbers = np.array([p.pixel for p in self.pixels], dtype=np.int64)
        self._by_order = {}
        for order in np.unique(orders):
            members = np.flatnonzero(orders == order)
            sort = np.argsort(numbers[members])
            self._by_order[int(order)] = (numbers[members][sort], members[sort])

    def locate(self, index29: np.ndarray) -> np.ndarray:
        """Position in :attr:`pixels` of the pixel holding each value, or -1 where none does."""
        found = np.full(len(index29), -1, dtype=np.int64)
        for order, (numbers, members) in self._by_order.items():
            pixel = np.asarray(index29, dtype=np.int64) >> (2 * (SPATIAL_INDEX_ORDER - order))
            slot = np.clip(np.searchsorted(numbers, pixel), 0, len(numbers) - 1)
            hit = numbers[slot] == pixel
            found[hit] = members[slot[hit]]
        return found

    def overlapping(self, ranges: np.ndarray) -> list[int]:
        """Positions of the pixels whose ``_healpix_29`` span meets one of ``ranges`` (sorted)."""
        hits = []
        for position, pixel in enumerate(self.pixels):
            shift = 2 * (SPATIAL_INDEX_ORDER - pixel.order)
            start, end = pixel.pixel << shift, (pixel.pixel + 1) << shift
            first = np.searchsorted(ranges[:, 1], start, side="right")
            if first < len(ranges) and ranges[first, 0] < end:
                hits.append(position)
        return hits


@dataclass(frozen=True)
class HatsCatalog:
    """The metadata of one HATS object catalog (and of its margin catalog, if it has one).

    Attributes
    ----------
    uri : str
        The source as the user gave it (a collection root, or a catalog directory).
    archive : str
        The archive's name, for messages (e.g. ``"ZTF"``).
    base : upath.UPath
        The main catalog's directory.
    schema : pyarrow.Schema
        The main catalog's schema.
    ra_column, dec_column : str
        Its position columns (deg).
    npix_suffix : str
        ``".parquet"`` for file leaves, ``"/"`` for directory leaves (``Npix=N/part0...``).
    pixels : PixelIndex
        Its partitions.
    margin_base : upath.UPath or None
        The margin catalog's directory; None without a margin.
    margin_pixels : PixelIndex or None
        The margin catalog's partitions.
    margin_threshold_arcsec : float or None
        The margin's width, arcsec.
    policy : mwlc.net.RetryPolicy or None
        How its remote files are read (:mod:`mwlc.storage_retry`); None: once, as fsspec reads.
    """

    uri: str
    archive: str
    base: UPath
    schema: pa.Schema
    ra_column: str
    dec_column: str
    npix_suffix: str
    pixels: PixelIndex
    margin_base: UPath | None = None
    margin_pixels: PixelIndex | None = None
    margin_threshold_arcsec: float | None = None
    policy: RetryPolicy | None = None

    @property
    def has_margin(self) -> bool:
        return self.margin_base is not None

    def leaf_files(self, pixel: HealpixPixel, *, margin: bool = False) -> list[LeafFile]:
        """The parquet file(s) of one partition of the main catalog, or of the margin catalog."""
        from hats.io import paths

        base = self.margin_base if margin else self.base
        leaf = paths.pixel_catalog_file(base, pixel, npix_suffix=self.npix_suffix)
        if self.npix_suffix != "/":
            return [LeafFile(leaf.path, leaf.fs, self.archive, self.policy)]
        try:
            found = sorted(
                storage_retry.call(
                    lambda: leaf.fs.find(leaf.path),
                    service=f"{self.archive} listing",
                    url=str(leaf),
                    policy=self.policy,
                )
            )
        except MwlcError:
            raise
        except Exception as err:  # a listing failure is an unreadable archive; keep the cause
            raise ArchiveError(f"cannot list {leaf}: {type(err).__name__}: {err}") from err
        names = [name for name in found if not Path(name).name.startswith((".", "_"))]
        if not names:
            raise ArchiveError(f"{self.archive} partition {pixel} of {self.uri} has no file under {leaf}")
        return [LeafFile(name, leaf.fs, self.archive, self.policy) for name in names]

    def require_columns(self, columns: Sequence[str]) -> None:
        """Raise :class:`ArchiveError` naming every column (``a`` or nested ``a.b``) the schema lacks."""
        missing = [column for column in columns if not _has_column(self.schema, column)]
        if missing:
            raise ArchiveError(
                f"{self.archive} source {self.uri} lacks column(s) {missing}; it has {self.schema.names}"
            )

    def check_radius(self, radius_arcsec: float) -> None:
        """The match radius (arcsec) must fit in the margin, or matches near partition edges are lost.

        Raises
        ------
        ConfigError
            If ``radius_arcsec`` exceeds the margin threshold (a catalog without a margin takes any
            radius: its neighbouring partitions are read instead).
        """
        threshold = self.margin_threshold_arcsec
        if threshold is not None and radius_arcsec > threshold:
            raise ConfigError(
                f"radius_arcsec={radius_arcsec} exceeds the margin threshold of {self.uri} "
                f"({threshold:g} arcsec); use radius_arcsec <= {threshold:g}"
            )


def _has_column(schema: pa.Schema, dotted: str) -> bool:
    """Whether ``schema`` has the column ``a`` or the nested field ``a.b`` (struct, or list of struct)."""
    name, _, rest = dotted.partition(".")
    if name not in schema.names:
        return False
    kind = schema.field(name).type
    for part in rest.split(".") if rest else []:
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            kind = kind.value_type
        if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
            return False
        kind = kind.field(part).type
    return True


def open_catalog(uri: str, *, archive: str, storage_options: dict | None = None) -> HatsCatalog:
    """Open a HATS collection (or a bare catalog) for the partition reader: metadata only.

    Parameters
    ----------
    uri : str
        Local path, ``s3://...`` or ``https://...`` of a collection root (its default margin is
        used) or of a catalog directory (no margin).
    archive : str
        The archive's name, for messages.
    storage_options : dict, optional
        fsspec options for S3-like sources (e.g. ``{"client_kwargs": {"endpoint_url": ...}}``),
        and the read policy (:data:`mwlc.storage.POLICY_KEYS`): a remote source's metadata and
        leaf files are then read with those timeouts and retries. S3 is read anonymously unless
        the options say otherwise (hats' default).

    Raises
    ------
    ArchiveError
        If a local path does not exist (checked first), or the source cannot be opened as HATS
        (the message names the URI and the cause), or its metadata could still not be read
        after the policy's last attempt (naming the URL, the attempts and the last error).
    """
    if is_local(uri) and not Path(str(uri).removeprefix("file://")).exists():
        raise ArchiveError(f"HATS source {uri} does not exist (local path not found)")
    options = fsspec_options(uri, storage_options)
    policy = None if is_local(uri) else read_policy(storage_options)
    try:
        with warnings.catch_warnings():
            # hats 0.11 resolves a collection's inner catalog names as local UPaths *with* the
            # storage options, and universal_pathlib warns that it ignores them: harmless noise.
            warnings.filterwarnings("ignore", "PosixUPath .* ignores protocol and storage_options")
            if policy is None:
                opened, margin = _read_metadata(uri, options)
            else:
                opened, margin = _read_metadata_retried(uri, options, archive, policy)
    except MwlcError:
        raise
    except Exception as err:  # any failure to open is an unreadable archive; keep the cause
        raise ArchiveError(f"cannot open HATS source {uri}: {type(err).__name__}: {err}") from err
    info = opened.catalog_info
    catalog = HatsCatalog(
        uri=str(uri),
        archive=archive,
        base=opened.catalog_base_dir,
        schema=opened.schema,
        ra_column=info.ra_column,
        dec_column=info.dec_column,
        npix_suffix=info.npix_suffix,
        pixels=PixelIndex(opened.get_healpix_pixels()),
        policy=policy,
    )
    if margin is None:
        return catalog
    return dataclasses.replace(
        catalog,
        margin_base=margin.catalog_base_dir,
        margin_pixels=PixelIndex(margin.get_healpix_pixels()),
        margin_threshold_arcsec=float(margin.catalog_info.margin_threshold),
    )


def _read_metadata(
    source: str | UPath, options: dict | None = None, *, single_catalog: bool | None = None
) -> tuple[Catalog, MarginCatalog | None]:
    """The main catalog and its default margin catalog (or None) of a collection or catalog.

    Raises
    ------
    FileNotFoundError
        If the main catalog has no schema (``_common_metadata`` or ``_metadata``).
    """
    import hats
    from hats.catalog import CatalogCollection

    opened = hats.read_hats(source, single_catalog=single_catalog, storage_options=options)
    margin_dir = None
    if isinstance(opened, CatalogCollection):
        margin_dir = opened.default_margin_catalog_dir
        opened = opened.main_catalog
    margin = hats.read_hats(margin_dir, single_catalog=True, read_moc=False) if margin_dir else None
    if opened.schema is None:
        raise FileNotFoundError("no schema (_common_metadata or _metadata)")
    return opened, margin


#: The properties file that makes a directory a HATS collection, then those of a bare catalog.
PROPERTIES_FILES = ("collection.properties", "hats.properties", "properties")


def _read_metadata_retried(
    uri: str, options: dict | None, archive: str, policy: RetryPolicy
) -> tuple[Catalog, MarginCatalog | None]:
    """:func:`_read_metadata` of a remote source, retried after faults.

    hats checks which files exist and takes a failed check for a missing file, so a fault there
    would look like a broken catalog. The properties file is therefore read first, with faults
    told from a missing file; once it has been read, the source exists, and any failure to read
    the rest of the metadata is retried.
    """
    from hats.io import file_io

    path = file_io.get_upath(uri, **(options or {}))  # hats' own defaults (anonymous S3, block size)
    storage_retry.single_attempt(path.fs)
    service = f"{archive} HATS metadata"
    single_catalog = _properties_file(path, service, policy) != "collection.properties"
    return storage_retry.call(
        lambda: _read_metadata(path, single_catalog=single_catalog),
        service=service,
        url=str(path),
        policy=policy,
        transient=lambda err: True,
    )


def _properties_file(path: UPath, service: str, policy: RetryPolicy) -> str:
    """The first of :data:`PROPERTIES_FILES` under ``path`` (read with retries).

    Raises
    ------
    FileNotFoundError
        If there is none.
    """
    for name in PROPERTIES_FILES:
        try:
            storage_retry.call((path / name).read_bytes, service=service, url=str(path / name), policy=policy)
        except FileNotFoundError:
            continue
        return name
    raise FileNotFoundError(f"none of {list(PROPERTIES_FILES)} under {path}")
