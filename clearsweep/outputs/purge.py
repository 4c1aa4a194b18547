"""Purge: remove people whose records were sealed or corrected after the extract from every table
and every retained version, record the purge (subjects as keyed hashes, never in clear) in
`purges`, and prove it by reading every byte of every file under the warehouse.

No log names the people: each table's rows are deleted by a MERGE with a small DataFrame of the
ids (and, for the text of quarantined lines, a pattern per id), on a condition that names only
columns, so the commit records `trim(t.subject_id) = s.id`, never a value. Deletion vectors are
off for the purge: a delete rewrites the files it touches and keeps no positions, and the files
in which a monthly run's MERGE marked rows deleted (`history`) are rewritten without them.

Order, so a kill at any moment is safe:
1. delete from each table (commits tagged with the purge's id);
2. record the `purges` row with `files_checked` 0: the commit point. Before it, the next writer
   rolls the deletes back (`Warehouse.recover`) and the purge is simply not done: run it again;
3. vacuum every table that holds people with no retention (the files of earlier versions go: runs recorded before
   the purge are read at the purge's versions);
4. verify every file (`traces`), then mark the row verified (`files_checked` = files read).
A purge recorded but not marked (killed in 3 or 4) is finished by the next command that takes
the warehouse's lock (`finish_purges`, from `recover`): vacuum, verify with the recorded hashes
only, mark; a trace left fails that command (exit 1) naming the file."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from clearsweep import __version__, fs, scratch
from clearsweep.errors import TraceLeft, UserError
from clearsweep.frames import local_frame
from clearsweep.fs import HadoopFS
from clearsweep.outputs.layout import FEATURES, RECORD_KEYS, SCHEMAS, TABLES
from clearsweep.outputs.traces import Subjects, find_traces
from clearsweep.outputs.warehouse import Warehouse, new_id, utc_now

KEY_FILE = "_clearsweep.key"  # the warehouse's HMAC key for purged subjects (owner-only)
# where each table keeps whose rows they are: a key column, or the text of a quarantined line
PERSON_KEYS = {"raw": "SUBJECT_ID", "history": "SUBJECT_ID", "determinations": "subject_id", "people": "subject_id"}
LINE_TABLES = ("raw", "quarantine")
SETTINGS = {
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",  # vacuum to the latest version only
    "spark.databricks.delta.delete.deletionVectors.persistent": "false",  # a delete rewrites files, keeps nothing
    "spark.databricks.delta.merge.deletionVectors.persistent": "false",
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
    "spark.databricks.delta.vacuum.logging.enabled": "false",
    # vacuum lists a table's files in this many tasks (default 10,000: minutes of empty tasks per small table)
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
    "spark.databricks.delta.merge.materializeSource": "none",  # the ids are checkpointed already
}
METADATA = "spark.databricks.delta.commitInfo.userMetadata"
# for tests: stop (as a kill would, but in-process) once this step is done
STOP_AFTER_ENV = "CLEARSWEEP_PURGE_STOP_AFTER"
STEPS = ("deleted", "recorded", "vacuumed", "verified")
IDS = StructType([StructField("id", StringType()), StructField("pattern", StringType())])


class PurgeStopped(Exception):
    """Raised after a step when STOP_AFTER_ENV names it (tests of a purge cut short)."""


def warehouse_key(wh: Warehouse, spark: SparkSession | None = None) -> bytes:
    """The warehouse's own key, made (owner-only) on first use; on HDFS through `spark`."""
    if wh.local is None:
        hfs = HadoopFS(spark, wh.location)
        hfs.create_private(wh.path(KEY_FILE), secrets.token_bytes(32))  # False: it was there already
        return hfs.read_bytes(wh.path(KEY_FILE))
    path = Path(wh.path(KEY_FILE))
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def subject_hash(key: bytes, subject: str) -> str:
    return hmac.new(key, subject.strip().encode(), hashlib.sha256).hexdigest()


def _token_pattern(subject: str) -> str:
    """A line naming the subject as a whole CSV field (quoted or not, padded or not)."""
    return rf'(^|,)\s*"?\s*{re.escape(subject)}\s*"?\s*(,|$)'


def _condition(table: str, columns: list[str]) -> str | None:
    """The MERGE condition: columns of the table (t) and of the ids (s) only, never a value."""
    parts = []
    if PERSON_KEYS.get(table) in columns:
        parts.append(f"trim(t.`{PERSON_KEYS[table]}`) = s.id")
    if table in LINE_TABLES and "line" in columns:
        parts.append("coalesce(t.line rlike s.pattern, false)")
    return " OR ".join(parts) or None


def _deleted(spark: SparkSession, wh: Warehouse, table: str, owner: str) -> int:
    """Rows the owner's MERGE deleted, from its commit's metrics (0 if it committed nothing)."""
    try:
        version = wh.version_by(table, owner, spark)
    except RuntimeError:
        return 0
    log = fs.join(wh.path(table), "_delta_log", f"{version:020d}.json")
    text = Path(log).read_text(encoding="utf-8") if wh.local is not None else HadoopFS(spark, log).read_text(log)
    for line in text.splitlines():
        info = json.loads(line).get("commitInfo")
        if info:
            return int((info.get("operationMetrics") or {}).get("numTargetRowsDeleted", 0))
    return 0


def _stop_after(step: str) -> None:
    if os.environ.get(STOP_AFTER_ENV) == step:
        raise PurgeStopped(step)


@contextmanager
def purge_settings(spark: SparkSession):
    """The purge's settings while it works, the session's own afterwards (a run in the same
    session marks deleted rows with deletion vectors again)."""
    before = {key: spark.conf.get(key, None) for key in SETTINGS}
    for key, value in SETTINGS.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def purge(spark: SparkSession, warehouse: str, subjects: list[str], reason: str, *, purge_id: str | None = None) -> dict:
    """The caller holds the warehouse lock (jobs/purge.py)."""
    wh = Warehouse(warehouse)
    if wh.local is None and not any(wh.has_table(t, spark) for t in TABLES):  # (its lock file made the folder)
        raise UserError(f"no clearsweep warehouse at {warehouse} (no table in it)")
    subjects = sorted({s.strip() for s in subjects if s and s.strip()})
    if not subjects:
        raise UserError("--subject: give at least one SUBJECT_ID")
    purge_id = purge_id or new_id("purge")
    started = time.time()
    with purge_settings(spark):
        return _purge(spark, wh, subjects, reason, purge_id, started)


def _purge(spark: SparkSession, wh: Warehouse, subjects: list[str], reason: str, purge_id: str, started: float) -> dict:
    from delta.tables import DeltaTable

    recovered = wh.recover(spark)  # rolls back an unrecorded purge, finishes a recorded one
    # the ids as a checkpointed RDD: plans show `LogicalRDD [id, pattern]`, never a literal, and
    # each MERGE reads the JVM's blocks instead of starting Python workers again
    # (built in the JVM: executors on a cluster have no Python)
    ids = local_frame(spark, [{"id": s, "pattern": _token_pattern(s)} for s in subjects], IDS).localCheckpoint()
    removed = {}
    spark.conf.set(METADATA, purge_id)  # the deletes are the purge's, rolled back if it never records itself
    try:
        for table in TABLES:
            if not wh.has_table(table, spark):
                continue
            condition = _condition(table, SCHEMAS[table].fieldNames())  # every write conforms to it
            if condition is None:
                continue
            (DeltaTable.forPath(spark, wh.spark_path(table)).alias("t")
             .merge(ids.alias("s"), condition).whenMatchedDelete().execute())
            removed[table] = _deleted(spark, wh, table, purge_id)
            if FEATURES.get(table, {}).get("delta.enableDeletionVectors") == "true":
                # rows a monthly run marked deleted are still in their files, a purged person's among
                # them: rewrite every file a deletion vector marks (the vacuum then removes the old ones)
                spark.sql(f"REORG TABLE delta.`{wh.spark_path(table)}` APPLY (PURGE)")
    finally:
        spark.conf.unset(METADATA)
    _stop_after("deleted")
    # after the vacuum only these versions can be read: readers of earlier runs come here
    versions = {t: wh.latest_version(t, spark) for t in TABLES if t not in RECORD_KEYS and wh.has_table(t, spark)}
    key = warehouse_key(wh, spark)
    record = {"purge_id": purge_id, "finished_at": utc_now(), "reason": reason or "",
              "subjects": [subject_hash(key, s) for s in subjects], "removed": removed, "versions": versions,
              "files_checked": 0, "code_version": __version__}
    wh.record(spark, "purges", {**record})
    _stop_after("recorded")
    traces, checked = _finish(spark, wh, [purge_id], Subjects(key, clear=subjects))
    return {**record, "files_checked": checked, "traces": traces, "recovered": recovered,
            "scratch_removed": scratch.removed(), "seconds": round(time.time() - started, 1)}


def _finish(spark: SparkSession, wh: Warehouse, purge_ids: list[str], subjects: Subjects) -> tuple[list[str], int]:
    """Steps 3 and 4 of recorded purges: vacuum, verify, and mark them verified if no trace is left."""
    with purge_settings(spark):
        return _vacuum_and_verify(spark, wh, purge_ids, subjects)


def _vacuum_and_verify(spark: SparkSession, wh: Warehouse, purge_ids: list[str], subjects: Subjects) -> tuple[list[str], int]:
    from delta.tables import DeltaTable

    for table in TABLES:  # the tables that hold people; the others' earlier versions never did
        if (table in PERSON_KEYS or table in LINE_TABLES) and wh.has_table(table, spark):
            DeltaTable.forPath(spark, wh.spark_path(table)).vacuum(0.0)
    _stop_after("vacuumed")
    own = scratch.current()
    if wh.local is not None:  # (beside a remote warehouse, Spark's scratch is on the driver's disk, not in it)
        scratch.clean_dead(wh.local / scratch.FOLDER, keep=own)  # a dead command's shuffle files hold rows too
    # this command's own scratch is skipped: it holds the ids' DataFrame, and goes when it ends
    traces, checked = find_traces(wh.location if wh.local is None else wh.local, subjects, spark=spark,
                                  skip=[p for p in (wh.path(KEY_FILE), own) if p is not None])
    if traces:
        return traces, checked
    spark.conf.set(METADATA, purge_ids[0])  # a commit of a recorded purge: never rolled back
    try:
        DeltaTable.forPath(spark, wh.spark_path("purges")).update(
            F.col("purge_id").isin(*purge_ids), {"files_checked": F.lit(checked).cast("long")})
    finally:
        spark.conf.unset(METADATA)
    _stop_after("verified")
    return traces, checked


def finish_purges(spark: SparkSession, wh: Warehouse) -> list[str]:
    """Finish the purges a killed command recorded but never verified (called by `recover`, with
    the lock held). Raises TraceLeft, naming files (never a subject), if one is still named."""
    # every command that takes the lock asks: read without a Spark job where the table allows it
    pending = [r for r in wh.records(spark, "purges", columns=["purge_id", "subjects", "files_checked"]) if not r["files_checked"]]
    if not pending:
        return []
    ids = sorted(r["purge_id"] for r in pending)
    hashes = {h for r in pending for h in (r["subjects"] or [])}
    traces, checked = _finish(spark, wh, ids, Subjects(warehouse_key(wh, spark), hashes=hashes))
    if traces:
        raise TraceLeft(f"purge {', '.join(ids)} is recorded but {len(traces)} file(s) under the warehouse still "
                        f"name a purged subject, e.g. {traces[0]}; nothing else was written")
    return [f"finished purge {i} (vacuumed, verified: {checked} files, no trace)" for i in ids]
