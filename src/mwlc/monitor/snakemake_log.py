"""Jobs that failed for good, read from Snakemake's own log while the run goes on.

Snakemake writes every event of a run to ``.snakemake/log/<time>.snakemake.log`` (the file its
main process holds open). A failed job is logged as ``Error in rule <rule>:``; when the job has
retries left, ``Trying to restart job <id>.`` follows at once. Failures for good are the first
minus the second. Once one has happened, Snakemake starts no job that depends on it, and
without ``--keep-going`` none at all: when no job runs any more, it only waits for the monitor.
"""

from __future__ import annotations

import logging
import os
import re

import psutil

log = logging.getLogger(__name__)

_ERROR = re.compile(r"^Error in rule \S+:")
_RESTART = re.compile(r"^Trying to restart job \S+\.")
_LOG_SUFFIX = ".snakemake.log"


def find_snakemake_log(main: psutil.Process) -> str | None:
    """The ``.snakemake/log/*.snakemake.log`` file that Snakemake process ``main`` writes, or None."""
    try:
        for opened in main.open_files():
            if opened.path.endswith(_LOG_SUFFIX) and os.path.basename(os.path.dirname(opened.path)) == "log":
                return opened.path
    except (psutil.Error, OSError) as error:
        log.debug("cannot list the files of Snakemake process %d: %s", main.pid, error)
    return None


class FailureWatch:
    """Counts the jobs that failed for good in a Snakemake log, reading only what is new each time.

    Parameters
    ----------
    path : str
        Snakemake's log file of the run.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors = 0
        self.restarts = 0
        self._offset = 0
        self._partial = ""

    @property
    def failed(self) -> int:
        """Jobs failed for good so far (errors not followed by a restart)."""
        return max(self.errors - self.restarts, 0)

    def poll(self) -> int:
        """Read the lines written since the last call; returns :attr:`failed`."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as stream:
                stream.seek(self._offset)
                text = stream.read()
                self._offset = stream.tell()
        except OSError as error:
            log.debug("cannot read %s: %s", self.path, error)
            return self.failed
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()  # an unfinished last line waits for the next call
        for line in lines:
            self.errors += bool(_ERROR.match(line))
            self.restarts += bool(_RESTART.match(line))
        return self.failed
