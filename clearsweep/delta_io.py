"""Delta table paths and writes under a warehouse folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pyspark.sql import DataFrame

COMMIT_FILE = re.compile(r"^(\d{20})\.json$")


def table_path(warehouse: str, *parts: str) -> str:
    return str(Path(warehouse).resolve().joinpath(*parts))


def county_slug(county: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", county.lower()).strip("_")


def is_delta(path: str) -> bool:
    return (Path(path) / "_delta_log").is_dir()


def _commit_versions(path: str) -> list[int]:
    log = Path(path) / "_delta_log"
    return sorted(int(m.group(1)) for p in log.iterdir() if (m := COMMIT_FILE.match(p.name))) if log.is_dir() else []


def latest_version(path: str) -> int | None:
    """The table's newest commit, read from its log folder: no Spark job, no snapshot load."""
    versions = _commit_versions(path)
    return versions[-1] if versions else None


def _committed_by(path: str, version: int) -> str | None:
    with open(Path(path) / "_delta_log" / f"{version:020d}.json", encoding="utf-8") as f:
        for line in f:
            action = json.loads(line)
            if "commitInfo" in action:
                return action["commitInfo"].get("userMetadata")
    return None


def write_delta(df: DataFrame, path: str, mode: str = "overwrite", user_metadata: str | None = None) -> int:
    """Write and return the Delta version just committed (found by its user metadata when
    another writer may have committed since)."""
    writer = df.write.format("delta").mode(mode)
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    if user_metadata:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(path)
    versions = _commit_versions(path)
    if user_metadata:
        for version in reversed(versions):
            if _committed_by(path, version) == user_metadata:
                return version
    return versions[-1]
