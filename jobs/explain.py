"""Explain one person's determinations: their statewide history as the run saw it, then for each
decided conviction its county's rules in order (passed, fired, not reached) with the facts each
read, and the determination, reason and statute, checked against what the run stored (exit 1 if
they differ). Reads the latest run of each county, or the run named (Delta time travel), and says
which versions it read. No names, dates of birth or identifying numbers are printed."""

from __future__ import annotations

import json
import sys

from clearsweep.audit.explain import explain, render_text, subject_key
from clearsweep.errors import UserError
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.session import add_session_arguments, get_spark


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")
    parser.add_argument("--subject", required=True, metavar="ID", help="the person's SUBJECT_ID")
    parser.add_argument("--run", default=None, metavar="RUN_ID", help="explain this recorded run (its versions and counties) instead of the latest")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (the person, each conviction, and each rule with the facts it read)")
    add_session_arguments(parser)


def main(args) -> int:
    subject_key(args.subject)  # before starting Spark
    local = Warehouse(args.warehouse).local
    if local is not None and not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-explain", warehouse=args.warehouse)
    result = explain(spark, args.warehouse, args.subject, args.run)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(render_text(result))
    if result["mismatches"]:
        print(f"clearsweep explain: the re-evaluation of subject {result['subject_id']} disagrees with what the run stored "
              f"({len(result['mismatches'])} difference(s), listed on stdout): were the charge-code tables or the code changed?",
              file=sys.stderr)
        return 1
    return 0
