rule preflight:
    input:
        snapshot=preflight_snapshot_input,
    output:
        f"{RESULTS}/preflight/{{archive}}-{{settings}}.txt",
    log:
        f"{LOGS}/preflight/{{archive}}-{{settings}}.log",
    benchmark:
        f"{BENCHMARKS}/preflight/{{archive}}-{{settings}}.tsv"
    retries: config["fetch_retries"]
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        # one request that stalls to its timeout and is retried (HEASARC TAP: 600 s x 4 + backoff)
        runtime=60,
    params:
        source=archive_source,
        archive_params=archive_params,
        s3_endpoint_url=config["storage"]["s3_endpoint_url"],
    message:
        "Checking the {wildcards.archive} source before its fetch jobs"
    script:
        "../scripts/preflight.py"


rule fetch_lightcurves:
    input:
        shard=f"{RESULTS}/sample_shards/shard-{{shard}}.parquet",
        snapshot=demo_archive_input,
        preflight=preflight_input,
    output:
        f"{DATASET}/archive={{archive}}/shard-{{shard}}.parquet",
    log:
        f"{LOGS}/fetch_lightcurves/{{archive}}/shard-{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/fetch_lightcurves/{{archive}}/shard-{{shard}}.tsv"
    retries: config["fetch_retries"]
    conda:
        "../envs/mwlc.yaml"
    threads: FETCH_THREADS
    resources:
        **SERVICE_RESOURCES,
        mem_mb=fetch_mem_mb,
        runtime=fetch_runtime,
    params:
        source=archive_source,
        archive_params=archive_params,
        s3_endpoint_url=config["storage"]["s3_endpoint_url"],
        # mirrors the shard's record: the script writes config's note (a new note never refetches)
        provenance_note=fetch_note,
    message:
        "Fetching {wildcards.archive} light curves for shard {wildcards.shard}"
    script:
        "../scripts/fetch_lightcurves.py"


rule gather_archive:
    input:
        archive_shard_paths,
    output:
        f"{RESULTS}/summary/{{archive}}.csv",
    log:
        f"{LOGS}/gather_archive/{{archive}}.log",
    benchmark:
        f"{BENCHMARKS}/gather_archive/{{archive}}.tsv"
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        provenance_note=config["provenance_note"],
    script:
        "../scripts/gather_archive.py"
