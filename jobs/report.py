"""Write the impact report of a county, or of a run's total: one self-contained HTML file
(impact_report.html) with the headline figures, the three scenarios, code sections, decades,
relief by race, human-review reasons and data quality, made only from the figures a recorded run
wrote (the latest that decided the county, or the run named), never from people's rows."""

from __future__ import annotations

from clearsweep import counties as county_list
from clearsweep.errors import UserError
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.reports.impact import impact_report
from clearsweep.session import add_session_arguments, get_spark


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")
    parser.add_argument("--county", default=None, metavar="NAME", help="a county's report (default: the run's total)")
    parser.add_argument("--run", default=None, metavar="RUN_ID", help="this recorded run (default: the latest that decided the county)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write impact_report.html into (created)")
    add_session_arguments(parser)


def main(args) -> int:
    county = county_list.normalize(args.county) if args.county else None  # before starting Spark
    local = Warehouse(args.warehouse).local
    if local is not None and not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-report", warehouse=args.warehouse)
    written = impact_report(spark, args.warehouse, args.out, county, args.run)
    read = ", ".join(f"{table} version {v}" for table, v in written.versions.items())
    print(f"impact report for {written.label} from run {written.run_id} (read {read}): {written.path}")
    return 0
