"""Load DOJ research files (CSV with or without header, .dat, .gz, or Parquet) into the `raw`
Delta table in one read: every line once, accepted rows with their 95 fields and unusable lines
with their reason (also appended to `quarantine`). Counts reconcile per file before the ingest is
recorded in `ingests`, its commit point; `run --input WAREHOUSE/raw` reads what it recorded."""

from __future__ import annotations

import json
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__
from clearsweep.errors import ReconciliationError, UserError
from clearsweep.ingest.extract import (DOJ_COLUMNS, QUARANTINE_COLUMNS, parquet_row_counts, parquet_rows, quarantined,
                                       reading_splits, resolve_inputs)
from clearsweep.ingest.reconcile import line_tally, reconcile
from clearsweep.ingest.sources import csv_scans, read_csv_lines, reconciled, sha256_or_fs_checksum
from clearsweep.outputs.warehouse import Warehouse, new_id, utc_now
from clearsweep.progress import Progress
from clearsweep.session import SPLIT_BYTES, byte_size


def ingest(spark: SparkSession, input_paths: list[str], warehouse: str, *, ingest_id: str | None = None, scans=None,
           wait: float = 0, locked: bool = False, progress: Progress | None = None) -> dict:
    ingest_id = ingest_id or new_id("ingest")
    wh = Warehouse(warehouse)
    if locked:
        return _ingest(spark, input_paths, wh, ingest_id, scans, progress or Progress(enabled=False))
    with wh.lock(ingest_id, wait, spark):
        return _ingest(spark, input_paths, wh, ingest_id, scans, progress or Progress(enabled=False))


def _ingest(spark, input_paths, wh: Warehouse, ingest_id: str, scans, progress: Progress) -> dict:
    started_at, started = utc_now(), time.time()
    progress.phase("recover")
    recovered = wh.recover(spark)
    files, skipped = resolve_inputs(input_paths, spark)
    kinds = {f.kind for f in files}
    if len(kinds) > 1:
        raise UserError("give CSV or Parquet inputs, not both in one ingest")
    progress.phase("read")
    notes = [f"not read: {s}" for s in skipped]
    if kinds == {"csv"}:
        scanned, size = csv_scans(spark, files, scans)
        lines, layouts = read_csv_lines(spark, files, scanned, DOJ_COLUMNS, keep_line=False)
        notes += [f"{f.path}: {layouts[f.path].note}" for f in files if layouts[f.path].note]

        def check(written):
            return reconciled(files, scanned, layouts, written)
    else:
        lines = parquet_rows(spark, files, DOJ_COLUMNS)
        size = byte_size(spark.conf.get(SPLIT_BYTES))
        physical = parquet_row_counts(spark, files)
        checksums = {f.path: sha256_or_fs_checksum(spark, f.path) for f in files}

        def check(written):
            return reconcile(files, physical, {}, checksums, line_tally(written))

    before = wh.latest_version("raw", spark)
    with reading_splits(spark, size):  # the one read of the text
        raw_version = wh.overwrite(spark, "raw", lines.withColumn("ingest_id", F.lit(ingest_id)), ingest_id)
    written = wh.read(spark, "raw", raw_version)
    progress.phase("reconcile")
    try:
        counts = check(written)
    except ReconciliationError:
        wh.restore(spark, "raw", before, ingest_id)
        raise
    versions = {"raw": raw_version}
    totals = {"physical_lines": sum(c.physical_lines for c in counts), "accepted": sum(c.accepted for c in counts),
              "quarantined": sum(c.quarantined for c in counts)}
    if totals["quarantined"]:
        q = quarantined(written).select(F.lit(ingest_id).alias("load_id"), *QUARANTINE_COLUMNS)
        versions["quarantine"] = wh.append(spark, "quarantine", q, ingest_id)
    progress.phase("record")
    record = {"ingest_id": ingest_id, "started_at": started_at, "finished_at": utc_now(),
              "inputs": json.dumps([c.as_dict() for c in counts]), **totals, "versions": versions, "code_version": __version__}
    wh.record(spark, "ingests", record)  # the commit point
    return {**record, "files": [c.as_dict() for c in counts], "totals": totals, "notes": notes, "recovered": recovered,
            "seconds": round(time.time() - started, 2)}
