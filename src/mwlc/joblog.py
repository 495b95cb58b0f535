"""Per-job log files: timestamped lines, one file per job, never appended across runs."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time

#: Libraries whose INFO chatter would drown a job's own progress lines.
QUIET_LOGGERS = ("distributed", "numba", "fsspec", "s3fs", "botocore", "urllib3", "asyncio", "hats", "lsdb")


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime


def start_job_log(log_path: str, *, job: str, provenance_note: str = "") -> logging.Logger:
    """Send this process's logging, warnings and stderr to ``log_path`` (truncated first).

    Parameters
    ----------
    log_path : str
        The job's log file (Snakemake's ``log[0]``).
    job : str
        What the job does, for the first line, e.g. ``"fetch_lightcurves archive=ztf shard=0003"``.
    provenance_note : str
        Shown as a warning on the second line when not empty (e.g. "synthetic demo data").

    Returns
    -------
    logging.Logger
        The ``mwlc`` logger.
    """
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    stream = open(log_path, "w", buffering=1)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_UTCFormatter("%(asctime)sZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.stderr = stream
    sys.excepthook = _log_uncaught
    log = logging.getLogger("mwlc")
    log.info("start %s (pid %d on %s)", job, os.getpid(), socket.gethostname())
    if provenance_note.strip():
        log.warning("%s", provenance_note.strip())
    return log


def _log_uncaught(exc_type, exc, tb) -> None:
    logging.getLogger("mwlc").critical("job failed: %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))
