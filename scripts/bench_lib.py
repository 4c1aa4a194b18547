"""Mechanics of scripts/bench: timing one command as its own process tree, and the cached extracts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
CLI = str(ROOT / ".venv" / "bin" / "clearsweep")
# smaps_rollup walks the page tables (tens of ms of CPU per GB of JVM): sampling more often
# would slow the process it measures on a 2-core machine
SAMPLE_SECONDS = 1.0


@dataclass
class Sample:
    seconds: float
    peak_pss_gb: float
    returncode: int
    stdout: str
    stderr: str


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the command name may hold spaces and ')': ppid is the second field after the last ')'
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
        kids.setdefault(ppid, []).append(int(stat.parent.name))
    return kids


def tree_pss(root: int) -> tuple[int, set[int]]:
    """Summed PSS in kB of `root` and all its descendants, and their pids."""
    kids, todo, seen, total = _children(), [root], set(), 0
    while todo:
        pid = todo.pop()
        seen.add(pid)
        todo.extend(kids.get(pid, ()))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            pass
    return total, seen


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def measure(cmd: list[str], cwd: Path) -> Sample:
    """Wall clock from process start to exit, with the peak PSS of its tree sampled every second."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        peak, pids, done = 0, set(), threading.Event()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                kb, seen = tree_pss(proc.pid)
                peak = max(peak, kb)
                pids.update(seen)
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        # a JVM outlives its python parent by a moment: let it go so it does not burden the next measurement
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        return Sample(seconds, peak / 2**20, code, out.read(), err.read())


def extract(work: Path, rows: int, fmt: str) -> Path:
    """The seeded extract folder, generated once and reused while its manifest.json exists."""
    folder = work / f"extract-{fmt}-{rows}"
    if not (folder / "manifest.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"bench: generating {rows} rows as {fmt} in {folder}", file=sys.stderr, flush=True)
        subprocess.run([CLI, "generate", "--rows", str(rows), "--seed", "2016", "--format", fmt, "--out", str(folder)],
                       check=True, stdout=sys.stderr)
    return folder
