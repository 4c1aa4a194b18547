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


def test_nothing_from_the_jvm_reaches_the_console(tmp_path):
    """Delta's VACUUM counts ('Deleted N files and directories') went to stdout and the JDK's
    'WARNING: Using incubator modules' to stderr of every command: both belong in the log file."""
    from test_input_kinds import GOOD, HEADER

    (tmp_path / "a.csv").write_text(HEADER + "\n" + GOOD)
    env = {**os.environ, "CLEARSWEEP_LOG_DIR": str(tmp_path / "logs")}
    outputs = []
    for args in (["ingest", "--input", str(tmp_path / "a.csv"), "--quiet"], ["purge", "--subject", "10000001"]):
        proc = subprocess.run([CLI, *args, "--warehouse", str(tmp_path / "wh"), "--conf", "spark.driver.memory=1g"],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs.append(proc)
    for proc in outputs:
        assert "Deleted" not in proc.stdout and "WARNING" not in proc.stderr and "incubator" not in proc.stderr, (proc.stdout, proc.stderr)
    assert outputs[1].stdout.startswith("purge ")  # the results still on stdout
    logged = "".join(p.read_text() for p in (tmp_path / "logs").iterdir())
    assert "incubator" in logged and "Deleted" in logged
