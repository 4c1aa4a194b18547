"""The driver JVM's class archive (Java's application class-data sharing, AppCDS).

A command spends most of a short run loading and linking classes: Spark SQL's, Catalyst's,
Delta's. `scripts/setup` runs a small ingest, run and export once in a JVM that writes every class
it loaded into an archive (`-XX:ArchiveClassesAtExit`); every later driver JVM maps that archive
(`-XX:SharedArchiveFile`) instead of reading, verifying and parsing the same classes from jars.
On a quiet 2-core machine that takes about a third off a small command's time.

The archive is only valid for the JVM and the class path it was made with, so its name is a
digest of both (a new pyspark, Delta jar or Java gets a new archive). A missing or stale archive
costs nothing: the JVM checks it, says so in the log and loads classes the usual way."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from clearsweep.paths import cache_dir

TRAIN_ENV = "CLEARSWEEP_CLASS_ARCHIVE_OUT"  # set by scripts/setup's training run: where to write the archive
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # a stale archive is said in the log only, never on the console


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java") or "java"
    return os.path.realpath(found)


def _spark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def installation() -> str:
    """A short name of this pyspark installation (its folder): the archives of one checkout's
    virtualenv, when several checkouts share a cache (git worktrees), are told from the others'."""
    return hashlib.sha256(str(_spark_jars()).encode()).hexdigest()[:8]


def archive_path(extra_jars: list[str]) -> Path:
    """Where the archive for this JVM, pyspark and `extra_jars` (Delta's) lives."""
    digest = hashlib.sha256()
    java = _java()
    digest.update(java.encode())
    try:
        digest.update(str(os.stat(java).st_mtime_ns).encode())
    except OSError:
        pass
    jars = _spark_jars()
    for name in sorted(os.listdir(jars)) if jars.is_dir() else ():
        digest.update(f"{jars}/{name}".encode())
    for jar in extra_jars:
        digest.update(jar.encode())
    return cache_dir() / "classes" / f"driver-{installation()}-{digest.hexdigest()[:16]}.jsa"


def java_options(extra_jars: list[str]) -> str:
    """The driver JVM's option: write the archive (the training run), use it, or nothing."""
    out = os.environ.get(TRAIN_ENV)
    if out:
        return f"-XX:ArchiveClassesAtExit={out} {QUIET}"
    archive = archive_path(extra_jars)
    return f"-XX:SharedArchiveFile={archive} {QUIET}" if archive.is_file() else ""
