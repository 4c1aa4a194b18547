"""What changed between two recorded runs: convictions added, removed and
changed, with before/after determination and reason and a cause for each, totals per county and
per cause. Each run is read at the table versions it recorded (said in the output)."""

from __future__ import annotations

import json
import sys

from clearsweep import counties as county_list
from clearsweep.audit.diff import CHANGES, diff_runs
from clearsweep.errors import UserError
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.session import add_session_arguments, get_spark


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR")
    parser.add_argument("--from", dest="from_run", required=True, metavar="RUN_ID", help="the earlier run")
    parser.add_argument("--to", dest="to_run", required=True, metavar="RUN_ID", help="the later run")
    parser.add_argument("--county", default=None, metavar="NAME", help="only this county (both runs must have decided it)")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="list at most N changes (default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_session_arguments(parser)


def _counts(t: dict) -> str:
    causes = ", ".join(f"{c} {n}" for c, n in t["by_cause"].items())
    return ", ".join(f"{k} {t[k]}" for k in (*CHANGES, "unchanged")) + (f" ({causes})" if causes else "")


def _side(name: str, s: dict) -> str:
    versions = ", ".join(f"{t} v{v}" for t, v in s["versions_read"].items())
    return (f"  {name} {s['run_id']}: as-of {s['as_of']}, policy {s['policy_source']} ({s['policy_hash']}), "
            f"code {s['code_version']}, reference tables {s['reference_version']}; read {versions}")


def _outcome(o: dict | None) -> str:
    return "-" if o is None else f"{o['determination']} ({o['reason']})"


def print_report(report: dict) -> None:
    print(f"diff {report['from']['run_id']} -> {report['to']['run_id']}")
    print(_side("from", report["from"]))
    print(_side("to", report["to"]))
    if report["policy_changed"]:
        print("  policy changed for: " + ", ".join(report["policy_changed"]))
    print(f"  total: {_counts(report['totals'])}")
    for county, t in report["counties"].items():
        print(f"    {county}: {_counts(t)}")
    if report["changes"]:
        print("changes (county, subject, count order, section, disposition date: before -> after [cause]):")
    for c in report["changes"]:
        print(f"  {c['county']} {c['subject_id']} {c['cnt_order']} {c['section'] or '-'} {c['disposition_date'] or '-'}: "
              f"{c['change']} {_outcome(c['before'])} -> {_outcome(c['after'])} [{c['cause']}]")
    if report["more"]:
        print(f"  and {report['more']} more")


def main(args) -> int:
    county = county_list.normalize(args.county, "--county") if args.county else None
    local = Warehouse(args.warehouse).local
    if local is not None and not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-diff", warehouse=args.warehouse)
    report = diff_runs(spark, args.warehouse, args.from_run, args.to_run, county, args.limit)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print_report(report)
    return 0
