"""Damage in a local warehouse's Delta logs and files, found by reading them (never writing).

`log_damage` is cheap (it parses the commit JSON, no Spark and no data file read): every command
runs it before it starts Spark, so a damaged table is named, with its version and the repair,
before anything is written. `damage` (the `check` command) also reads the checkpoints and makes
sure every data file the newest version of each table holds is there.

Each finding is one line naming the table, the version or file, and how to repair it; file names
under a table are Delta's own (`part-...parquet`, `county=...`), never data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from clearsweep.errors import DamagedWarehouse

COMMIT = re.compile(r"^(\d{20})\.json$")
CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")  # single or multi-part
LAST_CHECKPOINT = "_last_checkpoint"


@dataclass
class Log:
    """What one table's `_delta_log` holds, and the damage found in it."""
    table: str
    folder: Path
    commits: dict[int, Path]
    checkpoints: dict[int, list[Path]]  # version -> its parts
    findings: list[str]

    @property
    def newest(self) -> int | None:
        return max(self.commits) if self.commits else None


def tables_of(warehouse: Path) -> list[Path]:
    """Every folder under the warehouse holding a Delta log (tables, and a run's scratch is not one)."""
    if not warehouse.is_dir():
        return []
    return sorted(p for p in warehouse.iterdir() if (p / "_delta_log").is_dir() and not p.name.startswith("_"))


def read_log(table: Path) -> Log:
    folder = table / "_delta_log"
    commits, checkpoints = {}, {}
    for p in folder.iterdir():
        if m := COMMIT.match(p.name):
            commits[int(m.group(1))] = p
        elif m := CHECKPOINT.match(p.name):
            checkpoints.setdefault(int(m.group(1)), []).append(p)
    log = Log(table.name, folder, commits, checkpoints, [])
    for version in sorted(commits):
        _parse_commit(log, version)
    _check_sequence(log)
    _check_last_checkpoint(log)
    return log


def _say(log: Log, text: str) -> None:
    log.findings.append(f"table {log.table}: {text}")


def _parse_commit(log: Log, version: int) -> list[dict] | None:
    path = log.commits[version]
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError):
        if version == log.newest:
            repair = (f"restore _delta_log/{path.name} from a backup, or, with no command running, move it out of _delta_log: "
                      f"the table goes back to version {version - 1} and the command that wrote version {version} must be run again")
        else:
            repair = f"restore _delta_log/{path.name} from a backup (every later version builds on it)"
        _say(log, f"version {version} is damaged (its commit file is not valid JSON: cut short or overwritten): {repair}")
    except OSError as exc:
        _say(log, f"version {version}: its commit file cannot be read ({type(exc).__name__}): check its permissions")
    return None


def _check_sequence(log: Log) -> None:
    """Delta reads the newest version from a checkpoint and the commits after it, or from commit 0."""
    if not log.commits:
        return
    base = max((v for v in log.checkpoints if v <= log.newest), default=None)
    start = base + 1 if base is not None else 0
    missing = [v for v in range(start, log.newest + 1) if v not in log.commits]
    if missing:
        _say(log, f"version {missing[0]} is missing from _delta_log (versions {start}..{log.newest} are needed): "
                  f"restore {missing[0]:020d}.json from a backup")


def _check_last_checkpoint(log: Log) -> None:
    path = log.folder / LAST_CHECKPOINT
    if not path.exists():
        return
    try:
        version = int(json.loads(path.read_text(encoding="utf-8"))["version"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        _say(log, f"_delta_log/{LAST_CHECKPOINT} cannot be read: delete it (Delta then finds the checkpoints by listing _delta_log)")
        return
    if version not in log.checkpoints:
        _say(log, f"_delta_log/{LAST_CHECKPOINT} names the checkpoint of version {version}, which is missing: "
                  f"delete {LAST_CHECKPOINT} (Delta then finds the checkpoints by listing _delta_log)")


def log_damage(warehouse: str | Path) -> list[str]:
    """The damage in every table's log: commit JSON that does not parse, a version missing, a
    `_last_checkpoint` that is unreadable or names no checkpoint. No Spark; the data is not read."""
    return [f for table in tables_of(Path(warehouse)) for f in read_log(table).findings]


def require_sound_logs(warehouse: str | Path) -> None:
    """Stop before anything is written when a table's log is damaged (one line: the first finding)."""
    found = log_damage(warehouse)
    if found:
        more = f" ({len(found) - 1} more: clearsweep check --warehouse {warehouse} lists them)" if len(found) > 1 else ""
        raise DamagedWarehouse(found[0] + more)


def damage(warehouse: str | Path) -> tuple[list[str], dict]:
    """Everything `log_damage` finds, and for each table whose log is sound: checkpoints that
    cannot be read, and data files its newest version holds that are missing. Returns the
    findings and what was read ({"tables", "versions", "files"})."""
    findings: list[str] = []
    read = {"tables": 0, "versions": 0, "files": 0}
    for table in tables_of(Path(warehouse)):
        log = read_log(table)
        read["tables"] += 1
        read["versions"] += len(log.commits)
        if not log.findings:
            live = _live_files(log)
            read["files"] += len(live)
            for rel in sorted(live):
                if not _data_path(table, rel).is_file():
                    _say(log, f"version {log.newest} holds data file {rel}, which is missing: restore it from a backup "
                              f"(or restore the table to a version that does not hold it)")
        findings += log.findings
    return findings, read


def _data_path(table: Path, rel: str) -> Path:
    """A data file's path: relative to its table, or (a table cloned from another) absolute."""
    if rel.startswith("file:"):
        return Path(re.sub(r"^file:(//)?", "", rel))
    return table / rel


def _live_files(log: Log) -> set[str]:
    """The data files of the newest version: the newest readable checkpoint's, then each commit's
    adds and removes after it (paths relative to the table, decoded as Delta encodes them)."""
    live: set[str] = set()
    start = 0
    for version in sorted((v for v in log.checkpoints if v <= log.newest), reverse=True):
        got = _checkpoint_files(log, version)
        if got is not None:
            live, start = got, version + 1
            break
    for version in range(start, log.newest + 1):
        for action in (_parse_commit(log, version) if version in log.commits else None) or []:
            if "add" in action:
                live.add(unquote(action["add"]["path"]))
            elif "remove" in action:
                live.discard(unquote(action["remove"]["path"]))
    return live


def _checkpoint_files(log: Log, version: int) -> set[str] | None:
    import pyarrow.parquet as pq  # only `check` reads checkpoints

    live: set[str] = set()
    try:
        for part in sorted(log.checkpoints[version]):
            adds = pq.read_table(part, columns=["add"]).column("add").to_pylist()
            live.update(unquote(a["path"]) for a in adds if a)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is a finding, not a crash
        _say(log, f"the checkpoint of version {version} cannot be read ({type(exc).__name__}): move its file(s) "
                  f"{version:020d}.checkpoint*.parquet and {LAST_CHECKPOINT} out of _delta_log (Delta then reads the commits)")
        return None
    return live
