"""Rule `sample`: fetch, validate, consolidate, number and shard the sample."""

from mwlc.joblog import start_job_log
from mwlc.sample.run import make_sample

start_job_log(snakemake.log[0], job="sample", provenance_note=snakemake.config["provenance_note"])
make_sample(
    snakemake.params.sample,
    snakemake.config["services"],  # with how hard to ask them, which is no param
    ecsv_path=snakemake.output.ecsv,
    shard_paths=list(snakemake.output.shards),
)
