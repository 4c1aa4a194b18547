"""Write the district attorneys' packets from a recorded run: for each county, the files the
reference tool wrote (Prop64_Results.csv, All_Results.csv, All_Results_Condensed.csv,
summary.json), the motion exhibit (motion_exhibit.csv, printable motion_exhibit.html,
review_list.csv), impact_report.html and manifest.json (each file's SHA-256, size and rows).

Reads the warehouse's determinations, history and figures as the run wrote them: the latest run
(that decided the counties named), or the run named with --run.

Without --county, or with it repeated: every county the run decided (or those named), each in
DIR/<county>/, all in one Spark job, then DIR/DELIVERY.json last (the run, the table versions
read, each county's manifest hash and row counts). A county folder appears whole or not at all;
a county already delivered from the same run is kept, so running again after an interruption
finishes the job. With one --county: that county's files straight into DIR, as before.

A county whose exhibit counts differ from the run's figures is not written: it is named, and the
command exits 1.

With --since RUN_ID: the monthly supplement instead, into DIR/<county>/ for every county both
runs decided (or those named): monthly_supplement.csv (and .html, printable) lists only the convictions whose outcome
is new or changed since that run, with the motion exhibit's columns, the change (and the earlier
determination and reason) and its cause as `clearsweep diff` names it; manifest.json counts the
new, changed and removed convictions (removed ones are counted, not listed). A county whose
counts differ from `diff`'s is not written: it is named, and the command exits 1."""

from __future__ import annotations

import sys

from clearsweep import counties as county_list
from clearsweep.errors import UserError
from clearsweep.exports.county import export_county
from clearsweep.exports.delivery import deliver
from clearsweep.exports.motion import EXHIBIT_CSV, REVIEW_CSV
from clearsweep.exports.supplement import SUPPLEMENT_CSV, deliver_supplement
from clearsweep.exports.reference import ALL_FILE, CONDENSED_FILE, PROP64_FILE, SUMMARY_FILE
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.progress import Progress
from clearsweep.reports.wording import count_of
from clearsweep.session import add_session_arguments, get_spark


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")
    parser.add_argument("--county", action="append", default=None, metavar="NAME",
                        help="DOJ county name, e.g. 'LOS ANGELES' (repeatable; default: every county the run decided)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the packets into (created)")
    parser.add_argument("--run", default=None, metavar="RUN_ID", help="this recorded run instead of the latest")
    parser.add_argument("--since", default=None, metavar="RUN_ID",
                        help="only what changed since this earlier run: the monthly supplement (new and changed convictions, "
                             "with why), not the full packets")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
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


def _warnings(result: dict) -> int:
    """What a county's packet lacks, on stderr; 1 when it has no summary (no figures recorded)."""
    if result["impact_report"] != "written":
        print(f"  warning: {result['county']}: impact_report.html {result['impact_report']}", file=sys.stderr)
    if not result["summary_written"]:
        print(f"  warning: no figures recorded for run {result['run_id']} and {result['county']}: {SUMMARY_FILE} not written, "
              "the motion exhibit tied out to the determinations only", file=sys.stderr)
        return 1
    return 0


def print_delivery(result: dict) -> int:
    read = ", ".join(f"{t} v{v}" for t, v in result["versions"].items())
    counties = result["counties"]
    print(f"delivery of run {result['run_id']} (versions read: {read}) into {result['out']}: "
          f"{count_of(len(counties), 'county packet')} written"
          + (f", {len(result['kept'])} already delivered from this run and kept" if result["kept"] else "")
          + f" in {result['seconds']}s")
    for county, r in counties.items():
        rows = r["rows"]
        print(f"  {county}: {r['decided']} decided convictions, {rows[EXHIBIT_CSV]} on the motion exhibit, "
              f"{rows[REVIEW_CSV]} to review; tied out to the {r['motion']['tied_out']}")
    code = max([_warnings(r) for r in counties.values()], default=0)
    return _refused(result["refused"], "county packet(s)") or code


def _refused(refused: dict, what: str) -> int:
    """The counties not written, each with why, on stderr: 1 when there is one."""
    for county, why in refused.items():
        print(f"clearsweep export: {county} not written: {why}", file=sys.stderr)
    if refused:
        print(f"clearsweep export: {len(refused)} {what} not written ({', '.join(refused)}); DELIVERY.json not written", file=sys.stderr)
        return 1
    return 0


def print_supplement(result: dict) -> int:
    print(f"supplement of run {result['run_id']} since run {result['since']} into {result['out']}: "
          f"{count_of(len(result['counties']), 'county', 'counties')} written in {result['seconds']}s")
    for county, r in result["counties"].items():
        n = r["counts"]
        print(f"  {county}: {n['new']} new, {n['changed']} changed ({SUPPLEMENT_CSV}), {n['removed']} no longer in the answer")
    return _refused(result["refused"], "supplement(s)")


def main(args) -> int:
    counties = [county_list.normalize(c) for c in args.county] if args.county else None  # before starting Spark
    local = Warehouse(args.warehouse).local
    if local is not None and not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-export", warehouse=args.warehouse)
    with Progress(enabled=not args.quiet) as progress:
        progress.attach(spark)
        if args.since:
            return print_supplement(deliver_supplement(spark, args.warehouse, args.out, since=args.since, run_id=args.run,
                                                       counties=counties, progress=progress))
        if counties and len(counties) == 1:
            result = export_county(spark, args.warehouse, counties[0], args.out, args.run, progress=progress)
        else:
            delivered = deliver(spark, args.warehouse, args.out, counties, args.run, progress=progress)
    if counties and len(counties) == 1:
        print_report(result)
        return _warnings(result)
    return print_delivery(delivered)
