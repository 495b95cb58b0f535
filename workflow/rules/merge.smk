rule merge_lightcurves:
    input:
        sample=f"{RESULTS}/sample.ecsv",
        sample_shards=shard_paths(f"{RESULTS}/sample_shards/shard-{{shard}}.parquet"),
        shards=all_shard_files(),
        summaries=expand(f"{RESULTS}/summary/{{archive}}.csv", archive=ARCHIVES),
    output:
        common_metadata=f"{DATASET}/_common_metadata",
        metadata=f"{DATASET}/_metadata",
        by_object=f"{RESULTS}/lightcurves_by_object.parquet",
        summary=f"{RESULTS}/summary.csv",
    log:
        f"{LOGS}/merge_lightcurves.log",
    benchmark:
        f"{BENCHMARKS}/merge_lightcurves.tsv"
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        dataset=dataset_dir,
        archives=ARCHIVES,
        shards=SHARDS,
        provenance_note=config["provenance_note"],
    script:
        "../scripts/merge_lightcurves.py"
