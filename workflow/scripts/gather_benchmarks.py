"""Rule `gather_benchmarks`: every job's benchmark TSV in one CSV."""

from mwlc.benchmarks import write_benchmarks_csv
from mwlc.joblog import start_job_log

start_job_log(snakemake.log[0], job="gather_benchmarks", provenance_note=snakemake.params.provenance_note)
write_benchmarks_csv(list(snakemake.params.benchmarks), snakemake.params.jobs, snakemake.output.table)
