"""How many objects a sample will hold, known before it is built: the default number of shards.

The workflow's DAG is static: the number of shards, hence of fetch jobs, is fixed when Snakemake
reads the config, before the sample exists. With ``n_shards: auto`` (the default) it follows
from the sample's sources: the rows of a ``file`` source (counted, not parsed), the ``num`` of
an ``sdss`` source, the ids of a ``ztf_objectid`` source. Sources of known small samples (NED,
VizieR, SIMBAD and the paper presets, tens to a few thousand objects each) add nothing. The
count is an upper bound (consolidation merges duplicates), so shards hold at most
``objects_per_shard`` objects, some fewer.

Once the sample is built, its shard count is kept (:func:`built_n_shards`): a source file moved,
edited or answering differently later must not change the shards of a run whose light curves are
already fetched (fewer shards would silently leave objects out of the merge, more would refetch
everything). :func:`planned_n_shards` gives the count a run uses, and refuses an explicit count
below the built one: Snakemake would keep the built sample (the fewer shard files it would write
exist) and the merge would leave out the objects of the shards beyond.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mwlc.errors import ConfigError

#: Default objects per shard: one fetch job per archive and 10,000 objects.
OBJECTS_PER_SHARD = 10_000
#: Most shards a run may have (shard files are numbered with four digits).
MAX_SHARDS = 9999


def source_size(spec: Mapping[str, Any]) -> int:
    """The number of objects a sample source gives at most, as far as it is known before fetching.

    ``file``: the data rows of the file (0 if it cannot be read: the ``sample`` job says why);
    ``sdss``: ``num``; ``ztf_objectid``: the number of ids; any other source: 0.
    """
    from mwlc.sample.sources import file_source_path

    path = file_source_path(spec)
    if path is not None:
        return _file_rows(Path(path))
    kind = str(spec.get("source", "")).strip().lower()
    if kind == "sdss":
        return int(spec.get("num", 0))
    if kind == "ztf_objectid":
        ids = spec.get("objectids", [])
        return 1 if isinstance(ids, str) else len(ids)
    return 0


def estimated_objects(sources: Iterable[Mapping[str, Any]]) -> int:
    """The sum of :func:`source_size` over a run's sample sources."""
    return sum(source_size(spec) for spec in sources)


def auto_n_shards(sources: Iterable[Mapping[str, Any]], objects_per_shard: int = OBJECTS_PER_SHARD) -> int:
    """``ceil(estimated objects / objects_per_shard)``, between 1 and :data:`MAX_SHARDS`."""
    return min(MAX_SHARDS, max(1, math.ceil(estimated_objects(sources) / objects_per_shard)))


def planned_n_shards(
    n_shards: int | str,
    sources: Iterable[Mapping[str, Any]],
    objects_per_shard: int,
    run_dir: str | Path,
) -> tuple[int, str | None]:
    """The number of shards of the run in ``run_dir``, and a note for the log (or None).

    ``n_shards`` is the config's: ``"auto"`` counts the ``sources`` (:func:`auto_n_shards`) until
    the sample is built, then keeps the built count (noting when the sources now count another).

    Raises
    ------
    mwlc.errors.ConfigError
        If ``n_shards`` is a number below the shard count of the sample built in ``run_dir``
        (naming both and how to shard anew). A higher number rebuilds the sample with that many
        shards, and every fetch reruns.
    """
    built = built_n_shards(run_dir)
    if n_shards != "auto":
        if built is not None and int(n_shards) < built:
            left_out = (
                f"shard {built - 1}" if built - int(n_shards) == 1 else f"shards {n_shards}-{built - 1}"
            )
            raise ConfigError(
                f"n_shards = {n_shards} is below the {built} shards of the sample built in {run_dir}: "
                f"Snakemake would keep that sample and the merge would leave out the objects of "
                f"{left_out}. Set n_shards: auto (or {built}) to go on with it; to "
                f"shard anew, use another run_id (or delete {run_dir} and refetch everything)"
            )
        return int(n_shards), None
    estimate = auto_n_shards(sources, objects_per_shard)
    if built is None or built == estimate:
        return estimate, None
    return built, (
        f"n_shards: auto keeps the {built} shards of the sample already built in {run_dir} (its "
        f"sources now count {estimate} shards of objects_per_shard); to shard anew, use another "
        "run_id or delete that sample"
    )


def built_n_shards(run_dir: str | Path) -> int | None:
    """The shard count of the sample already built in ``run_dir``, or None if there is none.

    A sample is built once ``sample.ecsv`` exists (it is written after the shard files); its
    shard files ``sample_shards/shard-0000.parquet``... must then be numbered from 0 without a gap.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "sample.ecsv").is_file():
        return None
    indices = sorted(
        int(path.stem.removeprefix("shard-"))
        for path in (run_dir / "sample_shards").glob("shard-[0-9][0-9][0-9][0-9].parquet")
    )
    return len(indices) if indices and indices == list(range(len(indices))) else None


def _file_rows(path: Path) -> int:
    """Data rows of a CSV/ECSV (header and ``#`` lines not counted) or Parquet file; 0 if unreadable."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_metadata(path).num_rows
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as lines:
            content = sum(1 for line in lines if line.strip() and not line.startswith(b"#"))
        return max(0, content - 1)  # the column-name line
    except (OSError, ValueError):
        return 0
