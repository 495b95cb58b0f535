"""The `sample` rule in one call: every source, then validation, consolidation and sharding."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from mwlc.sample.build import build_sample
from mwlc.sample.sources import check_source, fetch_source

log = logging.getLogger(__name__)


def make_sample(
    sample_config: dict, services: dict, *, ecsv_path: str, shard_paths: Sequence[str]
) -> pd.DataFrame:
    """Build ``sample.ecsv`` and the shard files from the config's ``sample`` section.

    Parameters
    ----------
    sample_config : dict
        ``sources`` (list of source specs, in order) and ``consolidate_radius_arcsec`` (arcsec).
    services : dict
        Base URLs and network settings of the services the sources query.
    ecsv_path : str
        Destination of the sample table.
    shard_paths : sequence of str
        One destination per shard; their number is the number of shards.

    Returns
    -------
    pandas.DataFrame
        The final sample (objectid, ra, dec, label, labels, shard, ...).
    """
    for spec in sample_config["sources"]:  # a wrong value in a later source queries nothing
        check_source(spec)
    frames = []
    for spec in sample_config["sources"]:
        frame = fetch_source(spec, services)
        log.info("source %s: %d rows", spec["source"], len(frame))
        frames.append(frame)
    return build_sample(
        frames,
        consolidate_radius_arcsec=sample_config["consolidate_radius_arcsec"],
        n_shards=len(shard_paths),
        ecsv_path=ecsv_path,
        shard_paths=list(shard_paths),
        source_names=[str(spec["source"]) for spec in sample_config["sources"]],
    )
