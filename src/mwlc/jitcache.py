"""Keep the machine code numba compiles for hats across jobs, instead of compiling it in each.

hats (under lsdb) aligns HEALPix pixel trees with numba-jitted functions that are not declared
``cache=True``, so every job that crossmatches or builds a catalog compiles them again: several
seconds of CPU per job (tens of seconds on a loaded machine), more than the job's own work on a
small shard. numba keeps compiled code on disk for a function once its dispatcher has a cache,
which is what ``cache=True`` gives it (:meth:`numba.core.dispatcher.Dispatcher.enable_caching`).

:func:`cache_jitted_functions` gives one to every jitted function of the :data:`PACKAGES` a job
has imported, but only when ``NUMBA_CACHE_DIR`` is set: the workflow sets it to one directory
per working directory (``workflow/rules/common.smk``), so the first job compiles and every later
job, local or on a cluster node sharing the directory, loads the code (numba checks that the
library's source file is unchanged, and writes its cache files atomically, so concurrent jobs
are safe). Without the variable nothing changes, and nothing is ever written next to the
installed packages.
"""

from __future__ import annotations

import os
import sys

#: Packages whose jitted functions are cached (their module names' first component).
PACKAGES = ("hats", "lsdb", "nested_pandas")


def jitted_functions() -> list:
    """The numba dispatchers defined at module level in the imported :data:`PACKAGES` (none if
    numba was never imported: this imports nothing)."""
    if "numba" not in sys.modules:
        return []
    from numba.core.dispatcher import Dispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in PACKAGES and module is not None:
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    found[id(value)] = value
    return list(found.values())


def cache_jitted_functions() -> int:
    """Give every not yet cached jitted function of the imported :data:`PACKAGES` numba's disk cache.

    Call it after the packages are imported and before their functions first run. It imports
    nothing itself: a job that never imported numba pays nothing.

    Returns
    -------
    int
        Functions that got a cache now (0 without ``NUMBA_CACHE_DIR`` or without numba).
    """
    functions = jitted_functions()
    if not functions or not os.environ.get("NUMBA_CACHE_DIR"):
        return 0
    from numba.core import config
    from numba.core.caching import NullCache

    config.reload_config()  # numba read its environment at import; the cache must go where it says
    if not config.CACHE_DIR:
        return 0
    enabled = 0
    for function in functions:
        if isinstance(function._cache, NullCache):
            function.enable_caching()
            enabled += 1
    return enabled


def compile_counts() -> tuple[int, int]:
    """How often this process loaded the :data:`PACKAGES`' jitted functions from numba's cache, and
    how often it compiled them (a function counts once per argument types).

    Returns
    -------
    (loaded, compiled) : tuple of int
    """
    loaded = compiled = 0
    for function in jitted_functions():
        loaded += sum(function.stats.cache_hits.values())
        compiled += sum(function.stats.cache_misses.values())
    return loaded, compiled
