# What the run cost and what it found: one benchmark table and the report's figures.
# Figures are report() items; render with: snakemake --report results/<run_id>/report.html


rule gather_benchmarks:
    input:
        data_outputs(),
    output:
        table=report(
            f"{RESULTS}/benchmarks.csv",
            caption="../report/benchmarks_table.rst",
            category="Resources",
            labels={"table": "benchmarks of every job"},
        ),
    log:
        f"{LOGS}/gather_benchmarks.log",
    benchmark:
        f"{BENCHMARKS}/gather_benchmarks.tsv"
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        benchmarks=benchmark_files,
        jobs=lambda wildcards: benchmarked_jobs(),  # at DAG time: it reads the shards' records
        provenance_note=config["provenance_note"],
    script:
        "../scripts/gather_benchmarks.py"


rule plot_resources:
    input:
        usage=rules.monitor_resources.output.usage,
    output:
        figure=report(
            f"{RESULTS}/figures/resources.png",
            caption="../report/resources.rst",
            category="Resources",
            labels={"figure": "CPU and memory over time"},
        ),
    log:
        f"{LOGS}/plot_resources.log",
    benchmark:
        f"{BENCHMARKS}/plot_resources.tsv"
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        window=config["plots"]["resources_window_utc"],
        title=config["run_id"],
        provenance_note=config["provenance_note"],
    script:
        "../scripts/plot_resources.py"


rule plot_benchmarks:
    input:
        table=rules.gather_benchmarks.output.table,
    output:
        figure=report(
            f"{RESULTS}/figures/benchmarks.png",
            caption="../report/benchmarks.rst",
            category="Resources",
            labels={"figure": "benchmarks per rule and job"},
        ),
    log:
        f"{LOGS}/plot_benchmarks.log",
    benchmark:
        f"{BENCHMARKS}/plot_benchmarks.tsv"
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=config["run_id"],
        provenance_note=config["provenance_note"],
    script:
        "../scripts/plot_benchmarks.py"


rule plot_coverage:
    input:
        summary=rules.merge_lightcurves.output.summary,
        sample_shards=rules.sample.output.shards,
    output:
        figure=report(
            f"{RESULTS}/figures/coverage.png",
            caption="../report/coverage.rst",
            category="Sample and coverage",
            labels={"figure": "coverage per archive and band"},
        ),
    log:
        f"{LOGS}/plot_coverage.log",
    benchmark:
        f"{BENCHMARKS}/plot_coverage.tsv"
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=config["run_id"],
        provenance_note=config["provenance_note"],
    script:
        "../scripts/plot_coverage.py"


rule plot_sky:
    input:
        sample_shards=rules.sample.output.shards,
    output:
        figure=report(
            f"{RESULTS}/figures/sky.png",
            caption="../report/sky.rst",
            category="Sample and coverage",
            labels={"figure": "sky map of the sample"},
        ),
    log:
        f"{LOGS}/plot_sky.log",
    benchmark:
        f"{BENCHMARKS}/plot_sky.tsv"
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        title=config["run_id"],
        provenance_note=config["provenance_note"],
    script:
        "../scripts/plot_sky.py"


rule plot_lightcurves:
    input:
        common_metadata=rules.merge_lightcurves.output.common_metadata,
        by_object=rules.merge_lightcurves.output.by_object,
    output:
        figures=report(
            directory(f"{RESULTS}/figures/lightcurves"),
            patterns=["lightcurve-{objectid}.png"],
            caption="../report/lightcurves.rst",
            category="Light curves",
            labels={"objectid": "{objectid}"},
        ),
    log:
        f"{LOGS}/plot_lightcurves.log",
    benchmark:
        f"{BENCHMARKS}/plot_lightcurves.tsv"
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        n_objects=config["plots"]["lightcurves_n_objects"],
        provenance_note=config["provenance_note"],
    script:
        "../scripts/plot_lightcurves.py"
