"""Cluster mode for real: a standalone master and worker, and the job submitted with spark-submit."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest

from clearsweep.ingest.extract import sha256_file
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


def test_ingest_run_export_on_yarn_with_hdfs(spark, tmp_path):
    """Hadoop's mini cluster (real NameNode, 2 DataNodes, ResourceManager, NodeManager): the input
    on HDFS, the warehouse on HDFS, every command submitted to YARN with executors that have no
    Python. (The same answer as a local run, and the faults, are scripts/cluster_drill's.)"""
    from clearsweep.minicluster import SPARK_JARS, minicluster

    extract = tmp_path / "extract"
    subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "clearsweep"), "generate", "--rows", "2000", "--seed", "18", "--files", "2",
                    "--bad-rows", "1", "--out", str(extract)], check=True, capture_output=True)
    files = sorted(extract.glob("extract-*.csv"))
    county, out = "LOS ANGELES", tmp_path / "export"
    with minicluster(tmp_path / "mc") as mc:
        for f in files:
            mc.put(f, f"/doj/{f.name}")
        wh = mc.hdfs("/clearsweep")
        # Spark's jars from this machine (the NodeManager runs here): the upload to HDFS that
        # submit does by default is timed by the drill, not paid again by this test
        env = mc.env(spark_jars=f"local:{SPARK_JARS}")
        steps = [("ingest", "--input", mc.hdfs("/doj/"), "--warehouse", wh),
                 ("run", "--input", f"{wh}/raw", "--warehouse", wh, "--as-of", "2019-11-11", "--county", county, "--quiet"),
                 ("export", "--warehouse", wh, "--county", county, "--out", str(out))]
        for step in steps:
            proc = mc.submit(*step, env=env)
            assert proc.returncode == 0, f"{step[0]}: {proc.stdout[-3000:]} {proc.stderr[-2000:]}"
        remote = Warehouse(wh)
        ingest = remote.read(spark, "ingests").collect()
        assert ingest[0]["physical_lines"] == sum(len(f.read_bytes().splitlines()) for f in files)
        inputs = json.loads(ingest[0]["inputs"])
        assert sorted(i["checksum"] for i in inputs) == sorted(sha256_file(str(f)) for f in files)  # HDFS reads the same bytes
        run = remote.read(spark, "runs").collect()
        assert len(run) == 1 and run[0]["spark_master"] == "yarn" and run[0]["application_id"].startswith("application_")
        decided = remote.read_county(spark, "determinations", county, run[0]).count()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run_id"] == run[0]["run_id"] and decided > 0
    assert len(list(csv.DictReader(open(out / "All_Results.csv", newline="")))) > 0
