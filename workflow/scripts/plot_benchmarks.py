"""Rule `plot_benchmarks`: wall time, max RSS and CPU time per rule and per job."""

from mwlc.joblog import start_job_log
from mwlc.plots import benchmarks_figure_file

params = snakemake.params
start_job_log(snakemake.log[0], job="plot_benchmarks", provenance_note=params.provenance_note)
benchmarks_figure_file(
    snakemake.input.table, snakemake.output.figure, title=params.title, note=params.provenance_note
)
