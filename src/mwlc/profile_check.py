"""What a run started without mwlc's workflow profile lacks, said as it starts.

Snakemake reads the workflow profile ``profiles/default`` only from the working directory (or
``workflow/profiles/default`` beside the Snakefile): a run started elsewhere with
``--snakefile``, or with ``--workflow-profile none`` or another workflow profile, goes without
it, as does the services' list when ``--resources`` replaces it. Two of its settings keep a
week-long run's work:

* its rerun triggers leave out ``code``: with Snakemake's default, an upgrade of mwlc that edits
  the rule scripts redoes every finished job, every fetched shard included
  (:data:`mwlc.runner.RERUN_TRIGGERS`);
* its ``resources`` cap the jobs on each remote service (:mod:`mwlc.archives.services`): without
  a cap, as many fetch jobs as ``--cores`` or ``--jobs`` allow read one archive at once.

:func:`missing_profile_settings` names what is missing; the Snakefile logs it as a warning.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

from mwlc.archives.services import SERVICES, service_units
from mwlc.runner import RERUN_TRIGGERS


def missing_profile_settings(
    rerun_triggers: Iterable[str],
    capped: Container[str],
    archive_sources: Mapping[str, str],
    *,
    threads: int,
    profile: str,
) -> list[str]:
    """One warning per workflow-profile setting this run lacks (none with the profile).

    Parameters
    ----------
    rerun_triggers : iterable of str
        The run's rerun triggers, as Snakemake names them (``mtime``, ``code``...).
    capped : container of str
        The global resources the run has a cap for.
    archive_sources : mapping
        The configured source of each archive with fetch jobs left to run.
    threads : int
        A fetch job's threads (the requests a per-object job keeps in flight).
    profile : str
        Where the workflow profile is, for the advice.
    """
    warnings = []
    redone = sorted(set(rerun_triggers) - set(RERUN_TRIGGERS))
    if redone:
        warnings.append(
            f"this run redoes a finished job when its rule's {' or '.join(redone)} changes, as "
            f"Snakemake does without mwlc's workflow profile ({profile}): an upgrade of mwlc "
            "that edits the rule scripts would fetch every finished shard again. Run from the "
            f"mwlc folder, or add --workflow-profile {profile}, or "
            f"--rerun-triggers {' '.join(RERUN_TRIGGERS)}"
        )
    uncapped = uncapped_services(capped, archive_sources, threads=threads)
    if uncapped:
        named = "; ".join(f"{service} ({SERVICES[service]})" for service in uncapped)
        warnings.append(
            f"no cap on the service(s) {named}: as many fetch jobs as --cores or --jobs allow will "
            f"read them at once. Caps come with mwlc's workflow profile ({profile}); "
            "--resources replaces its whole list, so give every cap there (the profile lists them)"
        )
    return warnings


def uncapped_services(
    capped: Container[str], archive_sources: Mapping[str, str], *, threads: int
) -> list[str]:
    """The services the fetch jobs of ``archive_sources`` hold (a local copy holds none) that
    have no cap in ``capped``, sorted."""
    held = {
        service
        for archive, source in archive_sources.items()
        for service, units in service_units(archive, source, threads).items()
        if units
    }
    return sorted(service for service in held if service not in capped)
