"""Rule `preflight`: open one archive's source as its fetch jobs will; fail with one line per problem."""

import sys

from mwlc.archives.registry import get_archive
from mwlc.joblog import start_job_log
from mwlc.preflight import check_archive
from mwlc.storage import config_policy, storage_options

start_job_log(
    snakemake.log[0],
    job=f"preflight archive={snakemake.wildcards.archive}",
    provenance_note=snakemake.config["provenance_note"],
)
archive = snakemake.wildcards.archive
reading = get_archive(archive).reading_params(snakemake.config["archives"][archive])
check_archive(
    archive,
    source=snakemake.params.source,
    # how to read (timeouts, retries) comes from the config, not a param, so that it reruns
    # nothing (as in the fetch jobs)
    params=snakemake.params.archive_params | reading,
    storage=storage_options(snakemake.params.s3_endpoint_url, config_policy(snakemake.config["storage"])),
    report_path=snakemake.output[0],
    echo=sys.__stderr__,  # the problems also in Snakemake's own output, not only in the log
)
