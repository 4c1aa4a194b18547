"""What changed between two recorded runs, conviction by conviction, and why.

Each run's determinations are read at the version it recorded (less anyone purged since) for the
counties both decided, and joined on (county, subject_id, cnt_order): a conviction only the later
run decided is `added`, only the earlier one `removed`, in both with another outcome `changed`.
The outcome (COMPARED) is the determination, reason, rule, statute and policy, and the
conviction's line on the motion exhibit as the court reads it (clearsweep.exports.motion.identity:
CII number, name, date of birth, case number, court, code section, disposition date, felony or
misdemeanor; the relief follows from the determination and felony). Columns that move with the
as-of date alone (as_of, years_since_*, recent, the 7-year counts) are not compared: only what
they decide is. The monthly supplement (clearsweep.exports.supplement) lists exactly these
changes. Each change gets the first cause that holds, in this order:

- `policy changed`: the county's policy (name and parameters) differs between the two runs'
  recorded policy maps (this also covers a change of scope: dismiss-all-related decides related
  charges);
- `input rows changed`: the person's input rows (all 95 columns of each, as the run's `history`
  table holds them) differ: a digest of their sorted row hashes is compared. A person one run did
  not decide at all has no rows there to compare; with the same code and reference tables, their
  rows are the only thing left that can bring a conviction into scope or out of it;
- `as-of date moved a threshold`: the as-of dates differ (a changed determination only: the date
  never decides which convictions are in scope);
- `reference tables or code changed`: the runs' reference-table or code versions differ;
- `unexplained`: none of these.

Only small aggregates (counts per county, change and cause) and the first changes reach the
driver. Nothing personal is read out: keys, section, disposition date, determination and reason
(the exhibit's columns are compared by the executors, never listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F

from clearsweep.decide.policies import PolicyMap
from clearsweep.errors import UserError
from clearsweep.exports.motion import identity
from clearsweep.history import person_key
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.schema import DOJ_COLUMNS

KEY = ("county", "subject_id", "cnt_order")
CHANGES = ("added", "removed", "changed")
OUTCOME = ("determination", "reason")
EXHIBIT = "exhibit"  # the conviction's identifying cells on the motion exhibit (with_exhibit)
COMPARED = (*OUTCOME, "rule", "statute", "policy", EXHIBIT)  # what makes a conviction `changed`
FIRST_ROW = ("CII_NUMBER", "PRI_NAME", "PRI_DOB", "STP_ORI_DESCR", "STP_EVENT_DATE")  # what the exhibit reads of it
SHOWN = (*OUTCOME, "section", "disposition_date")  # what a listed change carries of each side
POLICY, ROWS, AS_OF, CODE, UNEXPLAINED = ("policy changed", "input rows changed", "as-of date moved a threshold",
                                          "reference tables or code changed", "unexplained")
CAUSES = (POLICY, ROWS, AS_OF, CODE, UNEXPLAINED)
READ_TABLES = ("determinations", "history")


@dataclass(frozen=True)
class RunRead:
    """A recorded run and the versions of its tables read for it."""
    record: Row
    versions: dict  # table -> version read

    @classmethod
    def of(cls, spark: SparkSession, wh: Warehouse, run_id: str) -> RunRead:
        record = wh.run_record(spark, run_id=run_id)
        if record is None:
            raise UserError(f"no run {run_id} is recorded in {wh.location}")
        return cls(record, {t: wh.version_for(spark, t, record) for t in READ_TABLES})

    @property
    def run_id(self) -> str:
        return self.record["run_id"]

    @property
    def counties(self) -> list[str]:
        return list(self.record["counties"])

    def policy_key(self, county: str) -> str:
        return PolicyMap.from_json(self.record["policy_map"], self.record["policy_source"]).by_county[county].key()

    def describe(self) -> dict:
        r = self.record
        return {"run_id": r["run_id"], "as_of": r["as_of"].isoformat(), "policy_source": r["policy_source"],
                "policy_hash": r["policy_hash"], "code_version": r["code_version"],
                "reference_version": r["reference_version"], "versions_read": dict(sorted(self.versions.items()))}


def with_exhibit(determinations: DataFrame, history: DataFrame) -> DataFrame:
    """Each determination with its first input row's columns the exhibit reads (FIRST_ROW) and
    EXHIBIT: its identifying cells as the motion exhibit prints them. `history`: the run's own
    rows, joined in the same county partition on the input position (as the packets are)."""
    first = history.select("county", "file_index", "line_no", *FIRST_ROW)
    joined = determinations.join(first, ["county", "file_index", "line_no"], "left")
    return joined.withColumn(EXHIBIT, F.array(*identity()))


def outcomes(before: DataFrame, after: DataFrame, compare: tuple[str, ...] = OUTCOME, carry: tuple[str, ...] = ()) -> DataFrame:
    """Two sets of determinations joined on KEY: each key once, with `change` (added, removed,
    changed: any of the `compare` columns differs, or unchanged) and the `before` / `after`
    structs (SHOWN, `compare` and `carry`; null on the side that lacks the key)."""
    fields = list(dict.fromkeys((*SHOWN, *compare, *carry)))

    def side(df: DataFrame, name: str) -> DataFrame:
        return df.select(*KEY, F.struct(*fields).alias(name))

    joined = side(before, "before").join(side(after, "after"), list(KEY), "full_outer")  # USING: keys coalesced
    differs = reduce(lambda a, b: a | b, [~F.col(f"before.{c}").eqNullSafe(F.col(f"after.{c}")) for c in compare])
    change = (F.when(F.col("before").isNull(), "added").when(F.col("after").isNull(), "removed")
              .when(differs, "changed").otherwise("unchanged"))
    return joined.select(*KEY, change.alias("change"), "before", "after")


def person_digests(history: DataFrame, counties: list[str], subjects: DataFrame) -> DataFrame:
    """subject_id -> a digest of the person's input rows as one run read them: `history` holds
    every row of each person a county decided (statewide), so any one of the run's counties
    gives them all; the rows' hashes are sorted, so their order and file positions do not count."""
    rows = history.where(F.col("county").isin(*counties)).select(
        "county", person_key(F.col("SUBJECT_ID")).alias("subject_id"),
        F.sha2(F.to_json(F.struct(*DOJ_COLUMNS), {"ignoreNullFields": "true"}), 256).alias("row"))
    rows = rows.join(subjects, "subject_id", "left_semi")
    per_county = rows.groupBy("county", "subject_id").agg(
        F.sha2(F.concat_ws(",", F.array_sort(F.collect_list("row"))), 256).alias("digest"))
    return per_county.groupBy("subject_id").agg(F.min("digest").alias("digest"))


def cause(policy_changed: Column, before: Column, after: Column, as_of_moved: bool, code_changed: bool) -> Column:
    """The first cause that holds for a change (module docstring), from the two person digests."""
    change = F.col("change")
    return (F.when(change == "unchanged", F.lit(None).cast("string"))
            .when(policy_changed, POLICY)
            .when(before.isNotNull() & after.isNotNull() & (before != after), ROWS)
            .when((before.isNull() | after.isNull()) & F.lit(not code_changed), ROWS)
            .when((change == "changed") & F.lit(as_of_moved), AS_OF)
            .when(F.lit(code_changed), CODE)
            .otherwise(UNEXPLAINED))


def require_own_rows(df: DataFrame, run_id: str, what: str, lineage: list[str] | None = None) -> None:
    """A past run's rows as read must be its own (or, for an incremental run, those it carried
    over: `lineage`): after a purge, a run's tables are read at the purge's version, where a
    county a later run decided holds that run's rows (one small count)."""
    own = set(lineage or [run_id])
    stray = sorted(r["run_id"] for r in df.select("run_id").distinct().collect() if r["run_id"] not in own)
    if stray:
        raise UserError(f"{what} of run {run_id} can no longer be read: a purge since left only the rows of {', '.join(stray)}")


def _counties(a: RunRead, b: RunRead, county: str | None) -> list[str]:
    if county is not None:
        for run in (a, b):
            if county not in run.counties:
                decided = ", ".join(run.counties) if len(run.counties) <= 4 else f"{len(run.counties)} other counties"
                raise UserError(f"run {run.run_id} did not decide {county} (it decided {decided})")
        return [county]
    common = sorted(set(a.counties) & set(b.counties))
    if not common:
        raise UserError(f"runs {a.run_id} and {b.run_id} decided no county in common")
    return common


def _tally(rows: list[Row]) -> dict:
    """{change: n, ..., "by_cause": {cause: n}} from (change, cause, n) rows."""
    out = {c: 0 for c in (*CHANGES, "unchanged")}
    by_cause: dict[str, int] = {}
    for r in rows:
        out[r["change"]] += r["n"]
        if r["cause"] is not None:
            by_cause[r["cause"]] = by_cause.get(r["cause"], 0) + r["n"]
    return {**out, "by_cause": {c: by_cause[c] for c in CAUSES if c in by_cause}}


def listed(row: Row) -> dict:
    """One change as the report shows it (no personal data)."""
    side = row["after"] if row["after"] is not None else row["before"]
    date = side["disposition_date"]
    return {"county": row["county"], "subject_id": row["subject_id"], "cnt_order": row["cnt_order"],
            "section": side["section"], "disposition_date": date.isoformat() if date else None,
            "change": row["change"], **({"cause": row["cause"]} if "cause" in row.__fields__ else {}),
            **{name: ({k: row[name][k] for k in OUTCOME} if row[name] is not None else None) for name in ("before", "after")}}


def first_changes(compared: DataFrame, n: int, per_county: bool = False) -> list[Row]:
    """The first `n` changes in key order (or the first `n` of each county): a small collect."""
    if n == 0:
        return []
    changes = compared.where(F.col("change") != "unchanged")
    if not per_county:
        return changes.orderBy(*KEY).limit(n).collect()
    rank = F.row_number().over(Window.partitionBy("county").orderBy(*KEY[1:]))
    return changes.withColumn("_n", rank).where(F.col("_n") <= n).drop("_n").orderBy(*KEY).collect()


def changes(spark: SparkSession, wh: Warehouse, a: RunRead, b: RunRead, counties: list[str],
            carry: tuple[str, ...] = ()) -> tuple[DataFrame, list[str], list[DataFrame]]:
    """Every key of the counties with its change and cause (the module docstring), `carry`
    columns of with_exhibit in each side's struct; the counties whose policy changed; and the
    frames persisted for it (the caller unpersists them when done)."""

    def read(run: RunRead, table: str) -> DataFrame:
        return wh.read(spark, table, run.versions[table]).where(F.col("county").isin(*counties))

    def side(run: RunRead) -> DataFrame:
        # an incremental run's counties hold the rows it carried over: their run ids are its lineage
        return with_exhibit(read(run, "determinations"), read(run, "history").where(F.col("run_id").isin(*wh.lineage(spark, run.run_id))))

    for run in (a, b):
        require_own_rows(read(run, "determinations"), run.run_id, "the determinations", wh.lineage(spark, run.run_id))
    compared = outcomes(side(a), side(b), COMPARED, carry).persist()  # read three times: joined once, not thrice
    policy_changed = [c for c in counties if a.policy_key(c) != b.policy_key(c)]
    is_policy = F.col("county").isin(*policy_changed) if policy_changed else F.lit(False)
    # the people whose rows may be the cause: changed, in a county whose policy did not change
    subjects = compared.where((F.col("change") != "unchanged") & ~is_policy).select("subject_id").distinct()

    def digests(run: RunRead, name: str) -> DataFrame:
        history = wh.read(spark, "history", run.versions["history"]).where(F.col("run_id").isin(*wh.lineage(spark, run.run_id)))
        return person_digests(history, run.counties, subjects).withColumnRenamed("digest", name)

    r1, r2 = a.record, b.record
    code_changed = (r1["code_version"], r1["reference_version"]) != (r2["code_version"], r2["reference_version"])
    explained = (compared.join(digests(a, "_before"), "subject_id", "left").join(digests(b, "_after"), "subject_id", "left")
                 .withColumn("cause", cause(is_policy, F.col("_before"), F.col("_after"), r1["as_of"] != r2["as_of"], code_changed))
                 .drop("_before", "_after")).persist()
    return explained, policy_changed, [explained, compared]


def tallies(explained: DataFrame, counties: list[str]) -> tuple[dict, dict]:
    """Counts per county (and in all) of each change and cause: one small collect."""
    counts = explained.groupBy("county", "change", "cause").agg(F.count(F.lit(1)).alias("n")).collect()
    return {c: _tally([r for r in counts if r["county"] == c]) for c in counties}, _tally(counts)


def diff_runs(spark: SparkSession, warehouse: str, from_id: str, to_id: str, county: str | None = None,
              limit: int = 20) -> dict:
    """The diff report (the module docstring): both runs as read, counts per county and cause,
    and the first `limit` changes."""
    if limit < 0:
        raise UserError(f"--limit must be 0 or more, got {limit}")
    wh = Warehouse(warehouse)
    a, b = RunRead.of(spark, wh, from_id), RunRead.of(spark, wh, to_id)
    counties = _counties(a, b, county)
    explained, policy_changed, cached = changes(spark, wh, a, b, counties)
    try:
        per_county, totals = tallies(explained, counties)
        shown = first_changes(explained, limit)
    finally:
        for df in cached:
            df.unpersist()
    n_changes = sum(totals[c] for c in CHANGES)
    return {"from": a.describe(), "to": b.describe(), "counties": per_county, "totals": totals,
            "policy_changed": policy_changed, "changes": [listed(r) for r in shown], "more": n_changes - len(shown)}
