"""The DOJ research-file layout, loaded from schemas/ (the single source of the 95 columns)."""

from __future__ import annotations

from functools import lru_cache

import yaml
from pyspark.sql.types import StringType, StructField, StructType

from clearsweep.paths import SCHEMAS_DIR


@lru_cache(maxsize=None)
def _layout() -> dict:
    with open(SCHEMAS_DIR / "doj_research_file.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def doj_columns() -> tuple[str, ...]:
    return tuple(c["name"] for c in _layout()["columns"])


def personal_columns() -> frozenset[str]:
    return frozenset(c["name"] for c in _layout()["columns"] if c.get("personal"))


def doj_struct() -> StructType:
    return StructType([StructField(name, StringType(), True) for name in doj_columns()])


DOJ_COLUMNS = doj_columns()
N_COLUMNS = len(DOJ_COLUMNS)
