rule build_demo_archive:
    input:
        sample=sample_file_inputs(),
    output:
        directory(f"{DEMO_DIR}/{{archive}}"),
    log:
        f"{LOGS}/build_demo_archive/{{archive}}.log",
    benchmark:
        f"{BENCHMARKS}/build_demo_archive/{{archive}}.tsv"
    conda:
        "../envs/mwlc.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # mirrors the snapshot's record: a new note never rebuilds it (the script logs config's)
        provenance_note=demo_note,
    message:
        "Building the SYNTHETIC demo snapshot of {wildcards.archive}"
    script:
        "../scripts/build_demo_archive.py"
