"""mwlc.run's guard before it unlocks a run (the runs themselves: tests/test_workflow.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mwlc.run_plan import write_run_plan
from mwlc.runner import _refuse_if_running


def test_rerun_incomplete_is_refused_while_another_process_runs_the_run(tmp_path):
    _refuse_if_running(tmp_path)  # no run.json: a run begun before mwlc wrote one, or none
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        plan = write_run_plan(tmp_path, run_id="r", archives=["ztf"], n_shards=1)
        _refuse_if_running(tmp_path)  # this process started it, and its run has ended
        plan.write_text(json.dumps({**json.loads(plan.read_text()), "pid": other.pid}))
        with pytest.raises(RuntimeError, match=rf"still running \(pid {other.pid}, started "):
            _refuse_if_running(tmp_path)
    finally:
        other.kill()
        other.wait()
    _refuse_if_running(tmp_path)  # that process is gone: a killed run
