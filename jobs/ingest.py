"""Load DOJ research files (CSV with or without header, .dat, or Parquet) into a typed raw Delta
table, with every unusable line in a quarantine Delta table; counts reconcile per file first."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import functions as F

from clearsweep import __version__
from clearsweep.delta_io import table_path, write_delta
from clearsweep.extract import accepted_rows, quarantined_lines, read_extract, resolve_inputs
from clearsweep.reconcile import checksums, reconcile
from clearsweep.session import add_session_arguments, get_spark


def add_arguments(parser) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH", help="DOJ files or folders of them")
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")
    add_session_arguments(parser)


def new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def ingest(spark, input_paths: list[str], warehouse: str) -> dict:
    started = time.time()
    inputs = resolve_inputs(input_paths)
    digests = checksums([f.path for f in inputs])
    extract = read_extract(spark, inputs)
    ingest_id = new_id("ingest")
    lines = extract.lines.persist(StorageLevel.MEMORY_AND_DISK)  # parsed once: counted, then written
    try:
        counts = reconcile(extract, lines, digests)
        tag = F.lit(ingest_id).alias("ingest_id")
        raw_version = write_delta(accepted_rows(lines).select("*", tag), table_path(warehouse, "raw"), user_metadata=ingest_id)
        q_version = write_delta(quarantined_lines(lines).select("*", tag), table_path(warehouse, "quarantine"), user_metadata=ingest_id)
    finally:
        lines.unpersist()
    manifest = {
        "ingest_id": ingest_id,
        "code_version": __version__,
        "files": [c.as_dict() for c in counts],
        "header_notes": extract.header_notes,
        "totals": {
            "physical_lines": sum(c.physical_lines for c in counts),
            "accepted": sum(c.accepted for c in counts),
            "quarantined": sum(c.quarantined for c in counts),
        },
        "delta_versions": {"raw": raw_version, "quarantine": q_version},
        "seconds": round(time.time() - started, 2),
    }
    manifests = Path(warehouse) / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (manifests / f"{ingest_id}.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def print_report(manifest: dict, quarantine_lines: list[tuple[str, int, str]]) -> None:
    t = manifest["totals"]
    print(f"ingest {manifest['ingest_id']}: {t['physical_lines']} lines read = {t['accepted']} accepted + {t['quarantined']} quarantined (+ headers); reconciled")
    for f in manifest["files"]:
        reasons = ", ".join(f"{k}={v}" for k, v in f["quarantined_by_reason"].items()) or "none"
        print(f"  {f['file']}: {f['physical_lines']} lines, {f['accepted']} accepted, {f['quarantined']} quarantined ({reasons})")
    for path, note in manifest["header_notes"].items():
        print(f"  {path}: {note}")
    for path, line_no, reason in quarantine_lines:
        print(f"  quarantined {Path(path).name} line {line_no}: {reason}")


def main(args) -> int:
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-ingest")
    manifest = ingest(spark, args.input, args.warehouse)
    shown = (
        spark.read.format("delta").load(table_path(args.warehouse, "quarantine"))
        .select("source_file", "line_no", "reason").orderBy("source_file", "line_no").limit(20).collect()
    )
    print_report(manifest, [(r["source_file"], r["line_no"], r["reason"]) for r in shown])
    return 0
