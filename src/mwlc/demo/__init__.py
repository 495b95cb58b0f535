"""Deterministic synthetic archives in the real archives' on-disk layouts and schemas.

The demo run (``config/demo.yaml``) and the tests read these snapshots through exactly the code
that reads the real archives; only the source URIs differ. Every value is SYNTHETIC and derived
from object ids by a counter-based hash, so the same inputs always give the same snapshot.
One module per archive, each with one builder ``build(sample, out_dir) -> Path`` where
``sample`` has ``objectid, ra, dec`` (deg); each archive's descriptor names its builder
(:attr:`mwlc.archives.base.Archive.demo_builder`).
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def build_demo_archive(archive: str, sample_paths: list[str], out_dir: str | os.PathLike) -> Path:
    """Build the synthetic snapshot of ``archive`` around the positions in ``sample_paths``.

    Parameters
    ----------
    archive : str
        Archive name; one whose descriptor names a demo builder.
    sample_paths : list of str
        Sample files (any format the ``file`` sample source reads) giving the positions.
    out_dir : path-like
        Where the snapshot is written (the archive's ``source`` in ``config/demo.yaml``).
    """
    from mwlc.archives.registry import demo_builders, get_archive
    from mwlc.jitcache import cache_jitted_functions
    from mwlc.sample.sources import fetch_source

    described = get_archive(archive)
    if described.demo_builder is None:
        raise ValueError(
            f"no demo snapshot builder for archive {archive!r}; known: {sorted(demo_builders())}"
        )
    frames = [fetch_source({"source": "file", "path": path, "label": "demo"}, {}) for path in sample_paths]
    positions = pd.concat(frames, ignore_index=True)
    positions.insert(0, "objectid", np.arange(1, len(positions) + 1, dtype=np.int64))
    log.warning(
        "building a SYNTHETIC %s snapshot around %d positions in %s", archive, len(positions), out_dir
    )
    importlib.import_module(described.demo_builder)  # first: the cache goes to functions imported
    cache_jitted_functions()  # lsdb's catalog writing compiles hats' code: once per run, not per job
    return described.build_demo(positions[["objectid", "ra", "dec"]], out_dir)
