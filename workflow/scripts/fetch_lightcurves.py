"""Rule `fetch_lightcurves`: one archive x one sample shard -> one parquet shard file."""

from mwlc.fetch import fetch_shard
from mwlc.joblog import start_job_log

wildcards = snakemake.wildcards
start_job_log(
    snakemake.log[0],
    job=f"fetch_lightcurves archive={wildcards.archive} shard={wildcards.shard}",
    provenance_note=snakemake.params.provenance_note,
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
    provenance_note=snakemake.params.provenance_note,
    # Where and how much is read at a time are not params: changing them must not refetch.
    dask_scheduler=snakemake.config.get("dask_scheduler"),
    read_batch_rows=snakemake.config["archives"][wildcards.archive].get("read_batch_rows"),
)
