"""The delivery folder on disk: everything is made in a hidden staging folder inside it, and each
county's folder is put in place whole, with renames on the same file system, so a reader (or a
delivery killed midway) never sees a half-written county. One delivery at a time per folder; the
next one removes what a killed one left behind."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from clearsweep.errors import UserError

STAGING_PREFIX = ".delivery-"
LOCK_FILE = ".delivery.lock"
DELIVERY_FILE = "DELIVERY.json"


@contextlib.contextmanager
def staging(out: Path):
    """A fresh staging folder under `out` (created), with the folder's lock held; staging
    folders a killed delivery left are removed first, and this one when done."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another delivery is writing into {out}: run again when it has finished") from None
        for dead in out.glob(STAGING_PREFIX + "*"):
            shutil.rmtree(dead, ignore_errors=True)
        folder = out / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            (out / LOCK_FILE).unlink()


def part_file(rows_dir: Path, c: int, f: int) -> Path:
    """The one text file Spark wrote for county number `c`, file number `f`."""
    found = [p for p in (rows_dir / f"c={c}" / f"f={f}").glob("part-*") if not p.name.endswith(".crc")]
    if len(found) != 1:
        raise RuntimeError(f"expected one part file for county {c} file {f}, found {len(found)}")
    return found[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_files(paths: list[Path]) -> dict[Path, str]:
    """SHA-256 of each file, two at a time (hashlib lets go of the GIL on large blocks)."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="clearsweep-hash") as pool:
        return dict(zip(paths, pool.map(sha256, paths)))


def write_text(path: Path, text: str) -> None:
    """Written under a hidden name, then renamed: the file is whole or absent."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def publish_folder(staged: Path, final: Path, trash: Path) -> None:
    """Put a complete county folder in place, replacing an older one: the old one is renamed
    aside (into the staging folder, removed with it), then the new one renamed in."""
    if final.exists():
        aside = trash / f"old-{uuid.uuid4().hex[:8]}"
        os.replace(final, aside)
    os.replace(staged, final)


def publish_files(staged: Path, final: Path, names: list[str]) -> None:
    """One county's files straight into `final` (a single county's export): each renamed over
    the file of an earlier export once all are made and checked."""
    final.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(staged / name, final / name)
