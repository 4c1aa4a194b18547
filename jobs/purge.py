"""Remove people (records sealed or corrected after the extract) from every table and every
retained version of a warehouse, record the purge, and verify no trace of them is left."""

from __future__ import annotations

from clearsweep.errors import UserError
from clearsweep.outputs.purge import purge
from clearsweep.outputs.warehouse import Warehouse, new_id
from clearsweep.session import add_session_arguments, get_spark


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR")
    parser.add_argument("--subject", nargs="+", required=True, metavar="ID", help="SUBJECT_ID of each person to remove")
    parser.add_argument("--reason", default="", help="why (recorded; e.g. 'sealed under PC 851.91'): no names")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for another command on the warehouse")
    add_session_arguments(parser)


def main(args) -> int:
    wh = Warehouse(args.warehouse)
    if wh.local is not None and not wh.local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    start = lambda: get_spark(args.profile, args.conf, app_name="clearsweep-purge", warehouse=args.warehouse)  # noqa: E731
    purge_id = new_id("purge")
    with wh.locked_session(purge_id, args.wait, start) as spark:
        result = purge(spark, args.warehouse, args.subject, args.reason, purge_id=purge_id)
    for line in result["recovered"]:
        print(f"  recovered: {line}")
    removed = ", ".join(f"{t} {n}" for t, n in sorted(result["removed"].items())) or "no table held them"
    print(f"purge {result['purge_id']}: {len(result['subjects'])} subject(s); rows removed: {removed}; "
          f"earlier versions vacuumed ({result['seconds']} s)")
    if result["traces"]:
        print(f"  NOT CLEAN: {len(result['traces'])} file(s) still name a purged subject, e.g. {result['traces'][0]}")
        return 1
    if result["scratch_removed"]:
        print(f"  removed the scratch folders of {len(result['scratch_removed'])} dead command(s)")
    print(f"  verified: {result['files_checked']} files under the warehouse read back, every byte and every "
          "Parquet value (logs included), no trace of the subjects")
    return 0
