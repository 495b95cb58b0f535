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
from mwlc.archives.descriptors.heasarc import DEFAULT_CATALOGS
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
def check_number(value: Any, key: str, *, minimum: float = 0.0) -> float:
    """``value`` as a float if it is a finite number > ``minimum``, else ConfigError naming ``key``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not np.isfinite(value)
        or value <= minimum
    ):
        raise ConfigError(f"HEASARC: {key} must be a number > {minimum:g}, got {value!r}")
    return float(value)


def check_integer(value: Any, key: str, *, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``, else ConfigError naming ``key``."""
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
            max_radius_arcsec=check_number(
                merged["max_radius_arcsec"], f"catalogs.{table}.max_radius_arcsec"
            ),
            top_n=check_integer(merged["top_n"], f"catalogs.{table}.top_n", minimum=1),
        )
    key = f"catalogs.{table}.max_error_radius_arcsec"
    return ErrorCircleCatalog(
        table, max_error_radius_arcsec=check_number(merged["max_error_radius_arcsec"], key)
    )


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
