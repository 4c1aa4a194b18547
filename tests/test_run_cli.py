"""`clearsweep run` as a user runs it: a separate process, progress on stderr, results on stdout,
and no Python worker process anywhere (executors run built-in expressions only)."""

from __future__ import annotations

import os
import subprocess

from clearsweep.paths import REPO_ROOT
from clearsweep.outputs.warehouse import Warehouse

CLI = str(REPO_ROOT / ".venv" / "bin" / "clearsweep")


def test_run_needs_no_python_workers_and_shows_progress(spark, fixtures_dir, tmp_path):
    case = fixtures_dir / "peer-configurable-sacramento"
    warehouse = tmp_path / "wh"
    # a Python worker would be started with this interpreter, which cannot run: the run would fail
    env = {**os.environ, "PYSPARK_PYTHON": "/bin/false"}
    proc = subprocess.run(
        [CLI, "run", "--input", str(case / "input.csv"), "--warehouse", str(warehouse), "--as-of", "2019-11-11",
         "--county", "SACRAMENTO", "--policy", str(case / "eligibility_options.json"), "--conf", "spark.driver.memory=1g"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Prop 64 convictions decided: 18" in proc.stdout
    for phase in ("read", "decide", "write", "record"):
        assert f"s] {phase}" in proc.stderr, phase
    assert "Prop 64 convictions" not in proc.stderr
    assert len(Warehouse(str(warehouse)).runs(spark).collect()) == 1
