"""Locations: local paths and file: URIs, and the Hadoop file-system operations used for remote
warehouses (exercised here through Hadoop's local file system)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clearsweep import fs
from clearsweep.errors import UserError
from clearsweep.outputs.lock import lock_timing, remote_lock


@pytest.mark.parametrize("location, local", [
    ("/data/doj/x.csv", "/data/doj/x.csv"),
    ("file:/data/doj/a b é.csv", "/data/doj/a b é.csv"),  # Hadoop does not percent-decode
    ("file:///data/doj/x.csv", "/data/doj/x.csv"),
    ("file://localhost/data/x.csv", "/data/x.csv"),
    ("/data/../doj/./x.csv", "/doj/x.csv"),
    ("hdfs://nn:8020/data/x.csv", None),
    ("s3a://bucket/x.csv", None),
])
def test_local_paths_and_uris(location, local):
    got = fs.local_path(location)
    assert (str(got) if got is not None else None) == local


def test_glob_characters_are_escaped_for_spark():
    assert fs.spark_path("/data/extract[1]*.csv") == r"/data/extract\[1\]\*.csv"


def test_hadoop_file_system_operations(spark, tmp_path):
    folder = "file:" + str(tmp_path / "dossier é")
    hfs = fs.HadoopFS(spark, folder)
    hfs.mkdirs(folder)
    target = fs.join(folder, "note.txt")
    assert hfs.write_text(target, "première", overwrite=False)
    assert not hfs.write_text(target, "again", overwrite=False)  # exclusive create
    assert hfs.read_text(target) == "première"
    assert hfs.is_dir(folder) and not hfs.is_dir(target) and hfs.length(target) == len("première".encode())
    assert [fs.name(u) for u, is_dir, _ in hfs.children(folder)] == ["note.txt"]
    assert fs.qualified_uri(spark, str(tmp_path / "dossier é" / "note.txt")).startswith("file:/")
    hfs.delete(target)
    assert not hfs.exists(target)


def test_remote_lock_is_exclusive_and_a_stale_one_is_taken_over(spark, tmp_path):
    folder = "file:" + str(tmp_path)
    hfs = fs.HadoopFS(spark, folder)
    lock = fs.join(folder, "_clearsweep.lock")
    with remote_lock(hfs, lock, "run-a", wait=0):
        with pytest.raises(UserError, match="in use by run-a"):
            with remote_lock(hfs, lock, "run-b", wait=0):
                pass
    assert not hfs.exists(lock)
    # a holder that died: its lock file stops being refreshed
    hfs.write_text(lock, '{"owner": "run-dead", "pid": 1, "host": "h", "since": "s"}', overwrite=False)
    hfs.touch(lock, int(time.time() * 1000 - lock_timing()[0] * 1000) - 1000)
    with remote_lock(hfs, lock, "run-c", wait=0):
        assert '"run-c"' in hfs.read_text(lock)
    assert not Path(tmp_path / "_clearsweep.lock").exists()
