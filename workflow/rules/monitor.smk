# The resource monitor: a sidecar job next to the real ones (see src/mwlc/monitor/).
# threads: 0 so it never holds a core (with a core it could deadlock a --cores 1 run), and
# mem_mb: 0 for the same reason under a global mem_mb (mwlc.run sets one; Snakemake lowers a job's
# mem_mb to it, and such a job could never start beside the monitor): it holds ~30 MB;
# the files it waits for are params, not inputs (as inputs it would start last), and only
# data products: never anything downstream of the monitor (figures, report), or it waits forever.
# No benchmark: its wall time is the whole run; it logs its own CPU use instead.


rule monitor_resources:
    output:
        usage=f"{RESULTS}/monitor/usage.csv",
    log:
        f"{LOGS}/monitor_resources.log",
    priority: 100
    localrule: True
    conda:
        "../envs/mwlc.yaml"
    threads: 0
    resources:
        mem_mb=0,
        # max_hours: .inf (no limit) is a local rule's year
        runtime=int(min(config["monitor"]["max_hours"], 24 * 365) * 60),
    params:
        targets=data_outputs(),
        interval_s=config["monitor"]["interval_s"],
        idle_grace_s=config["monitor"]["idle_grace_s"],
        max_hours=config["monitor"]["max_hours"],
        final_wait_s=config["monitor"]["final_wait_s"],
        provenance_note=config["provenance_note"],
    message:
        "Monitoring CPU and memory of the run every {params.interval_s} s"
    script:
        "../scripts/monitor_resources.py"
