"""Spark's scratch space (shuffle files: people's rows) stays in the warehouse's private folder:
a command killed mid-shuffle leaves nothing in /tmp, and the next command removes its folder
(issue 15, item 3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clearsweep.paths import REPO_ROOT

CLI = str(REPO_ROOT / ".venv" / "bin" / "clearsweep")
CONF = ["--conf", "spark.driver.memory=1g", "--conf", "spark.sql.shuffle.partitions=4"]

# Runs in a mount namespace of its own with an empty /tmp (the test's folder mounted back in), so
# whatever the command writes to /tmp is its, whatever other processes on the machine do.
KILL_MID_SHUFFLE = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    from pathlib import Path
    keep, cli, extract, wh = sys.argv[1:5]
    conf = sys.argv[5:]
    subprocess.run(["mount", "--bind", "/tmp", "/mnt"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", "/tmp"], check=True)
    os.makedirs(keep, exist_ok=True)
    subprocess.run(["mount", "--bind", "/mnt" + keep[len("/tmp"):], keep], check=True)
    proc = subprocess.Popen([cli, "run", "--input", extract, "--warehouse", wh, "--as-of", "2019-11-11", "--quiet", *conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, shuffled = time.monotonic() + 300, []
    while not shuffled and proc.poll() is None and time.monotonic() < deadline:
        shuffled = [str(p) for p in Path(wh, "_scratch").rglob("*") if "shuffle" in p.name]
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(2)
    print(json.dumps({"shuffled": shuffled, "exit": proc.returncode,
                      "tmp": sorted(p for p in os.listdir("/tmp") if p.startswith(("spark-", "blockmgr-"))),
                      "scratch": sorted(os.listdir(Path(wh, "_scratch")))}))
""")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs a private /tmp (unshare, as root)")
def test_a_command_killed_mid_shuffle_leaves_nothing_in_tmp_and_the_next_removes_its_scratch(tmp_path):
    extract, wh = tmp_path / "extract", tmp_path / "wh"
    subprocess.run([CLI, "generate", "--rows", "20000", "--seed", "3", "--files", "1", "--out", str(extract)],
                   check=True, capture_output=True)
    wh.mkdir()
    helper = tmp_path / "kill_mid_shuffle.py"
    helper.write_text(KILL_MID_SHUFFLE)
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, str(helper),
                           str(tmp_path), CLI, str(extract), str(wh), *CONF], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["exit"] == -9 and seen["shuffled"], seen  # killed mid-shuffle, its shuffle files in the warehouse's scratch
    assert seen["tmp"] == []  # nothing of Spark's in /tmp
    assert len(seen["scratch"]) == 1 and (wh / "_scratch" / seen["scratch"][0]).is_dir()
    assert oct((wh / "_scratch" / seen["scratch"][0]).stat().st_mode & 0o777) == "0o700"

    # the next command on the warehouse (here one that only reads) removes the dead command's folder, and its own
    nxt = subprocess.run([CLI, "runs", "--warehouse", str(wh), *CONF], capture_output=True, text=True, timeout=300)
    assert nxt.returncode == 0, nxt.stderr[-2000:]
    assert sorted(p.name for p in (wh / "_scratch").iterdir()) == []
