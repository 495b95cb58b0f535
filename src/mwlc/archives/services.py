"""The remote services the archives' fetch jobs load, and how much of one a job holds.

Each service is a global Snakemake resource (``--resources irsa_s3=8``; defaults with their
reasons in ``profiles/default`` and ``profiles/slurm``), so a run with ``--jobs 200`` on a
cluster never has more jobs on one service than its cap. A fetch job holds one unit of its
archive's service while it runs; the per-object MAST archives hold one unit per request they
keep in flight (their threads). A job that reads a local copy (a path or ``file://`` URI, as in
the demo or on an air-gapped node) holds nothing: a local copy is not the service. Each archive
names its service in its descriptor (:attr:`mwlc.archives.base.Archive.service`).
"""

from __future__ import annotations

#: Service (the Snakemake resource name) -> what it is.
SERVICES: dict[str, str] = {
    "irsa_s3": "IRSA's S3 buckets (ZTF, unWISE)",
    "stsci_s3": "STScI's S3 bucket (Pan-STARRS)",
    "lincc_http": "LINCC's HATS server over HTTP, data.lsdb.io (Gaia)",
    "heasarc_tap": "HEASARC's TAP service",
    "mast_requests": "MAST: TESS/Kepler/K2 downloads and the HSC API (HCV), requests in flight",
}

#: Each service's cap: jobs (requests for :data:`PER_REQUEST_SERVICES`) on it at once. The
#: numbers of ``profiles/default`` and ``profiles/slurm`` (their comments give the reasons; a test
#: keeps them equal), applied by :func:`mwlc.run`, which reads no profile.
DEFAULT_CAPS: dict[str, int] = {
    "irsa_s3": 16,
    "stsci_s3": 16,
    "lincc_http": 4,
    "heasarc_tap": 2,
    "mast_requests": 4,
}

#: Services counted in requests in flight (a job holds its threads), not in jobs.
PER_REQUEST_SERVICES = frozenset({"mast_requests"})


def is_local_source(source: str) -> bool:
    """True for a local path or ``file://`` URI, False for any other URL (``s3://``, ``https://``)."""
    return "://" not in source or source.startswith("file://")


def service_units(archive: str, source: str, threads: int) -> dict[str, int]:
    """Units of every service that one fetch job of ``archive`` holds.

    Parameters
    ----------
    archive : str
        Canonical archive name (of :data:`mwlc.archives.registry.ARCHIVES`).
    source : str
        The archive's configured source. Per-request services hold their units whatever the
        source (the TESS/Kepler index may be local, its downloads are not).
    threads : int
        The job's threads: the requests a per-request service's job keeps in flight.

    Returns
    -------
    dict
        Every service of :data:`SERVICES` -> units (0 for all but the archive's own).

    Raises
    ------
    KeyError
        When ``archive`` is no registered archive (the message lists those that are).
    """
    from mwlc.archives.registry import ARCHIVES  # the registry's descriptors import this module

    if archive not in ARCHIVES:
        raise KeyError(
            f"archive {archive!r} declares no service: it is not registered "
            f"(known: {', '.join(sorted(ARCHIVES))})"
        )
    units = dict.fromkeys(SERVICES, 0)
    service = ARCHIVES[archive].service
    if service in PER_REQUEST_SERVICES:
        units[service] = max(int(threads), 1)
    elif not is_local_source(source):
        units[service] = 1
    return units
