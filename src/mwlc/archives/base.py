"""What an archive is: a descriptor that declares everything about it in one place.

An :class:`Archive` names an archive and its aliases, its bands (:class:`BandInfo`: unit and
time system), its parameters (:class:`Param`: type, default, limits, unit, one-line
description), the remote service its fetch jobs load (and so whether it sends one request per
object, as to MAST), the module that reads it (a :class:`Reader`: ``fetch`` and ``preflight``)
and the module that builds its demo snapshot.
Reading a descriptor imports nothing heavy: the reader and the demo builder are named by import
path and imported when first used, so the workflow reads every descriptor each time Snakemake
parses it, in a fraction of a second.

Everything else is derived from the descriptors, so nothing can drift from them:

* the ``archives`` part of the config schema (:meth:`Archive.config_schema`), with every
  default, limit and description;
* which of an archive's config keys reach its fetch jobs as Snakemake params, i.e. which ones
  refetch when changed (:meth:`Archive.job_params`), and which only say how the archive is read
  (:meth:`Archive.reading_params`: how much at a time, timeouts, retries);
* the band units of :data:`mwlc.schema.BANDS`, the service units each fetch job holds
  (:func:`mwlc.archives.services.service_units`), the demo builders, and the archive tables of
  ``config/README.md`` (:mod:`mwlc.archives.docs`).

:mod:`mwlc.archives.registry` lists the descriptors.
"""

from __future__ import annotations

import importlib
import math
import numbers
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from mwlc.archives.services import PER_REQUEST_SERVICES, SERVICES
from mwlc.records import kept_mapping

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mwlc.archives._preflight import Finding
    from mwlc.net import RetryPolicy


@dataclass(frozen=True)
class BandInfo:
    """Units and time system of one band.

    Parameters
    ----------
    unit : str
        Unit of ``flux`` and ``err`` (e.g. ``"mJy"``, ``"electron / s"``).
    time_system : str
        What ``time`` means for this band, e.g. ``"MJD (HMJD, heliocentric, UTC)"``.
    """

    unit: str
    time_system: str


class _NoDefault:
    """The marker of a parameter without a default."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


#: A :class:`Param` without a default: absent from the config unless the user sets it.
NO_DEFAULT: Any = _NoDefault()

#: Config keys every archive has; no parameter may use these names, nor the fetch's own arguments.
COMMON_KEYS = ("enabled", "source")
RESERVED_NAMES = (*COMMON_KEYS, "sample", "threads", "mem_mb", "storage_options")


@dataclass(frozen=True)
class Param:
    """One parameter of an archive: a config key under ``archives.<name>`` and a ``fetch`` argument.

    Parameters
    ----------
    name : str
        The key (``radius_arcsec``); units belong in the name where a name can carry them.
    json_type : str or tuple of str, optional
        JSON-schema type(s): ``"number"``, ``"integer"``, ``"string"``, ``"boolean"``,
        ``"array"``, ``"object"``, ``"null"``. None for a bare enumeration (``choices``).
    description : str
        One line, shown in the schema's error messages and in ``config/README.md``.
    default : any, optional
        Filled into the config when the key is absent; :data:`NO_DEFAULT` for none.
    unit : str
        Unit of a number (``"arcsec"``, ``"s"``), for the docs.
    minimum, exclusive_minimum, maximum : float, optional
        Limits of a number.
    choices : tuple, optional
        The allowed values (``enum``).
    items : mapping, optional
        JSON schema of a list's items.
    fields : tuple of Param
        The keys of a mapping value (nested parameters); the mapping allows no other key.
    keywords : mapping
        Any other JSON-schema keywords (``minItems``, ``uniqueItems``...).
    affects_rows : bool, default True
        False for how the archive is read, never what (how much at a time, timeouts, retries,
        progress lines, the answers' cache): such a key is no Snakemake param of the fetch jobs
        and not in their provenance's params, so changing it never refetches.
    bounds_memory : bool, default False
        True for a key that sets how many rows a job holds at a time, exactly (the reader uses
        the value as given, or refuses it), so bounds its memory: the attempt after one stopped
        over its memory limit uses half of it (:mod:`mwlc.memory_record`). Only for keys with
        ``affects_rows=False``.
    absent_means : any, optional
        For a key without ``default``: what ``fetch`` does without it (docs only). A key that
        reaches the fetch jobs only when the user sets it keeps the params of runs made before
        it existed, so they are not refetched.
    doc : str
        Longer text for ``config/README.md`` (``description`` if empty).
    """

    name: str
    json_type: str | tuple[str, ...] | None
    description: str
    default: Any = NO_DEFAULT
    unit: str = ""
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    items: Mapping[str, Any] | None = None
    fields: tuple[Param, ...] = ()
    keywords: Mapping[str, Any] = field(default_factory=dict)
    affects_rows: bool = True
    bounds_memory: bool = False
    absent_means: Any = NO_DEFAULT
    doc: str = ""

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    @property
    def effective_default(self) -> Any:
        """The value ``fetch`` uses when the key is absent: the default, else ``absent_means``."""
        return self.default if self.has_default else self.absent_means

    def schema(self) -> dict[str, Any]:
        """The JSON schema of this key."""
        schema: dict[str, Any] = {}
        if self.json_type is not None:
            schema["type"] = self.json_type if isinstance(self.json_type, str) else list(self.json_type)
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        limits = {
            "minimum": self.minimum,
            "exclusiveMinimum": self.exclusive_minimum,
            "maximum": self.maximum,
        }
        schema.update({key: value for key, value in limits.items() if value is not None})
        if self.items is not None:
            schema["items"] = dict(self.items)
        if self.fields:
            schema["additionalProperties"] = False
            schema["properties"] = {sub.name: sub.schema() for sub in self.fields}
        schema.update(self.keywords)
        if self.has_default:
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return schema


def band_list(name: str, choices: tuple[str, ...], default: tuple[str, ...], description: str) -> Param:
    """A parameter holding a non-empty list of distinct names taken from ``choices``."""
    return Param(
        name,
        "array",
        description,
        default=list(default),
        items={"enum": list(choices)},
        keywords={"minItems": 1, "uniqueItems": True},
    )


def radius_param(*, maximum: float, description: str, doc: str = "", default: float = 1.0) -> Param:
    """``radius_arcsec``: a match radius in arcsec, > 0 and at most ``maximum``."""
    return Param(
        "radius_arcsec",
        "number",
        description,
        default=default,
        unit="arcsec",
        exclusive_minimum=0,
        maximum=maximum,
        doc=doc,
    )


def read_batch_param(default: int, *, row: str, row_doc: str) -> Param:
    """``read_batch_rows`` of a HATS reader: catalog rows decoded at a time; never changes the rows.

    ``row`` says what one catalog row is (``one PS1 detection``), ``row_doc`` the same for the
    docs, with its decoded size (``one detection, ~50 bytes``).
    """
    return Param(
        "read_batch_rows",
        "integer",
        f"catalog rows decoded at a time (one row is {row}); memory, not results - changing it never "
        "refetches",
        default=default,
        minimum=1,
        affects_rows=False,
        bounds_memory=True,
        doc=f"catalog rows decoded at a time (a row is {row_doc}); bounds the job's memory, never changes "
        "the rows (changing it does not refetch). A value whose batch cannot fit the job's "
        "`fetch_mem_mb` is refused before any data is read, with the numbers",
    )


#: Said in ``config/README.md`` of every key that only says how an archive is read.
NEVER_REFETCHES = " (how to read, not what: changing it never refetches)"


def request_params(timeout_s: float, retries: int, retry_backoff_s: float) -> tuple[Param, ...]:
    """``timeout_s``, ``retries`` and ``retry_backoff_s`` of an archive that sends HTTP requests.

    How hard the archive is asked, never what: no params (``affects_rows=False``), so that raising
    a timeout in the middle of a run refetches nothing.
    """
    return (
        Param(
            "timeout_s",
            "number",
            "per-request timeout (s)",
            default=timeout_s,
            unit="s",
            exclusive_minimum=0,
            affects_rows=False,
            doc=f"per-request timeout{NEVER_REFETCHES}",
        ),
        Param(
            "retries",
            "integer",
            "retries after the first attempt",
            default=retries,
            minimum=0,
            affects_rows=False,
            doc="retries after the first attempt, on connection errors, timeouts and HTTP 429/5xx"
            + NEVER_REFETCHES,
        ),
        Param(
            "retry_backoff_s",
            "number",
            "backoff base (s)",
            default=retry_backoff_s,
            unit="s",
            minimum=0,
            affects_rows=False,
            doc=f"backoff base: the k-th retry waits `retry_backoff_s * 2**k`{NEVER_REFETCHES}",
        ),
    )


def progress_param(every: int = 100) -> Param:
    """``progress_every`` of an archive that handles one object at a time (no param: see
    :func:`request_params`)."""
    return Param(
        "progress_every",
        "integer",
        "a log line every N objects",
        default=every,
        minimum=1,
        affects_rows=False,
        doc=f"a progress line (objects done, rate, ETA) every N objects{NEVER_REFETCHES}",
    )


class JobOptions(TypedDict, total=False):
    """How a fetch job runs, the same keywords for every reader; never params (no row depends on them).

    threads : int, default 1
        The job's threads: concurrent reads (HATS leaf files located and decoded, unWISE files
        and batches read ahead) or requests in flight (MAST, HEASARC).
    mem_mb : int, optional
        The job's memory (MB): a reader that batches refuses, or shrinks, a batch that cannot fit
        before any data is read.
    storage_options : dict, optional
        fsspec options for ``s3://`` sources (e.g. ``anon``, an ``endpoint_url`` in
        ``client_kwargs``); ignored for local paths and HTTP. The standard ``AWS_ENDPOINT_URL``
        environment variable works without them.
    """

    threads: int
    mem_mb: int | None
    storage_options: dict | None


#: The job options a reader gets when the caller gives none.
JOB_DEFAULTS: JobOptions = {"threads": 1, "mem_mb": None, "storage_options": None}


def job_options(job: Mapping[str, Any], archive: str) -> tuple[int, int | None, dict | None]:
    """``threads, mem_mb, storage_options`` of a reader's ``**job`` keywords (defaults filled in).

    Raises
    ------
    TypeError
        For a keyword that is no job option (a misspelt parameter), naming it and the archive.
    ConfigError
        For ``threads`` that is no integer >= 1, or ``mem_mb`` that is no number > 0.
    """
    from mwlc.errors import ConfigError

    unknown = sorted(set(job) - set(JOB_DEFAULTS))
    if unknown:
        raise TypeError(
            f"{archive} fetch() got unexpected keyword argument(s) {unknown}: neither a parameter "
            f"nor a job option ({', '.join(JOB_DEFAULTS)})"
        )
    options = {**JOB_DEFAULTS, **job}
    threads, mem_mb = options["threads"], options["mem_mb"]
    if not (_is_integer(threads) and threads >= 1):
        raise ConfigError(f"{archive} fetch: threads must be an integer >= 1, got {threads!r}")
    if mem_mb is not None and not (_is_number(mem_mb) and mem_mb > 0):
        raise ConfigError(f"{archive} fetch: mem_mb must be a number > 0 (MB), got {mem_mb!r}")
    return int(threads), mem_mb, options["storage_options"]


def _is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or numpy; booleans are not)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (Python or numpy; booleans are not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class Reader(Protocol):
    """The module that reads an archive (named by :attr:`Archive.reader`)."""

    def fetch(self, sample: pd.DataFrame, *, source: str, **params_and_job: Any) -> Iterator[pa.RecordBatch]:
        """Light curves of ``sample``, streamed in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`.

        Every reader's ``fetch`` takes these; its own docstring lists only its parameters.

        Parameters
        ----------
        sample : pandas.DataFrame
            ``objectid`` (int64, unique), ``ra``, ``dec`` (deg, ICRS), ``label``.
        source : str
            Where the archive is read from (its descriptor's ``default_source`` unless the config
            says otherwise).
        **params_and_job
            The archive's parameters as its descriptor declares them (each reader's signature
            names them with their defaults), then the :class:`JobOptions` (``threads``,
            ``mem_mb``, ``storage_options``).
        """

    def preflight(
        self, source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
    ) -> list[Finding]:
        """Open ``source`` as ``fetch`` would, reading no light curve: one finding per problem or note."""


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class DescriptorError(ValueError):
    """An archive descriptor contradicts itself (a programming error, found at import)."""


@dataclass(frozen=True)
class Archive:
    """An archive's descriptor: everything the workflow knows about it.

    Parameters
    ----------
    name : str
        Canonical name: lower case, ``[a-z][a-z0-9_]*``; the config key ``archives.<name>`` and
        the dataset partition ``archive=<name>``.
    title : str
        One line: what the archive is and how it is read.
    default_source : str
        Where it is read from unless the config says otherwise.
    source_help : str
        One line on what ``source`` may be.
    source_type : str, default "URI or path"
        What ``source`` is, in two or three words (docs).
    bands : mapping of str to BandInfo
        Every band it may write, in the order recorded in its files.
    params : tuple of Param
        Its parameters (besides ``enabled`` and ``source``).
    service : str
        The remote service its fetch jobs load, a key of :data:`mwlc.archives.services.SERVICES`
        (a global Snakemake resource capped in the profiles). A service counted in requests
        (``mast_requests``) makes the archive per-object (:attr:`per_object`).
    aliases : tuple of str
        Other names users may write (case-insensitive).
    reader : str, default ``mwlc.archives.<name>``
        Import path of the module with ``fetch`` and ``preflight`` (see :class:`Reader`).
    demo_builder : str, optional
        Import path of the module whose ``build(sample, out_dir)`` writes a synthetic snapshot
        for the demo (``config/demo.yaml``).
    """

    name: str
    title: str
    default_source: str
    source_help: str
    bands: Mapping[str, BandInfo]
    params: tuple[Param, ...]
    service: str
    aliases: tuple[str, ...] = ()
    reader: str = ""
    demo_builder: str | None = None
    source_type: str = "URI or path"

    def __post_init__(self) -> None:
        if not self.reader:
            object.__setattr__(self, "reader", f"mwlc.archives.{self.name}")
        self.validate()

    def validate(self) -> None:
        """Check the descriptor is coherent (names, bands, defaults within their own schema).

        Raises
        ------
        DescriptorError
            Naming the archive and what is wrong.
        """
        import jsonschema

        problems = []
        if not _NAME.match(self.name):
            problems.append(f"name must match {_NAME.pattern}")
        if not self.bands:
            problems.append("it declares no band")
        if self.service not in SERVICES:
            problems.append(f"service {self.service!r} is none of mwlc.archives.services {list(SERVICES)}")
        names = [param.name for param in self.params]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            problems.append(f"parameter(s) {repeated} declared twice")
        reserved = sorted(set(names) & set(RESERVED_NAMES))
        if reserved:
            problems.append(f"parameter(s) {reserved} use reserved names {list(RESERVED_NAMES)}")
        for param in self.params:
            if param.has_default and param.absent_means is not NO_DEFAULT:
                problems.append(f"parameter {param.name} has both a default and absent_means")
            if param.bounds_memory and (param.affects_rows or param.json_type != "integer"):
                problems.append(
                    f"parameter {param.name} bounds memory but is no integer that never changes the rows"
                )
            for value, what in ((param.default, "default"), (param.absent_means, "absent_means")):
                if value is NO_DEFAULT:
                    continue
                error = jsonschema.exceptions.best_match(
                    jsonschema.Draft202012Validator(param.schema()).iter_errors(value)
                )
                if error is not None:
                    problems.append(f"{param.name}'s {what} {value!r} fails its own schema: {error.message}")
        if problems:
            raise DescriptorError(f"archive descriptor {self.name!r}: " + "; ".join(problems))

    @property
    def per_object(self) -> bool:
        """Whether it sends one request per object (its service counts requests in flight, MAST)."""
        return self.service in PER_REQUEST_SERVICES

    # -- configuration ------------------------------------------------------------------------

    def param(self, name: str) -> Param:
        """The parameter ``name``.

        Raises
        ------
        KeyError
            If the archive has no such parameter.
        """
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(f"archive {self.name!r} has no parameter {name!r}")

    def config_schema(self) -> dict[str, Any]:
        """The JSON schema of ``archives.<name>``: ``enabled``, ``source`` and every parameter."""
        properties: dict[str, Any] = {
            "enabled": {"type": "boolean", "default": True},
            "source": {"type": "string", "default": self.default_source, "description": self.source_help},
        }
        properties.update({param.name: param.schema() for param in self.params})
        return {
            "type": "object",
            "additionalProperties": False,
            "description": self.title,
            "properties": properties,
        }

    def defaults(self) -> dict[str, Any]:
        """``enabled``, ``source`` and the parameters that have a default, as the schema fills them."""
        values = {"enabled": True, "source": self.default_source}
        values.update({param.name: param.default for param in self.params if param.has_default})
        return values

    def job_params(
        self, section: Mapping[str, Any], recorded: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The keys of a checked config section that reach a fetch job as Snakemake params.

        Everything but ``enabled``, ``source`` (a param of its own) and the keys that only say how
        the archive is read (:meth:`reading_params`): a change to any of these refetches the
        archive's shards.

        ``recorded`` is what Snakemake recorded as this param for the shard at hand, if anything.
        Shards written before the request settings (``timeout_s``, ``retries``, ``chunk_rows``...)
        stopped being params (2026-12-07) recorded them too. When ``recorded`` differs from the
        params only by such keys, it is returned as it is: Snakemake then sees that shard's params
        unchanged and does not refetch it. The fetch reads them from the config, not from here.
        """
        configured = {key: value for key, value in section.items() if key not in COMMON_KEYS}
        return kept_mapping(() if recorded is None else (recorded,), configured, self._reading_keys())

    def reading_params(self, section: Mapping[str, Any]) -> dict[str, Any]:
        """The keys of a config section that only say how the archive is read (how much at a time,
        how long to wait, how often to retry or log, where answers are cached), never what:
        they are no params, so changing them never refetches."""
        reading = self._reading_keys()
        return {key: value for key, value in section.items() if key in reading}

    def batch_sizes(self, reading: Mapping[str, Any]) -> dict[str, int]:
        """The sizes that bound a job's memory (``bounds_memory``: the HATS readers'
        ``read_batch_rows``), from ``reading`` where it has them, else their defaults."""
        return {
            param.name: int(reading.get(param.name, param.effective_default))
            for param in self.params
            if param.bounds_memory
        }

    def _reading_keys(self) -> set[str]:
        """Names of the parameters that never change the rows (``affects_rows=False``)."""
        return {param.name for param in self.params if not param.affects_rows}

    # -- the code behind it ---------------------------------------------------------------------

    def reader_module(self) -> Reader | ModuleType:
        """The reader module (imported on first use)."""
        return importlib.import_module(self.reader)

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check parameters against the descriptor: known keys, types, limits, finite numbers.

        ``params`` are as the config holds them, or as a reader's ``fetch`` takes them (tuples,
        numpy arrays and numbers, paths): the config and a notebook's call are checked alike, with
        the same messages.

        Returns
        -------
        dict
            ``params`` as they were checked: lists, Python numbers and strings (what a reader uses).

        Raises
        ------
        ConfigError
            One line naming the first offending key (``archives.<name>.<key>``) and what was expected.
        """
        from mwlc import legacy, validation
        from mwlc.errors import ConfigError

        schema = self.config_schema()
        schema["properties"] = {
            key: value for key, value in schema["properties"].items() if key not in COMMON_KEYS
        }
        params = validation.plain(params)
        try:
            validation.check(params, schema, prefix=("archives", self.name))
        except ConfigError as err:
            bands = params.get("bands")
            names = [band for band in bands if isinstance(band, str)] if isinstance(bands, list) else []
            old = legacy.renamed_bands(self.name, names)
            if not old:
                raise
            renamed = ", ".join(f"{name!r} is now {new!r}" for name, new in old.items())
            raise ConfigError(f"{err}; band names have changed: {renamed}") from None
        return params

    def retry_policy(self, params: Mapping[str, Any]) -> RetryPolicy:
        """How an archive that sends requests retries them: ``timeout_s``, ``retries`` and
        ``retry_backoff_s`` of ``params`` (checked: :meth:`check_params`), the descriptor's
        defaults where absent. The fetch and the preflight ask a service alike."""
        from mwlc.net import RetryPolicy

        keys = ("timeout_s", "retries", "retry_backoff_s")
        given = self.check_params({key: params[key] for key in keys if key in params})
        value = {key: given.get(key, self.param(key).default) for key in keys}
        return RetryPolicy(
            retries=value["retries"],
            backoff_s=float(value["retry_backoff_s"]),
            timeout_s=float(value["timeout_s"]),
        )

    def fetch(
        self,
        sample: pd.DataFrame,
        *,
        source: str,
        threads: int = 1,
        mem_mb: int | None = None,
        storage_options: dict | None = None,
        **params: Any,
    ) -> Iterator[pa.RecordBatch]:
        """Light curves of ``sample`` from ``source``: ``params`` checked (:meth:`check_params`),
        then the reader's ``fetch``.

        Raises
        ------
        ConfigError
            For a parameter the descriptor refuses (before the reader is imported).
        """
        self.check_params(params)
        return self.reader_module().fetch(
            sample, source=source, threads=threads, mem_mb=mem_mb, storage_options=storage_options, **params
        )

    def preflight(
        self, source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
    ) -> list[Finding]:
        """The reader's ``preflight``: ``source`` opened as ``fetch`` opens it (see :mod:`mwlc.preflight`)."""
        return self.reader_module().preflight(source, params, storage_options=storage_options)

    def build_demo(self, sample: pd.DataFrame, out_dir: Any) -> Any:
        """Write the synthetic demo snapshot around ``sample`` (``objectid, ra, dec``) to ``out_dir``.

        Raises
        ------
        ValueError
            If the archive has no demo builder.
        """
        if self.demo_builder is None:
            raise ValueError(f"archive {self.name!r} has no demo snapshot builder")
        return importlib.import_module(self.demo_builder).build(sample, out_dir)
