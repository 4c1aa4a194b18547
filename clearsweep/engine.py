"""Statewide determinations: every in-scope conviction of every county, in one Spark job."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import codes, history
from clearsweep.facts import FACT_COLUMNS, fact_columns, person_counts
from clearsweep.extract import read_extract, resolve_inputs
from clearsweep.policies import COUNTIES, Policy, PolicyMap, policy_from_entry, validate_options
from clearsweep.rules import AS_OF, C, decide
from clearsweep.schema import DOJ_COLUMNS

DETERMINATION_KEYS = ("county", "subject_id", "cnt_order")


def _policy_index(policy_map: PolicyMap) -> tuple[list[Policy], Column]:
    """The distinct policies of the run and, per conviction, the index of its county's policy."""
    policies = policy_map.policies()
    index = {p.key(): i for i, p in enumerate(policies)}
    pairs = [x for county, p in sorted(policy_map.by_county.items()) for x in (F.lit(county), F.lit(index[p.key()]))]
    return policies, F.create_map(*pairs)[C().county]


def _in_scope(policy_map: PolicyMap) -> Column:
    """Prop 64 convictions of the run's counties; related ones where the related what-if applies."""
    counties = sorted(policy_map.by_county)
    related = sorted(c for c, p in policy_map.by_county.items() if p.name == "dismiss-all-related")
    return F.filter(
        F.col("convictions"),
        lambda c: c.county.isin(*counties) & (c.is_prop64 | (c.county.isin(*related) & c.is_related) if related else c.is_prop64),
    )


def _outcome(policies: list[Policy], policy_index: Column) -> Column:
    chosen = None
    for i, p in enumerate(policies):
        chosen = F.when(policy_index == i, decide(p)) if chosen is None else chosen.when(policy_index == i, decide(p))
    return chosen


def persons(spark: SparkSession, rows: DataFrame, as_of: dt.date) -> DataFrame:
    """One row per person with their statewide history (one shuffle by SUBJECT_ID)."""
    derived = history.with_row_facts(rows)
    classified = history.with_charge_codes(derived, codes.reference_table(spark))
    return history.people(classified).withColumn("as_of", F.lit(as_of))


def determinations(people: DataFrame, policy_map: PolicyMap) -> DataFrame:
    policies, policy_index = _policy_index(policy_map)
    decided = people.select("*", F.explode(_in_scope(policy_map)).alias("c"))
    outcome = _outcome(policies, policy_index)
    seven_years_before = F.add_months(AS_OF(), -84)
    return decided.select(
        C().county.alias("county"),
        "subject_id",
        C().cnt_order.alias("cnt_order"),
        C().file_index.alias("file_index"),
        C().line_no.alias("line_no"),
        C().seq.alias("seq"),
        C().text.alias("code_section"),
        C().p64_section.alias("section"),
        C().is_prop64.alias("is_prop64"),
        C().felony.alias("felony"),
        C().disp_date.alias("disposition_date"),
        (C().disp_date > seven_years_before).alias("recent"),
        "race",
        "as_of",
        *fact_columns(),
        *person_counts(),
        outcome.alias("outcome"),
        F.try_element_at(F.array(*[F.lit(p.name) for p in policies]), policy_index + 1).alias("policy"),
    ).select(
        "*",
        F.col("outcome.determination").alias("determination"),
        F.col("outcome.reason").alias("reason"),
        F.col("outcome.rule").alias("rule"),
        F.col("outcome.statute").alias("statute"),
    ).drop("outcome")


# ---------------------------------------------------------------- convenience for tests and tools


def policy_from_dict(policy: dict) -> Policy:
    """The classifier's policy dicts: options JSON, or {"name": ...} with parameters."""
    if "name" in policy:
        return policy_from_entry({"policy": policy["name"], **{k: v for k, v in policy.items() if k != "name"}}, "policy", Path.cwd())
    return Policy("configurable", {"options": validate_options(policy, "policy")})


def decide_rows(spark: SparkSession, rows: list[dict], policy: dict, as_of: dt.date, counties: list[str] | None = None,
                shuffle_partitions: int | None = None, n_files: int = 1) -> list[dict]:
    """Decide in-memory DOJ rows through the real file-reading path (CSV files in a temp folder)."""
    chosen = policy_from_dict(policy)
    present = sorted({(r.get("STP_ORI_CNTY_NAME") or "").strip().upper() for r in rows} - {""})
    scope = [c for c in (counties or present) if c in COUNTIES]
    policy_map = PolicyMap({c: chosen for c in scope}, "decide_rows")
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    if shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            position = _write_csv_files(rows, Path(tmp), n_files)
            extract = read_extract(spark, resolve_inputs([tmp]))
            people = persons(spark, extract.rows, as_of)
            out = determinations(people, policy_map).collect()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
    results = []
    for r in out:
        d = {"county": r["county"], "SUBJECT_ID": r["subject_id"], "CNT_ORDER": r["cnt_order"],
             "row_index": position[(r["file_index"], r["line_no"])], "rule": r["rule"], "statute": r["statute"]}
        d.update({header: r[col] for col, header in FACT_COLUMNS.items()})
        results.append(d)
    return results


def _write_csv_files(rows: list[dict], folder: Path, n_files: int) -> dict[tuple[int, int], int]:
    """Split rows in order over n files (header + data); map (file index, line no) -> row_index."""
    position = {}
    rows = sorted(rows, key=lambda r: r.get("row_index", 0))  # row_index is the input position
    chunk = max(1, -(-len(rows) // n_files))
    for k in range(n_files):
        part = rows[k * chunk:(k + 1) * chunk]
        with open(folder / f"part-{k:03d}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(DOJ_COLUMNS)
            for line_no, row in enumerate(part, start=2):
                w.writerow([row.get(c, "") or "" for c in DOJ_COLUMNS])
                position[(k, line_no)] = row.get("row_index", k * chunk + line_no - 2)
    return position
