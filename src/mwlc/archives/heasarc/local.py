"""HEASARC from local copies of its tables: the TAP selection computed with KD-trees.

A directory holds ``<table>.parquet`` copies (columns ``ra``, ``dec``, ``error_radius`` in deg,
``time`` in MJD, and ``event_energy`` in GeV for ``icecubepsc``). Objects are matched block by
block, so memory is bounded by :data:`PAIR_BUDGET` candidate pairs (counted per object before any
pair is formed) (the original's IceCube match
held all pairs: 34.5 GiB at 500k objects). Pairs follow :mod:`mwlc.sky`'s matching rule, then
the catalog's own test (error circle, search radius).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

from mwlc.archives.heasarc.catalogs import Catalog, Matcher, NeutrinoCatalog
from mwlc.errors import ArchiveError
from mwlc.sky import search_chord, separation_deg, unit_vectors

log = logging.getLogger(__name__)

#: Local-copy mode: candidate (object, event) pairs held at once, which sets the objects
#: matched per KD-tree block (about 100 bytes of temporaries per pair).
PAIR_BUDGET = 1_000_000


def local_matcher(directory: Path, catalogs: list[Catalog]) -> Matcher:
    """The matching function of the local copies in ``directory``; one table in memory at a time.

    Raises
    ------
    mwlc.errors.ArchiveError
        If a copy of one of ``catalogs`` is missing or lacks a column.
    """
    paths = {catalog.table: local_path(directory, catalog) for catalog in catalogs}
    loaded: dict[str, LocalTable] = {}

    def match(catalog: Catalog, chunk: pd.DataFrame, what: str) -> pd.DataFrame:
        if catalog.table not in loaded:
            loaded.clear()  # one table in memory at a time
            loaded[catalog.table] = LocalTable.read(paths[catalog.table], catalog)
        return loaded[catalog.table].match(chunk)

    return match


def local_path(directory: Path, catalog: Catalog) -> Path:
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

    def block_starts(self, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
        """First object of each block, so that no block has more than :data:`PAIR_BUDGET` pairs.

        Each object's candidate events are counted first (KD-tree counts, no pairs held), so the
        bound holds however the events cluster; an object with more candidates than the budget
        is a block of its own.
        """
        counts = self.tree.query_ball_point(
            unit_vectors(ra_deg, dec_deg), search_chord(self.search_radius_deg), return_length=True
        )
        starts, held = [0], 0
        for index, count in enumerate(np.asarray(counts, dtype=np.int64)):
            if held and held + count > PAIR_BUDGET:
                starts.append(index)
                held = 0
            held += count
        return np.asarray(starts)

    def match(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Matched ``objectid``, ``time`` (and ``event_energy``) of the objects in ``chunk``,
        reduced per block by ``catalog.reduce``."""
        if chunk.empty:
            return self.catalog.reduce(self._match_block(chunk))
        starts = self.block_starts(chunk["ra"].to_numpy(np.float64), chunk["dec"].to_numpy(np.float64))
        bounds = [*starts, len(chunk)]
        parts = [
            self.catalog.reduce(self._match_block(chunk.iloc[start:stop]))
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
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
