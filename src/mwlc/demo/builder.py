"""What the demo builders share: their common parameters, the sample check and field sources.

Every builder (``build_ztf_hats``, ``build_gaia_hats``, ``build_panstarrs_hats``,
``build_unwise_dataset``) takes

sample : pandas.DataFrame
    ``objectid`` (int64, 0 <= objectid < the builder's limit), ``ra`` and ``dec`` (deg, ICRS); at
    least one row. Synthetic sources are placed around these positions: a counterpart, decoys a
    few arcsec away and unrelated field sources further out.
out_dir : path-like
    The snapshot's root, replaced if it exists (the builder says what it holds).
seed : int, default 0
    Mixed into every hash (:mod:`mwlc.demo.hashing`): another seed gives another, equally
    deterministic archive.
n_field_sources (Gaia), n_field_objects (ZTF, Pan-STARRS) : int or None
    Unrelated field sources 6-150 arcsec from the sample objects (:func:`field_positions`);
    default :data:`FIELD_PER_OBJECT` per sample object.
order (Gaia, ZTF) : int, optional
    Partition the catalog at this HEALPix order (every partition one pixel of it, as a large
    real collection is); default: about eight partitions, for small test catalogs.

and its functions that compute the rows (``ztf_objects``, ``gaia_sources``, ``ps1_objects``,
``unwise_detections``) take the same ``sample`` and ``seed``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mwlc.demo.hashing import uniform
from mwlc.sky import offset_by

log = logging.getLogger(__name__)

#: Field sources per sample object unless the builder is given a number.
FIELD_PER_OBJECT = 20
#: Inner and outer distance (arcsec) of the field sources from their sample object.
FIELD_ARCSEC = (6.0, 150.0)


def require_sample(sample: pd.DataFrame, builder: str) -> None:
    """Raise ``ValueError`` naming ``builder`` if ``sample`` has no row to place sources around."""
    if sample.empty:
        raise ValueError(f"{builder} needs at least one sample object to place sources around")


def sample_positions(
    sample: pd.DataFrame, builder: str, id_limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``objectid`` (int64), ``ra`` and ``dec`` (float64, deg) of ``sample``, ids checked.

    Raises
    ------
    ValueError
        Naming ``builder`` if an objectid lies outside ``[0, id_limit)`` (the builder packs it
        into its own ids).
    """
    objectid = sample["objectid"].to_numpy(np.int64)
    if len(objectid) and not (0 <= objectid.min() and objectid.max() < id_limit):
        raise ValueError(f"{builder} needs sample objectids in [0, {id_limit})")
    return objectid, sample["ra"].to_numpy(np.float64), sample["dec"].to_numpy(np.float64)


def field_count(sample: pd.DataFrame, n_field: int | None) -> int:
    """``n_field``, or :data:`FIELD_PER_OBJECT` per sample object if it is None."""
    return FIELD_PER_OBJECT * len(sample) if n_field is None else n_field


def finish(out_dir: Path, readme: str, summary: str) -> Path:
    """Write ``readme`` (which says SYNTHETIC) to ``out_dir/README.txt`` and log ``summary``.

    Returns
    -------
    pathlib.Path
        ``out_dir``, as every builder returns it.
    """
    (out_dir / "README.txt").write_text(readme)
    log.info("wrote %s in %s", summary, out_dir)
    return out_dir


def field_positions(
    n: int, ra: np.ndarray, dec: np.ndarray, seed: int, streams: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` field sources spread area-uniformly :data:`FIELD_ARCSEC` around the positions in turn.

    Parameters
    ----------
    n : int
        Number of field sources; source ``i`` lies around position ``i % len(ra)``.
    ra, dec : numpy.ndarray
        The sample positions, deg.
    seed : int
        Hash seed.
    streams : (int, int)
        The builder's hash streams of the separation and of the position angle.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        The serial numbers ``0 .. n - 1`` (int64, the sources' hash keys), RA and Dec (deg).
    """
    serial = np.arange(n, dtype=np.int64)
    host = serial % max(len(ra), 1)
    inner, outer = FIELD_ARCSEC
    sep = np.sqrt(inner**2 + (outer**2 - inner**2) * uniform(seed, streams[0], serial))
    src_ra, src_dec = offset_by(ra[host], dec[host], 360 * uniform(seed, streams[1], serial), sep)
    return serial, src_ra, src_dec
