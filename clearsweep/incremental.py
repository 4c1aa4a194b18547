"""`run --since RUN_ID`: the monthly run. Decides again only the people whose answer can differ
from the base run's and carries everyone else over, with tables content-identical to a full run
on the same raw table, policy and as-of date.

Who is decided again (each person counted once, in this order):
- `policy`: people with a row in a county the base did not decide, or whose policy differs from
  the base's (those counties are decided in full);
- `rows`: people whose rows differ. A digest per person (row count and two row hashes, 96
  bits, summed over their rows, so row order does not count, but every DOJ column and the row's
  position, file_index and line_no, do: `clearsweep.rowhash`) over the new raw table's
  candidates, in one pass that also counts the data quality of the figures,
  against the same digest over the base's `history` rows (a person decided in two counties
  once); a person only in the new rows is new, one only in the base is `removed` (their rows go);
- `time`: people whose determinations' earliest `stable_until` is on or before the new as-of
  date. Determinations without `stable_until`, or a code without `decide.timing.at_as_of`,
  make every carried person `time`: decided again, never carried stale.

Writes (one commit per table, then the `runs` row, the commit point, as a full run):
`determinations` and `people` replace the run's counties (carried rows refreshed to the new
as-of date by `at_as_of` keep their run_id; `people` is the per-person aggregate of them);
`history` is one MERGE deleting the rows of the people decided again or removed (and every row
of a county decided in full) and inserting the new rows, with the counties in its condition so
other partitions are not read; the table's deletion vectors mark the deleted rows instead of
rewriting every file that holds one (a purge rewrites them: `outputs.purge`); `figures` as
`sweep.run_figures` computes them for a full run.
"""

from __future__ import annotations

import time
from dataclasses import replace

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import codes, fs
from clearsweep.decide.engine import candidate_row, determinations, persons
from clearsweep.decide.policies import PolicyMap
from clearsweep.errors import UserError
from clearsweep.history import QUALITY_KEYS, person_key, quality_aggregates, quality_bucket, quality_of, row_county
from clearsweep.ingest.extract import DECIDE_COLUMNS, POSITION_COLUMNS
from clearsweep.ingest.sources import is_table, open_source, wide_of
from clearsweep.outputs.figures import people_impact
from clearsweep.outputs.layout import COUNTY_TABLES, SCHEMAS
from clearsweep.outputs.warehouse import Warehouse, by_county, new_id, utc_now
from clearsweep.progress import Progress
from clearsweep.rowhash import ROW_HASHES, with_row_hashes
from clearsweep.sweep import Phases, figures_beside, history_rows, run_figures, run_record, write_tables

REASONS = ("policy", "rows", "time")
METADATA = "spark.databricks.delta.commitInfo.userMetadata"
MATERIALIZE = "spark.databricks.delta.merge.materializeSource"
PERSON = "_person"


def _at_as_of():
    """`clearsweep.decide.timing.at_as_of`, or None on a code without it."""
    try:
        from clearsweep.decide.timing import at_as_of
    except ImportError:
        return None
    return at_as_of


# ---------------------------------------------------------------- the base


def base_of(spark: SparkSession, wh: Warehouse, since: str, run_counties: list[str], policy_map: PolicyMap):
    """The base run's record and the run's counties to decide in full (not decided by the base,
    or under another policy). Refuses an unknown base, or one a later run replaced in a county."""
    records = wh.records(spark, "runs")
    base = next((r for r in records if r["run_id"] == since), None)
    if base is None:
        raise UserError(f"--since {since}: no such run is recorded in {wh.location}")
    latest: dict[str, object] = {}
    for r in sorted(records, key=lambda r: (r["finished_at"], r["run_id"])):
        for county in r["counties"] or []:
            latest[county] = r
    base_counties = set(base["counties"] or [])
    later = sorted(c for c in run_counties if c in base_counties and latest[c]["run_id"] != since)
    if later:
        raise UserError(f"--since {since}: a later run decided {', '.join(later[:3])}{' ...' if len(later) > 3 else ''} "
                        f"(run {latest[later[0]]['run_id']}): give the latest run of the counties as the base")
    base_map = PolicyMap.from_json(base["policy_map"], f"run {since}")
    full = sorted(c for c in run_counties if c not in base_counties or base_map.by_county[c].key() != policy_map.by_county[c].key())
    return base, full


def require_raw_input(spark: SparkSession | None, wh: Warehouse, inputs: list[str]) -> None:
    """The input must be this warehouse's raw table (the base's history is compared with it)."""
    given, raw = (inputs or [""])[0], wh.path("raw")
    local_given, local_raw = fs.local_path(given), fs.local_path(raw)
    same = (local_given.resolve() == local_raw.resolve()) if local_given is not None and local_raw is not None \
        else given.rstrip("/") == raw.rstrip("/")
    if len(inputs or []) != 1 or not same or (spark is not None and not is_table(inputs, spark)):
        raise UserError(f"--since reads the warehouse's raw table: give --input {raw} (ingest the new month's files first)")


# ---------------------------------------------------------------- what changed


def _digest() -> list[Column]:
    """_person's digest: their rows counted and each row hash summed (row order does not count)."""
    return [F.count(F.lit(1)).alias("n"), *[F.sum(F.col(h).cast("decimal(20,0)")).alias(f"l{i}") for i, h in enumerate(ROW_HASHES, 1)]]


def first_pass(rows: DataFrame, policy_map: PolicyMap, full: list[str], as_of) -> DataFrame:
    """The one pass over the new rows (persisted): per person and data-quality bucket, their
    digest's parts, whether they are a candidate, `pol` (a row in a county decided in full), and
    the data quality counts. `new_digests` and `new_quality` read it instead of the rows."""
    in_full = row_county().isin(*full) if full else F.lit(False)
    return (rows.groupBy(person_key(F.col("SUBJECT_ID")).alias(PERSON), quality_bucket().alias("bucket"))
            .agg(*_digest(), F.max(candidate_row(policy_map)).alias("candidate"), F.max(in_full).alias("pol"), *quality_aggregates(as_of))
            .persist())


def new_digests(first: DataFrame) -> DataFrame:
    """The candidates' digests (_person, n, l1, l2, pol) from the `first_pass`."""
    return (first.groupBy(PERSON).agg(*[F.sum(c).alias(c) for c in ("n", "l1", "l2")], F.max("candidate").alias("candidate"),
                                      F.max("pol").alias("pol"))
            .where(F.col("candidate")).drop("candidate"))


def new_quality(first: DataFrame, source) -> dict:
    """The data quality of every row read (as `sweep.source_quality` counts it) from the `first_pass`."""
    by_bucket = first.groupBy("bucket").agg(*[F.sum(k).alias(k) for k in ("rows", *QUALITY_KEYS)]).collect()  # at most 60 rows
    return quality_of(by_bucket, source.decide_rows, source.file_count() > 1)


def base_digests(history: DataFrame) -> DataFrame:
    """The base's digests from its history rows: a person decided in several counties has their
    rows once in each, so one county's digest is theirs (counties that disagree: `same` false)."""
    history = with_row_hashes(history)
    per_county = history.groupBy(person_key(F.col("SUBJECT_ID")).alias(PERSON), "county").agg(*_digest())
    return per_county.groupBy(PERSON).agg(
        *[F.min(c).alias(c) for c in ("n", "l1", "l2")],
        ((F.min("n") == F.max("n")) & (F.min("l1") == F.max("l1")) & (F.min("l2") == F.max("l2"))).alias("agree"))


def changes(spark: SparkSession, new: DataFrame, history: DataFrame, dets: DataFrame, carry: list[str],
            as_of, timed: bool) -> tuple[DataFrame, dict]:
    """Every person decided again or removed (`_person`, `why`: a reason or `removed`; persisted)
    and their counts by reason. `new`: `new_digests` of the new rows."""
    base_rows = history.where(F.col("county").isin(*carry)) if carry else history.limit(0)
    new, old = new.alias("a"), base_digests(base_rows).alias("b")
    same = (F.col("a.n") == F.col("b.n")) & (F.col("a.l1") == F.col("b.l1")) & (F.col("a.l2") == F.col("b.l2")) & F.col("b.agree")
    joined = new.join(old, F.col(f"a.{PERSON}") == F.col(f"b.{PERSON}"), "full_outer").select(
        F.coalesce(F.col(f"a.{PERSON}"), F.col(f"b.{PERSON}")).alias(PERSON), F.coalesce(F.col("a.pol"), F.lit(False)).alias("pol"),
        F.col("a.n").isNotNull().alias("now"), F.col("b.n").isNotNull().alias("before"), F.coalesce(same, F.lit(False)).alias("same"))
    if timed:
        stable = dets.where(F.col("county").isin(*carry)).groupBy(F.col("subject_id").alias(PERSON)).agg(
            F.min(F.coalesce(F.col("stable_until"), F.lit("9999-12-31").cast("date"))).alias("until"))
        due = stable.where(F.col("until") <= F.lit(as_of)).select(PERSON, F.lit(True).alias("due"))
    else:  # no stable_until to go by: every carried person is decided again
        due = dets.where(F.col("county").isin(*carry)).select(F.col("subject_id").alias(PERSON)).distinct().select(PERSON, F.lit(True).alias("due")) \
            if carry else spark.createDataFrame([], f"{PERSON} string, due boolean")
    marked = (joined.join(due, PERSON, "left")
              .select(PERSON, F.when(~F.col("now"), "removed").when(F.col("pol"), "policy")
                      .when(~F.col("before") | ~F.col("same"), "rows").when(F.col("due"), "time").alias("why"))
              .where(F.col("why").isNotNull())).persist()
    counts = {r["why"]: r["count"] for r in marked.groupBy("why").count().collect()}
    return marked, {k: int(counts.get(k, 0)) for k in (*REASONS, "removed")}


# ---------------------------------------------------------------- writes


def merge_history(spark: SparkSession, wh: Warehouse, new_rows: DataFrame, gone: DataFrame, counties: list[str], owner: str) -> int:
    """One MERGE: the current rows of (county, person) pairs in `gone` deleted, `new_rows` inserted;
    the run's counties in the condition, so other partitions are pruned. The commit names columns only."""
    from delta.tables import DeltaTable

    listed = ", ".join("'" + c.replace("'", "''") + "'" for c in sorted(counties))
    markers = gone.select("county", PERSON, F.lit(True).alias("_marker"))
    inserts = new_rows.select(*SCHEMAS["history"].fieldNames(), F.lit(None).cast("string").alias(PERSON), F.lit(False).alias("_marker"))
    # staged first: the rows come from tables read while deciding (history among them), and a MERGE
    # whose source reads its own target through cached data is refused by Delta
    staged = fs.spark_unescaped(wh.work_path(owner, "history-merge"))
    inserts.unionByName(markers, allowMissingColumns=True).write.mode("overwrite").parquet(staged)
    source = spark.read.parquet(staged)
    condition = f"t.county IN ({listed}) AND s._marker AND t.county = s.county AND trim(t.SUBJECT_ID) = s.{PERSON}"
    spark.conf.set(MATERIALIZE, "none")  # staged above: Delta need not copy it again
    try:
        (DeltaTable.forPath(spark, wh.spark_path("history")).alias("t").merge(source.alias("s"), condition)
         .whenMatchedDelete().whenNotMatchedInsert(condition="NOT s._marker", values={c: f"s.`{c}`" for c in SCHEMAS["history"].fieldNames()})
         .execute())
    finally:
        spark.conf.unset(MATERIALIZE)
    return wh.version_by("history", owner, spark)


def run_since(spark: SparkSession, inputs: list[str], warehouse: str, as_of, policy_map: PolicyMap, since: str, *,
              run_id: str | None = None, progress: Progress | None = None, locked: bool = False, wait: float = 0) -> dict:
    """The incremental run under the warehouse lock (`locked`: the caller holds it, as `sweep.run_job`)."""
    wh, run_id = Warehouse(warehouse), run_id or new_id("run")
    args = (spark, inputs, wh, as_of, sorted(policy_map.by_county), policy_map, run_id, since, progress or Progress(enabled=False))
    if locked:
        return _run_since(*args)
    with wh.lock(run_id, wait, spark):
        return _run_since(*args)


def _run_since(spark: SparkSession, inputs: list[str], wh: Warehouse, as_of, run_counties: list[str], policy_map: PolicyMap,
               run_id: str, since: str, progress: Progress) -> dict:
    started_at, started = utc_now(), time.time()
    phase = Phases(progress)
    phase("recover")
    recovered = wh.recover(spark)
    wh.require_layout(spark, COUNTY_TABLES)
    require_raw_input(spark, wh, inputs)
    base, full = base_of(spark, wh, since, run_counties, policy_map)
    if base["as_of"] > as_of:
        raise UserError(f"--as-of {as_of} is before the as-of date of run {since} ({base['as_of']}): an incremental run moves forward; run in full")
    carry = [c for c in run_counties if c not in full]
    phase("read")
    source = open_source(spark, inputs, wh, run_id)
    versions_now = {t: wh.latest_version(t, spark) for t in ("determinations", "history")}
    current_dets = wh.read(spark, "determinations", versions_now["determinations"])
    current_hist = wh.read(spark, "history", versions_now["history"])
    at_as_of = _at_as_of()
    timed = at_as_of is not None and "stable_until" in current_dets.columns
    persisted: list[DataFrame] = []
    try:
        phase("compare")
        first = first_pass(with_row_hashes(source.full_rows), policy_map, full, as_of)
        persisted.append(first)
        marked, counts = changes(spark, new_digests(first), current_hist, current_dets, carry, as_of, timed)
        persisted.append(marked)
        quality = new_quality(first, source)
        touched, redecide = marked.select(PERSON), marked.where(F.col("why") != "removed").select(PERSON)
        phase("decide")
        # every row of each person decided again (all candidates: `removed` people are not among
        # them), read once with its 95 columns: deciding and their new history rows both read it
        picked = source.full_rows.join(F.broadcast(redecide), person_key(F.col("SUBJECT_ID")) == redecide[PERSON], "left_semi").persist()
        persisted.append(picked)
        people = persons(picked.select(*DECIDE_COLUMNS, *POSITION_COLUMNS), codes.reference_table(spark))
        fresh = determinations(people, policy_map, as_of).withColumn("run_id", F.lit(run_id))
        carried = (current_dets.where(F.col("county").isin(*carry))
                   .join(F.broadcast(touched), F.col("subject_id") == touched[PERSON], "left_anti")) if carry else None
        if carried is not None and timed:
            carried = at_as_of(carried, as_of)
        dets = fresh if carried is None else fresh.unionByName(carried.select(*fresh.columns))
        dets = by_county(dets).persist()
        impact = by_county(people_impact(dets)).persist()
        persisted += [dets, impact]
        phase("write")
        figures, figures_rows = figures_beside(spark, run_id, as_of, lambda: run_figures(dets, impact, policy_map, source, as_of, quality))
        # a person has history rows in a county exactly when they have determinations there:
        # the (county, person) pairs to delete come from the narrow determinations, not history
        gone = current_dets.where(F.col("county").isin(*run_counties)).select("county", F.col("subject_id").alias(PERSON))
        gone = gone.join(F.broadcast(touched), PERSON, "left_semi").unionByName(gone.where(F.col("county").isin(*full))).distinct() \
            if full else gone.join(F.broadcast(touched), PERSON, "left_semi").distinct()
        new_history = history_rows(replace(source, wide=wide_of(picked)), dets.where(F.col("run_id") == run_id), run_id)
        spark.conf.set(METADATA, run_id)  # the MERGE's commit carries the run's id, as every write does
        try:
            versions = write_tables(spark, wh, run_id, run_counties, {
                "determinations": lambda: dets, "people": lambda: impact, "history": lambda: new_history,
                "figures": figures_rows,
            }, writers={"history": lambda df: merge_history(spark, wh, df, gone, run_counties, run_id)})
        finally:
            spark.conf.unset(METADATA)
        phase("record")
        record = run_record(spark, run_id, started_at, started, as_of, policy_map, run_counties, versions, source,
                            base_run_id=since, redecided=counts)
        wh.record(spark, "runs", record)  # the commit point
    finally:
        for df in persisted:
            df.unpersist()
        wh.drop_work(spark, run_id)
    phase("done")
    return {**record, "figures": figures, "seconds": round(time.time() - started, 1), "phases": phase.seconds(),
            "recovered": recovered, "notes": source.notes, "full_counties": full, "base_as_of": base["as_of"]}
