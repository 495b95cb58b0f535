"""What a job pays before it reads anything: the modules its script imports, and numba's cache.

A job that reads no catalog (sample, gather, merge, benchmarks, plots, monitor) must not load
lsdb, hats, dask or the archive clients (hundreds of MB and seconds per job, at hundreds of
jobs), and a fetch job loads only what its archive uses. Each check imports in a fresh
interpreter and looks at ``sys.modules``: what was loaded, not how long it took.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mwlc import jitcache

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "workflow" / "scripts").glob("*.py"))

#: Packages no job script may load just by importing its modules: the lsdb archives' stack and
#: the remote clients. Only an archive's own ``fetch`` (or a demo builder) imports them.
CATALOG_PACKAGES = (
    "lsdb",
    "hats",
    "nested_pandas",
    "numba",
    "dask",
    "distributed",
    "astroquery",
    "pyvo",
    "lightkurve",
    "s3fs",
)
#: Modules named in the project's start-up rule besides the scripts' own imports.
LIBRARY_ENTRY_POINTS = ("mwlc", "mwlc.config", "mwlc.joblog", "mwlc.sample", "mwlc.merge", "mwlc.plots")


def script_modules(script: Path) -> list[str]:
    """The ``mwlc`` modules a workflow script imports (``from mwlc.x import ...``)."""
    tree = ast.parse(script.read_text())
    return [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mwlc"
    ]


def loaded_after(steps: list[str], packages: tuple[str, ...]) -> list[list[str]]:
    """Which of ``packages`` one fresh interpreter has loaded after each of ``steps`` (code)."""
    probe = ["import json, sys", "loaded = []"]
    for step in steps:
        probe += [step, f"loaded.append([p for p in {packages!r} if p in sys.modules])"]
    probe.append("print(json.dumps(loaded))")
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(probe)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def job_modules() -> list[str]:
    """Every mwlc module a workflow script imports, and the library's entry points."""
    return sorted({m for script in SCRIPTS for m in script_modules(script)} | set(LIBRARY_ENTRY_POINTS))


#: Archives whose fetch jobs read without lsdb: their modules must not load its stack either.
ARCHIVES_WITHOUT_LSDB = ("wise", "heasarc")
LSDB_STACK = ("lsdb", "hats", "nested_pandas", "numba", "dask", "distributed")


@pytest.fixture(scope="module")
def loaded() -> dict[str, list[str]]:
    """In one interpreter (cheap): catalog packages loaded by every job module, then also by the
    fetch jobs of the archives without lsdb."""
    imports = "\n".join(f"import {module}" for module in job_modules())
    archives = "from mwlc.archives.registry import get_archive\n" + "\n".join(
        f"get_archive({name!r})" for name in ARCHIVES_WITHOUT_LSDB
    )
    by_jobs, by_archives = loaded_after([imports, archives], CATALOG_PACKAGES)
    return {"jobs": by_jobs, "archives": by_archives}


def test_every_script_imports_some_mwlc_module():
    assert len(SCRIPTS) >= 10
    for script in SCRIPTS:
        assert script_modules(script), f"{script.name} imports no mwlc module: is the parser right?"


def test_job_scripts_load_no_catalog_library_before_they_run(loaded):
    if loaded["jobs"]:  # name the module that pulls them in (one interpreter each, on failure only)
        culprits = {}
        for module in job_modules():
            found = loaded_after([f"import {module}"], CATALOG_PACKAGES)[0]
            if found:
                culprits[module] = found
        pytest.fail(f"importing these modules loads catalog libraries: {culprits}")


def test_fetch_jobs_of_archives_without_lsdb_load_no_lsdb_stack(loaded):
    assert [p for p in loaded["archives"] if p in LSDB_STACK] == []


def test_the_sample_order_is_hats_spatial_index():
    """The sample job orders objects like hats' ``_healpix_29`` without importing hats."""
    from hats.pixel_math.spatial_index import compute_spatial_index

    from mwlc.sample.shard import healpix_order

    rng = np.random.default_rng(7)
    ra = np.concatenate([[0.0, 359.999999, 180.0, 45.0], rng.uniform(0, 360, 2000)])
    dec = np.concatenate([[-90.0, 90.0, 0.0, 0.0], np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))])
    labels = pd.Series(["x"] * len(ra))
    expected = np.lexsort((dec, ra, compute_spatial_index(ra, dec)))
    assert healpix_order(ra, dec, labels).tolist() == expected.tolist()


# --------------------------------------------------------------------------- numba's cache


@pytest.fixture
def alignment_functions(monkeypatch):
    """hats' jitted pixel-alignment functions, without a cache (the session may have given them
    one: tests/fixtures_workflow.py); their caches are restored afterwards."""
    import hats.pixel_tree.pixel_alignment as alignment
    from numba.core import config
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    dispatchers = [v for v in vars(alignment).values() if isinstance(v, Dispatcher)]
    saved = [d._cache for d in dispatchers]
    for dispatcher in dispatchers:
        dispatcher._cache = NullCache()
    yield dispatchers
    for dispatcher, cache in zip(dispatchers, saved, strict=True):
        dispatcher._cache = cache
    monkeypatch.undo()
    config.reload_config()


def test_without_numba_cache_dir_nothing_is_cached(alignment_functions, monkeypatch):
    from numba.core.caching import NullCache

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert jitcache.cache_jitted_functions() == 0
    assert all(isinstance(d._cache, NullCache) for d in alignment_functions)


def test_hats_jitted_functions_cache_into_numba_cache_dir(alignment_functions, monkeypatch, tmp_path):
    from numba.core.caching import FunctionCache

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert len(alignment_functions) >= 4  # perform_align_trees and the helpers it calls
    assert jitcache.cache_jitted_functions() >= len(alignment_functions)
    for dispatcher in alignment_functions:
        assert isinstance(dispatcher._cache, FunctionCache)
        assert Path(dispatcher._cache._cache_path).is_relative_to(tmp_path), dispatcher
    assert jitcache.cache_jitted_functions() == 0  # once per function


def test_a_job_without_numba_does_not_import_it():
    code = textwrap.dedent(
        """
        import os
        os.environ["NUMBA_CACHE_DIR"] = "/nonexistent"
        from mwlc.jitcache import cache_jitted_functions
        assert cache_jitted_functions() == 0
        """
    )
    assert loaded_after([code], ("numba",)) == [[]]
