"""What every sample source shares: the output frame, spec checking, services, astroquery scope."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from mwlc.errors import ConfigError, SampleError
from mwlc.net import RetryPolicy

log = logging.getLogger("mwlc.sample.sources")

#: Columns of every frame a source returns, in this order.
COLUMNS = ("ra", "dec", "label", "origin")
#: Object names listed in a "not in the answer" message.
MAX_LISTED_NAMES = 20

#: Defaults of the ``services`` config section (base URLs and network behaviour).
DEFAULT_SERVICES: dict[str, Any] = {
    "sdss_skyserver_url": "https://skyserver.sdss.org",
    "ned_url": "https://ned.ipac.caltech.edu",
    "vizier_url": "https://vizier.cds.unistra.fr",
    "simbad_url": "https://simbad.cds.unistra.fr/simbad/sim-tap",
    "alerce_url": "https://api.alerce.online/ztf/v1",
    "timeout_s": 60,
    "retries": 3,
    "retry_backoff_s": 10,
}


#: The ``services`` keys that say how hard the services are asked, not which: no params of the
#: sample job, so raising a timeout never rebuilds a finished sample (and so never refetches).
REQUEST_KEYS = ("timeout_s", "retries", "retry_backoff_s")


@dataclass(frozen=True)
class Services:
    """Resolved ``services`` section: base URLs plus the retry policy."""

    urls: Mapping[str, str]
    policy: RetryPolicy

    def url(self, key: str) -> str:
        """Base URL under ``key`` (e.g. ``"ned_url"``), without a trailing slash."""
        return str(self.urls[key]).rstrip("/")


def resolve_services(services: Mapping[str, Any] | None) -> Services:
    """Merge ``services`` over :data:`DEFAULT_SERVICES` and check the network settings.

    Keys this module does not know are ignored (the section may serve other code).

    Raises
    ------
    mwlc.errors.ConfigError
        If ``timeout_s`` is not > 0 s, ``retries`` not an integer >= 0, or ``retry_backoff_s``
        not a number >= 0 s.
    """
    merged = {**DEFAULT_SERVICES, **(services or {})}
    timeout, retries, backoff = (merged["timeout_s"], merged["retries"], merged["retry_backoff_s"])
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"config key 'services.timeout_s' must be a number > 0 (seconds), got {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"config key 'services.retries' must be an integer >= 0, got {retries!r}")
    if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or backoff < 0:
        raise ConfigError(
            f"config key 'services.retry_backoff_s' must be a number >= 0 (seconds), got {backoff!r}"
        )
    urls = {k: v for k, v in merged.items() if k.endswith("_url")}
    return Services(
        urls=urls, policy=RetryPolicy(retries=retries, backoff_s=float(backoff), timeout_s=float(timeout))
    )


def https_host(services: Services, key: str, *, path: str = "") -> str:
    """``host[:port]`` of an https service URL that astroquery can only reach by host name.

    A bare host (``vizier.cds.unistra.fr``) counts as https. ``path`` is the only path the URL
    may carry besides ``/`` (astroquery appends it itself).

    Raises
    ------
    mwlc.errors.ConfigError
        If the URL is not https or has another path.
    """
    raw = str(services.urls[key])
    parts = urlsplit(raw if "//" in raw else f"https://{raw}")
    url_path = parts.path.rstrip("/")
    if parts.scheme != "https" or not parts.netloc or url_path not in ("", path):
        where = f"https://host[:port]{path}"
        raise ConfigError(
            f"config key 'services.{key}' is {raw!r}: astroquery reaches this service only as "
            f"{where}; give a URL of that form"
        )
    return parts.netloc


@dataclass(frozen=True)
class SourceKind:
    """One kind of sample source: its keys and the function that fetches it.

    Attributes
    ----------
    name : str
        Value of ``source`` in the spec.
    fetch : callable
        ``fetch(spec, services) -> DataFrame``; ``spec`` has every optional key filled in.
    required : tuple of str
        Keys the spec must have.
    optional : dict
        Optional keys and their defaults.
    check : callable, optional
        ``check(spec)``: the values of a completed spec, checked without any query (raises
        :class:`~mwlc.errors.SampleError` naming the key); run when the config is read and
        before any source of the sample is fetched.
    """

    name: str
    fetch: Callable[[dict[str, Any], Services], pd.DataFrame]
    required: tuple[str, ...] = ()
    optional: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None

    @property
    def keys(self) -> set[str]:
        """Every key a spec of this kind may have, ``source`` included."""
        return {"source", *self.required, *self.optional}

    def check_keys(self, spec: Mapping[str, Any], *, what: str | None = None) -> None:
        """Raise SampleError naming the first key of ``spec`` this kind does not know."""
        what = what or f"source '{self.name}'"
        for key in spec:
            if key not in self.keys:
                raise SampleError(
                    f"{what}: unknown key {key!r}{did_you_mean(key, self.keys)}; "
                    f"allowed keys: {', '.join(sorted(self.keys))}"
                )

    def complete(self, spec: Mapping[str, Any], *, what: str | None = None) -> dict[str, Any]:
        """Check ``spec`` against this kind's keys and fill in the defaults.

        Raises
        ------
        mwlc.errors.SampleError
            Naming the unknown or missing key and the source kind.
        """
        what = what or f"source '{self.name}'"
        self.check_keys(spec, what=what)
        for key in self.required:
            if key not in spec:
                raise SampleError(
                    f"{what}: missing required key {key!r}; allowed keys: {', '.join(sorted(self.keys))}"
                )
        return {**self.optional, **spec, "source": self.name}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    hits = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f" (did you mean {hits[0]!r}?)" if hits else ""


def check_type(value: Any, types: type | tuple[type, ...], *, key: str, what: str, expected: str) -> Any:
    """Return ``value`` if it is of ``types`` (bools are never numbers), else raise SampleError."""
    is_bool_as_number = isinstance(value, bool) and bool not in (
        types if isinstance(types, tuple) else (types,)
    )
    if is_bool_as_number or not isinstance(value, types):
        raise SampleError(f"{what}: key {key!r} must be {expected}, got {value!r}")
    return value


def _list_key(
    value: Any, item_ok: Callable[[Any], bool], *, key: str, expected: str, what: str
) -> list | None:
    """``value`` as a list if it is None or a list whose items pass ``item_ok``, else SampleError."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(item_ok(v) for v in value):
        raise SampleError(f"{what}: key {key!r} must be {expected}, got {value!r}")
    return list(value)


def check_rows(rows: Any, *, what: str) -> list[int] | None:
    """Validate a ``rows`` key (0-based row indices, or None for all rows)."""
    return _list_key(
        rows,
        lambda r: isinstance(r, int) and not isinstance(r, bool) and r >= 0,
        key="rows",
        expected="a list of 0-based row indices (integers >= 0)",
        what=what,
    )


def check_objects(objects: Any, *, what: str) -> list[str] | None:
    """Validate an ``objects`` key (object names to keep, or None for all rows)."""
    return _list_key(
        objects,
        lambda o: isinstance(o, str) and bool(o.strip()),
        key="objects",
        expected="a list of object names",
        what=what,
    )


def name_key(name: str) -> str:
    """How object names are compared: case-insensitive, whitespace ignored
    (``"SDSS J0159+0033"`` = ``"sdss  j0159+0033"`` = ``"SDSSJ0159+0033"``)."""
    return "".join(str(name).split()).casefold()


def order_by_position(names: Sequence[str], ra: Any, dec: Any) -> np.ndarray:
    """Row order of a service's answer sorted by right ascension, then declination, then name.

    NED is asked for RA order (astroquery sends ``obj_sort="RA or Longitude"``) and SIMBAD's
    query has no ORDER BY, so neither order is guaranteed; rows are put in this order, which
    depends only on the rows, before anything selects among them. For NED it is the order the
    original's row indices referred to. Missing positions sort last.
    """
    keys = [name_key(n) for n in names]
    ra_key, dec_key = (np.nan_to_num(_floats(x), nan=np.inf) for x in (ra, dec))
    return np.asarray(sorted(range(len(keys)), key=lambda i: (ra_key[i], dec_key[i], keys[i])), dtype=int)


def select_rows(n_rows: int, rows: list[int] | None, *, what: str) -> np.ndarray:
    """Indices of the rows to keep out of ``n_rows`` answered rows.

    Raises
    ------
    mwlc.errors.SampleError
        If a requested 0-based index is beyond the answer.
    """
    if rows is None:
        return np.arange(n_rows)
    beyond = [r for r in rows if r >= n_rows]
    if beyond:
        raise SampleError(
            f"{what}: rows {beyond} requested (0-based) but the service answered {n_rows} row(s)"
        )
    return np.asarray(rows, dtype=int)


def select_named(names: Sequence[str], objects: list[str], *, what: str) -> np.ndarray:
    """Indices of the rows named ``objects`` (compared by :func:`name_key`), in the order of
    ``objects``; a name answered twice keeps its first row.

    Raises
    ------
    mwlc.errors.SampleError
        Naming the objects the answer lacks, and the names it has.
    """
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        first.setdefault(name_key(name), i)
    missing = [o for o in objects if name_key(o) not in first]
    if missing:
        listed = ", ".join(names[:MAX_LISTED_NAMES]) + (" ..." if len(names) > MAX_LISTED_NAMES else "")
        raise SampleError(
            f"{what}: object(s) {missing} requested but not in the service's answer of "
            f"{len(names)} object(s) (names compared ignoring case and spaces): {listed}"
        )
    return np.asarray([first[name_key(o)] for o in objects], dtype=int)


def pick_rows(
    names: Sequence[str],
    ra: np.ndarray,
    dec: np.ndarray,
    *,
    rows: list[int] | None,
    objects: list[str] | None,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a service's answer that a spec keeps, the same whatever the answer's order.

    Parameters
    ----------
    names : sequence of str
        Object name of every answered row.
    ra, dec : numpy.ndarray
        Positions of the answered rows, deg.
    rows : list of int, optional
        0-based indices into the answer **sorted by position** (:func:`order_by_position`).
    objects : list of str, optional
        Object names to keep, in this order (exclusive with ``rows``).
    what : str
        The spec, for messages.

    Returns
    -------
    index : numpy.ndarray
        Indices into the answer as received: the named objects in the order of ``objects``,
        else the sorted answer (all of it, or its ``rows``).
    row_number : numpy.ndarray
        1-based number of each kept row in the sorted answer (for ``origin``).

    Raises
    ------
    mwlc.errors.SampleError
        If both ``rows`` and ``objects`` are given, an index is beyond the answer, or a named
        object is not in it.
    """
    if rows is not None and objects is not None:
        raise SampleError(f"{what}: give 'objects' (names) or 'rows' (indices), not both")
    order = order_by_position(names, ra, dec)
    if objects is not None:
        position = select_named([names[i] for i in order], objects, what=what)
    else:
        position = select_rows(len(order), rows, what=what)
    return order[position], position + 1


def _floats(values: Any) -> np.ndarray:
    """Float64 array of ``values``; masked entries become NaN."""
    return np.ma.filled(np.ma.asarray(values, dtype="float64"), np.nan).reshape(-1)


def make_frame(ra: Any, dec: Any, label: str | Sequence[str], origins: Sequence[str]) -> pd.DataFrame:
    """The frame every source returns: ``ra``, ``dec`` (float64, deg, ICRS), ``label``, ``origin``.

    Values are not range-checked here (that happens downstream, by ``origin``).
    """
    origins = list(origins)
    labels = [label] * len(origins) if isinstance(label, str) else [str(x) for x in label]
    return pd.DataFrame(
        {
            "ra": pd.Series(_floats(ra), dtype="float64"),
            "dec": pd.Series(_floats(dec), dtype="float64"),
            "label": pd.Series(labels, dtype=object),
            "origin": pd.Series(origins, dtype=object),
        }
    )


def empty_frame() -> pd.DataFrame:
    """A frame with the source columns and no rows."""
    return make_frame([], [], [], [])


def text_values(column: Any) -> list[str]:
    """A table column as a list of stripped str; masked or missing entries become ``""``."""
    out = []
    for value, masked in zip(list(np.ma.getdata(column)), np.ma.getmaskarray(column), strict=True):
        if masked or value is None or (isinstance(value, float) and np.isnan(value)):
            out.append("")
        elif isinstance(value, bytes):
            out.append(value.decode("utf-8", "replace").strip())
        else:
            out.append(str(value).strip())
    return out


@contextmanager
def astroquery_no_cache() -> Iterator[None]:
    """Turn astroquery's reply cache off for the duration (nothing goes to ~/.astropy)."""
    from astroquery import cache_conf

    with cache_conf.set_temp("cache_active", False):
        yield


def log_source(kind: str, asked: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Log the one line per source: kind, what was asked, rows returned; return ``frame``."""
    log.info("%s %s: %d rows", kind, asked, len(frame))
    return frame
