"""Load DOJ research files (CSV with or without header, .dat, .gz, or Parquet) into the `raw`
Delta table in one read: every line once, accepted rows with their 95 fields and unusable lines
with their reason (also appended to `quarantine`). Counts reconcile per file before the ingest is
recorded in `ingests`, its commit point; `run --input WAREHOUSE/raw` reads what it recorded."""

from __future__ import annotations

import json
import time
from dataclasses import replace

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__
from clearsweep.errors import ReconciliationError, UserError
from clearsweep.ingest.extract import (DOJ_COLUMNS, QUARANTINE_COLUMNS, parquet_row_counts, parquet_rows, quarantined,
                                       reading_splits, resolve_inputs)
from clearsweep.ingest.reconcile import empty_file_notes, line_tally, reconcile
from clearsweep.ingest.sources import csv_scans, read_csv_lines, reconciled, sha256_or_fs_checksum
from clearsweep.outputs.warehouse import Warehouse, new_id, utc_now
from clearsweep.progress import Progress
from clearsweep.session import SPLIT_BYTES, byte_size


def ingest(spark: SparkSession, input_paths: list[str], warehouse: str, *, ingest_id: str | None = None, scans=None,
           wait: float = 0, locked: bool = False, progress: Progress | None = None, append: bool = False) -> dict:
    """Replace `raw` with the files given (the earlier version stays readable by time travel), or
    with `append` add them to what the last ingest left."""
    ingest_id = ingest_id or new_id("ingest")
    wh = Warehouse(warehouse)
    if locked:
        return _ingest(spark, input_paths, wh, ingest_id, scans, progress or Progress(enabled=False), append)
    with wh.lock(ingest_id, wait, spark):
        return _ingest(spark, input_paths, wh, ingest_id, scans, progress or Progress(enabled=False), append)


def _ingest(spark, input_paths, wh: Warehouse, ingest_id: str, scans, progress: Progress, append: bool) -> dict:
    started_at, started = utc_now(), time.time()
    progress.phase("recover")
    recovered = wh.recover(spark)
    files, skipped = resolve_inputs(input_paths, spark)
    previous = wh.latest_ingest(spark) if append else None
    if previous is not None:  # appended to (a replacing ingest makes the table anew): input order continues after the files already in raw
        wh.require_layout(spark, ("raw",))
        files = [replace(f, index=f.index + previous["next_file_index"]) for f in files]
    kinds = {f.kind for f in files}
    if len(kinds) > 1:
        raise UserError("give CSV or Parquet inputs, not both in one ingest")
    progress.phase("read")
    notes = [f"not read: {s}" for s in skipped]
    refused: list[str] = []
    if kinds == {"csv"}:
        scanned, size = csv_scans(spark, files, scans)
        # a file that cannot be read is refused by name; the others still go in
        refused = [f"{f.path}: {why}" for f in files if (why := scanned[f.path].unreadable())]
        files = [f for f in files if not scanned[f.path].unreadable()]
        if not files:
            raise UserError(refused[0] + (f" (and {len(refused) - 1} more files)" if len(refused) > 1 else ""))
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
    tagged = lines.withColumn("ingest_id", F.lit(ingest_id))
    with reading_splits(spark, size):  # the one read of the text
        raw_version = (wh.append if previous is not None else wh.overwrite)(spark, "raw", tagged, ingest_id)
    written = wh.read(spark, "raw", raw_version).where(F.col("ingest_id") == ingest_id)
    progress.phase("reconcile")
    try:
        counts = check(written)
        if previous is not None:
            _refuse_files_already_in_raw(wh, spark, previous, counts)
    except (ReconciliationError, UserError):
        wh.restore(spark, "raw", before, ingest_id)
        raise
    notes += empty_file_notes(counts)
    versions = {"raw": raw_version}
    totals = {"physical_lines": sum(c.physical_lines for c in counts), "accepted": sum(c.accepted for c in counts),
              "quarantined": sum(c.quarantined for c in counts)}
    if totals["quarantined"]:
        q = quarantined(written).select(F.lit(ingest_id).alias("load_id"), *QUARANTINE_COLUMNS)
        versions["quarantine"] = wh.append(spark, "quarantine", q, ingest_id)
    progress.phase("record")
    raw_inputs = (json.loads(previous["raw_inputs"]) if previous is not None else []) + [c.as_dict() for c in counts]
    record = {"ingest_id": ingest_id, "started_at": started_at, "finished_at": utc_now(), "mode": "append" if previous is not None else "replace",
              "inputs": json.dumps([c.as_dict() for c in counts]), **totals,
              "raw_accepted": totals["accepted"] + (previous["raw_accepted"] if previous is not None else 0),
              "raw_quarantined": totals["quarantined"] + (previous["raw_quarantined"] if previous is not None else 0),
              "raw_inputs": json.dumps(raw_inputs), "next_file_index": max(f.index for f in files) + 1,
              "versions": versions, "code_version": __version__}
    wh.record(spark, "ingests", record)  # the commit point
    return {**record, "files": [c.as_dict() for c in counts], "totals": totals, "notes": notes, "recovered": recovered, "refused": refused,
            "seconds": round(time.time() - started, 2)}


def _refuse_files_already_in_raw(wh: Warehouse, spark: SparkSession, previous, counts) -> None:
    """Appending a file raw already holds would count its people twice: refused, by checksum."""
    held = {f["checksum"]: f["file"] for f in json.loads(previous["raw_inputs"]) if f.get("checksum")}
    again = [f"{c.file} (the same content as {held[c.checksum]})" for c in counts if c.checksum in held]
    if again:
        raise UserError(f"already in raw, not appended: {again[0]}" + (f" and {len(again) - 1} more" if len(again) > 1 else ""))
