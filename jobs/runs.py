"""List the recorded runs of a warehouse, oldest first: when, as-of date, policy, inputs, the
counties decided and the table versions holding their results. With --county, that county's own
history of results (every run that decided it)."""

from __future__ import annotations

import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clearsweep.errors import UserError
from clearsweep import counties as county_list
from clearsweep.session import add_session_arguments, get_spark
from clearsweep.outputs.figures import TOTAL_KEYS, headline
from clearsweep.outputs.warehouse import Warehouse


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR")
    parser.add_argument("--county", default=None, metavar="NAME", help="only the runs that decided this county")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_session_arguments(parser)


def list_runs(spark: SparkSession, warehouse: str, county: str | None = None) -> list[dict]:
    runs = Warehouse(warehouse).runs(spark)
    if runs is None:
        return []
    if county is not None:
        runs = runs.where(F.array_contains("counties", county))
    wh = Warehouse(warehouse)
    totals = {f["run_id"]: headline(json.loads(f["extended_json"])) for f in wh.read(spark, "figures").where(
        F.col("county").isin(*TOTAL_KEYS)).select("run_id", "extended_json").collect()} if wh.has_table("figures", spark) else {}
    out = []
    for r in runs.orderBy("finished_at", "run_id").collect():
        inputs = json.loads(r["inputs"] or "[]")
        out.append({
            "run_id": r["run_id"], "started_at": f"{r['started_at']:%Y-%m-%dT%H:%M:%SZ}",
            "finished_at": f"{r['finished_at']:%Y-%m-%dT%H:%M:%SZ}", "as_of": r["as_of"].isoformat(),
            "policy": {"source": r["policy_source"], "hash": r["policy_hash"]},
            "inputs": inputs, "input_rows": r["input_rows"], "quarantined_rows": r["quarantined_rows"],
            "counties": list(r["counties"]), "versions": dict(sorted(r["versions"].items())),
            "code_version": r["code_version"], "reference_version": r["reference_version"],
            # runs recorded before these were kept have none
            "spark_master": r.asDict().get("spark_master"), "application_id": r.asDict().get("application_id"),
            "headline": totals.get(r["run_id"]),
            # full, or incremental (run --since): its base run and the people decided again per reason
            "kind": r.asDict().get("kind") or "full", "base_run_id": r.asDict().get("base_run_id"),
            "redecided": json.loads(r.asDict().get("redecided") or "null"),
        })
    return out


def print_runs(runs: list[dict], county: str | None) -> None:
    if not runs:
        print("no runs recorded" + (f" for {county}" if county else ""))
        return
    for r in runs:
        scope = county if county else (f"{len(r['counties'])} counties" if len(r["counties"]) > 3 else ", ".join(r["counties"]))
        files = sum(len(i.get("files", [i])) for i in r["inputs"])
        print(f"{r['run_id']}  finished {r['finished_at']}  as-of {r['as_of']}  policy {r['policy']['hash']}  "
              f"{scope}  {r['input_rows']} rows from {files} input(s)")
        h = r["headline"]
        if h:
            print(f"    {h['covers']}: {h['prop64ConvictionsDecided']:,} Prop 64 convictions decided, {h['convictionsDismissed']:,} dismissed, "
                  f"{h['convictionsReduced']:,} reduced; {h['peopleRelieved']:,} people relieved, {h['peopleWithNoFelony']:,} left with no "
                  f"felony, {h['peopleWithNoConviction']:,} with no conviction")
        if r["kind"] == "incremental":
            n = r["redecided"] or {}
            print(f"    incremental since {r['base_run_id']}: decided again {n.get('rows', 0):,} whose rows changed, "
                  f"{n.get('time', 0):,} by time alone, {n.get('policy', 0):,} under a changed policy; {n.get('removed', 0):,} removed")
        print("    versions: " + ", ".join(f"{t} v{v}" for t, v in r["versions"].items()))
        if r["spark_master"]:
            print(f"    ran on {r['spark_master']} as {r['application_id']}")


def main(args) -> int:
    county = county_list.normalize(args.county) if args.county else None
    local = Warehouse(args.warehouse).local
    if local is not None and not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-runs", warehouse=args.warehouse)
    runs = list_runs(spark, args.warehouse, county)
    if args.json:
        json.dump({"warehouse": args.warehouse, "county": county, "runs": runs}, sys.stdout, indent=2)
        print()
    else:
        print_runs(runs, county)
    return 0
