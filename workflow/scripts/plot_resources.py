"""Rule `plot_resources`: the 4-panel CPU/memory overview from the monitor's usage table."""

from mwlc.joblog import start_job_log
from mwlc.plots import overview_figure_file

params = snakemake.params
start_job_log(snakemake.log[0], job="plot_resources", provenance_note=params.provenance_note)
overview_figure_file(
    snakemake.input.usage,
    snakemake.output.figure,
    window=params.window,
    title=params.title,
    note=params.provenance_note,
)
