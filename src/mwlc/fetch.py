"""One fetch job: light curves of one sample shard from one archive, into one parquet file."""

from __future__ import annotations

import hashlib
import logging
import os
import time

from mwlc.archives.registry import get_archive
from mwlc.io import write_lightcurve_shard
from mwlc.sample.build import read_shard
from mwlc.schema import file_metadata

log = logging.getLogger(__name__)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def storage_options(s3_endpoint_url: str | None) -> dict | None:
    """fsspec storage options for ``s3://`` sources (anonymous; custom endpoint if given)."""
    if not s3_endpoint_url:
        return None
    return {"anon": True, "client_kwargs": {"endpoint_url": s3_endpoint_url}}


def fetch_shard(
    archive: str,
    *,
    shard_path: str,
    output_path: str,
    source: str,
    params: dict,
    threads: int = 1,
    mem_mb: int | None = None,
    s3_endpoint_url: str | None = None,
    provenance_note: str = "",
) -> int:
    """Fetch one shard's light curves from ``archive`` and write them to ``output_path``.

    Parameters
    ----------
    archive : str
        Archive name (see :mod:`mwlc.archives.registry`).
    shard_path : str
        The sample shard (parquet: objectid, ra, dec, label).
    output_path : str
        The shard's light-curve file; written atomically, with zero rows if nothing matched.
    source : str
        Where the archive is read from (URI or local path).
    params : dict
        Archive parameters from config (radii in arcsec).
    threads, mem_mb : int
        The job's CPU threads and memory (MB); the archive sizes its parallelism from these.
    s3_endpoint_url : str, optional
        Custom S3 endpoint for ``s3://`` sources.
    provenance_note : str
        Recorded in the file metadata (e.g. that the source is synthetic demo data).

    Returns
    -------
    int
        Rows written.
    """
    module = get_archive(archive)
    sample = read_shard(shard_path)
    log.info("%s: %d objects in %s, source %s, params %s", module.NAME, len(sample), shard_path, source, params)
    provenance = {
        "source": source,
        "params": params,
        "sample_shard_sha256": file_sha256(shard_path),
        "note": provenance_note,
    }
    started = time.monotonic()
    batches = module.fetch(sample, source=source, threads=threads, mem_mb=mem_mb,
                           storage_options=storage_options(s3_endpoint_url), **params)
    rows = write_lightcurve_shard(batches, output_path, file_metadata(module.NAME, module.BANDS, provenance))
    log.info("%s: %d rows for %d objects in %.1f s -> %s", module.NAME, rows, len(sample),
             time.monotonic() - started, output_path)
    return rows

