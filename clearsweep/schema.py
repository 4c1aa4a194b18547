"""The DOJ research-file layout, loaded from schemas/ (the single source of the 95 columns).
The base of the package: it imports nothing of ours."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

LAYOUT_FILE = Path(__file__).resolve().parent.parent / "schemas" / "doj_research_file.yaml"


@lru_cache(maxsize=None)
def _layout() -> dict:
    with open(LAYOUT_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def doj_columns() -> tuple[str, ...]:
    return tuple(c["name"] for c in _layout()["columns"])


def personal_columns() -> frozenset[str]:
    """Columns marked `personal: true`: never in table statistics, logs or reports."""
    return frozenset(c["name"] for c in _layout()["columns"] if c.get("personal"))


DOJ_COLUMNS = doj_columns()
N_COLUMNS = len(DOJ_COLUMNS)
