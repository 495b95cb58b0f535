"""Rule `merge_lightcurves`: dataset metadata, one-row-per-object table, summary."""

from mwlc.joblog import start_job_log
from mwlc.merge import merge_dataset

start_job_log(snakemake.log[0], job="merge_lightcurves", provenance_note=snakemake.params.provenance_note)
merge_dataset(
    dataset=snakemake.params.dataset,
    archives=snakemake.params.archives,
    shards=snakemake.params.shards,
    sample_ecsv=snakemake.input.sample,
    sample_shard_paths=list(snakemake.input.sample_shards),
    summaries=list(snakemake.input.summaries),
    common_metadata=snakemake.output.common_metadata,
    metadata=snakemake.output.metadata,
    by_object=snakemake.output.by_object,
    summary_csv=snakemake.output.summary,
)
