"""`stable_until` and `at_as_of` (decide/timing.py): time alone changes nothing before stable_until.

The property: for random people decided at a1 and at a later a2 (a few weeks to 13 months on),
every person whose determinations are all stable past a2 gets, at a2, exactly the rows that
`at_as_of(determinations at a1, a2)` makes of them, and the same `people_impact` row. Two cases
cover every policy kind (one county each); the generator puts birthdays, anniversaries and
7-year exits on and around a2 (case A) or between a1 and a2 (case B). One module of small frames.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

import people_gen as pg  # noqa: E402
from harness import _write_csv_files, policy_from_dict
from clearsweep import codes
from clearsweep.dates import add_years, years_back_reach
from clearsweep.decide.engine import determinations, persons
from clearsweep.decide.policies import REGISTRY, Policy, PolicyMap
from clearsweep.decide.rules import DISMISSAL, FACTS, Rule, C
from clearsweep.decide.timing import at_as_of, facts_undeclared, time_facts, undeclared
from clearsweep.ingest.sources import open_source
from clearsweep.outputs.figures import people_impact
from clearsweep.outputs.layout import SCHEMAS
from clearsweep.outputs.warehouse import Warehouse

N_PEOPLE = 300  # over both cases
FIXTURE_OPTIONS = {  # the shared Sacramento options: age 57, 10 years since, under 21, only Prop 64, deceased
    "baselineEligibility": {"dismiss": ["11357", "11358"], "reduce": ["11359", "11360"]},
    "additionalRelief": {"subjectUnder21AtConviction": True, "subjectAgeThreshold": 57, "yearsSinceConvictionThreshold": 10,
                         "subjectIsDeceased": True, "subjectHasOnlyProp64Charges": True}}
CRIME_FREE = {"baselineEligibility": {"dismiss": ["11357"], "reduce": ["11360"]},
              "additionalRelief": {"subjectUnder21AtConviction": True, "subjectAgeThreshold": 65, "yearsCrimeFreeThreshold": 7,
                                   "yearsSinceConvictionThreshold": 5, "subjectIsDeceased": True}}
# county -> policy, per case: every kind in one of them
CASES = {
    "A": {"LOS ANGELES": {"name": "la-2020", "age": 50, "years": 10}, "SACRAMENTO": FIXTURE_OPTIONS,
          "YOLO": {"name": "dismiss-all-related"}, "SAN JOAQUIN": {"name": "statutory"}},
    "B": {"LOS ANGELES": {"name": "dismiss-all"}, "SACRAMENTO": CRIME_FREE,
          "YOLO": {"name": "la-2020", "age": 45, "years": 5}, "SAN JOAQUIN": {"name": "la-2020", "age": 50, "years": 10}},
}


def _as_of_pair(case: str) -> tuple[dt.date, dt.date, dt.date]:
    """(a1, a2, the generator's as-of: its thresholds fall on and around it)."""
    rng = random.Random(f"timing-{case}")
    a1 = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(3 * 365))
    a2 = a1 + dt.timedelta(days=rng.randrange(21, 396))
    return a1, a2, a2 if case == "A" else a1 + (a2 - a1) // 2


def _row(sid: str, dob: str, county: str, date: str, text: str, cnt: str = "001001001000") -> dict:
    return {"SUBJECT_ID": sid, "PRI_DOB": dob, "STP_EVENT_DATE": date, "STP_TYPE_DESCR": "COURT ACTION", "STP_ORI_CNTY_NAME": county,
            "CNT_ORDER": cnt, "DISP_DESCR": "CONVICTED-JAIL", "OFFENSE_DESCR": text, "CONV_STAT_DESCR": "FELONY", "CYC_ORDER": "001"}


# people whose stable_until is known exactly (case A: a1 in 2024-2026)
KNOWN = [
    # la-2020, 30-odd years old, one old felony: nothing flips before the 50th birthday
    (_row("90000001", "19900314", "LOS ANGELES", "20100601", "11358 HS-CULTIVATE"), dt.date(2040, 3, 14)),
    # statutory: a Feb 29 conviction leaves the 7-year window on Mar 1 (add_years)
    (_row("90000002", "19700101", "SAN JOAQUIN", "20200229", "11359 HS-POSSESS FOR SALE"), dt.date(2027, 3, 1)),
    # dismiss-all-related, only an old conviction: no date changes it
    (_row("90000003", "19700101", "YOLO", "19990301", "11357(A) HS-POSSESS"), None),
]


@pytest.fixture(scope="module")
def people(spark):
    """Everyone of both cases, as the engine's persons (one Spark job): each case's generated
    people (their thresholds around that case's dates) and the people of `KNOWN`."""
    rows = []
    for case in sorted(CASES):
        gen_as_of = _as_of_pair(case)[2]
        rows += [dict(r, SUBJECT_ID=f"{case}{r['SUBJECT_ID']}") for r in pg.generate(N_PEOPLE // 2, 17 + ord(case), as_of=gen_as_of)]
    blank = {c: "" for c in rows[0]}
    rows += [dict(blank, **r) for r, _ in KNOWN]
    rows = [dict(r, row_index=i) for i, r in enumerate(rows)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "extract"
        folder.mkdir()
        _write_csv_files(rows, folder, 1)
        source = open_source(spark, [str(folder)], Warehouse(str(Path(tmp) / "wh")), "timing")
        yield persons(source.decide_rows, codes.reference_table(spark)).localCheckpoint()


@pytest.mark.parametrize("case", sorted(CASES))
def test_at_as_of_equals_deciding_again_for_people_stable_past_a2(spark, people, case):
    a1, a2, _ = _as_of_pair(case)
    policy_map = PolicyMap({c: policy_from_dict(p) for c, p in CASES[case].items()}, f"case {case}")
    then = determinations(people, policy_map, a1).localCheckpoint()
    later = determinations(people, policy_map, a2).localCheckpoint()
    assert sorted(then.columns) == sorted(f for f in SCHEMAS["determinations"].fieldNames() if f != "run_id")
    summary = then.groupBy("subject_id").agg(F.min("stable_until").alias("until"), F.max(F.col("stable_until") <= F.col("as_of")).alias("bad"))
    counts = summary.agg(F.count("*").alias("people"), F.sum(F.when(F.col("until") <= F.lit(a2), 1).otherwise(0)).alias("moving"),
                         F.coalesce(F.sum(F.col("bad").cast("int")), F.lit(0)).alias("bad")).first()
    assert counts["bad"] == 0, "stable_until must be after as_of"
    assert 0 < counts["moving"] < counts["people"], counts  # some people change by a2, most do not: not vacuous
    stable = summary.where(F.col("until").isNull() | (F.col("until") > F.lit(a2))).select("subject_id")
    assert at_as_of(then, a2).columns == then.columns
    refreshed = at_as_of(then, a2).join(stable, "subject_id", "left_semi")
    expected = later.join(stable, "subject_id", "left_semi")
    assert_df_equality(refreshed, expected, ignore_row_order=True)
    run = F.lit("r")
    impact_then = people_impact(then.withColumn("run_id", run)).join(stable, "subject_id", "left_semi")
    impact_later = people_impact(later.withColumn("run_id", run)).join(stable, "subject_id", "left_semi")
    assert_df_equality(impact_then, impact_later, ignore_row_order=True)
    if case == "A":
        got = {r["subject_id"]: r["stable_until"] for r in then.where(F.col("subject_id").startswith("9000000")).collect()}
        assert got == {r["SUBJECT_ID"]: until for r, until in KNOWN}


def test_years_back_reach_is_the_first_day_the_anniversary_is_reached(spark):
    """Every day of 2015-2017 (two Feb 29s around), 5, 7 and 10 years on: the day before the
    result does not reach back to the date, the result does (add_years' Feb 29 -> Mar 1)."""
    days = spark.sql("SELECT explode(sequence(DATE'2015-01-01', DATE'2017-12-31')) AS x").crossJoin(
        spark.createDataFrame([(5,), (7,), (10,)], "n int"))
    bad = []
    for n in (5, 7, 10):
        r = years_back_reach(F.col("x"), n)
        wrong = (add_years(F.date_sub(r, 1), -n) >= F.col("x")) | (add_years(r, -n) < F.col("x"))
        bad.append(F.sum(F.when((F.col("n") == n) & wrong, 1).otherwise(0)))
    assert [int(v) for v in days.agg(*bad).first()] == [0, 0, 0]


def _every_policy() -> list[Policy]:
    every_option = {"baselineEligibility": {"dismiss": ["11357"], "reduce": ["11360"]},
                    "additionalRelief": {"subjectUnder21AtConviction": True, "subjectAgeThreshold": 50,
                                         "yearsSinceConvictionThreshold": 10, "yearsCrimeFreeThreshold": 5,
                                         "subjectHasOnlyProp64Charges": True, "subjectIsDeceased": True}}
    out = [Policy.of("configurable", {"options": every_option})]
    out += [Policy.of(name) for name, kind in REGISTRY.items() if name != "configurable"]
    return out


def test_every_rule_and_fact_that_reads_the_as_of_date_declares_when_it_changes(spark):
    then, later = F.lit(dt.date(2019, 11, 11)), F.lit(dt.date(2023, 2, 28))
    assert sorted(REGISTRY) == sorted(p.name for p in _every_policy())  # a new kind must be added here
    for policy in _every_policy():
        assert undeclared(policy.rules(then), policy.rules(later)) == [], policy.name
        time_facts(policy.rules(then))  # every threshold fact has its threshold
    assert facts_undeclared(then, later) == []
    # the guard sees a rule that reads the date through no declared fact, and one with no threshold
    sneaky = Rule("sneaky", C().disp_date <= add_years(then, -3), DISMISSAL, "x", "y", uses=("disposition_date",))
    later_sneaky = Rule("sneaky", C().disp_date <= add_years(later, -3), DISMISSAL, "x", "y", uses=("disposition_date",))
    assert undeclared([sneaky], [later_sneaky]) == ["sneaky"]
    with pytest.raises(ValueError, match="declares no threshold"):
        time_facts([Rule("age", F.lit(True), DISMISSAL, "x", "y", uses=("age_at_as_of",))])
    assert FACTS["age_at_as_of"].changes_on is not None
