"""Progress lines: rate and time left from an injected clock."""

from __future__ import annotations

from mwlc.progress import Progress


def test_progress_reports_rate_and_time_left():
    now = [100.0]
    progress = Progress(8, "partitions", clock=lambda: now[0])
    assert progress.line(0) == "0/8 partitions, 0.00/s, ETA ?"
    now[0] = 106.0
    assert progress.line(3) == "3/8 partitions, 0.50/s, ETA 10 s"
    now[0] = 100.0 + 3 * 3600
    assert progress.line(4) == "4/8 partitions, 0.00/s, ETA 3 h 00 min"


def test_progress_formats_minutes():
    now = [0.0]
    progress = Progress(100, "chunks", clock=lambda: now[0])
    now[0] = 50.0
    assert progress.line(25) == "25/100 chunks, 0.50/s, ETA 2 min 30 s"
