"""Rule `gather_archive`: check an archive's shards belong together and summarise them."""

from mwlc.joblog import start_job_log
from mwlc.merge import summarize_archive

start_job_log(
    snakemake.log[0],
    job=f"gather_archive archive={snakemake.wildcards.archive}",
    provenance_note=snakemake.params.provenance_note,
)
summarize_archive(list(snakemake.input), snakemake.output[0])
