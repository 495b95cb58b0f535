"""HEASARC catalog definitions: what an object matches in each table, and the ``catalogs`` parameter.

* ``FERMIGTRIG``, ``SAXGRBMGRB`` (:class:`ErrorCircleCatalog`): events whose own error circle
  contains the object and whose error radius is below a maximum. Rows are markers:
  flux = err = 0.1, band = the catalog name.
* ``icecubepsc`` (:class:`NeutrinoCatalog`): IceCube track events within a fixed radius of the
  object and closer to it than their own error radius; flux = log10(event_energy / GeV),
  err = 0, band ``IceCube``; only the ``top_n`` most energetic events of each object are kept.

Each catalog states its selection twice, once for each way of reading the tables: as ADQL for
the TAP service (:mod:`.tap`) and as array tests for local copies (:mod:`.local`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mwlc.archives._tap import UPLOAD_NAME
from mwlc.archives.descriptors.heasarc import ARCHIVE, DEFAULT_CATALOGS
from mwlc.errors import ConfigError

#: flux and err of an event-marker row (FERMIGTRIG, SAXGRBMGRB), as in the original.
MARKER_FLUX = 0.1
_NEUTRINO_TABLE = "icecubepsc"


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

#: (catalog, chunk of the sample, description) -> matched (objectid, time[, event_energy])
Matcher = Callable[[Catalog, pd.DataFrame, str], pd.DataFrame]


# -- configuration ----------------------------------------------------------------------------
def parse_catalogs(catalogs: Mapping[str, Any] | None) -> list[Catalog]:
    """The catalogs to query, from the ``catalogs`` parameter, checked by the descriptor.

    Parameters
    ----------
    catalogs : mapping, optional
        Table name (case-insensitive: ``FERMIGTRIG``, ``SAXGRBMGRB``, ``icecubepsc``) -> its
        settings (see :data:`DEFAULT_CATALOGS`; missing keys take the defaults), or null/false to
        skip that table (true: its defaults). Tables not named are skipped. None means
        :data:`DEFAULT_CATALOGS`.

    Returns
    -------
    list of ErrorCircleCatalog or NeutrinoCatalog
        In the order given.

    Raises
    ------
    mwlc.errors.ConfigError
        For an unknown table or key, a value out of range (the message names
        ``archives.heasarc.catalogs.<table>.<key>``), or no table left to query.
    """
    catalogs = _canonical_tables(DEFAULT_CATALOGS if catalogs is None else catalogs)
    ARCHIVE.check_params({"catalogs": catalogs})
    chosen = [_catalog(table, spec) for table, spec in catalogs.items() if spec is not None]
    if not chosen:
        raise ConfigError(
            "config key 'archives.heasarc.catalogs': no table to query (none named, or every one null); "
            "disable the archive instead"
        )
    return chosen


def _canonical_tables(catalogs: Any) -> Any:
    """``catalogs`` with its tables spelt as the descriptor does, ``true`` as ``{}`` and ``false``
    as null; anything but a mapping is returned as given, for the descriptor to refuse."""
    if not isinstance(catalogs, Mapping):
        return catalogs
    known = {name.lower(): name for name in DEFAULT_CATALOGS}
    spelt: dict[Any, Any] = {}
    for name, spec in catalogs.items():
        table = known.get(str(name).lower(), name)
        if table in spelt:
            raise ConfigError(f"config key 'archives.heasarc.catalogs': names the table {table} twice")
        spelt[table] = {} if spec is True else None if spec is False else spec
    return spelt


def _catalog(table: str, spec: Mapping[str, Any]) -> Catalog:
    """One catalog from its checked config entry (missing keys take the defaults)."""
    merged = {**DEFAULT_CATALOGS[table], **spec}
    if table == _NEUTRINO_TABLE:
        return NeutrinoCatalog(table, float(merged["max_radius_arcsec"]), int(merged["top_n"]))
    return ErrorCircleCatalog(table, float(merged["max_error_radius_arcsec"]))
