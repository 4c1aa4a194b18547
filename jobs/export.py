"""`clearsweep export`: the command line of one county's export (its arguments, the report it
prints, its exit code). What is read and written lives in clearsweep.exports."""

from __future__ import annotations

import sys

from clearsweep import counties as county_list
from clearsweep.errors import UserError
from clearsweep.exports.county import export_county
from clearsweep.exports.motion import EXHIBIT_CSV, REVIEW_CSV
from clearsweep.exports.reference import ALL_FILE, CONDENSED_FILE, PROP64_FILE, SUMMARY_FILE
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.session import add_session_arguments, get_spark


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")
    parser.add_argument("--county", required=True, metavar="NAME", help="DOJ county name, e.g. 'LOS ANGELES'")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the county's files into (created)")
    parser.add_argument("--run", default=None, metavar="RUN_ID", help="export this recorded run (Delta time travel) instead of the latest")
    add_session_arguments(parser)


def print_report(result: dict) -> None:
    r = result["rows"]
    read = ", ".join(f"{t} v{v}" for t, v in result["versions"].items())
    print(f"export {result['county']} from run {result['run_id']} (policy {result['policy']}; versions read: {read})")
    print(f"  {result['decided']} decided convictions; rows written: {PROP64_FILE} {r[PROP64_FILE]}, "
          f"{ALL_FILE} {r[ALL_FILE]}, {CONDENSED_FILE} {r[CONDENSED_FILE]}")
    by = ", ".join(f"{d} {n}" for d, n in result["motion"]["by_determination"].items())
    print(f"  motion exhibit: {EXHIBIT_CSV} {r[EXHIBIT_CSV]} (and .html), {REVIEW_CSV} {r[REVIEW_CSV]} ({by}); "
          f"tied out to the {result['motion']['tied_out']}")
    print(f"  written to {result['out']} in {result['seconds']}s")


def main(args) -> int:
    county = county_list.normalize(args.county)  # before starting Spark
    local = Warehouse(args.warehouse).local
    if local is not None and not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-export", warehouse=args.warehouse)
    result = export_county(spark, args.warehouse, county, args.out, args.run)
    print_report(result)
    if result["impact_report"] != "written":
        print(f"  warning: impact_report.html {result['impact_report']}", file=sys.stderr)
    if not result["summary_written"]:
        print(f"  warning: no figures recorded for run {result['run_id']} and {result['county']}: {SUMMARY_FILE} not written, "
              "the motion exhibit tied out to the determinations only",
              file=sys.stderr)
        return 1
    return 0
