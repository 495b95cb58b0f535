# Helpers used by the rules: the only place for Python in the rule files.
from mwlc.archives.registry import get_archive, per_object_archives
from mwlc.config import check_config, enabled_archives, load_schema
from mwlc.errors import ConfigError
import os

import yaml

try:
    with open(f"{workflow.basedir}/../config/config.yaml") as _defaults:
        config, CONFIG_DEPRECATIONS = check_config(
            config,
            load_schema(f"{workflow.basedir}/schemas/config.schema.yaml"),
            defaults=yaml.safe_load(_defaults),
        )
except ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None

for _note in CONFIG_DEPRECATIONS:
    logger.warning(f"mwlc: {_note}")

RUN = config["run_id"]
RESULTS = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCHMARKS = f"benchmarks/{RUN}"
SHARDS = [f"{i:04d}" for i in range(config["n_shards"])]
ARCHIVES = enabled_archives(config)
DATASET = f"{RESULTS}/lightcurves.parquet"
DEMO = config.get("demo") or {}
DEMO_DIR = DEMO.get("directory", "resources/demo").rstrip("/")


wildcard_constraints:
    shard=r"\d{4}",
    archive="|".join(ARCHIVES) or "no-archive-enabled",


def shard_paths(pattern):
    """`pattern` (with {shard}) expanded over every shard."""
    return expand(pattern, shard=SHARDS)


def archive_shard_paths(wildcards):
    """Every shard file of one archive, in shard order."""
    return expand(
        f"{DATASET}/archive={wildcards.archive}/shard-{{shard}}.parquet", shard=SHARDS
    )


def all_shard_files():
    return expand(
        f"{DATASET}/archive={{archive}}/shard-{{shard}}.parquet",
        archive=ARCHIVES,
        shard=SHARDS,
    )


def dataset_dir(wildcards, output):
    """The light-curve dataset directory, from the merge rule's outputs."""
    return os.path.dirname(output.common_metadata)


def archive_params(wildcards):
    """The archive's parameters from config, without `enabled`, `source` and the keys that only
    say how much is read at a time (its descriptor says which), so changing those never refetches.
    """
    return get_archive(wildcards.archive).job_params(
        config["archives"][wildcards.archive]
    )


def archive_source(wildcards):
    return config["archives"][wildcards.archive]["source"]


# Archives that send one request per object to MAST (per their descriptors): their jobs hold
# `mast_requests` (a global resource capped in profiles/default) equal to their threads, the
# requests they keep in flight.
MAST_ARCHIVES = per_object_archives()


def fetch_mem_mb(wildcards, attempt):
    """The archive's memory limit (config fetch_mem_mb), doubled, tripled... on retries."""
    limits = config["fetch_mem_mb"]
    return limits.get(wildcards.archive, limits["default"]) * attempt


def mast_requests(wildcards, threads):
    return threads if wildcards.archive in MAST_ARCHIVES else 0


def demo_archive_input(wildcards):
    """The locally built snapshot an archive reads from, when demo.yaml asks for one."""
    if wildcards.archive in DEMO.get("archives", []):
        return [f"{DEMO_DIR}/{wildcards.archive}"]
    return []


def sample_file_inputs():
    """Local files read by `file` sample sources: a changed file rebuilds the sample."""
    return [s["path"] for s in config["sample"]["sources"] if s["source"] == "file"]


def data_outputs():
    """The run's data products: the resource monitor stops once they are all written."""
    return [
        f"{DATASET}/_common_metadata",
        f"{RESULTS}/lightcurves_by_object.parquet",
        f"{RESULTS}/summary.csv",
    ]


def report_outputs():
    """Benchmark table and report figures; the resource overview only with the monitor on."""
    outputs = [
        f"{RESULTS}/benchmarks.csv",
        f"{RESULTS}/figures/benchmarks.png",
        f"{RESULTS}/figures/coverage.png",
        f"{RESULTS}/figures/sky.png",
        f"{RESULTS}/figures/lightcurves",
    ]
    if monitor_enabled():
        outputs += [f"{RESULTS}/monitor/usage.csv", f"{RESULTS}/figures/resources.png"]
    return outputs


def monitor_enabled():
    """The resource monitor samples this machine's processes: on only when the jobs run here
    (not under a cluster executor such as --executor slurm, known once the DAG is built).
    """
    return config["monitor"]["enabled"] and workflow.local_exec


def final_outputs(wildcards=None):
    """The targets of rule all; an input function, so that the executor is known."""
    return data_outputs() + report_outputs()


def benchmarked_jobs():
    """Rule and wildcards of every job up to the merge, in a fixed order (plot jobs excluded:
    they run after the benchmark table)."""
    jobs = [{"rule": "sample", "wildcards": {}}]
    jobs += [
        {"rule": "build_demo_archive", "wildcards": {"archive": a}}
        for a in ARCHIVES
        if a in DEMO.get("archives", [])
    ]
    jobs += [
        {"rule": "fetch_lightcurves", "wildcards": {"archive": a, "shard": s}}
        for a in ARCHIVES
        for s in SHARDS
    ]
    jobs += [{"rule": "gather_archive", "wildcards": {"archive": a}} for a in ARCHIVES]
    jobs += [{"rule": "merge_lightcurves", "wildcards": {}}]
    return jobs


def benchmark_files(wildcards):
    """The benchmark file of each job of benchmarked_jobs(), in the same order."""
    return [
        expand(getattr(rules, job["rule"]).benchmark, **job["wildcards"])[0]
        for job in benchmarked_jobs()
    ]
