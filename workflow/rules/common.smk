# Helpers used by the rules: the only place for Python in the rule files.
from mwlc.archives.registry import get_archive
from mwlc.archives.services import SERVICES, service_units
from mwlc.config import check_config, enabled_archives, load_schema
from mwlc.errors import ConfigError
from mwlc.machine import jobs_memory_mb, memory_overcommit
from mwlc.preflight import settings_key
from mwlc.profile_check import missing_profile_settings
from mwlc.records import kept_mapping, kept_value, recorded_mapping, recorded_mappings
from mwlc.run_plan import write_run_plan
from mwlc.sample.sources import REQUEST_KEYS as SERVICE_REQUEST_KEYS, file_source_path
from mwlc.sample.size import planned_n_shards
from snakemake_interface_executor_plugins.settings import ExecMode
import functools
import os
import sys
from pathlib import Path

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
BENCHMARKS = f"{RESULTS}/benchmarks"
# n_shards: auto is fixed now, before the sample exists, so the DAG is static; once the sample is
# built, its shards are kept whatever its sources count now (src/mwlc/sample/size.py).
try:
    config["n_shards"], _shards_note = planned_n_shards(
        config["n_shards"],
        config["sample"]["sources"],
        config["objects_per_shard"],
        RESULTS,
    )
except ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None
if _shards_note:
    logger.warning(f"mwlc: {_shards_note}")
SHARDS = [f"{i:04d}" for i in range(config["n_shards"])]
ARCHIVES = enabled_archives(config)
DATASET = f"{RESULTS}/lightcurves.parquet"
SAMPLE_ECSV = f"{RESULTS}/sample.ecsv"
DEMO = config.get("demo") or {}
DEMO_DIR = DEMO.get("directory", "resources/demo").rstrip("/")

# numba's machine code for hats (lsdb's HEALPix alignment) is compiled by the first job that needs
# it and loaded from here by every later job of this working directory (src/mwlc/jitcache.py);
# jobs inherit the variable, and cluster jobs set it again when they read this file.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.abspath(".snakemake/numba_cache"))


# What this invocation set out to do and which process runs it, for `mwlc status` (not written
# by dry runs or --report: Snakemake runs onstart only when it executes jobs).
onstart:
    write_run_plan(
        RESULTS,
        run_id=RUN,
        archives=ARCHIVES,
        n_shards=len(SHARDS),
        preflight_keys={archive: preflight_key(archive) for archive in ARCHIVES},
    )
    for _warning in start_warnings():
        logger.warning(f"mwlc: {_warning}")


wildcard_constraints:
    shard=r"\d{4}",
    settings=r"[0-9a-f]{16}",
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
    say how it is read (its descriptor says which), so changing those never refetches.

    Where the job's output exists (a fetch job's shard, a preflight's report), what Snakemake
    recorded for it, when that differs only by such keys: an output made while they were
    params keeps its params, and is not made again (Archive.job_params).
    """
    if "shard" in wildcards.keys():
        return fetch_params(wildcards.archive, wildcards.shard)
    made = f"{RESULTS}/preflight/{wildcards.archive}-{wildcards.settings}.txt"
    return params_kept_for(wildcards.archive, made)


def fetch_params(archive, shard):
    """The params of the fetch job of `archive` and `shard` (see archive_params)."""
    return params_kept_for(archive, shard_file(archive, shard))


def params_kept_for(archive, output):
    """The archive's params for the job that makes `output`: its recorded ones, if they differ
    only by keys that are no params (Archive.job_params)."""
    return get_archive(archive).job_params(
        config["archives"][archive], recorded=recorded_mapping(recorded_params(output))
    )


# The param functions below take only `wildcards`: Snakemake neither records nor compares a
# param whose function takes `output` (or input, threads, resources): it counts it as derived.


def fetch_note(wildcards):
    """The provenance note, as a param of a fetch job (see kept_note)."""
    shard = shard_file(wildcards.archive, wildcards.shard)
    endpoint = config["storage"]["s3_endpoint_url"]
    return kept_note(
        shard, archive_source(wildcards), archive_params(wildcards), endpoint
    )


def sample_services(wildcards):
    """The sample job's services param: their URLs, not how hard they are asked (timeout_s,
    retries, retry_backoff_s: its script reads those from the config), so raising a timeout never
    rebuilds a finished sample, which would refetch every shard. A sample recorded while they
    were params keeps its record (mwlc.records.kept_mapping)."""
    recorded = recorded_mappings(recorded_params(SAMPLE_ECSV))
    return kept_mapping(recorded, config["services"], SERVICE_REQUEST_KEYS)


def sample_note(wildcards):
    """The provenance note, as a param of the sample job (see kept_note)."""
    return kept_note(SAMPLE_ECSV, config["sample"], sample_services(wildcards))


def demo_note(wildcards):
    """The provenance note, as the param of a demo snapshot's job (see kept_note)."""
    return kept_note(f"{DEMO_DIR}/{wildcards.archive}")


def kept_note(output, *others):
    """The note a finished `output` was made with, if its job's other params (`others`) are as
    recorded; else today's (mwlc.records.kept_value). Editing config's provenance_note in the
    middle of a run then never refetches or rebuilds the sample: the jobs still to run write
    today's note (their scripts read it from the config), the merged outputs and report rerun.
    """
    return kept_value(recorded_params(output), config["provenance_note"], others)


def shard_file(archive, shard):
    """The light-curve shard file of `archive` and `shard`."""
    return f"{DATASET}/archive={archive}/shard-{shard}.parquet"


def archive_source(wildcards):
    return config["archives"][wildcards.archive]["source"]


def preflight_output(archive, params=None):
    """The preflight report of `archive`'s current settings: its name holds a hash of the source
    and the params the fetch jobs get (`params`, default the archive's), so a change to them is
    a new preflight (run before the fetch jobs that the change reruns anyway), and the preflight
    rule has no rerun trigger of its own besides a missing output (see preflight_input).
    """
    if params is None:
        params = get_archive(archive).job_params(config["archives"][archive])
    key = settings_key(
        config["archives"][archive]["source"],
        params,
        config["storage"]["s3_endpoint_url"],
    )
    return f"{RESULTS}/preflight/{archive}-{key}.txt"


@functools.cache  # one answer per invocation: it reads every shard's record
def preflight_key(archive):
    """The {settings} wildcard of the preflight report the archive's fetch jobs use: that of the
    current settings, unless every shard of the archive keeps params recorded by an older mwlc
    (archive_params), whose report is then the run's (for mwlc status and the benchmarks).
    """
    current = preflight_output(archive)
    used = {preflight_output(archive, fetch_params(archive, shard)) for shard in SHARDS}
    chosen = current if current in used or len(used) != 1 else used.pop()
    return chosen.rsplit("-", 1)[1].removesuffix(".txt")


def preflight_input(wildcards):
    """The archive's preflight report, as an input of the fetch jobs that have to wait for it.

    `ancient`: a preflight that runs again never makes a finished shard older than its input.
    But Snakemake does not weigh the other reasons of the jobs downstream of a job that runs
    when their input from it is `ancient`: they wait for the next invocation. So the report's
    name holds the settings (a change of them is a new report, and the fetch jobs it concerns
    are rerun at once), its demo snapshot input is `ancient` too, and the rule has no params
    of its own (the profiles' rerun triggers leave out the scripts' code). A shard written
    before preflights existed keeps the input set Snakemake recorded for it, without one, so
    runs made then are not refetched. A deleted report is not made again while every shard
    that needs it is finished. In a cluster job's own step (--mode remote), no input: the
    main process has already ordered the jobs.
    """
    if workflow.remote_exec:
        # a cluster job's own step: the main process ran the preflight first, and the shard
        # may be gone (an earlier attempt removed it), which would name another report
        return []
    shard = shard_file(wildcards.archive, wildcards.shard)
    earlier = f"{RESULTS}/preflight/{wildcards.archive}-"
    if os.path.exists(shard) and not any(
        f.startswith(earlier) for f in recorded_input(shard)
    ):
        return []
    # the shard's own params: a shard that keeps its recorded params keeps its recorded report
    return [ancient(preflight_output(wildcards.archive, archive_params(wildcards)))]


def preflight_snapshot_input(wildcards):
    """The demo snapshot a preflight opens, `ancient`: the preflight runs once it exists, and
    only again when its report is missing."""
    return [ancient(path) for path in demo_archive_input(wildcards)]


def recorded_input(path):
    """The input files Snakemake recorded for the job that wrote `path` (none if no record)."""
    from snakemake.io import IOFile

    return workflow.persistence.input(IOFile(path)) or []


def recorded_params(path):
    """The params Snakemake recorded for the job that wrote `path`, serialized (None if no
    record, or no file)."""
    from snakemake.io import IOFile

    return workflow.persistence.params(IOFile(path)) if os.path.exists(path) else None


#: Threads of a fetch job (its rule's `threads`).
FETCH_THREADS = 2


def archive_mem_mb(archive):
    """An archive's fetch memory limit (config fetch_mem_mb, MB) on a job's first attempt."""
    limits = config["fetch_mem_mb"]
    return limits.get(archive, limits["default"])


def fetch_mem_mb(wildcards, attempt):
    """The archive's memory limit (config fetch_mem_mb), doubled, tripled... on retries (Snakemake
    lowers it to the run's own mem_mb, if smaller: mwlc.run sets one)."""
    return archive_mem_mb(wildcards.archive) * attempt


def pending_fetch_archives():
    """The archive of each fetch job this invocation will run (none for `--until sample`), from
    the DAG Snakemake has built by the time `onstart` runs."""
    return [
        job.wildcards.archive
        for job in workflow.dag.needrun_jobs()
        if job.rule.name == "fetch_lightcurves"
    ]


#: A fetch job's time limit (minutes; SLURM's --time) on its first attempt. A HATS fetch takes
#: minutes; a per-object shard (TESS/Kepler, HCV: 10,000 objects at ~1-3 s a request, 2 at a
#: time) can take hours.
FETCH_RUNTIME_MIN = 240


def fetch_runtime(wildcards, attempt):
    """FETCH_RUNTIME_MIN, doubled, tripled... on retries: a per-object job killed at its limit
    keeps every answer in its cache and resumes, so a retry given more time finishes."""
    return FETCH_RUNTIME_MIN * attempt


def _service_units(service):
    """A resource function: the units of `service` a fetch job holds (mwlc.archives.services)."""

    def units(wildcards, threads):
        source = config["archives"][wildcards.archive]["source"]
        return service_units(wildcards.archive, source, threads)[service]

    return units


# Each fetch job holds one unit of its archive's service (IRSA S3, STScI S3, LINCC HTTP, HEASARC
# TAP; MAST: one per request in flight), global resources capped in profiles/*/config.yaml.
SERVICE_RESOURCES = {service: _service_units(service) for service in SERVICES}


def start_warnings():
    """What a run is told as it starts (onstart; not in a cluster job's own step): that the fetch
    jobs it has left may pass the machine's memory together (a local run without a global
    mem_mb), and what it lacks of mwlc's workflow profile (mwlc.profile_check: started elsewhere
    with --snakefile, --workflow-profile none, or --resources replacing the caps). Snakemake
    knows the run's rerun triggers and its DAG only once it runs, not as it reads the rules.
    """
    if workflow.exec_mode != ExecMode.DEFAULT:
        return []
    warnings = []
    pending = pending_fetch_archives()
    if workflow.local_exec and workflow.global_resources.get("mem_mb").value is None:
        overcommit = memory_overcommit(
            workflow.cores,
            FETCH_THREADS,
            max(map(archive_mem_mb, pending), default=0),
            jobs_memory_mb(),
            pending_jobs=len(pending),
        )
        warnings += [overcommit] if overcommit else []
    warnings += missing_profile_settings(
        [trigger.item_to_choice() for trigger in workflow.dag_settings.rerun_triggers],
        {
            name
            for name in SERVICES
            if workflow.global_resources.get(name).value is not None
        },
        {archive: config["archives"][archive]["source"] for archive in set(pending)},
        threads=FETCH_THREADS,
        profile=str(Path(workflow.basedir).parent / "profiles" / "default"),
    )
    return warnings


def demo_archive_input(wildcards):
    """The locally built snapshot an archive reads from, when demo.yaml asks for one."""
    if wildcards.archive in DEMO.get("archives", []):
        return [f"{DEMO_DIR}/{wildcards.archive}"]
    return []


def sample_file_inputs():
    """Local files read by `file` sample sources (any case; the old `csv` too): a changed file
    rebuilds the sample."""
    paths = map(file_source_path, config["sample"]["sources"])
    return [path for path in paths if path is not None]


def data_outputs():
    """The run's data products: the resource monitor stops once they are all written."""
    return [
        f"{DATASET}/_common_metadata",
        f"{RESULTS}/lightcurves_by_object.parquet",
        f"{RESULTS}/summary.csv",
    ]


def report_items():
    """Benchmark table and report figures, each with the rule that makes it; the resource
    overview (and the monitor's table) only with the monitor on."""
    items = {
        f"{RESULTS}/benchmarks.csv": "gather_benchmarks",
        f"{RESULTS}/figures/benchmarks.png": "plot_benchmarks",
        f"{RESULTS}/figures/coverage.png": "plot_coverage",
        f"{RESULTS}/figures/sky.png": "plot_sky",
        f"{RESULTS}/figures/lightcurves": "plot_lightcurves",
    }
    if monitor_enabled():
        items[f"{RESULTS}/monitor/usage.csv"] = "monitor_resources"
        items[f"{RESULTS}/figures/resources.png"] = "plot_resources"
    return items


def report_outputs():
    return list(report_items())


def building_report():
    """True while Snakemake builds the DAG for `--report`. Snakemake 9 tells a Snakefile no
    other way than its Workflow.create_report being on the call stack."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if (
            code.co_name == "create_report"
            and f"{os.sep}snakemake{os.sep}" in code.co_filename
        ):
            return True
        frame = frame.f_back
    return False


def partial_report_targets():
    """For `--report` after a partial run (e.g. --until sample): every output made so far (so the
    report's statistics hold every job that ran, and only those), report items included. The
    missing report items are named in Snakemake's log and on the report's first page (config key
    `_report_missing`, read by report/workflow.rst) instead of failing the report. A file that
    Snakemake marked incomplete (its job was killed) counts as not made."""
    from mwlc.status import incomplete_outputs

    incomplete = set(incomplete_outputs(Path.cwd()))
    # Outputs made before them depend on them (a rerun killed after a finished run): as with
    # --rerun-incomplete, Snakemake then plans their jobs instead of refusing; --report runs none.
    workflow.dag_settings.force_incomplete = True

    def made(path):
        return os.path.exists(path) and path not in incomplete

    items = report_items()
    missing = [
        f"{path} (rule {rule})" for path, rule in items.items() if not made(path)
    ]
    config["_report_missing"] = missing
    if missing:
        logger.warning(
            f"mwlc: the run is not complete; the report leaves out {len(missing)} item(s) not made "
            f"yet: {'; '.join(missing)}. Run the workflow to the end and render the report again."
        )
    outputs = [f"{RESULTS}/sample.ecsv", *all_shard_files(), *data_outputs(), *items]
    outputs += expand(f"{RESULTS}/summary/{{archive}}.csv", archive=ARCHIVES)
    return [path for path in outputs if made(path)]


def monitor_enabled():
    """The resource monitor samples this machine's processes: on only when the jobs run here
    (not under a cluster executor such as --executor slurm, known once the DAG is built).
    """
    return config["monitor"]["enabled"] and workflow.local_exec


def final_outputs(wildcards=None):
    """The targets of rule all; an input function, so that the executor (and --report) is known."""
    if building_report():
        return partial_report_targets()
    return data_outputs() + report_outputs()


def benchmarked_jobs():
    """Rule and wildcards of every job up to the merge, in a fixed order (plot jobs excluded:
    they run after the benchmark table)."""
    jobs = [{"rule": "sample", "wildcards": {}}]
    jobs += [
        {"rule": "preflight", "wildcards": {"archive": a, "settings": preflight_key(a)}}
        for a in ARCHIVES
    ]
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
