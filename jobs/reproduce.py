"""`clearsweep run --reproduce RUN_ID`: rerun a recorded run from its recorded inputs, policy,
as-of date and counties (the warehouse's tables are only read) and say, per county, whether the
results are identical (exit 0) or differ (exit 1)."""

from __future__ import annotations

import json

from clearsweep.audit.reproduce import reproduce
from clearsweep.errors import UserError
from clearsweep.outputs.warehouse import Warehouse, new_id
from clearsweep.progress import Progress
from clearsweep.session import get_spark


def print_reproduced(r: dict) -> None:
    differ = [c for c, v in r["counties"].items() if not v["identical"]]
    verdict = "identical" if not differ else f"DIFFERS in {len(differ)} of {len(r['counties'])} counties"
    read = ", ".join(f"{t} v{v}" for t, v in r["versions_read"].items())
    print(f"reproduce {r['run_id']}: {verdict} (as-of {r['as_of']}, policy {r['policy_hash']}; read {read}; "
          f"{len(r['inputs_verified'])} input(s) verified)")
    for note in r["notes"]:
        print(f"  {note}")
    for county, v in r["counties"].items():
        if v["identical"]:
            print(f"  {county}: identical, checksum {v['original']}")
            continue
        print(f"  {county}: differs, checksum {v['original']} then, {v['rerun']} now: "
              f"{v['added']} added, {v['removed']} removed, {v['changed']} changed")
        for k in v["first"]:
            print(f"    {k['change']} {k['subject_id']} {k['cnt_order']}" + (f" ({', '.join(k['columns'])})" if "columns" in k else ""))


def main_reproduce(args) -> int:
    if args.input or args.as_of or args.county or args.policy or args.export or getattr(args, "since", None):
        raise UserError("--reproduce reads the inputs, policy, as-of date and counties the run recorded: give only --warehouse")
    local = Warehouse(args.warehouse).local
    if local is not None and not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    work_id = new_id("reproduce")
    start = lambda: get_spark(args.profile, args.conf, app_name="clearsweep-reproduce", warehouse=args.warehouse)  # noqa: E731
    with Progress(enabled=not args.quiet) as progress, Warehouse(args.warehouse).locked_session(work_id, args.wait, start) as spark:
        result = reproduce(spark, args.warehouse, args.reproduce, work_id=work_id, locked=True, progress=progress)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_reproduced(result)
    return 0 if result["identical"] else 1
