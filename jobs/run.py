"""Decide Prop 64 eligibility for every in-scope conviction of the state (or the counties named)
in one Spark job, and write the county-partitioned determinations, people and history tables
(one commit each, replacing only the counties decided), figures, and the run's row in `runs`,
which is what makes the run count. One run at a time per warehouse."""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__, codes, fs
from clearsweep.engine import candidates, determinations, persons
from clearsweep.errors import UserError
from clearsweep.extract import QUARANTINE_COLUMNS, resolve_inputs, start_scans
from clearsweep.figures import STATEWIDE, county_figures, people_impact
from clearsweep.frames import local_frame
from clearsweep.history import SEQ_FILE_FACTOR, possible_other_p64
from clearsweep.policies import PolicyMap, load_policy_map, resolve_counties
from clearsweep.progress import Progress
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.session import SPLIT_BYTES, add_session_arguments, byte_size, get_spark, session_conf
from clearsweep.sources import Source, is_table, open_source
from clearsweep.warehouse import COUNTY_TABLES, FIGURES_SCHEMA, Warehouse, by_county, new_id, utc_now


def add_arguments(parser) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH", help="DOJ files/folders, or an ingested raw Delta table")
    parser.add_argument("--warehouse", required=True, metavar="DIR")
    parser.add_argument("--as-of", type=_as_of, default=None, metavar="YYYY-MM-DD", help="date every rule is judged against (default: today, recorded)")
    parser.add_argument("--county", action="append", default=None, metavar="NAME", help="decide only this county (repeatable)")
    parser.add_argument("--policy", default=None, help="statutory | la-2020 | dismiss-all | dismiss-all-related | policy-map YAML | options JSON")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for another run on the warehouse to finish (default: stop at once)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_session_arguments(parser)


def _as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of must be YYYY-MM-DD, got {value!r}") from None


def history_rows(source: Source, dets: DataFrame, run_id: str) -> DataFrame:
    """Every input row of each person decided in a county, tagged with that county."""
    decided = dets.select("county", "subject_id").distinct()  # people, not rows: broadcast to the wide rows
    return source.history_rows(decided).select(
        "county", *DOJ_COLUMNS, "source_file", "file_index", "line_no",
        (F.col("file_index").cast("long") * SEQ_FILE_FACTOR + F.col("line_no")).alias("seq"),
        possible_other_p64(F.col("OFFENSE_DESCR"), F.col("COMMENT_TEXT")).alias("possible_other_p64"),
        F.lit(run_id).alias("run_id"),
    )


def figures_frame(spark: SparkSession, run_id: str, as_of: dt.date, figures: dict) -> DataFrame:
    rows = [{"run_id": run_id, "as_of": as_of, "county": county, "summary_json": json.dumps(f["summary"]),
             "extended_json": json.dumps(f["extended"])} for county, f in sorted(figures.items())]
    return local_frame(spark, rows, FIGURES_SCHEMA)


def _write_tables(spark: SparkSession, wh: Warehouse, run_id: str, counties: list[str], frames: dict) -> dict[str, int]:
    """One commit per table, the tables side by side: each commit is mostly driver-side waiting
    (log reads, file listing), so they overlap with each other's Spark jobs."""
    def write(table: str) -> int:
        df = frames[table]()
        if table in COUNTY_TABLES:
            return wh.replace_counties(spark, table, df, counties, run_id)
        return wh.append(spark, table, df, run_id)

    tables = [t for t, make in frames.items() if make is not None]
    with ThreadPoolExecutor(max_workers=len(tables), thread_name_prefix="clearsweep-write") as pool:
        return dict(zip(tables, pool.map(write, tables)))


def run_job(spark: SparkSession, inputs: list[str], warehouse: str, as_of: dt.date, counties: list[str] | None = None,
            policy: str | PolicyMap | None = None, *, run_id: str | None = None, scans=None, wait: float = 0,
            locked: bool = False, progress: Progress | None = None) -> dict:
    """The whole run under the warehouse lock (`locked`: the caller holds it already)."""
    run_counties = resolve_counties(counties)
    policy_map = policy if isinstance(policy, PolicyMap) else load_policy_map(policy, run_counties)
    run_id = run_id or new_id("run")
    wh = Warehouse(warehouse)
    progress = progress or Progress(enabled=False)
    if locked:
        return _run(spark, inputs, wh, as_of, run_counties, policy_map, run_id, scans, progress)
    with wh.lock(run_id, wait, spark):
        return _run(spark, inputs, wh, as_of, run_counties, policy_map, run_id, scans, progress)


def _run(spark, inputs, wh: Warehouse, as_of, run_counties, policy_map, run_id, scans, progress) -> dict:
    started_at, started = utc_now(), time.time()
    marks: list[tuple[str, float]] = []

    def phase(name: str) -> None:
        marks.append((name, time.time()))
        progress.phase(name)

    phase("recover")
    recovered = wh.recover(spark)
    phase("read")
    source = open_source(spark, inputs, wh, run_id, scans)
    dets = impact = None
    try:
        phase("decide")
        people = persons(spark, candidates(source.decide_rows, policy_map), as_of)
        dets = by_county(determinations(people, policy_map).withColumn("run_id", F.lit(run_id))).persist()
        impact = by_county(people_impact(dets)).persist()
        figures = county_figures(dets, impact, policy_map, source.input_rows)
        phase("write")
        versions = _write_tables(spark, wh, run_id, run_counties, {
            "determinations": lambda: dets,
            "people": lambda: impact,
            "history": lambda: history_rows(source, dets, run_id),
            "quarantine": (lambda: source.quarantine.select(F.lit(run_id).alias("load_id"), *QUARANTINE_COLUMNS))
            if source.quarantine is not None else None,
            "figures": lambda: figures_frame(spark, run_id, as_of, figures),
        })
        phase("record")
        record = {
            "run_id": run_id, "started_at": started_at, "finished_at": utc_now(), "as_of": as_of,
            "policy_source": policy_map.source, "policy_map": policy_map.as_json(), "policy_hash": policy_map.hash(),
            "counties": run_counties, "versions": versions, "inputs": json.dumps(source.inputs, default=str),
            "input_rows": source.input_rows, "quarantined_rows": source.quarantined_rows, "code_version": __version__,
            "reference_version": codes.reference_version(), "seconds": f"{time.time() - started:.1f}",
        }
        wh.record(spark, "runs", record)  # the commit point
    finally:
        for df in (dets, impact):
            if df is not None:
                df.unpersist()
        wh.drop_work(spark, run_id)
    phase("done")
    phases = {name: round(end - start, 1) for (name, start), (_, end) in zip(marks, marks[1:])}
    return {**record, "figures": figures, "seconds": round(time.time() - started, 1), "phases": phases,
            "recovered": recovered, "notes": source.notes}


def print_summary(result: dict) -> None:
    s = result["figures"][STATEWIDE]["summary"]
    decided = s["prop64FelonyConvictionsCountInCounty"] + s["prop64NonFelonyConvictionsCountInCounty"]
    for line in result["recovered"]:
        print(f"  recovered: {line}")
    print(f"run {result['run_id']}: as-of {result['as_of']}, policy {result['policy_source']} ({result['policy_hash']}), {result['seconds']} s")
    print(f"  input rows {result['input_rows']}, quarantined {result['quarantined_rows']}")
    for note in result["notes"]:
        print(f"  {note}")
    print("  seconds by phase: " + ", ".join(f"{k} {v}" for k, v in result["phases"].items()))
    print(f"  Prop 64 convictions decided: {decided} for {s['subjectsWithProp64ConvictionCountInCounty']} people; "
          f"{s['subjectsWithSomeReliefCount']} people get some relief; "
          f"no felony left: {s['reliefWithCurrentEligibilityChoices']['CountSubjectsNoFelony']}, "
          f"no conviction left: {s['reliefWithCurrentEligibilityChoices']['CountSubjectsNoConviction']}")
    busiest = sorted(((c, f["summary"]) for c, f in result["figures"].items() if c != STATEWIDE),
                     key=lambda cf: -(cf[1]["prop64FelonyConvictionsCountInCounty"] + cf[1]["prop64NonFelonyConvictionsCountInCounty"]))
    counties_with = sum(1 for _, f in busiest if f["subjectsWithProp64ConvictionCountInCounty"])
    print(f"  counties with decisions: {counties_with} of {len(busiest)}")
    for county, f in busiest[:5]:
        n = f["prop64FelonyConvictionsCountInCounty"] + f["prop64NonFelonyConvictionsCountInCounty"]
        print(f"    {county}: {n} convictions, {f['subjectsWithSomeReliefCount']} people relieved")


def main(args) -> int:
    as_of = args.as_of or dt.date.today()  # the wall clock is read once, here, and recorded
    counties = resolve_counties(args.county)
    policy_map = load_policy_map(args.policy, counties)  # configuration errors before Spark starts
    master, conf = session_conf(args.profile, args.conf)
    scans = None
    if all(fs.is_local(p) for p in args.input) and not is_table(args.input):
        files, _ = resolve_inputs(args.input)  # a missing or unreadable file, named, before Spark starts
        scans = start_scans(files, byte_size(conf[SPLIT_BYTES]))  # checksums and line breaks while Spark starts
    run_id = new_id("run")
    start = lambda: get_spark(args.profile, args.conf, app_name="clearsweep-run")  # noqa: E731
    with Progress(enabled=not args.quiet) as progress, Warehouse(args.warehouse).locked_session(run_id, args.wait, start) as spark:
        result = run_job(spark, args.input, args.warehouse, as_of, counties, policy_map, run_id=run_id, scans=scans,
                         locked=True, progress=progress.attach(spark))
    print_summary(result)
    return 0

