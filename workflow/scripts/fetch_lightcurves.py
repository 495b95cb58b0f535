"""Rule `fetch_lightcurves`: one archive x one sample shard -> one parquet shard file."""

from mwlc.archives.registry import get_archive
from mwlc.fetch import fetch_shard
from mwlc.joblog import start_job_log
from mwlc.memory_record import record_path
from mwlc.storage import config_policy

wildcards = snakemake.wildcards
start_job_log(
    snakemake.log[0],
    job=f"fetch_lightcurves archive={wildcards.archive} shard={wildcards.shard}",
    provenance_note=snakemake.config["provenance_note"],
)
fetch_shard(
    wildcards.archive,
    shard_path=snakemake.input.shard,
    output_path=snakemake.output[0],
    source=snakemake.params.source,
    params=snakemake.params.archive_params,
    threads=snakemake.threads,
    mem_mb=snakemake.resources.mem_mb,
    s3_endpoint_url=snakemake.params.s3_endpoint_url,
    provenance_note=snakemake.config["provenance_note"],
    # Where, how much at a time and how hard it is read are not params: changing them must not refetch.
    dask_scheduler=snakemake.config.get("dask_scheduler"),
    reading=get_archive(wildcards.archive).reading_params(snakemake.config["archives"][wildcards.archive]),
    read_policy=config_policy(snakemake.config["storage"]),
    # an attempt over its memory leaves its batch sizes here; the next one reads half of them
    memory_record=record_path(snakemake.log[0]),
)
