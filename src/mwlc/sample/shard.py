"""Number the objects in HEALPix order and cut them into contiguous, balanced shards.

Ordering by the nested HEALPix index at order 29 (hats' ``_healpix_29``, ~0.4 mas pixels) makes
consecutive objectids neighbours on the sky, so a shard of consecutive objectids covers a compact
patch and touches few catalog partitions. Ties (identical pixels) are broken by ``ra``, ``dec``,
``label`` and then input order, so the same objects always get the same ids.

Shard ``i`` holds a contiguous range of objectids; sizes differ by at most one, the larger
shards first (``numpy.array_split`` semantics). With more shards than objects the trailing
shards are **empty**: they still exist (the workflow's DAG has exactly ``n_shards`` shard files
per archive) and are written as zero-row files with the full schema.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy.coordinates import Latitude, Longitude
from cdshealpix.nested import lonlat_to_healpix

from mwlc.errors import ConfigError


def assign_objectids(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort objects by HEALPix index and number them 1..N.

    Parameters
    ----------
    frame : pandas.DataFrame
        Objects with at least ``ra``, ``dec`` (degrees, ICRS, ra in [0, 360)) and ``label``.

    Returns
    -------
    pandas.DataFrame
        ``frame`` reordered by (``_healpix_29``, ``ra``, ``dec``, ``label``, input order), with a
        first column ``objectid`` (int64, 1..N in that order) and a fresh ``RangeIndex``.
    """
    ra_deg, dec_deg = frame["ra"].to_numpy(float), frame["dec"].to_numpy(float)
    order = healpix_order(ra_deg, dec_deg, frame["label"])
    result = frame.iloc[order].reset_index(drop=True)
    result.insert(0, "objectid", np.arange(1, len(result) + 1, dtype=np.int64))
    return result


def healpix_order(ra_deg: np.ndarray, dec_deg: np.ndarray, labels: pd.Series) -> np.ndarray:
    """Row order by (nested HEALPix order-29 index, ra, dec, label, position); stable."""
    if len(ra_deg) == 0:
        return np.zeros(0, dtype=np.int64)
    # hats' compute_spatial_index, without importing hats (and numba) into the sample job
    pixel = lonlat_to_healpix(Longitude(ra_deg, unit="deg"), Latitude(dec_deg, unit="deg"), 29)
    pixel = np.asarray(pixel, dtype=np.int64)
    label_rank = pd.factorize(labels.astype(str), sort=True)[0]
    return np.lexsort((label_rank, dec_deg, ra_deg, pixel))


def shard_sizes(n_objects: int, n_shards: int) -> np.ndarray:
    """Objects per shard (int64 array of length ``n_shards``), the larger shards first."""
    _check_counts(n_objects, n_shards)
    base, extra = divmod(n_objects, n_shards)
    return np.where(np.arange(n_shards) < extra, base + 1, base).astype(np.int64)


def shard_of(objectid: int | np.ndarray, n_objects: int, n_shards: int) -> int | np.ndarray:
    """The shard holding ``objectid``.

    Parameters
    ----------
    objectid : int or numpy.ndarray of int
        Object id(s) in ``1..n_objects``.
    n_objects : int
        Number of objects in the sample.
    n_shards : int
        Number of shards (>= 1; may exceed ``n_objects``, leaving trailing shards empty).

    Returns
    -------
    int or numpy.ndarray
        Shard number(s) in ``0..n_shards-1``; shard ``i`` holds a contiguous objectid range and
        shard sizes are :func:`shard_sizes`.
    """
    _check_counts(n_objects, n_shards)
    ids = np.asarray(objectid, dtype=np.int64)
    if ids.size and (ids.min() < 1 or ids.max() > n_objects):
        raise ValueError(f"objectid must be in 1..{n_objects}, got {ids.min()}..{ids.max()}")
    base, extra = divmod(n_objects, n_shards)
    index = ids - 1
    in_big = index < extra * (base + 1)
    small = extra + (index - extra * (base + 1)) // max(base, 1)
    shard = np.where(in_big, index // (base + 1), small)
    return int(shard) if shard.ndim == 0 else shard


def assign_shards(frame: pd.DataFrame, n_shards: int) -> pd.DataFrame:
    """Copy of ``frame`` (with ``objectid`` 1..N) plus an int64 ``shard`` column."""
    result = frame.copy()
    result["shard"] = shard_of(result["objectid"].to_numpy(), len(result), n_shards)
    return result


def _check_counts(n_objects: int, n_shards: int) -> None:
    """Reject a non-positive shard count or a negative object count."""
    if int(n_shards) != n_shards or n_shards < 1:
        raise ConfigError(f"n_shards = {n_shards!r} must be an integer >= 1")
    if n_objects < 0:
        raise ValueError(f"n_objects = {n_objects!r} must be >= 0")
