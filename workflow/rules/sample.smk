rule sample:
    input:
        files=sample_file_inputs(),
    output:
        ecsv=f"{RESULTS}/sample.ecsv",
        shards=shard_paths(f"{RESULTS}/sample_shards/shard-{{shard}}.parquet"),
    log:
        f"{LOGS}/sample.log",
    benchmark:
        f"{BENCHMARKS}/sample.tsv"
    # No Snakemake retries: its services retry each request (services.retries), and a rerun of a
    # sample refused for its input would query every source again to be refused again.
    retries: 0  # not the profiles' `retries: 1`
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        sample=config["sample"],
        services=sample_services,
        # mirrors the sample's record: a new note never rebuilds it (the script logs config's)
        provenance_note=sample_note,
    message:
        "Building the sample ({config[n_shards]} shards)"
    script:
        "../scripts/build_sample.py"
