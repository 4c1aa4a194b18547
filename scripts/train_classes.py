"""Make the driver JVM's class archive once (clearsweep/classes.py): a small ingest, run (all
counties, from the raw table), statewide export and report of a generated extract, in one JVM
that writes every class it loaded into the archive when it exits. Later commands map the
archive instead of loading those classes from jars. A no-op when the archive exists; a failure
here only costs speed, so it is said and setup goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clearsweep import classes  # noqa: E402
from clearsweep.session import cached_delta_jars  # noqa: E402


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def train(partial: Path) -> int:
    """The training commands, in this process's one JVM; prints that JVM's process id last."""
    os.environ[classes.TRAIN_ENV] = str(partial)
    from jobs.cli import main as cli

    with tempfile.TemporaryDirectory(prefix="clearsweep-classes-") as tmp:
        work = Path(tmp)
        wh, out = str(work / "wh"), str(work / "out")
        steps = [["generate", "--rows", "3000", "--seed", "7", "--out", str(work / "extract")],
                 ["ingest", "--quiet", "--input", str(work / "extract"), "--warehouse", wh],
                 ["run", "--quiet", "--input", f"{wh}/raw", "--warehouse", wh, "--as-of", "2024-01-01"],
                 ["export", "--quiet", "--warehouse", wh, "--out", out],
                 ["runs", "--warehouse", wh]]
        with open(os.devnull, "w") as quiet:
            saved = os.dup(1)
            os.dup2(quiet.fileno(), 1)
            try:
                codes = [cli(step) for step in steps]
            finally:
                os.dup2(saved, 1)
        from pyspark import SparkContext

        if SparkContext._gateway is None or any(codes):
            print(f"the training commands exited {codes}", file=sys.stderr)
            return 1
        print(SparkContext._gateway.jvm.ProcessHandle.current().pid())
        return 0  # the JVM writes the archive as it exits, after this process


def main() -> int:
    archive = classes.archive_path(cached_delta_jars())
    if archive.is_file():
        print(f"class archive: present ({archive.name})")
        return 0
    archive.parent.mkdir(parents=True, exist_ok=True)
    # made for another Java, Delta or version of this pyspark; another checkout's (a cache shared by
    # git worktrees) is left alone
    for stale in archive.parent.glob(f"driver-{classes.installation()}-*.jsa*"):
        stale.unlink(missing_ok=True)
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.part")
    started = time.time()
    child = subprocess.run([sys.executable, __file__, "--train", str(partial)], capture_output=True, text=True)
    pid = child.stdout.strip().splitlines()[-1] if child.returncode == 0 and child.stdout.strip() else ""
    if not pid.isdigit() or not _wait_gone(int(pid), 600) or not partial.is_file():
        partial.unlink(missing_ok=True)
        print("class archive: not made; commands start without it (slower)", file=sys.stderr)
        return 0
    partial.replace(archive)
    print(f"class archive: made in {time.time() - started:.0f}s ({archive.stat().st_size >> 20} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(train(Path(sys.argv[2])) if sys.argv[1:2] == ["--train"] else main())
