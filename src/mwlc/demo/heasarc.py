"""Synthetic local copies of the HEASARC tables FERMIGTRIG, SAXGRBMGRB and icecubepsc.

:func:`build` writes ``<table>.parquet`` files that the ``heasarc`` archive reads in local-copy
mode (``source`` = the directory), in the tables' real columns: ``ra``, ``dec`` and
``error_radius`` in degrees, ``time`` in MJD, ``event_energy`` in GeV (linear), plus the name
columns of the GRB tables. Every value is SYNTHETIC and a pure function of (seed, table, object id,
event slot) through :mod:`mwlc.demo.hashing`.

Around each sample object the builder places events that exercise every cut of the archive's
default settings, and events scattered over the whole sky:

* FERMIGTRIG / SAXGRBMGRB: one event whose error circle contains the object with a radius below
  the default maximum (1 deg / 3 deg), a second one half of the time, one containing it with a
  radius above that maximum (excluded by default), and one whose circle just misses it;
* icecubepsc: six events 0-2.4 deg away with error radii of 0.2-3 deg and energies of
  10^2.5-10^6 GeV, so some pass (distance <= 2 deg and < error radius) and some do not.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.time import Time

from mwlc.demo.builder import finish
from mwlc.demo.hashing import uniform
from mwlc.sky import ARCSEC_PER_DEG, offset_by

_README = """\
SYNTHETIC demo data -- NOT real HEASARC events.

Local copies of the HEASARC tables FERMIGTRIG, SAXGRBMGRB and icecubepsc in their real columns
(ra, dec, error_radius in deg; time in MJD; event_energy in GeV), written by mwlc.demo.heasarc.build
(seed={seed}) around {n_sample} sample objects: events whose error circles contain the objects
(some with radii above the default maxima), near misses, and events scattered over the sky.
Counts: {counts}.
"""


@dataclass(frozen=True)
class _Slot:
    """One event placed around each object: how far away and how large its error circle is.

    ``offset`` is a fraction of the error radius (``relative=True``) or degrees.
    """

    radius_deg: tuple[float, float]
    offset: tuple[float, float]
    relative: bool = True
    fraction: float = 1.0


@dataclass(frozen=True)
class _TableSpec:
    key: int
    time_mjd: tuple[float, float]
    slots: tuple[_Slot, ...]
    n_background: int
    background_radius_deg: tuple[float, float]


def _error_circle_slots(
    radius_deg: tuple[float, float], too_large_deg: tuple[float, float]
) -> tuple[_Slot, ...]:
    """The events of an error-circle table around each object: two whose circles contain it (the
    second for half of the objects), one whose circle would contain it but is larger than the
    default maximum error radius (``too_large_deg``), and a near miss just outside its circle."""
    inside = (0.0, 0.9)
    return (
        _Slot(radius_deg, inside),
        _Slot(radius_deg, inside, fraction=0.5),
        _Slot(too_large_deg, inside),
        _Slot(radius_deg, (1.1, 1.5)),
    )


_SPECS = {
    "FERMIGTRIG": _TableSpec(
        key=1,
        time_mjd=(54650.0, 60800.0),
        n_background=200,
        background_radius_deg=(0.001, 15.0),
        slots=_error_circle_slots(radius_deg=(0.05, 0.9), too_large_deg=(1.2, 4.0)),
    ),
    "SAXGRBMGRB": _TableSpec(
        key=2,
        time_mjd=(50200.0, 52400.0),
        n_background=100,
        background_radius_deg=(0.05, 10.0),
        slots=_error_circle_slots(radius_deg=(0.2, 2.8), too_large_deg=(3.2, 8.0)),
    ),
    "icecubepsc": _TableSpec(
        key=3,
        time_mjd=(54560.0, 58300.0),
        n_background=2000,
        background_radius_deg=(0.2, 5.0),
        slots=tuple(_Slot((0.2, 3.0), (0.0, 2.4), relative=False) for _ in range(6)),
    ),
}
_ENERGY_LOG10_GEV = (2.5, 6.0)


def _log_uniform(bounds: tuple[float, float], u: np.ndarray) -> np.ndarray:
    low, high = np.log10(bounds[0]), np.log10(bounds[1])
    return 10 ** (low + (high - low) * u)


def _linear(bounds: tuple[float, float], u: np.ndarray) -> np.ndarray:
    return bounds[0] + (bounds[1] - bounds[0]) * u


def _around_objects(sample: pd.DataFrame, spec: _TableSpec, seed: int) -> pd.DataFrame:
    """The events of every slot around every object."""
    ids = sample["objectid"].to_numpy(np.int64)
    ra, dec = sample["ra"].to_numpy(np.float64), sample["dec"].to_numpy(np.float64)
    parts = []
    for index, slot in enumerate(spec.slots):
        draw: Callable[[int], np.ndarray] = lambda field, index=index: uniform(
            seed, spec.key, 0, ids, index, field
        )
        radius = _log_uniform(slot.radius_deg, draw(0))
        offset = _linear(slot.offset, draw(1)) * (radius if slot.relative else 1.0)
        event_ra, event_dec = offset_by(ra, dec, 360.0 * draw(2), offset * ARCSEC_PER_DEG)
        keep = draw(3) < slot.fraction
        parts.append(
            pd.DataFrame(
                {
                    "ra": event_ra,
                    "dec": event_dec,
                    "error_radius": radius,
                    "time": _linear(spec.time_mjd, draw(4)),
                    "energy_u": draw(5),
                }
            )[keep]
        )
    return pd.concat(parts, ignore_index=True)


def _all_sky(spec: _TableSpec, seed: int) -> pd.DataFrame:
    """``spec.n_background`` events uniform on the sky."""
    serial = np.arange(spec.n_background)
    draw = lambda field: uniform(seed, spec.key, 1, serial, field)
    return pd.DataFrame(
        {
            "ra": 360.0 * draw(0),
            "dec": np.degrees(np.arcsin(2 * draw(1) - 1)),
            "error_radius": _log_uniform(spec.background_radius_deg, draw(2)),
            "time": _linear(spec.time_mjd, draw(3)),
            "energy_u": draw(4),
        }
    )


def _trigger_digits(time_mjd: np.ndarray) -> np.ndarray:
    """``yymmddfff`` of trigger times (MJD), fff = thousandths of the day, as in Fermi names."""
    dates = np.asarray(Time(time_mjd, format="mjd").strftime("%y%m%d"), dtype=str)
    thousandths = np.floor((time_mjd % 1.0) * 1000).astype(int).astype(str)
    return np.char.add(dates, np.char.zfill(thousandths, 3))


def synthetic_table(table: str, sample: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """One synthetic table (sorted by time) in the real table's columns.

    Parameters
    ----------
    table : str
        ``FERMIGTRIG``, ``SAXGRBMGRB`` or ``icecubepsc``.
    sample : pandas.DataFrame
        ``objectid`` (int), ``ra``, ``dec`` (deg).
    seed : int, default 0
        Mixed into every hash.
    """
    spec = _SPECS[table]
    events = pd.concat([_around_objects(sample, spec, seed), _all_sky(spec, seed)], ignore_index=True)
    events = events.sort_values("time", kind="stable").reset_index(drop=True)
    columns = ["ra", "dec", "error_radius", "time"]
    if table == "icecubepsc":
        events["event_energy"] = 10 ** _linear(_ENERGY_LOG10_GEV, events["energy_u"].to_numpy())
        return events[[*columns, "event_energy"]]
    digits = _trigger_digits(events["time"].to_numpy())
    if table == "FERMIGTRIG":
        names = {"name": np.char.add("GRB", digits), "trigger_name": np.char.add("bn", digits)}
    else:  # SAXGRBMGRB: GRByymmdd
        names = {"name": np.char.add("GRB", digits.astype("U6"))}
    return events[columns].assign(**names)[[*names, *columns]]


def build(sample: pd.DataFrame, out_dir: str | os.PathLike, *, seed: int = 0) -> Path:
    """Write synthetic ``FERMIGTRIG.parquet``, ``SAXGRBMGRB.parquet``, ``icecubepsc.parquet``.

    Parameters
    ----------
    sample : pandas.DataFrame
        ``objectid`` (int), ``ra``, ``dec`` (deg, ICRS): events are placed around these.
    out_dir : path-like
        Directory to write (created; existing table files replaced).
    seed : int, default 0
        Mixed into every hash: another seed gives another, equally deterministic snapshot.

    Returns
    -------
    pathlib.Path
        ``out_dir``, holding the three parquet files and ``README.txt``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in _SPECS:
        frame = synthetic_table(table, sample, seed=seed)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out_dir / f"{table}.parquet")
        counts[table] = len(frame)
    readme = _README.format(
        seed=seed, n_sample=len(sample), counts=", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return finish(out_dir, readme, f"SYNTHETIC HEASARC tables {counts}")
