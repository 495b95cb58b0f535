"""Rule `build_demo_archive`: a deterministic SYNTHETIC snapshot of one archive, real schema."""

from mwlc.demo import build_demo_archive
from mwlc.joblog import start_job_log

start_job_log(
    snakemake.log[0],
    job=f"build_demo_archive archive={snakemake.wildcards.archive}",
    provenance_note=snakemake.config["provenance_note"],
)
build_demo_archive(snakemake.wildcards.archive, list(snakemake.input.sample), snakemake.output[0])
