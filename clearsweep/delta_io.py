"""Delta table paths and writes under a warehouse folder."""

from __future__ import annotations

import re
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession


def table_path(warehouse: str, *parts: str) -> str:
    return str(Path(warehouse).resolve().joinpath(*parts))


def county_slug(county: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", county.lower()).strip("_")


def is_delta(path: str) -> bool:
    return (Path(path) / "_delta_log").is_dir()


def latest_version(spark: SparkSession, path: str) -> int | None:
    if not is_delta(path):
        return None
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, path).history(1).select("version").first()["version"]


def write_delta(df: DataFrame, path: str, mode: str = "overwrite", user_metadata: str | None = None) -> int:
    """Write and return the Delta version just committed."""
    writer = df.write.format("delta").mode(mode)
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    if user_metadata:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(path)
    return latest_version(df.sparkSession, path)
