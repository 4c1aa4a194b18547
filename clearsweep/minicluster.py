"""Hadoop's own mini cluster (scripts/minicluster: HDFS with two DataNodes, YARN with one
NodeManager) for tests and drills, and commands submitted to it with scripts/submit yarn."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pyspark

from clearsweep.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "minicluster"
SUBMIT = REPO_ROOT / "scripts" / "submit"
SPARK_JARS = Path(pyspark.__file__).parent / "jars"
# What a job on the mini cluster's one small NodeManager is given (the cluster profile asks for
# 16g executors): one executor of 1g, a small driver, few shuffle partitions.
SMALL = ("spark.executor.memory=1g", "spark.executor.instances=1", "spark.executor.cores=1", "spark.driver.memory=1g",
         "spark.yarn.am.memory=384m", "spark.sql.shuffle.partitions=4")


class MiniCluster:
    def __init__(self, work: Path, uri: str):
        self.work, self.uri = work, uri
        self.conf_dir = work / "conf"

    def hdfs(self, path: str) -> str:
        return self.uri + "/" + path.lstrip("/")

    def put(self, local: Path, path: str) -> str:
        target = self.hdfs(path)
        subprocess.run([str(SCRIPT), "put", str(self.work), str(local), target], check=True, capture_output=True, text=True)
        return target

    def env(self, spark_jars: str | None = None) -> dict:
        """The environment of a submit to this cluster: its client configuration, every address on
        127.0.0.1 and, with `spark_jars`, where YARN finds Spark's jars (`local:` = on each node)."""
        env = {**os.environ, "HADOOP_CONF_DIR": str(self.conf_dir), "SPARK_LOCAL_IP": "127.0.0.1"}
        if spark_jars:
            env["CLEARSWEEP_YARN_JARS"] = spark_jars
        return env

    def submit(self, *args: str, conf=SMALL, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
        extra = [a for c in conf for a in ("--conf", c)]
        return subprocess.run([str(SUBMIT), "yarn", *args, *extra], env=env or self.env(), capture_output=True, text=True,
                              timeout=timeout)


def start(work: Path) -> MiniCluster:
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([str(SCRIPT), "start", str(work)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"the mini cluster did not start: {proc.stderr.strip()[-2000:]}")
    return MiniCluster(work, proc.stdout.strip().splitlines()[-1])


def stop(work: Path) -> None:
    subprocess.run([str(SCRIPT), "stop", str(work)], capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def minicluster(work: Path):
    """Start the mini cluster under `work`, yield it, stop it."""
    cluster = start(work)
    try:
        yield cluster
    finally:
        stop(work)
