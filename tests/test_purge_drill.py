"""The purge kill drill, short: a purge SIGKILLed 0.5 s after its `purges` row is finished by the
next command (which says so), one killed after its first delete is rolled back and completed by
a rerun; either way the person is then in no byte of the warehouse (issue 15, item 2).
`scripts/purge_drill --kills 8` is the whole drill."""

from __future__ import annotations

import json
import subprocess

from clearsweep.paths import REPO_ROOT


def test_purge_kill_drill_short(tmp_path):
    done = subprocess.run([str(REPO_ROOT / "scripts" / "purge_drill"), "--short", "--rows", "1000", "--work", str(tmp_path)],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "purge_drill.json").read_text())
    assert [i["outcome"] for i in report["iterations"]] == ["killed, recorded", "killed, not recorded"]
    assert report["ok"] and all(c["ok"] for i in report["iterations"] for c in i["checks"].values())
