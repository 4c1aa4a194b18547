"""Spark's scratch space, kept private to the warehouse it serves.

Shuffle and spill files, broadcast blocks and PySpark's temporary files hold people's rows. By
default Spark leaves them in `/tmp/spark-*` and `/tmp/blockmgr-*`, and a killed command never
deletes them. Each command with a warehouse puts them instead in a folder of its own,
`<warehouse>/_scratch/<host>+<pid>+<start>` for a local warehouse (owner-only, like the rest of
it), or under `$CLEARSWEEP_SCRATCH` (or the cache) for a remote one or when configured. The folder
name says which process made it, so the next command removes the folders of processes that are
gone (same host; a pid reused by another process does not match its start time); a command that
ends normally removes its own.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
from pathlib import Path

from clearsweep import fs
from clearsweep.paths import cache_dir

ROOT_ENV = "CLEARSWEEP_SCRATCH"
FOLDER = "_scratch"

_current: Path | None = None
_removed: list[str] = []  # the dead commands' folders this process removed (for the purge's report)


def root_for(warehouse: str | None) -> Path:
    """Where the scratch folders of commands on this warehouse live."""
    configured = os.environ.get(ROOT_ENV)
    if configured:
        return Path(configured)
    local = fs.local_path(warehouse) if warehouse else None
    if local is not None and local.is_dir():  # a read of a warehouse that isn't there creates nothing
        return local / FOLDER
    return cache_dir() / "scratch"


def _started(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _name(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}+{pid}+{_started(pid)}"


def _alive(name: str) -> bool:
    host, _, rest = name.partition("+")
    pid, _, started = rest.partition("+")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's (or not ours): it cannot be told dead from here
    return _started(int(pid)) == started


def clean_dead(root: Path, keep: Path | None = None) -> list[str]:
    """Remove the scratch folders under `root` of processes that are gone; their names."""
    removed = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child != keep and not _alive(child.name):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    _removed.extend(removed)
    return removed


def make(warehouse: str | None) -> Path:
    """This process's scratch folder (made once), after removing those dead commands left."""
    global _current
    if _current is None:
        root = root_for(warehouse)
        root.mkdir(parents=True, exist_ok=True)
        clean_dead(root)
        _current = root / _name()
        _current.mkdir(mode=0o700, exist_ok=True)
    return _current


def current() -> Path | None:
    return _current


def removed() -> list[str]:
    return list(_removed)


def spark_conf(conf: dict, folder: Path) -> dict:
    """Spark's local dirs and the driver JVM's temporary folder in `folder`."""
    java = f"-Djava.io.tmpdir={folder} {conf.get('spark.driver.extraJavaOptions', '')}".strip()
    return {**conf, "spark.local.dir": str(folder), "spark.driver.extraJavaOptions": java}


@contextlib.contextmanager
def launch_environment(folder: Path):
    """While the JVM starts: the environment it (and the Python workers it starts) inherits names
    `folder` (SPARK_LOCAL_DIRS would win over spark.local.dir; TMPDIR is the workers' temporary
    folder). Restored after, so the calling process (a test, a caller of the library) and the
    programs it starts later keep their own."""
    saved = {k: os.environ.get(k) for k in ("SPARK_LOCAL_DIRS", "TMPDIR")}
    os.environ["SPARK_LOCAL_DIRS"] = os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def remove_at_exit(spark) -> None:
    """On a normal exit: stop Spark (its block manager deletes its files), then the folder.
    Registered after the session is made, so it runs before PySpark's own exit handlers."""
    folder = _current

    def finish():
        try:
            spark.stop()
        except Exception:  # noqa: BLE001 - a dying JVM: the folder goes anyway
            pass
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(finish)
