"""The package's layering, as imports: what each layer may not reach."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    """Modules a file imports directly (absolute names; `from x import y` gives x and x.y)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def files(pattern: str) -> list[Path]:
    return sorted(REPO.glob(pattern))


def offenders(pattern: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in files(pattern):
        for name in sorted(imports_of(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(REPO)} imports {name}")
    return out


@pytest.mark.parametrize("pattern, forbidden", [
    ("clearsweep/**/*.py", ("jobs",)),  # the library never reaches the commands
    ("clearsweep/schema.py", ("clearsweep",)),  # the base imports nothing of ours
    ("clearsweep/decide/*.py", ("clearsweep.session", "clearsweep.fs", "clearsweep.frames", "clearsweep.outputs",
                                "clearsweep.ingest", "clearsweep.exports", "clearsweep.progress", "clearsweep.sweep")),
    ("clearsweep/exports/*.py", ("clearsweep.decide.engine", "clearsweep.decide.rules", "clearsweep.sweep", "clearsweep.ingest")),
    ("clearsweep/outputs/*.py", ("clearsweep.ingest", "clearsweep.exports", "clearsweep.sweep")),
    # reports read the recorded figures: they never decide, read input or reach people's rows
    ("clearsweep/reports/*.py", ("clearsweep.decide.engine", "clearsweep.ingest", "clearsweep.exports", "clearsweep.sweep",
                                 "clearsweep.history")),
])
def test_layer_does_not_import(pattern, forbidden):
    assert files(pattern), f"no files match {pattern}"
    assert offenders(pattern, forbidden) == []


def test_commands_are_thin():
    """A job module parses arguments, calls the library and prints: no Spark transforms of its own."""
    heavy = [f"{p.name}: {n}" for p in files("jobs/*.py") for n in imports_of(p) if n.startswith("pyspark.sql.DataFrame")]
    assert heavy == []
    assert max(len(p.read_text().splitlines()) for p in files("jobs/*.py")) < 150
