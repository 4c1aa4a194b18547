"""Shared fixtures: one real Spark session (with Delta from the cached jars) for the whole run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# shared/ sits beside the repository, or beside the folder of its git worktrees (wt/NAME)
FIXTURES = next((p.resolve() for p in (REPO.parent / "shared" / "fixtures", REPO.parent.parent / "shared" / "fixtures") if p.is_dir()),
                REPO.parent / "shared" / "fixtures")


@pytest.fixture(scope="session")
def spark():
    from clearsweep.session import get_spark

    session = get_spark(
        "local",
        [
            "spark.master=local[2]",
            "spark.sql.shuffle.partitions=4",
            "spark.driver.memory=4g",
            "spark.sql.adaptive.coalescePartitions.enabled=true",
        ],
        app_name="clearsweep-tests",
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"conformance fixtures not found at {FIXTURES} (shared/ must sit beside the repository)")
    return FIXTURES


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())
