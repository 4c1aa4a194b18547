"""A real Spark standalone master and worker on this machine (for tests and local clusters)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return 0


@contextlib.contextmanager
def standalone_cluster(work_dir: Path, cores: int = 2, memory: str = "3g", timeout: float = 120):
    """Start a master and one worker on 127.0.0.1; yield the master URL; stop both."""
    port, ui, worker_ui = free_port(), free_port(), free_port()
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_WORKER_DIR": str(work_dir / "worker"), "SPARK_LOCAL_IP": "127.0.0.1"}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    logs = [open(work_dir / "master.log", "w"), open(work_dir / "worker.log", "w")]
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)],
                              env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    url = f"spark://127.0.0.1:{port}"
    worker = subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", str(cores),
                               "--memory", memory, "--webui-port", str(worker_ui)], env=env, stdout=logs[1], stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + timeout
        while _alive_workers(ui) < 1:
            if time.time() > deadline or master.poll() is not None or worker.poll() is not None:
                raise RuntimeError(f"standalone cluster did not come up; see {work_dir}/master.log and worker.log")
            time.sleep(1)
        yield url
    finally:
        for p in (worker, master):
            p.terminate()
        for p in (worker, master):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs:
            f.close()
