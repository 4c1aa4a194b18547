"""One writer at a time: the warehouse's lock file, held by the command that writes.

A local warehouse's lock is a `flock` on the file (released by the kernel when the process dies,
however it dies). On other file systems (no `flock`) the lock is the file itself, made by an
exclusive create and refreshed by a heartbeat while held: one not refreshed for the stale time
belonged to a killed run and is taken over. Either way the file says who holds it (owner, pid,
host, since), so a command that finds the warehouse busy names the holder in one line."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path

from clearsweep import fs
from clearsweep.errors import UserError

# A remote lock not refreshed for this long belonged to a dead run, and its holder refreshes it this
# often; settable (seconds) so a drill can take over a dead driver's lock in seconds, not minutes.
STALE_LOCK_ENV, HEARTBEAT_ENV = "CLEARSWEEP_LOCK_STALE_S", "CLEARSWEEP_LOCK_HEARTBEAT_S"


def lock_timing() -> tuple[float, float]:
    """(stale after, heartbeat every) in seconds; the heartbeat well inside the stale time."""
    stale = float(os.environ.get(STALE_LOCK_ENV, 300))
    beat = float(os.environ.get(HEARTBEAT_ENV, min(30.0, stale / 4)))
    if not 0 < beat < stale:
        raise UserError(f"{HEARTBEAT_ENV} must be above 0 and below {STALE_LOCK_ENV} ({beat:g} and {stale:g} s given)")
    return stale, beat


def _holder(owner: str) -> str:
    since = dt.datetime.now(dt.timezone.utc)
    return json.dumps({"owner": owner, "pid": os.getpid(), "host": socket.gethostname(), "since": f"{since:%Y-%m-%dT%H:%M:%SZ}"})


def _describe(holder_text: str) -> str:
    try:
        h = json.loads(holder_text)
        return f"{h['owner']} (pid {h['pid']} on {h['host']}, since {h['since']})"
    except (ValueError, KeyError, TypeError):
        return "another clearsweep command"


def _busy(where: str, holder_text: str, wait: float) -> UserError:
    waited = f" after waiting {wait:g} s" if wait else ""
    return UserError(f"the warehouse {where} is in use by {_describe(holder_text)}{waited}; "
                     "run again when it has finished, or pass --wait SECONDS")


@contextlib.contextmanager
def local_lock(path: Path, owner: str, wait: float):
    """Hold the `flock` on the local file `path` for `owner`, waiting up to `wait` seconds."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(str(path.parent), _read_fd(fd), wait) from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder(owner).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_fd(fd: int) -> str:
    return os.pread(fd, 4096, 0).decode("utf-8", errors="replace")


@contextlib.contextmanager
def remote_lock(hfs: fs.HadoopFS, path: str, owner: str, wait: float):
    """Hold the lock file `path` (an exclusive create) for `owner`, refreshing it while held and
    taking over a stale one; waiting up to `wait` seconds for a live holder."""
    stale_s, heartbeat_s = lock_timing()
    deadline = time.monotonic() + wait
    while not hfs.write_text(path, _holder(owner), overwrite=False):
        if time.time() * 1000 - hfs.modified(path) > stale_s * 1000:
            hfs.delete(path, recursive=False)  # its holder stopped refreshing it: a killed run
            continue
        if time.monotonic() >= deadline:
            raise _busy(path, hfs.read_text(path), wait)
        time.sleep(2)
    stop = threading.Event()

    def heartbeat():
        while not stop.wait(heartbeat_s):
            hfs.touch(path, int(time.time() * 1000))

    beat = threading.Thread(target=heartbeat, name="clearsweep-lock", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        hfs.delete(path, recursive=False)
