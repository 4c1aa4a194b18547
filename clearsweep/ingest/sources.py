"""What a run reads: DOJ CSV files, DOJ Parquet files, or an ingested raw table.

Each gives the same three things: the accepted rows with the columns deciding needs (a narrow
read), the full 95-column rows of the people decided (only for `history`), and the per-file
counts, reconciled before anything is recorded. CSV files are read once: the pass that numbers,
checks and parses every line writes the deciding columns and the line text to the run's scratch
folder, which every later step reads instead of the text.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import fs
from clearsweep.errors import UserError
from clearsweep.history import person_key
from clearsweep.ingest.extract import (DECIDE_COLUMNS, MAX_JOINED_RECORDS, N_COLUMNS, POSITION_COLUMNS, FileScan, InputFile, Layout,
                                       accepted, csv_lines, layout_of, parquet_row_counts, parquet_rows, parse_line, quarantined,
                                       reading_splits, record_spans, resolve_inputs, scan_local, scan_remote, sha256_file, split_size)
from clearsweep.ingest.reconcile import FileCounts, empty_file_notes, line_tally, reconcile
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.session import SPLIT_BYTES, byte_size
from clearsweep.outputs.warehouse import Warehouse, by_county

HISTORY_KEY = "SUBJECT_ID"


@dataclass
class Source:
    inputs: list[dict]  # what was read, for the run record: files with checksums and counts, or the raw table
    input_rows: int
    quarantined_rows: int
    decide_rows: DataFrame  # accepted rows: DECIDE_COLUMNS and position
    wide: Callable[[DataFrame], DataFrame]  # decided (county, subject_id) -> their rows, 95 columns + position, by county
    quarantine: DataFrame | None = None  # lines this run quarantined (CSV or Parquet input)
    notes: list[str] = field(default_factory=list)
    full_rows: DataFrame | None = None  # a raw table's accepted rows, 95 columns and position (`run --since` reads them)

    def quarantined_by_reason(self) -> dict:
        """Lines quarantined by reason code, and where: by this run's read of the files, or by the
        ingests that loaded a raw table (from their recorded per-file counts; no Spark job)."""
        files = [f for i in self.inputs for f in (i["files"] if "files" in i else [i])]
        by_reason: dict = {}
        for f in files:
            for code, n in (f.get("quarantined_by_reason") or {}).items():
                by_reason[code] = by_reason.get(code, 0) + int(n)
        at = "ingest" if any("files" in i for i in self.inputs) else "run"
        return {"byReason": dict(sorted(by_reason.items())), "at": at}

    def file_count(self) -> int:
        return sum(len(i["files"]) if "files" in i else 1 for i in self.inputs)

    def history_rows(self, decided: DataFrame) -> DataFrame:
        return self.wide(F.broadcast(decided))


def is_table(paths: list[str], spark: SparkSession | None = None) -> bool:
    """One Delta table given as the input (a remote one is only recognised with the session)."""
    if len(paths) != 1:
        return False
    local = fs.local_path(paths[0])
    if local is not None:
        return (local / "_delta_log").is_dir()
    return spark is not None and fs.HadoopFS(spark, paths[0]).is_dir(fs.join(paths[0], "_delta_log"))


def open_source(spark: SparkSession, paths: list[str], warehouse: Warehouse, owner: str,
                scans: Future | None = None, raw_at: dict | None = None) -> Source:
    """`raw_at` ({"ingest_id", "version"}): read a raw table as a recorded run read it, not as its
    last ingest left it (a rerun)."""
    if is_table(paths, spark):
        return _raw_table(spark, paths[0], raw_at)
    files, skipped = resolve_inputs(paths, spark)
    csv_files = [f for f in files if f.kind == "csv"]
    parquet_files = [f for f in files if f.kind == "parquet"]
    if csv_files and parquet_files:
        raise UserError("give CSV or Parquet inputs, not both in one run")
    source = _csv(spark, csv_files, warehouse, owner, scans) if csv_files else _parquet(spark, parquet_files)
    source.notes += [f"not read: {s}" for s in skipped]
    return source


# ---------------------------------------------------------------- CSV


def csv_scans(spark: SparkSession, files: list[InputFile], scans: Future | None) -> tuple[dict[str, FileScan], int]:
    """The driver's scans of the files (started before Spark, when the caller could), counted for
    the split size this read uses; remote files are counted by Spark. Returns them and that size."""
    local = [f for f in files if fs.is_local(f.path)]
    total = sum(os.path.getsize(f.path) for f in local) + sum(fs.HadoopFS(spark, f.path).length(f.path) for f in files if f not in local)
    size = split_size(byte_size(spark.conf.get(SPLIT_BYTES)), total)
    done = scans.result() if scans is not None else {}
    out = {}
    for f in local:
        got = done.get(f.path)
        out[f.path] = got if got is not None and got.split_bytes == size else scan_local(f.path, size)
    remote = [f for f in files if f not in local]
    if remote:
        with reading_splits(spark, size):
            out.update(scan_remote(spark, remote, size))
    return out, size


def read_csv_lines(spark: SparkSession, files: list[InputFile], scans: dict[str, FileScan], columns, keep_line: bool):
    layouts = {f.path: layout_of(f.path, scans[f.path].first_line) for f in files}
    spans = {f.index: record_spans(f, scans[f.path], layouts[f.path]) for f in files}
    if sum(len(s) for s in spans.values()) > MAX_JOINED_RECORDS:  # each line read on its own (quarantined if unbalanced), and said
        for f in files:
            if spans[f.index]:
                said = f"{len(spans[f.index])} records with a quoted line break, beyond the {MAX_JOINED_RECORDS:,} a read joins: their lines read one by one"
                layouts[f.path] = replace(layouts[f.path], note="; ".join(n for n in (layouts[f.path].note, said) if n))
        spans = {}
    return csv_lines(spark, files, scans, layouts, columns, keep_line, spans), layouts


def reconciled(files: list[InputFile], scans: dict[str, FileScan], layouts: dict[str, Layout], lines: DataFrame) -> list[FileCounts]:
    return reconcile(
        files,
        physical={f.path: scans[f.path].lines for f in files},
        headers={f.path: int(layouts[f.path].header) for f in files},
        checksums={f.path: scans[f.path].checksum for f in files},
        tally=line_tally(lines),
    )


def _csv(spark: SparkSession, files: list[InputFile], warehouse: Warehouse, owner: str, scans: Future | None) -> Source:
    scanned, size = csv_scans(spark, files, scans)
    for f in files:  # a run without one of its files would decide its people on part of their history
        if why := scanned[f.path].unreadable():
            raise UserError(f"{f.path}: {why}")
    lines, layouts = read_csv_lines(spark, files, scanned, DECIDE_COLUMNS, keep_line=True)
    staged = fs.spark_unescaped(warehouse.work_path(owner, "lines"))
    with reading_splits(spark, size):  # the one read of the text; scratch data, so the cheapest codec,
        # and no dictionary attempt on the line text (nearly every line differs)
        lines.write.mode("overwrite").option("compression", "lz4_raw").option("parquet.enable.dictionary#line", "false").parquet(staged)
    lines = spark.read.parquet(staged)
    counts = reconciled(files, scanned, layouts, lines)
    short = [f.index for f in files if layouts[f.path].fields != N_COLUMNS]

    def wide(decided: DataFrame) -> DataFrame:
        rows = accepted(lines).select(HISTORY_KEY, *POSITION_COLUMNS, "line")
        # the line text crosses the shuffle, not its 95 parsed fields (less than half the bytes)
        joined = by_county(rows.join(decided, person_key(rows[HISTORY_KEY]) == decided["subject_id"], "inner").select("county", *POSITION_COLUMNS, "line"))
        fields = F.when(F.col("file_index").isin(*short), F.lit(N_COLUMNS - 1)).otherwise(F.lit(N_COLUMNS)) if short else F.lit(N_COLUMNS)
        parsed = joined.select("county", *POSITION_COLUMNS, parse_line(F.col("line"), fields).alias("f"))
        return parsed.select("county", *[F.col(f"f.{c}").alias(c) for c in DOJ_COLUMNS], *POSITION_COLUMNS)

    notes = [f"{c.file}: {layouts[c.file].note}" for c in counts if layouts[c.file].note] + empty_file_notes(counts)
    return _from_counts(counts, accepted(lines).select(*DECIDE_COLUMNS, *POSITION_COLUMNS), wide, quarantined(lines), notes)


def _from_counts(counts: list[FileCounts], decide_rows, wide, quarantine, notes) -> Source:
    q = sum(c.quarantined for c in counts)
    return Source([c.as_dict() for c in counts], sum(c.accepted for c in counts), q, decide_rows, wide,
                  quarantine if q else None, notes)


# ---------------------------------------------------------------- Parquet


def _parquet(spark: SparkSession, files: list[InputFile]) -> Source:
    lines = parquet_rows(spark, files, DECIDE_COLUMNS)
    physical = parquet_row_counts(spark, files)
    counts = reconcile(files, physical, {}, {f.path: sha256_or_fs_checksum(spark, f.path) for f in files}, line_tally(lines))

    def wide(decided: DataFrame) -> DataFrame:
        rows = accepted(parquet_rows(spark, files, DOJ_COLUMNS))
        joined = rows.join(decided, person_key(rows[HISTORY_KEY]) == decided["subject_id"], "inner")
        return by_county(joined.select("county", *DOJ_COLUMNS, *POSITION_COLUMNS))

    return _from_counts(counts, accepted(lines).select(*DECIDE_COLUMNS, *POSITION_COLUMNS), wide, quarantined(lines), [])


def sha256_or_fs_checksum(spark: SparkSession, path: str) -> str:
    local = fs.local_path(path)
    if local is not None:
        return sha256_file(str(local))
    return fs.HadoopFS(spark, path).checksum(path) or "unavailable"


# ---------------------------------------------------------------- an ingested raw table


def wide_of(rows: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """`Source.wide` over rows that hold the 95 columns and position."""
    def wide(decided: DataFrame) -> DataFrame:
        joined = rows.join(decided, person_key(rows[HISTORY_KEY]) == decided["subject_id"], "inner")
        return by_county(joined.select("county", *DOJ_COLUMNS, *POSITION_COLUMNS))
    return wide


def _raw_table(spark: SparkSession, path: str, at: dict | None = None) -> Source:
    """The raw table as its last recorded ingest left it (a half-finished ingest is never read),
    or `at` the ingest and version given."""
    parent = Warehouse(fs.parent(path))
    if at is None:
        ingest = parent.latest_ingest(spark)
        if ingest is None:
            raise UserError(f"{path}: no ingest is recorded for this raw table (its warehouse has no ingests table)")
        version = parent.version_for(spark, "raw", ingest)  # what the ingest left, less anyone purged since
    else:
        ingest = parent.record_by_id(spark, "ingests", at["ingest_id"])
        if ingest is None:
            raise UserError(f"{path}: ingest {at['ingest_id']} is no longer recorded for this raw table")
        version = int(at["version"])
    table = spark.read.format("delta").option("versionAsOf", version).load(fs.spark_unescaped(path))
    rows = accepted(table)
    input_rows = int(ingest["raw_accepted"]) if version == ingest["versions"]["raw"] else rows.count()

    files = json.loads(ingest["raw_inputs"])
    described = [{"table": path, "version": version, "ingest_id": ingest["ingest_id"], "files": files}]
    return Source(described, input_rows, 0, rows.select(*DECIDE_COLUMNS, *POSITION_COLUMNS), wide_of(rows),
                  notes=[f"raw table as its ingests left it ({len(files)} file(s), last {ingest['ingest_id']}): "
                         f"{ingest['raw_quarantined']} lines were quarantined at ingest (table quarantine)"],
                  full_rows=rows.select(*DOJ_COLUMNS, *POSITION_COLUMNS))
