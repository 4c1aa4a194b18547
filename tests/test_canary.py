"""Personal data stays in the data tables and the county's own export: unique fake identifiers
seeded into good and bad lines never appear on the console, in error messages, in Spark's log,
in any Delta log file, in the runs, figures or manifests, and do appear in the export."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq

from clearsweep.outputs.warehouse import Warehouse
from clearsweep.paths import REPO_ROOT
from clearsweep.schema import DOJ_COLUMNS

CLI = str(REPO_ROOT / ".venv" / "bin" / "clearsweep")
CANARIES = {
    "PRI_NAME": "QUILLFEATHER,ZENOBIA",
    "CII_NUMBER": "A90817263",
    "PRI_SSN": "579338214",
    "PRI_CDL": "N7719034",
    "PRI_DOB": "19580417",
    "FBI_NUMBER": "FBIQX0042",
}


def _row(subject: str, cnt: str, offense: str, **personal) -> dict:
    return {c: "" for c in DOJ_COLUMNS} | {
        "SUBJECT_ID": subject, "CNT_ORDER": cnt, "STP_EVENT_DATE": "20100105", "STP_TYPE_DESCR": "COURT ACTION",
        "STP_ORI_CNTY_NAME": "SACRAMENTO", "DISP_DESCR": "CONVICTED", "OFFENSE_DESCR": offense,
        "CONV_STAT_DESCR": "FELONY", "OFN": "10CR0042", "PRI_NAME": "DOE,JANE", "PRI_DOB": "19700101",
        "RACE_DESCR": "WHITE", **personal}


def _extract(folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "extract.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DOJ_COLUMNS)
        w.writerow([_row("10000001", "001001001000", "11359 HS-POSSESS MARIJUANA FOR SALE", **CANARIES)[c] for c in DOJ_COLUMNS])
        w.writerow([_row("10000002", "001001001000", "11357(A) HS-POSSESS MARIJUANA")[c] for c in DOJ_COLUMNS])
        bad = _row("10000003", "001001001000", "11360(A) HS-TRANSPORT MARIJUANA", **CANARIES)
        w.writerow([bad[c] for c in DOJ_COLUMNS][:60])  # a short line: quarantined, its text kept in the table only
        w.writerow([_row("1000X004", "001001001000", "11357(A) HS", **CANARIES)[c] for c in DOJ_COLUMNS])  # a bad key
    return path


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args, "--conf", "spark.driver.memory=1g"] if args[0] != "runs" else [CLI, *args],
                          capture_output=True, text=True, env=env, timeout=600)


def _files_holding(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(root)}: {n}" for n in needles if n.encode() in data]
    return found


def test_personal_data_never_leaves_the_data_tables(spark, tmp_path):
    extract = _extract(tmp_path / "in")
    header_only_canary = tmp_path / "bad-header" / "x.csv"
    header_only_canary.parent.mkdir()
    header_only_canary.write_text(",".join(["RECORD_ID", CANARIES["PRI_NAME"], CANARIES["CII_NUMBER"]]) + "\n1,2,3\n")
    wh, logs, out = tmp_path / "wh", tmp_path / "logs", tmp_path / "export"
    env = {**os.environ, "CLEARSWEEP_LOG_DIR": str(logs)}
    steps = [
        _cli("ingest", "--input", str(extract), "--warehouse", str(wh), env=env),
        _cli("run", "--input", str(wh / "raw"), "--warehouse", str(wh), "--as-of", "2019-11-11", "--county", "SACRAMENTO", env=env),
        _cli("export", "--warehouse", str(wh), "--county", "SACRAMENTO", "--out", str(out), env=env),
        _cli("runs", "--warehouse", str(wh), "--json", env=env),
    ]
    for step in steps:
        assert step.returncode == 0, step.stderr[-2000:]
    refused = _cli("ingest", "--input", str(header_only_canary), "--warehouse", str(tmp_path / "wh2"), env=env)
    assert refused.returncode == 2 and "x.csv" in refused.stderr

    needles = list(CANARIES.values())
    console = "".join(s.stdout + s.stderr for s in [*steps, refused])
    assert [n for n in needles if n in console] == []
    assert list(logs.iterdir()), "no log file was written"
    assert _files_holding(logs, needles) == []
    # only the data files of the tables that hold people (raw, quarantine, history) may hold them
    assert [f for f in _files_holding(wh, needles) if "_delta_log" in f or "part-" not in f] == []
    w = Warehouse(str(wh))
    for table in ("runs", "figures", "ingests"):
        text = json.dumps([r.asDict() for r in w.read(spark, table).collect()], default=str)
        assert [n for n in needles if n in text] == [], table
    assert _files_holding(out, needles) != []  # the county's own export names its people
    for name in ("summary.json", "manifest.json"):
        assert [n for n in needles if n in (out / name).read_text()] == [], name
    # owner-only by default
    shared = [f"{p} {p.stat().st_mode:o}" for p in [*wh.rglob("*"), *out.rglob("*"), *logs.rglob("*")] if p.stat().st_mode & 0o077]
    assert shared == []


def _named(data: bytes, needle: str) -> bool:
    """`needle` as a whole token (not inside a longer run of letters and digits), padded or not."""
    return re.search(rb"(?<![0-9A-Za-z])" + re.escape(needle.encode()) + rb"(?![0-9A-Za-z])", data) is not None


def _bytes_naming(root: Path, needles: list[str]) -> list[str]:
    """Every file's bytes and, for Parquet, every decoded value (nested ones too, as JSON text)."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "_clearsweep.key"):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            data += json.dumps(pq.ParquetFile(path).read().to_pylist(), default=str).encode()  # this file alone
        found += [f"{path.relative_to(root)}: {n}" for n in needles if _named(data, n)]
    return found


def test_a_purged_person_is_in_no_byte_of_the_warehouse_logs_included(tmp_path):
    """Issue 15: the purged people's ids (and their other personal data) are nowhere under the
    warehouse (Delta logs, checkpoints, Parquet decoded, scratch) nor in the commands' logs."""
    extract = _extract(tmp_path / "in")
    wh, logs = tmp_path / "wh", tmp_path / "logs"
    env = {**os.environ, "CLEARSWEEP_LOG_DIR": str(logs)}
    purged = ["10000001", "10000003", "1000X004"]  # all the lines that carry the canaries
    steps = [
        _cli("ingest", "--input", str(extract), "--warehouse", str(wh), env=env),
        _cli("run", "--input", str(wh / "raw"), "--warehouse", str(wh), "--as-of", "2019-11-11", "--county", "SACRAMENTO", env=env),
        _cli("purge", "--warehouse", str(wh), "--subject", *purged, " 10000001 ", env=env),
    ]
    for step in steps:
        assert step.returncode == 0, step.stderr[-2000:]
    assert "no trace" in steps[-1].stdout
    needles = [*purged, *CANARIES.values()]
    assert _bytes_naming(wh, ["10000002"]) != []  # the search finds what is there: the person kept
    assert _bytes_naming(wh, needles) == []
    assert _bytes_naming(logs, needles) == []
    console = "".join(s.stdout + s.stderr for s in steps)
    assert [n for n in needles if _named(console.encode(), n)] == []
