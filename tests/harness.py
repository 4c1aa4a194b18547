"""Deciding in-memory DOJ rows through the real read path, for the property tests."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

from clearsweep.decide.engine import candidates, determinations, persons
from clearsweep.decide.facts import FACT_COLUMNS
from clearsweep import codes
from clearsweep.counties import COUNTIES
from clearsweep.decide.policies import Policy, PolicyMap
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.ingest.sources import open_source
from clearsweep.outputs.warehouse import Warehouse


def policy_from_dict(policy: dict) -> Policy:
    """The classifier's policy dicts: options JSON, or {"name": ...} with parameters."""
    if "name" in policy:
        return Policy.of(policy["name"], {k: v for k, v in policy.items() if k != "name"})
    return Policy.of("configurable", {"options": policy})


def decide_rows(spark: SparkSession, rows: list[dict], policy: dict, as_of: dt.date, counties: list[str] | None = None,
                shuffle_partitions: int | None = None, n_files: int = 1, raw: bool = False) -> list[dict]:
    """Decide in-memory DOJ rows through the real file-reading path (CSV files in a temp folder).
    Rows in the reference classifier's shape, or with `raw` the determinations table's rows."""
    chosen = policy_from_dict(policy)
    present = sorted({(r.get("STP_ORI_CNTY_NAME") or "").strip().upper() for r in rows} - {""})
    scope = [c for c in (counties or present) if c in COUNTIES]
    policy_map = PolicyMap({c: chosen for c in scope}, "decide_rows")
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    if shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            extract = Path(tmp) / "extract"
            extract.mkdir()
            position = _write_csv_files(rows, extract, n_files)
            source = open_source(spark, [str(extract)], Warehouse(str(Path(tmp) / "wh")), "harness")
            out = determinations(persons(candidates(source.decide_rows, policy_map), codes.reference_table(spark)), policy_map, as_of).collect()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
    if raw:
        return [r.asDict(recursive=True) for r in out]
    results = []
    for r in out:
        d = {"county": r["county"], "SUBJECT_ID": r["subject_id"], "CNT_ORDER": r["cnt_order"],
             "row_index": position[(r["file_index"], r["line_no"])], "rule": r["rule"], "statute": r["statute"]}
        d.update({header: r[col] for col, header in FACT_COLUMNS.items()})
        results.append(d)
    return results


def _write_csv_files(rows: list[dict], folder: Path, n_files: int) -> dict[tuple[int, int], int]:
    """Split rows in order over n files (header + data); map (file index, line no) -> row_index."""
    position = {}
    rows = sorted(rows, key=lambda r: r.get("row_index", 0))  # row_index is the input position
    chunk = max(1, -(-len(rows) // n_files))
    for k in range(n_files):
        part = rows[k * chunk:(k + 1) * chunk]
        with open(folder / f"part-{k:03d}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(DOJ_COLUMNS)
            for line_no, row in enumerate(part, start=2):
                w.writerow([row.get(c, "") or "" for c in DOJ_COLUMNS])
                position[(k, line_no)] = row.get("row_index", k * chunk + line_no - 2)
    return position
