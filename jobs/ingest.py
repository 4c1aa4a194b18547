"""Load DOJ research files (CSV with or without header, .dat, .gz, or Parquet) into the `raw`
Delta table in one read: every line once, accepted rows with their 95 fields and unusable lines
with their reason (also appended to `quarantine`). Counts reconcile per file before the ingest is
recorded in `ingests`, its commit point; `run --input WAREHOUSE/raw` reads what it recorded."""

from __future__ import annotations

import json
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__, fs
from clearsweep.errors import ReconciliationError, UserError
from clearsweep.extract import (DOJ_COLUMNS, QUARANTINE_COLUMNS, parquet_row_counts, parquet_rows, quarantined, reading_splits,
                                resolve_inputs, start_scans)
from clearsweep.progress import Progress
from clearsweep.reconcile import line_tally, reconcile
from clearsweep.session import SPLIT_BYTES, add_session_arguments, byte_size, get_spark, session_conf
from clearsweep.sources import csv_scans, read_csv_lines, reconciled, sha256_or_fs_checksum
from clearsweep.warehouse import Warehouse, new_id, utc_now


def add_arguments(parser) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH", help="DOJ files or folders of them")
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for another command on the warehouse")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_session_arguments(parser)


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


def print_report(manifest: dict, quarantine_lines: list[tuple[str, int, str]], more: int) -> None:
    t = manifest["totals"]
    for line in manifest["recovered"]:
        print(f"  recovered: {line}")
    print(f"ingest {manifest['ingest_id']}: {t['physical_lines']} lines read = {t['accepted']} accepted + {t['quarantined']} quarantined (+ headers); reconciled")
    for f in manifest["files"]:
        reasons = ", ".join(f"{k}={v}" for k, v in f["quarantined_by_reason"].items()) or "none"
        print(f"  {f['file']}: {f['physical_lines']} lines, {f['accepted']} accepted, {f['quarantined']} quarantined ({reasons})")
    for note in manifest["notes"]:
        print(f"  {note}")
    for path, line_no, reason in quarantine_lines:
        print(f"  quarantined {fs.name(path)} line {line_no}: {reason}")
    if more:
        print(f"  ... and {more} more quarantined lines (table quarantine, load_id {manifest['ingest_id']})")
    print(f"  raw table replaced: version {manifest['versions']['raw']} (earlier versions stay readable by time travel)")


def main(args) -> int:
    master, conf = session_conf(args.profile, args.conf)
    scans = None
    if all(fs.is_local(p) for p in args.input):
        files, _ = resolve_inputs(args.input)  # missing files named before Spark starts
        scans = start_scans(files, byte_size(conf[SPLIT_BYTES]))
    wh = Warehouse(args.warehouse)
    ingest_id = new_id("ingest")
    start = lambda: get_spark(args.profile, args.conf, app_name="clearsweep-ingest")  # noqa: E731
    with Progress(enabled=not args.quiet) as progress, wh.locked_session(ingest_id, args.wait, start) as spark:
        manifest = ingest(spark, args.input, args.warehouse, ingest_id=ingest_id, scans=scans, locked=True,
                          progress=progress.attach(spark))
    shown, more = [], 0
    if manifest["totals"]["quarantined"]:
        q = wh.read(spark, "quarantine", manifest["versions"]["quarantine"]).where(F.col("load_id") == ingest_id)
        shown = [(r["source_file"], r["line_no"], r["reason"]) for r in
                 q.select("source_file", "line_no", "reason").orderBy("file_index", "line_no").limit(20).collect()]
        more = manifest["totals"]["quarantined"] - len(shown)
    print_report(manifest, shown, more)
    return 0
