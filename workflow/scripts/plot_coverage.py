"""Rule `plot_coverage`: objects with data and rows per archive and band."""

from mwlc.joblog import start_job_log
from mwlc.plots import coverage_figure_file

params = snakemake.params
start_job_log(snakemake.log[0], job="plot_coverage", provenance_note=params.provenance_note)
coverage_figure_file(
    snakemake.input.summary,
    list(snakemake.input.sample_shards),
    snakemake.output.figure,
    title=params.title,
    note=params.provenance_note,
)
