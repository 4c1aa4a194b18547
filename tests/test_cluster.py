"""Cluster mode for real: a standalone master and worker, and the job submitted with spark-submit."""

from __future__ import annotations

import csv
import subprocess

import pytest

from clearsweep.paths import REPO_ROOT
from clearsweep.standalone import standalone_cluster
from clearsweep.outputs.warehouse import Warehouse

pytestmark = pytest.mark.cluster


def test_run_submitted_to_a_standalone_cluster_decides_like_the_reference(spark, fixtures_dir, tmp_path):
    case = fixtures_dir / "peer-configurable-sacramento"
    warehouse = tmp_path / "wh"
    with standalone_cluster(tmp_path, cores=2, memory="2g") as master:
        proc = subprocess.run(
            [str(REPO_ROOT / "scripts" / "submit"), master, "run", "--input", str(case / "input.csv"), "--warehouse", str(warehouse),
             "--as-of", "2019-11-11", "--county", "SACRAMENTO", "--policy", str(case / "eligibility_options.json"),
             "--conf", "spark.executor.memory=1g", "--conf", "spark.driver.memory=2g", "--conf", "spark.sql.shuffle.partitions=4"],
            capture_output=True, text=True, timeout=900,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Prop 64 convictions decided: 18" in proc.stdout
    with open(case / "expected_all_results.csv", newline="") as f:
        expected = {(r["SUBJECT_ID"], r["CNT_ORDER"]): (r["Eligibility Determination"], r["Eligibility Reason"])
                    for r in csv.DictReader(f) if r["Eligibility Determination"]}
    dets = Warehouse(str(warehouse)).read_county(spark, "determinations", "SACRAMENTO")
    assert {(r["subject_id"], r["cnt_order"]): (r["determination"], r["reason"]) for r in dets.collect()} == expected
    runs = Warehouse(str(warehouse)).read(spark, "runs").collect()
    assert len(runs) == 1 and runs[0]["counties"] == ["SACRAMENTO"]
