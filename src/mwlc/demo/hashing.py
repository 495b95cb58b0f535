"""Counter-based deterministic random numbers for synthetic archives.

Values are a pure function of integer keys (splitmix64), never of a generator's state: the same
object gets the same values wherever it is generated (e.g. in a HATS partition and in the
margin copy of it), whatever the order or partitioning.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def hash64(*keys) -> np.ndarray:
    """splitmix64 of a tuple of integer keys (arrays broadcast), as uint64."""
    h = np.zeros(np.broadcast_shapes(*(np.shape(key) for key in keys)), np.uint64)
    for key in keys:
        z = (h ^ np.asarray(key).astype(np.uint64)) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = z ^ (z >> np.uint64(31))
    return h


def uniform(*keys) -> np.ndarray:
    """Deterministic U[0, 1) per key tuple."""
    return (hash64(*keys) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def normal(*keys) -> np.ndarray:
    """Deterministic N(0, 1) per key tuple (Box-Muller)."""
    u1 = 1.0 - uniform(*keys, 101)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * uniform(*keys, 102))
