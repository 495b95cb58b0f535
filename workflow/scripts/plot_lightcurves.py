"""Rule `plot_lightcurves`: light-curve panels of the first objects with data."""

from mwlc.joblog import start_job_log
from mwlc.plots import lightcurve_figure_files

params = snakemake.params
start_job_log(snakemake.log[0], job="plot_lightcurves", provenance_note=params.provenance_note)
lightcurve_figure_files(
    common_metadata=snakemake.input.common_metadata,
    by_object=snakemake.input.by_object,
    output_dir=snakemake.output.figures,
    n_objects=params.n_objects,
    note=params.provenance_note,
)
