"""A run: read the extract (or the raw table), decide every in-scope conviction of the counties
named in one Spark job, write the county-partitioned determinations, people and history tables
(one commit each, replacing only the counties decided), figures and quarantine, then the run's
row in `runs`, which is what makes the run count. One run at a time per warehouse."""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__, codes
from clearsweep import counties as county_list
from clearsweep.decide.engine import candidates, determinations, persons
from clearsweep.decide.policies import PolicyMap
from clearsweep.decide.policy_files import load_policy_map
from clearsweep.frames import local_frame
from clearsweep.history import SEQ_FILE_FACTOR, data_quality, possible_other_p64
from clearsweep.ingest.extract import QUARANTINE_COLUMNS
from clearsweep.ingest.sources import Source, open_source
from clearsweep.outputs.figures import county_figures, people_impact
from clearsweep.outputs.layout import COUNTY_TABLES, SCHEMAS
from clearsweep.outputs.warehouse import Warehouse, by_county, new_id, utc_now
from clearsweep.progress import Progress
from clearsweep.schema import DOJ_COLUMNS


def history_rows(source: Source, dets: DataFrame, run_id: str) -> DataFrame:
    """Every input row of each person decided in a county, tagged with that county."""
    decided = dets.select("county", "subject_id").distinct()  # people, not rows: broadcast to the wide rows
    return source.history_rows(decided).select(
        "county", *DOJ_COLUMNS, "file_index", "line_no",
        (F.col("file_index").cast("long") * SEQ_FILE_FACTOR + F.col("line_no")).alias("seq"),
        possible_other_p64(F.col("OFFENSE_DESCR"), F.col("COMMENT_TEXT")).alias("possible_other_p64"),
        F.lit(run_id).alias("run_id"),
    )


def figures_frame(spark: SparkSession, run_id: str, as_of: dt.date, figures: dict) -> DataFrame:
    rows = [{"run_id": run_id, "as_of": as_of, "county": county, "summary_json": json.dumps(f["summary"]),
             "extended_json": json.dumps(f["extended"])} for county, f in sorted(figures.items())]
    return local_frame(spark, rows, SCHEMAS["figures"])


def figures_beside(spark: SparkSession, run_id: str, as_of: dt.date, compute: Callable[[], dict]) -> tuple[dict, Callable[[], DataFrame]]:
    """(figures, the figures table's frame for `write_tables`): `compute` runs when the frame is
    made, in its writer's thread, so the figures' many small jobs overlap the other tables'
    writes instead of coming before them; `figures` is filled then."""
    figures: dict = {}

    def rows() -> DataFrame:
        figures.update(compute())
        return figures_frame(spark, run_id, as_of, figures)

    return figures, rows


def write_tables(spark: SparkSession, wh: Warehouse, run_id: str, counties: list[str], frames: dict,
                 writers: dict | None = None) -> dict[str, int]:
    """One commit per table, the tables side by side: each commit is mostly driver-side waiting
    (log reads, file listing), so they overlap with each other's Spark jobs. `writers`: a table's
    own write (frame -> version) instead of replacing its counties or appending."""
    def write(table: str) -> int:
        df = frames[table]()
        if writers and table in writers:
            return writers[table](df)
        if table in COUNTY_TABLES:
            return wh.replace_counties(spark, table, df, counties, run_id)
        return wh.append(spark, table, df, run_id)

    tables = [t for t, make in frames.items() if make is not None]
    with ThreadPoolExecutor(max_workers=len(tables), thread_name_prefix="clearsweep-write") as pool:
        return dict(zip(tables, pool.map(write, tables)))


def source_quality(source: Source, as_of: dt.date) -> dict:
    """The data quality counts of everything the run read (one pass over the rows)."""
    return data_quality(source.decide_rows, as_of, source.file_count() > 1)


def run_figures(dets: DataFrame, impact: DataFrame, policy_map: PolicyMap, source: Source, as_of: dt.date,
                quality: dict | None = None) -> dict:
    """Every county's figures, and the total: from the determinations and people rows of the run's
    counties, and the data quality (`source_quality`, computed here if not given) and line counts of
    everything the run read."""
    return county_figures(dets, impact, policy_map, source.input_rows, as_of,
                          quality if quality is not None else source_quality(source, as_of), source.quarantined_by_reason())


def run_record(spark: SparkSession, run_id: str, started_at, started: float, as_of: dt.date, policy_map: PolicyMap,
               run_counties: list[str], versions: dict, source: Source, base_run_id: str | None = None,
               redecided: dict | None = None) -> dict:
    """The run's row in `runs`: a full run (no base), or an incremental one (its base run and the
    people it decided again, by reason)."""
    return {
        "run_id": run_id, "started_at": started_at, "finished_at": utc_now(), "as_of": as_of,
        "policy_source": policy_map.source, "policy_map": policy_map.as_json(), "policy_hash": policy_map.hash(),
        "counties": run_counties, "versions": versions, "inputs": json.dumps(source.inputs, default=str),
        "input_rows": source.input_rows, "quarantined_rows": source.quarantined_rows, "code_version": __version__,
        "reference_version": codes.reference_version(), "seconds": f"{time.time() - started:.1f}",
        "spark_master": spark.sparkContext.master, "application_id": spark.sparkContext.applicationId,
        "base_run_id": base_run_id, "kind": "full" if base_run_id is None else "incremental",
        "redecided": json.dumps(redecided, sort_keys=True) if redecided is not None else None,
    }


def run_job(spark: SparkSession, inputs: list[str], warehouse: str, as_of: dt.date, counties: list[str] | None = None,
            policy: str | PolicyMap | None = None, *, run_id: str | None = None, scans=None, wait: float = 0,
            locked: bool = False, progress: Progress | None = None, raw_at: dict | None = None) -> dict:
    """The whole run under the warehouse lock (`locked`: the caller holds it already). `raw_at`:
    read a raw-table input at a recorded ingest and version (clearsweep.audit.reproduce)."""
    if isinstance(policy, PolicyMap):  # parsed once by the caller: its counties are the run's
        policy_map = policy
        run_counties = sorted(policy.by_county)
    else:
        run_counties = county_list.resolve(counties)
        policy_map = load_policy_map(policy, run_counties)
    run_id = run_id or new_id("run")
    wh = Warehouse(warehouse)
    progress = progress or Progress(enabled=False)
    if locked:
        return _run(spark, inputs, wh, as_of, run_counties, policy_map, run_id, scans, progress, raw_at)
    with wh.lock(run_id, wait, spark):
        return _run(spark, inputs, wh, as_of, run_counties, policy_map, run_id, scans, progress, raw_at)


class Phases:
    """A run's phases: shown as they start, timed for the summary."""

    def __init__(self, progress: Progress):
        self.progress, self.marks = progress, []

    def __call__(self, name: str) -> None:
        self.marks.append((name, time.time()))
        self.progress.phase(name)

    def seconds(self) -> dict[str, float]:
        return {name: round(end - start, 1) for (name, start), (_, end) in zip(self.marks, self.marks[1:])}


def _run(spark, inputs, wh: Warehouse, as_of, run_counties, policy_map, run_id, scans, progress, raw_at=None) -> dict:
    started_at, started = utc_now(), time.time()
    phase = Phases(progress)

    phase("recover")
    recovered = wh.recover(spark)
    wh.require_layout(spark, COUNTY_TABLES)
    phase("read")
    source = open_source(spark, inputs, wh, run_id, scans, raw_at)
    dets = impact = None
    try:
        phase("decide")
        people = persons(candidates(source.decide_rows, policy_map), codes.reference_table(spark))
        dets = by_county(determinations(people, policy_map, as_of).withColumn("run_id", F.lit(run_id))).persist()
        impact = by_county(people_impact(dets)).persist()
        phase("write")
        figures, figures_rows = figures_beside(spark, run_id, as_of, lambda: run_figures(dets, impact, policy_map, source, as_of))
        versions = write_tables(spark, wh, run_id, run_counties, {
            "determinations": lambda: dets,
            "people": lambda: impact,
            "history": lambda: history_rows(source, dets, run_id),
            "quarantine": (lambda: source.quarantine.select(F.lit(run_id).alias("load_id"), *QUARANTINE_COLUMNS))
            if source.quarantine is not None else None,
            "figures": figures_rows,
        })
        phase("record")
        record = run_record(spark, run_id, started_at, started, as_of, policy_map, run_counties, versions, source)
        wh.record(spark, "runs", record)  # the commit point
    finally:
        for df in (dets, impact):
            if df is not None:
                df.unpersist()
        wh.drop_work(spark, run_id)
    phase("done")
    return {**record, "figures": figures, "seconds": round(time.time() - started, 1), "phases": phase.seconds(),
            "recovered": recovered, "notes": source.notes}
