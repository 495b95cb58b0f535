"""Progress lines a person can follow in a job's log: done / total, rate and time left."""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Rate and ETA of a job made of ``total`` similar steps (partitions, chunks, objects).

    Parameters
    ----------
    total : int
        Number of steps the job will do.
    unit : str
        What a step is, for the log line (e.g. ``"partitions"``).
    clock : callable, optional
        Seconds from an arbitrary origin; :func:`time.monotonic` by default (injectable for tests).
    """

    def __init__(self, total: int, unit: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.unit = unit
        self._clock = clock
        self._start = clock()

    def line(self, done: int) -> str:
        """``"3/8 partitions, 0.50/s, ETA 10 s"`` after ``done`` steps (ETA unknown at 0)."""
        elapsed = self._clock() - self._start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {_duration((self.total - done) / rate)}" if rate > 0 else "ETA ?"
        return f"{done}/{self.total} {self.unit}, {rate:.2f}/s, {eta}"


def _duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"`` or ``"2 h 07 min"``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
