"""Decide Prop 64 eligibility for every in-scope conviction of the state (or the counties named)
in one Spark job, and write each county's determinations, people and history as its own
versioned Delta tables, with statewide figures and a runs table that records how to reproduce it."""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (ArrayType, DateType, MapType, LongType, StringType, StructField,
                               StructType, TimestampType)

from clearsweep import __version__, codes
from clearsweep.delta_io import county_slug, is_delta, table_path, write_delta
from clearsweep.engine import determinations, persons
from clearsweep.errors import UserError
from clearsweep.extract import Extract, accepted_rows, quarantined_lines, read_extract, resolve_inputs
from clearsweep.figures import STATEWIDE, county_figures, people_impact
from clearsweep.history import possible_other_p64
from clearsweep.policies import load_policy_map, resolve_counties
from clearsweep.reconcile import checksums, reconcile
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.session import add_session_arguments, get_spark
from jobs.ingest import new_id

COUNTY_TABLES = ("determinations", "people", "history")
WRITERS = 12  # concurrent Delta commits: each county's tables are independent, commits are mostly driver-side waits

RUNS_SCHEMA = StructType([
    StructField("run_id", StringType()), StructField("as_of", DateType()), StructField("finished_at", TimestampType()),
    StructField("policy_source", StringType()), StructField("policy_map", StringType()), StructField("policy_hash", StringType()),
    StructField("counties", ArrayType(StringType())), StructField("delta_versions", MapType(StringType(), LongType())),
    StructField("inputs", StringType()), StructField("input_rows", LongType()), StructField("quarantined_rows", LongType()),
    StructField("code_version", StringType()), StructField("reference_version", StringType()),
])


def add_arguments(parser) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH", help="DOJ files/folders, or an ingested raw Delta table")
    parser.add_argument("--warehouse", required=True, metavar="DIR")
    parser.add_argument("--as-of", type=_as_of, default=None, metavar="YYYY-MM-DD", help="date every rule is judged against (default: today, recorded)")
    parser.add_argument("--county", action="append", default=None, metavar="NAME", help="decide only this county (repeatable)")
    parser.add_argument("--policy", default=None, help="statutory | la-2020 | dismiss-all | dismiss-all-related | policy-map YAML | options JSON")
    add_session_arguments(parser)


def _as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of must be YYYY-MM-DD, got {value!r}") from None


def _read_input(spark: SparkSession, paths: list[str], warehouse: str, run_id: str) -> tuple[DataFrame, list[dict], int, int]:
    """Rows to decide, a description of the inputs, rows accepted and lines quarantined."""
    if len(paths) == 1 and is_delta(paths[0]):
        version = spark.sql(f"DESCRIBE HISTORY delta.`{paths[0]}` LIMIT 1").first()["version"]
        table = spark.read.format("delta").option("versionAsOf", version).load(paths[0])  # pinned: recorded below
        rows = table.select(*DOJ_COLUMNS, "source_file", "file_index", "line_no")
        return rows, [{"table": paths[0], "version": version}], rows.count(), 0
    inputs = resolve_inputs(paths)
    digests = checksums([f.path for f in inputs])
    extract: Extract = read_extract(spark, inputs)
    lines = extract.lines.persist(StorageLevel.MEMORY_AND_DISK)  # parsed once for counting and deciding
    counts = reconcile(extract, lines, digests)
    quarantined = sum(c.quarantined for c in counts)
    if quarantined:
        write_delta(quarantined_lines(lines).withColumn("run_id", F.lit(run_id)), table_path(warehouse, "run_quarantine"), mode="append", user_metadata=run_id)
    return accepted_rows(lines), [c.as_dict() for c in counts], sum(c.accepted for c in counts), quarantined


def _history(rows: DataFrame, dets: DataFrame) -> DataFrame:
    """Every input row of each person decided in a county, tagged with that county."""
    decided_people = F.broadcast(dets.select("county", "subject_id").distinct())  # people, not rows: the wide rows stay put
    return rows.join(decided_people, rows["SUBJECT_ID"] == decided_people["subject_id"], "inner").select(
        "county", *DOJ_COLUMNS, "source_file", "file_index", "line_no",
        (F.col("file_index").cast("long") * 10**12 + F.col("line_no")).alias("seq"),
        possible_other_p64(F.col("OFFENSE_DESCR"), F.col("COMMENT_TEXT")).alias("possible_other_p64"),
    )


def _by_county(df: DataFrame) -> DataFrame:
    return df.repartition(F.col("county")).localCheckpoint(eager=True)


def _write_counties(frames: dict[str, DataFrame], counties: list[str], warehouse: str, run_id: str) -> dict[str, int]:
    jobs = [(c, name) for c in counties for name in COUNTY_TABLES]

    def write(job):
        county, name = job
        path = table_path(warehouse, "counties", county_slug(county), name)
        one_file = frames[name].where(F.col("county") == county).coalesce(1)  # one task per write
        return f"{county_slug(county)}/{name}", write_delta(one_file, path, user_metadata=run_id)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return dict(pool.map(write, jobs))


def run_job(spark: SparkSession, inputs: list[str], warehouse: str, as_of: dt.date, counties: list[str] | None = None,
            policy: str | None = None) -> dict:
    started = time.time()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = round(time.time() - started - sum(phases.values()), 1)

    run_counties = resolve_counties(counties)
    policy_map = load_policy_map(policy, run_counties)  # validated before any Spark work
    run_id = new_id("run")
    rows, input_info, line_count, quarantined = _read_input(spark, inputs, warehouse, run_id)
    lap("read_and_reconcile")

    people = persons(spark, rows, as_of)
    # Materialised once with their lineage cut: every later aggregation and per-county write
    # reads them instead of re-planning and re-running the whole history pipeline.
    # Clustered by county, so each county's write reads one partition and writes one file.
    dets = _by_county(determinations(people, policy_map).withColumn("run_id", F.lit(run_id)))
    impact = _by_county(people_impact(dets))
    history = _by_county(_history(rows, dets).withColumn("run_id", F.lit(run_id)))
    lap("decide")
    figures = county_figures(dets, impact, policy_map, line_count)
    lap("figures")

    versions = _write_counties({"determinations": dets, "people": impact, "history": history}, run_counties, warehouse, run_id)
    lap("county_tables")
    _append_figures(spark, warehouse, run_id, as_of, figures)
    record = {
        "run_id": run_id, "as_of": as_of, "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        "policy_source": policy_map.source, "policy_map": policy_map.as_json(), "policy_hash": policy_map.hash(),
        "counties": run_counties, "delta_versions": versions, "inputs": json.dumps(input_info, default=str),
        "input_rows": line_count, "quarantined_rows": quarantined, "code_version": __version__,
        "reference_version": codes.reference_version(),
    }
    write_delta(spark.createDataFrame([record], RUNS_SCHEMA), table_path(warehouse, "runs"), mode="append", user_metadata=run_id)
    for df in (dets, impact, history, rows):
        df.unpersist()  # drops the checkpointed blocks too
    lap("figures_and_runs_tables")
    return {**record, "figures": figures, "seconds": round(time.time() - started, 1), "phases": phases}


def _append_figures(spark: SparkSession, warehouse: str, run_id: str, as_of: dt.date, figures: dict) -> None:
    rows = [(run_id, as_of, county, json.dumps(f["summary"]), json.dumps(f["extended"])) for county, f in sorted(figures.items())]
    df = spark.createDataFrame(rows, "run_id string, as_of date, county string, summary_json string, extended_json string")
    write_delta(df, table_path(warehouse, "figures"), mode="append", user_metadata=run_id)


def print_summary(result: dict) -> None:
    s = result["figures"][STATEWIDE]["summary"]
    decided = s["prop64FelonyConvictionsCountInCounty"] + s["prop64NonFelonyConvictionsCountInCounty"]
    print(f"run {result['run_id']}: as-of {result['as_of']}, policy {result['policy_source']} ({result['policy_hash']}), {result['seconds']} s")
    print(f"  input rows {result['input_rows']}, quarantined {result['quarantined_rows']}")
    print("  seconds by phase: " + ", ".join(f"{k} {v}" for k, v in result["phases"].items()))
    print(f"  Prop 64 convictions decided: {decided} for {s['subjectsWithProp64ConvictionCountInCounty']} people; "
          f"{s['subjectsWithSomeReliefCount']} people get some relief; "
          f"no felony left: {s['reliefWithCurrentEligibilityChoices']['CountSubjectsNoFelony']}, "
          f"no conviction left: {s['reliefWithCurrentEligibilityChoices']['CountSubjectsNoConviction']}")
    busiest = sorted(((c, f["summary"]) for c, f in result["figures"].items() if c != STATEWIDE),
                     key=lambda cf: -(cf[1]["prop64FelonyConvictionsCountInCounty"] + cf[1]["prop64NonFelonyConvictionsCountInCounty"]))
    counties_with = sum(1 for _, f in busiest if f["subjectsWithProp64ConvictionCountInCounty"])
    print(f"  counties with decisions: {counties_with} of {len(busiest)}; Delta tables written: {len(result['delta_versions'])}")
    for county, f in busiest[:5]:
        n = f["prop64FelonyConvictionsCountInCounty"] + f["prop64NonFelonyConvictionsCountInCounty"]
        print(f"    {county}: {n} convictions, {f['subjectsWithSomeReliefCount']} people relieved")


def main(args) -> int:
    as_of = args.as_of or dt.date.today()  # the wall clock is read once, here, and recorded
    load_policy_map(args.policy, resolve_counties(args.county))  # configuration errors before Spark starts
    if not (len(args.input) == 1 and is_delta(args.input[0])):
        resolve_inputs(args.input)  # a missing or unreadable file, named, before Spark starts
    spark = get_spark(args.profile, args.conf, app_name="clearsweep-run")
    result = run_job(spark, args.input, args.warehouse, as_of, args.county, args.policy)
    print_summary(result)
    return 0
