"""Resolve the Delta jar closure once into .cache/jars and verify it against conf/delta-jars.lock.

Spark's own resolver (Ivy, through spark.jars.packages) fetches the coordinates in
conf/delta.yaml with every transitive jar; the jars are copied flat into .cache/jars with a
SHA-256 list. Later runs only verify the cache (offline). `--update-lock` rewrites the lock file
after a deliberate version change.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clearsweep.paths import CONF_DIR, jars_dir  # noqa: E402

LOCK = CONF_DIR / "delta-jars.lock"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_lock() -> dict[str, str]:
    if not LOCK.exists():
        return {}
    pairs = (line.split() for line in LOCK.read_text().splitlines() if line and not line.startswith("#"))
    return {name: digest for digest, name in pairs}


def cache_matches(lock: dict[str, str]) -> bool:
    target = jars_dir()
    if not lock or not target.is_dir():
        return False
    present = {p.name for p in target.glob("*.jar")}
    return present == set(lock) and all(sha256(target / n) == d for n, d in lock.items())


def resolve_with_spark(coordinates: str, work: Path) -> list[Path]:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("clearsweep-resolve-jars")
        .config("spark.jars.packages", coordinates)
        .config("spark.jars.ivy", str(work / "ivy"))
        .config("spark.jars.ivySettings", str(CONF_DIR / "ivysettings.xml"))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.stop()
    return sorted((work / "ivy" / "jars").glob("*.jar"))


def main(argv: list[str]) -> int:
    update_lock = "--update-lock" in argv
    lock = read_lock()
    if not update_lock and cache_matches(lock):
        print(f"delta jars: cached and verified ({len(lock)} jars in {jars_dir()})")
        return 0
    coordinates = yaml.safe_load((CONF_DIR / "delta.yaml").read_text())["coordinates"]
    print(f"delta jars: resolving {coordinates} and its dependencies ...")
    with tempfile.TemporaryDirectory() as tmp:
        jars = resolve_with_spark(coordinates, Path(tmp))
        staging = jars_dir().with_name("jars.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for jar in jars:
            shutil.copy2(jar, staging / jar.name)
        resolved = {p.name: sha256(p) for p in staging.glob("*.jar")}
        if update_lock or not lock:
            LOCK.write_text(
                f"# sha256  jar   (closure of {coordinates}; regenerate: scripts/resolve_jars.py --update-lock)\n"
                + "".join(f"{d}  {n}\n" for n, d in sorted(resolved.items()))
            )
        elif resolved != lock:
            differing = sorted(set(resolved.items()) ^ set(lock.items()))
            print(f"delta jars: resolved closure differs from {LOCK.name}: {differing[:6]}", file=sys.stderr)
            return 1
        shutil.rmtree(jars_dir(), ignore_errors=True)
        staging.rename(jars_dir())
    print(f"delta jars: {len(resolved)} jars cached in {jars_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
