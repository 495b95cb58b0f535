"""Rule `plot_sky`: Mollweide map of the sample, coloured by shard."""

from mwlc.joblog import start_job_log
from mwlc.plots import sky_figure_file

params = snakemake.params
start_job_log(snakemake.log[0], job="plot_sky", provenance_note=params.provenance_note)
sky_figure_file(
    list(snakemake.input.sample_shards),
    snakemake.output.figure,
    title=params.title,
    note=params.provenance_note,
)
