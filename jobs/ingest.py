"""Load DOJ research files (CSV with or without header, .dat, .gz, Parquet) into the warehouse's
`raw` table, every line once: accepted rows, and unusable lines with their reason (also kept in
`quarantine`). Prints each file's reconciled counts (lines = header + accepted + quarantined)
and the first quarantined lines."""

from __future__ import annotations

import json
import sys

from pyspark.sql import functions as F

from clearsweep import fs
from clearsweep.ingest.extract import resolve_inputs, start_scans
from clearsweep.ingest.load import ingest
from clearsweep.outputs.warehouse import Warehouse, new_id
from clearsweep.progress import Progress
from clearsweep.session import SPLIT_BYTES, add_session_arguments, byte_size, get_spark, session_conf


def add_arguments(parser) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH", help="DOJ files or folders of them")
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for another command on the warehouse")
    parser.add_argument("--append", action="store_true", help="add these files to the raw table instead of replacing it")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_session_arguments(parser)


def print_report(manifest: dict, quarantine_lines: list[tuple[str, int, str]], more: int) -> None:
    t = manifest["totals"]
    for line in manifest["recovered"]:
        print(f"  recovered: {line}")
    print(f"ingest {manifest['ingest_id']}: {t['physical_lines']} lines read = {t['accepted']} accepted + {t['quarantined']} quarantined (+ headers); reconciled")
    for f in manifest["files"]:
        reasons = ", ".join(f"{k}={v}" for k, v in f["quarantined_by_reason"].items()) or "none"
        joined = f", {f['continued']} continuing a quoted field of the record above" if f.get("continued") else ""
        print(f"  {f['file']}: {f['physical_lines']} lines, {f['accepted']} accepted, {f['quarantined']} quarantined ({reasons}){joined}")
    for note in manifest["notes"]:
        print(f"  {note}")
    for path, line_no, reason in quarantine_lines:
        print(f"  quarantined {fs.name(path)} line {line_no}: {reason}")
    if more:
        print(f"  ... and {more} more quarantined lines (table quarantine, load_id {manifest['ingest_id']})")
    if manifest["mode"] == "append":
        print(f"  appended to the raw table: version {manifest['versions']['raw']}, now {manifest['raw_accepted']} accepted rows "
              f"from {len(json.loads(manifest['raw_inputs']))} files")
    else:
        print(f"  raw table replaced: version {manifest['versions']['raw']} (earlier versions stay readable by time travel; "
              "--append adds to it instead)")


def main(args) -> int:
    master, conf = session_conf(args.profile, args.conf)
    scans = None
    if all(fs.is_local(p) for p in args.input):
        files, _ = resolve_inputs(args.input)  # missing files named before Spark starts
        scans = start_scans(files, byte_size(conf[SPLIT_BYTES]))
    wh = Warehouse(args.warehouse)
    ingest_id = new_id("ingest")
    start = lambda: get_spark(args.profile, args.conf, app_name="clearsweep-ingest", warehouse=args.warehouse)  # noqa: E731
    with Progress(enabled=not args.quiet) as progress, wh.locked_session(ingest_id, args.wait, start) as spark:
        manifest = ingest(spark, args.input, args.warehouse, ingest_id=ingest_id, scans=scans, locked=True,
                          progress=progress.attach(spark), append=args.append)
    shown, more = [], 0
    if manifest["totals"]["quarantined"]:
        q = wh.read(spark, "quarantine", manifest["versions"]["quarantine"]).where(F.col("load_id") == ingest_id)
        shown = [(r["source_file"], r["line_no"], r["reason"]) for r in
                 q.select("source_file", "line_no", "reason").orderBy("file_index", "line_no").limit(20).collect()]
        more = manifest["totals"]["quarantined"] - len(shown)
    print_report(manifest, shown, more)
    for refused in manifest["refused"]:  # after the report: the other files went in, this one did not
        print(f"clearsweep ingest: error: {refused} (not ingested; the other files were: add it with --append once converted)",
              file=sys.stderr)
    return 2 if manifest["refused"] else 0
