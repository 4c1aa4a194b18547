"""Purge: remove people whose records were sealed or corrected after the extract from every table
and every retained version, record the purge (subjects as keyed hashes, never in clear) in
`purges`, and prove it by reading every file under the warehouse.

Order, so a kill at any moment is safe: delete from each table (commits tagged with the purge's
id) -> record the `purges` row (the commit point; before it, the next writer rolls the deletes
back) -> vacuum every table with no retention (the files of earlier versions go: runs recorded
before the purge can no longer be time-travelled to) -> verify."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__
from clearsweep.errors import UserError
from clearsweep.history import person_key
from clearsweep.outputs.layout import RECORD_KEYS, TABLES
from clearsweep.outputs.warehouse import Warehouse, new_id, utc_now

KEY_FILE = "_clearsweep.key"  # the warehouse's HMAC key for purged subjects (owner-only)
# where each table keeps whose rows they are: a key column, or the text of a quarantined line
PERSON_KEYS = {"raw": "SUBJECT_ID", "history": "SUBJECT_ID", "determinations": "subject_id", "people": "subject_id"}
LINE_TABLES = ("raw", "quarantine")
SETTINGS = {
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",  # vacuum to the latest version only
    "spark.databricks.delta.delete.deletionVectors.persistent": "false",  # a delete rewrites files, keeps nothing
    "spark.databricks.delta.vacuum.logging.enabled": "false",
    # vacuum lists a table's files in this many tasks (default 10,000: minutes of empty tasks per small table)
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
}


def subject_hash(wh: Warehouse, subject: str) -> str:
    path = Path(wh.path(KEY_FILE))
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return hmac.new(path.read_bytes(), subject.encode(), hashlib.sha256).hexdigest()


def _token_pattern(subjects: list[str]) -> str:
    """A line naming one of the subjects as a whole CSV field (quoted or not, padded or not)."""
    alternatives = "|".join(re.escape(s) for s in subjects)
    return rf'(^|,)\s*"?\s*({alternatives})\s*"?\s*(,|$)'


def _whose(table: str, columns: list[str], subjects: list[str]) -> Column:
    hit = F.lit(False)
    if PERSON_KEYS.get(table) in columns:
        hit = hit | person_key(F.col(PERSON_KEYS[table])).isin(*subjects)
    if table in LINE_TABLES and "line" in columns:
        hit = hit | F.coalesce(F.col("line").rlike(_token_pattern(subjects)), F.lit(False))
    return hit


def purge(spark: SparkSession, warehouse: str, subjects: list[str], reason: str, *, purge_id: str | None = None) -> dict:
    """The caller holds the warehouse lock (jobs/purge.py)."""
    from delta.tables import DeltaTable

    wh = Warehouse(warehouse)
    if wh.local is None:
        raise UserError("purge works on a local warehouse folder (its files are read back to verify)")
    subjects = sorted({s.strip() for s in subjects if s and s.strip()})
    if not subjects:
        raise UserError("--subject: give at least one SUBJECT_ID")
    purge_id = purge_id or new_id("purge")
    started = time.time()
    for key, value in SETTINGS.items():
        spark.conf.set(key, value)
    recovered = wh.recover(spark)
    removed = {}
    metadata = "spark.databricks.delta.commitInfo.userMetadata"
    spark.conf.set(metadata, purge_id)  # the deletes are the purge's, rolled back if it never records itself
    try:
        for table in TABLES:
            if table not in PERSON_KEYS and table not in LINE_TABLES or not wh.has_table(table, spark):
                continue
            columns = wh.read(spark, table).columns
            hit = _whose(table, columns, subjects)
            n = wh.read(spark, table).where(hit).count()
            if n:
                DeltaTable.forPath(spark, wh.spark_path(table)).delete(hit)
            removed[table] = n
    finally:
        spark.conf.unset(metadata)
    # after the vacuum only these versions can be read: readers of earlier runs come here
    versions = {t: wh.latest_version(t, spark) for t in TABLES if t not in RECORD_KEYS and wh.has_table(t, spark)}
    record = {"purge_id": purge_id, "finished_at": utc_now(), "reason": reason or "",
              "subjects": [subject_hash(wh, s) for s in subjects], "removed": removed, "versions": versions,
              "files_checked": 0, "code_version": __version__}
    wh.record(spark, "purges", {**record})
    for table in TABLES:
        if wh.has_table(table, spark):
            DeltaTable.forPath(spark, wh.spark_path(table)).vacuum(0.0)
    traces, checked = find_traces(Path(wh.local), subjects)
    return {**record, "files_checked": checked, "traces": traces, "recovered": recovered,
            "seconds": round(time.time() - started, 1)}


def find_traces(root: Path, subjects: list[str]) -> tuple[list[str], int]:
    """Every file under the warehouse read back: Parquet (data and checkpoints) column by column,
    anything else as bytes. Returns where a subject still appears (no values: file and column)
    and how many files were read."""
    token = re.compile(_token_pattern(subjects))
    quoted = [json.dumps(s).encode() for s in subjects]  # ids are strings wherever JSON holds them
    wanted = pa.array(subjects, pa.string())
    found, checked = [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != KEY_FILE):
        checked += 1
        where = str(path.relative_to(root))
        if path.suffix == ".parquet":
            table = pq.ParquetFile(path).read()  # this file alone: no partition discovery
            while any(pa.types.is_struct(f.type) for f in table.schema):  # checkpoints nest their actions
                table = table.flatten()
            for name, column in zip(table.column_names, table.columns):
                if pa.types.is_nested(column.type):
                    continue  # lists and maps here hold counties and versions, never people
                text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string(), safe=False)
                named = pc.any(pc.is_in(pc.utf8_trim_whitespace(text), value_set=wanted)).as_py()
                if named or (name.endswith("line") and pc.any(pc.match_substring_regex(text, token.pattern)).as_py()):
                    found.append(f"{where}: column {name}")
        else:
            data = path.read_bytes()
            if any(q in data for q in quoted) or (path.suffix in (".csv", ".txt", ".log") and token.search(data.decode("utf-8", "replace"))):
                found.append(where)
    return found, checked
