"""Merge sample rows that point at the same object (friends-of-friends within a radius).

The original ``clean_sample`` merged near-duplicates with an astropy self-join on
``join_skycoord(0.005 deg)`` (5.5 min at 500k objects). Here positions become 3-D unit vectors,
pairs closer than the radius come from :meth:`scipy.spatial.cKDTree.query_pairs` on the chord
distance, and groups are the connected components of that pair graph
(:func:`scipy.sparse.csgraph.connected_components`): about a second at 500k objects, exact at
the RA 0/360 seam and at the poles, where (ra, dec) differences mislead.

Grouping rule
-------------
Two rows are *friends* when their angular separation is at most ``radius_arcsec``. A group is a
connected component of the friendship graph, so it is **transitive**: a chain A-B-C with A-B and
B-C within the radius is one object even when A and C are farther apart (a friends-of-friends
grouping). The groups depend only on the set of positions, never on row order.

The original's groups can differ in such chains. ``join_skycoord`` numbers the pairs found by
``search_around_sky`` in one pass: a pair takes a number one of its rows already has, and two
numbers already handed out are never joined, so a chain can be cut in two, or not, depending on
the order of the rows. Four positions on a line, 10" apart (A at 0", B 10", C 20",
D 30"), radius 18"::

    input order     original (join_skycoord)      here (friends-of-friends)
    A, B, C, D      1 object: {A, B, C, D}        1 object: {A, B, C, D}
    A, C, D, B      2 objects: {A, B}, {C, D}     1 object: {A, B, C, D}

Only chains (three or more rows, each within the radius of the next but not all of each other)
can group differently; where they do, this grouping is the one that does not depend on the order
of the sources and rows. The row kept for a group (below) still follows input order, as in the
original.

Within a group the **first row in input order** is kept: its ``ra``, ``dec``, ``label`` and
``origin`` describe the object, so the label of the source listed first in the config wins, as
in the original. ``labels`` lists every distinct label of the group in first-seen order, joined
by :data:`~mwlc.sample.validate.LABEL_SEPARATOR` (``"; "``; validation rejects labels containing
``";"``), and ``n_merged`` counts the input rows of the group (1 for an object seen once).
``labels`` stops before :data:`MAX_LABELS_CHARS` characters with a last item ``(+N more)``
counting the labels left out (astropy cannot read an ECSV field over 131,072 characters).

Crowded fields
--------------
In a field denser than about one position per radius (a cluster, a Kepler field: ~50,000
positions per square degree at 18"), friends-of-friends links neighbours into chains that
percolate: 20,000 positions in half a degree became 87 "objects". Such a sample is refused
(:class:`~mwlc.errors.SampleError`, before any archive is queried) when a group of more than
:data:`CROWDED_GROUP_ROWS` rows spans more than twice the radius from its kept row, and when
more than :data:`MAX_CLOSE_PAIRS` pairs of rows lie within the radius (a blob of ~6,000
positions; the pairs are what the grouping holds in memory, ~50 bytes each). A large group
that stays within twice the radius (repeated positions of one object) is merged, with a warning.

Cost is O(N log N) plus the number of close pairs, which is small for real samples (the SDSS
500k demo has ~1,100 duplicates); a dense blob of k rows within one radius costs k^2/2 pairs,
counted first (:meth:`~scipy.spatial.cKDTree.count_neighbors`, no pair held) and refused above
:data:`MAX_CLOSE_PAIRS`.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from mwlc.errors import ConfigError, SampleError
from mwlc.sample.validate import LABEL_SEPARATOR, require_columns
from mwlc.sky import ARCSEC_PER_DEG, search_chord, separation_deg, unit_vectors

log = logging.getLogger(__name__)

#: The original's ``join_skycoord(0.005 * u.deg)``, in arcseconds.
DEFAULT_RADIUS_ARCSEC = 18.0

#: Longest ``labels`` value, in characters, ``(+N more)`` included.
MAX_LABELS_CHARS = 2000

#: A group of more rows than this is a crowded field (refused) if it spans more than twice
#: the radius, and merged with a warning if not.
CROWDED_GROUP_ROWS = 100

#: Most pairs of rows within the radius the grouping accepts (~50 bytes of memory each).
MAX_CLOSE_PAIRS = 20_000_000

#: Pairs whose exact separation is computed at a time.
_PAIRS_PER_CHUNK = 1_000_000

_CROWDED_FIX = "lower sample.consolidate_radius_arcsec (e.g. 1), or set it to 0 to keep every row"

#: Columns of :func:`consolidate`'s result, in order.
OUTPUT_COLUMNS = ("ra", "dec", "label", "labels", "origin", "n_merged")


def consolidate(frame: pd.DataFrame, radius_arcsec: float = DEFAULT_RADIUS_ARCSEC) -> pd.DataFrame:
    """Merge rows closer than ``radius_arcsec`` into one object each.

    Parameters
    ----------
    frame : pandas.DataFrame
        Validated rows (see :func:`~mwlc.sample.validate.validate_positions`) with columns
        ``ra``, ``dec`` (degrees, ICRS), ``label``, ``origin``, in source order.
    radius_arcsec : float
        Merge radius in arcseconds (default 18, the original's 0.005 deg). Rows at most this far
        apart are friends; groups are transitive (see the module docstring). ``0`` disables
        merging: every row becomes an object, even exact duplicates.

    Returns
    -------
    pandas.DataFrame
        One row per object, in input order of the kept rows, with columns ``ra``, ``dec``
        (degrees, of the first row of the group), ``label``, ``origin`` (of that row),
        ``labels`` (distinct labels, first-seen order, joined by ``"; "``, at most
        :data:`MAX_LABELS_CHARS` characters ending in ``(+N more)`` when cut) and ``n_merged``
        (int64, input rows in the group). The index is a fresh ``RangeIndex``.

    Raises
    ------
    mwlc.errors.ConfigError
        If ``radius_arcsec`` is negative or not finite.
    mwlc.errors.SampleError
        If the rows are too crowded for the radius (see "Crowded fields" above), naming a row.
    """
    require_columns(frame)
    start = time.perf_counter()
    ra_deg, dec_deg = frame["ra"].to_numpy(float), frame["dec"].to_numpy(float)
    origins = frame["origin"].to_numpy(dtype=object)
    group = friends_of_friends(ra_deg, dec_deg, radius_arcsec, origins=origins)
    _refuse_chains(ra_deg, dec_deg, group, radius_arcsec, origins)
    result = _collapse(frame, group)
    log.info(
        "consolidation within %g arcsec: %d rows -> %d objects (largest group %d rows) in %.2f s",
        radius_arcsec,
        len(frame),
        len(result),
        result["n_merged"].max() if len(result) else 0,
        time.perf_counter() - start,
    )
    _warn_if_crowded(result, radius_arcsec)
    return result


def _refuse_chains(
    ra_deg: np.ndarray, dec_deg: np.ndarray, group: np.ndarray, radius_arcsec: float, origins: np.ndarray
) -> None:
    """Raise if a group of more than :data:`CROWDED_GROUP_ROWS` rows spans more than twice the
    radius from its first row: a chain through a crowded field, not one object."""
    sizes = np.bincount(group) if len(group) else np.zeros(0, np.int64)
    chains = []
    for crowded in np.flatnonzero(sizes > CROWDED_GROUP_ROWS):
        members = np.flatnonzero(group == crowded)
        first = members[0]
        span_arcsec = ARCSEC_PER_DEG * float(
            separation_deg(ra_deg[first], dec_deg[first], ra_deg[members], dec_deg[members]).max()
        )
        if span_arcsec > 2 * radius_arcsec:
            chains.append((len(members), span_arcsec, origins[first]))
    if chains:
        rows, span_arcsec, origin = max(chains)
        raise SampleError(
            f"consolidation within {radius_arcsec:g} arcsec chains {len(chains)} group(s) of more than "
            f"{CROWDED_GROUP_ROWS} rows across more than twice that radius (largest: {rows:,} rows "
            f"spanning {span_arcsec:,.0f} arcsec from sample row {origin!r}): in a crowded field "
            f"friends-of-friends links neighbours into one 'object'; {_CROWDED_FIX}"
        )


def _warn_if_crowded(objects: pd.DataFrame, radius_arcsec: float) -> None:
    """Warn when groups of more than :data:`CROWDED_GROUP_ROWS` rows were merged (each within
    twice the radius: repeated positions of one object)."""
    crowded = objects[objects["n_merged"] > CROWDED_GROUP_ROWS]
    if crowded.empty:
        return
    largest = crowded.loc[crowded["n_merged"].idxmax()]
    log.warning(
        "%d objects each merge more than %d sample rows within %g arcsec (largest: %d rows, kept "
        "row %s): repeated positions of one object; if they are distinct sources, %s",
        len(crowded),
        CROWDED_GROUP_ROWS,
        radius_arcsec,
        largest["n_merged"],
        largest["origin"],
        _CROWDED_FIX,
    )


def friends_of_friends(
    ra_deg: np.ndarray, dec_deg: np.ndarray, radius_arcsec: float, *, origins: np.ndarray | None = None
) -> np.ndarray:
    """Group positions into friends-of-friends components.

    Parameters
    ----------
    ra_deg, dec_deg : numpy.ndarray
        Positions in degrees (any right ascension; the math uses unit vectors).
    radius_arcsec : float
        Linking length in arcseconds, inclusive (the matching rule of :mod:`mwlc.sky`); ``0``
        puts every position in its own group.
    origins : numpy.ndarray, optional
        What to call each position in an error (e.g. ``"file x.csv row 12"``).

    Returns
    -------
    numpy.ndarray
        int64 group number per position. Numbers are arbitrary; the partition is not.

    Raises
    ------
    mwlc.errors.SampleError
        If more than :data:`MAX_CLOSE_PAIRS` pairs lie within the radius (counted before any
        pair is held), naming the position with the most neighbours.
    """
    if not (math.isfinite(radius_arcsec) and radius_arcsec >= 0):
        raise ConfigError(f"consolidate radius_arcsec = {radius_arcsec!r} must be a number >= 0")
    n = len(ra_deg)
    if radius_arcsec == 0 or n < 2:
        return np.arange(n, dtype=np.int64)
    ra_deg, dec_deg = np.asarray(ra_deg, np.float64), np.asarray(dec_deg, np.float64)
    radius_deg = radius_arcsec / ARCSEC_PER_DEG
    tree, chord = cKDTree(unit_vectors(ra_deg, dec_deg)), search_chord(radius_deg)
    _refuse_crowding(tree, chord, radius_arcsec, origins)
    pairs = _within(tree.query_pairs(chord, output_type="ndarray"), ra_deg, dec_deg, radius_deg)
    log.debug("%d pairs within %g arcsec", len(pairs), radius_arcsec)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), (n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _within(pairs: np.ndarray, ra_deg: np.ndarray, dec_deg: np.ndarray, radius_deg: float) -> np.ndarray:
    """The ``pairs`` (rows of index pairs) at most ``radius_deg`` apart, tested a chunk at a time
    (:data:`_PAIRS_PER_CHUNK`) so that the distances' temporaries stay small."""
    kept = []
    for start in range(0, len(pairs), _PAIRS_PER_CHUNK):
        first, second = pairs[start : start + _PAIRS_PER_CHUNK].T
        close = separation_deg(ra_deg[first], dec_deg[first], ra_deg[second], dec_deg[second]) <= radius_deg
        kept.append(pairs[start : start + _PAIRS_PER_CHUNK][close])
    return np.concatenate(kept) if kept else pairs


def _refuse_crowding(tree: cKDTree, chord: float, radius_arcsec: float, origins: np.ndarray | None) -> None:
    """Raise if more than :data:`MAX_CLOSE_PAIRS` pairs of positions lie within ``chord``."""
    n = tree.n
    n_pairs = (int(tree.count_neighbors(tree, chord)) - n) // 2
    if n_pairs <= MAX_CLOSE_PAIRS:
        return
    neighbours = tree.query_ball_point(tree.data, chord, return_length=True) - 1
    densest = int(np.argmax(neighbours))
    where = f"sample row {origins[densest]!r}" if origins is not None else f"position {densest}"
    raise SampleError(
        f"{n_pairs:,} pairs of sample rows lie within {radius_arcsec:g} arcsec of each other (at most "
        f"{MAX_CLOSE_PAIRS:,} are grouped): {where} alone has {int(neighbours[densest]):,}. A crowded "
        f"field or repeated detections of an object, not a list of objects: {_CROWDED_FIX}, or remove "
        "the repeats from the source"
    )


def _collapse(frame: pd.DataFrame, group: np.ndarray) -> pd.DataFrame:
    """Keep the first row of each group; add ``labels`` and ``n_merged``."""
    _, first = np.unique(group, return_index=True)
    keep = np.sort(first)
    sizes = np.bincount(group)
    kept_group = group[keep]
    labels = frame["label"].to_numpy(dtype=object)[keep].copy()
    merged = sizes[kept_group] > 1
    if merged.any():
        joined = _joined_labels(frame["label"].to_numpy(dtype=object), group, sizes)
        labels[merged] = joined.loc[kept_group[merged]].to_numpy()
    return pd.DataFrame(
        {
            "ra": frame["ra"].to_numpy(float)[keep],
            "dec": frame["dec"].to_numpy(float)[keep],
            "label": pd.array(frame["label"].to_numpy(dtype=object)[keep], dtype="str"),
            "labels": pd.array(labels, dtype="str"),
            "origin": pd.array(frame["origin"].to_numpy(dtype=object)[keep], dtype="str"),
            "n_merged": sizes[kept_group].astype(np.int64),
        },
        columns=list(OUTPUT_COLUMNS),
    )


def _joined_labels(labels: np.ndarray, group: np.ndarray, sizes: np.ndarray) -> pd.Series:
    """Distinct labels of every multi-row group, first-seen order, joined; indexed by group."""
    rows = np.flatnonzero(sizes[group] > 1)
    members = pd.DataFrame({"group": group[rows], "label": labels[rows]}).drop_duplicates()
    return members.groupby("group", sort=False)["label"].agg(join_labels)


def join_labels(labels: pd.Series) -> str:
    """``labels`` joined by ``"; "``, cut to at most :data:`MAX_LABELS_CHARS` characters.

    When they do not all fit, as many as fit are kept, in order, followed by ``(+N more)``.
    """
    joined = LABEL_SEPARATOR.join(labels)
    if len(joined) <= MAX_LABELS_CHARS:
        return joined
    kept: list[str] = []
    used = 0
    for label in labels:
        more = f"(+{len(labels) - len(kept)} more)"
        if used + len(label) + len(LABEL_SEPARATOR) + len(more) > MAX_LABELS_CHARS:
            return LABEL_SEPARATOR.join([*kept, more])
        kept.append(label)
        used += len(label) + len(LABEL_SEPARATOR)
    raise AssertionError("unreachable: the labels were longer than the limit")
