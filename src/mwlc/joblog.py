"""Per-job log files: timestamped lines, one file per job, never appended across runs.

Secrets never reach a log: every line (message, arguments, traceback) and everything written to
stderr passes through :func:`redact`, which masks passwords in URLs (``https://user:***@host``),
secret query parameters (``?token=***``) and the literal values of the job's secrets: environment
variables named like secrets (:data:`SECRET_ENV_NAME`, e.g. ``AWS_SECRET_ACCESS_KEY``,
``RSP_TAP_TOKEN``) and the contents of token files (:data:`TOKEN_FILES`, e.g. Rubin's
``~/.rsp-tap.token``). :func:`redact_params` does the same for parameters recorded as provenance.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

#: Libraries whose INFO chatter would drown a job's own progress lines.
QUIET_LOGGERS = ("distributed", "numba", "fsspec", "s3fs", "botocore", "urllib3", "asyncio", "hats", "lsdb")


#: What replaces a secret.
MASK = "***"
#: Environment variables whose values are secrets (matched anywhere in the name, any case).
SECRET_ENV_NAME = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_KEY|PRIVATE_KEY", re.IGNORECASE
)
#: Parameter (mapping) keys whose values are secrets, e.g. fsspec's ``key``/``secret``/``token``.
SECRET_PARAM_KEY = re.compile(
    r"^(key|secret|token|password|passwd|credentials?)$|"
    r"(_|-)(secret|token|password|passwd|key|credentials?)$|"
    r"^(secret|token|password|authorization)",
    re.IGNORECASE,
)
#: Files whose whole content is a secret (read if they exist): Rubin's TAP token.
TOKEN_FILES = ("~/.rsp-tap.token",)
#: Values shorter than this are not masked literally (a "1" or "true" is no secret).
MIN_SECRET_CHARS = 8

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
_SECRET_QUERY = re.compile(
    r"(?P<head>[?&;](?:[a-z0-9_.-]*token|api_?key|key|secret|password|passwd|"
    r"sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)"
    r"[^&#\s'\"]+",
    re.IGNORECASE,
)


def secret_values(
    environ: Mapping[str, str] | None = None, token_files: Iterable[str] = TOKEN_FILES
) -> list[str]:
    """The literal secrets of this job, longest first.

    Parameters
    ----------
    environ : mapping, optional
        Environment to look in (default ``os.environ``): values of variables whose name matches
        :data:`SECRET_ENV_NAME`.
    token_files : iterable of str
        Files (``~`` expanded) whose stripped content is a secret, if they exist and are readable.

    Returns
    -------
    list of str
        Values of at least :data:`MIN_SECRET_CHARS` characters, without duplicates.
    """
    environ = os.environ if environ is None else environ
    values = {value.strip() for name, value in environ.items() if SECRET_ENV_NAME.search(name)}
    for path in token_files:
        try:
            with open(os.path.expanduser(path)) as f:
                values.add(f.read().strip())
        except OSError:
            continue
    return sorted((v for v in values if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with URL passwords, secret query parameters and literal secrets masked.

    Parameters
    ----------
    text : str
        Any text (a log line, an error message, a URL).
    secrets : iterable of str, optional
        Literal values to mask; default :func:`secret_values` (environment and token files).

    Returns
    -------
    str
        The text with each secret replaced by :data:`MASK`.
    """
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m['head']}{MASK}", text)
    for value in secret_values() if secrets is None else secrets:
        if value:
            text = text.replace(value, MASK)
    return text


def redact_params(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """A copy of ``value`` (nested dicts, lists, strings) with its secrets masked.

    Values under keys matching :data:`SECRET_PARAM_KEY` (``key``, ``secret``, ``token``,
    ``*_password``, ...) become :data:`MASK`; strings pass through :func:`redact`.
    """
    secrets = secret_values() if secrets is None else list(secrets)
    if isinstance(value, Mapping):
        return {
            k: MASK if SECRET_PARAM_KEY.search(str(k)) and v not in (None, "") else redact_params(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact_params(v, secrets) for v in value)
    if isinstance(value, str):
        return redact(value, secrets)
    return value


class _UTCFormatter(logging.Formatter):
    """Timestamps in UTC; every formatted record (traceback included) redacted."""

    converter = time.gmtime

    def __init__(self, fmt: str, datefmt: str, secrets: list[str]) -> None:
        super().__init__(fmt, datefmt)
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class _RedactingStream:
    """A text stream that redacts what is written to it (the job's stderr)."""

    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(redact(text, self._secrets))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def start_job_log(log_path: str, *, job: str, provenance_note: str = "") -> logging.Logger:
    """Send this process's logging, warnings and stderr to ``log_path`` (appended to).

    Each attempt of a job starts with its ``start`` line, so a retry (``fetch_retries``, a SLURM
    job killed at its time limit) keeps the earlier attempts' progress and errors above its own.

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
    stream = open(log_path, "a", buffering=1)
    secrets = secret_values()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        _UTCFormatter("%(asctime)sZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.stderr = _RedactingStream(stream, secrets)
    sys.excepthook = _log_uncaught
    log = logging.getLogger("mwlc")
    log.info("start %s (pid %d on %s)", job, os.getpid(), socket.gethostname())
    if provenance_note.strip():
        log.warning("%s", provenance_note.strip())
    return log


def _log_uncaught(exc_type, exc, tb) -> None:
    logging.getLogger("mwlc").critical(
        "job failed: %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb)
    )
