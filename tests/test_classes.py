"""The driver JVM's class archive (clearsweep/classes.py): setup makes it, a command's JVM maps
its classes from it, and an archive for another JVM or class path is never picked."""

from __future__ import annotations

import subprocess
import sys

from clearsweep import classes
from clearsweep.session import cached_delta_jars, session_conf

PROBE = """
import sys
from clearsweep.session import get_spark
spark = get_spark(overrides=["spark.driver.extraJavaOptions=-Xlog:class+load=info:file=" + sys.argv[1]])
spark.range(3).count()
"""


def test_the_archive_is_named_by_the_jvm_and_the_jars_it_was_made_with():
    jars = cached_delta_jars()
    assert classes.archive_path(jars) == classes.archive_path(list(jars))
    assert classes.archive_path(jars) != classes.archive_path([*jars, "/elsewhere/another.jar"])
    assert classes.archive_path(jars) != classes.archive_path(jars[:-1])


def test_a_command_jvm_maps_its_classes_from_the_archive_setup_made(tmp_path):
    archive = classes.archive_path(cached_delta_jars())
    assert archive.is_file(), f"scripts/setup made no class archive at {archive} (scripts/train_classes.py says why)"
    _, conf = session_conf()
    assert f"-XX:SharedArchiveFile={archive}" in conf["spark.driver.extraJavaOptions"]
    loads = tmp_path / "class-loads.txt"
    subprocess.run([sys.executable, "-c", PROBE, str(loads)], check=True, capture_output=True, timeout=300)
    lines = loads.read_text().splitlines()
    from_archive = [ln for ln in lines if "shared objects file (top)" in ln]
    spark_sql = [ln for ln in from_archive if "org.apache.spark.sql." in ln]
    assert len(spark_sql) > 500, f"{len(from_archive)} of {len(lines)} classes came from the archive"


def test_a_missing_archive_only_costs_speed(tmp_path, monkeypatch):
    monkeypatch.setenv("CLEARSWEEP_CACHE", str(tmp_path))
    assert classes.java_options(["/x.jar"]) == ""  # nothing made here: no option
    missing = tmp_path / "gone.jsa"
    done = subprocess.run(["java", f"-XX:SharedArchiveFile={missing}", *classes.QUIET.split(), "-version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "warning" not in done.stdout + done.stderr
