"""Statewide determinations: every in-scope conviction of every county, in one Spark job.

The as-of date comes in as a date and is applied as one literal; the charge-code reference table
comes in as a DataFrame (decide/ opens no files and starts no sessions)."""

from __future__ import annotations

import datetime as dt
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep import codes, history
from clearsweep.decide.facts import fact_columns, is_recent, person_counts
from clearsweep.decide.policies import Policy, PolicyMap
from clearsweep.decide.rules import C
from clearsweep.decide.timing import latest_conviction, stable_until


def _policy_index(policy_map: PolicyMap) -> tuple[list[Policy], Column]:
    """The distinct policies of the run and, per conviction, the index of its county's policy."""
    policies = policy_map.policies()
    index = {p.key(): i for i, p in enumerate(policies)}
    pairs = [x for county, p in sorted(policy_map.by_county.items()) for x in (F.lit(county), F.lit(index[p.key()]))]
    return policies, F.create_map(*pairs)[C().county]


def _in_scope(policy_map: PolicyMap) -> Column:
    """Prop 64 convictions of the run's counties; related ones where the related what-if applies."""
    counties = sorted(policy_map.by_county)
    related = policy_map.related_counties()
    return F.filter(
        F.col("convictions"),
        lambda c: c.county.isin(*counties) & (c.is_prop64 | (c.county.isin(*related) & c.is_related) if related else c.is_prop64),
    )


def _outcome(policies: list[Policy], policy_index: Column, as_of: Column) -> Column:
    chosen = None
    for i, p in enumerate(policies):
        decided = p.decide(as_of)
        chosen = F.when(policy_index == i, decided) if chosen is None else chosen.when(policy_index == i, decided)
    return chosen


def candidate_row(policy_map: PolicyMap) -> Column:
    """A row that makes its person a candidate: a conviction in a county of the run whose offense
    or comment text spells an in-scope section."""
    counties = sorted(policy_map.by_county)
    related = policy_map.related_counties()
    texts = [F.coalesce(F.col(c), F.lit("")) for c in ("OFFENSE_DESCR", "COMMENT_TEXT")]

    def names(lists: tuple[str, ...]) -> Column:
        return reduce(lambda a, b: a | b, [t.contains(s) for s in codes.section_names(lists) for t in texts])

    in_scope = names(("prop64",))
    if related:
        in_scope = in_scope | (history.row_county().isin(*related) & names(("related",)))
    return history.row_is_conviction() & history.row_county().isin(*counties) & in_scope


def candidates(rows: DataFrame, policy_map: PolicyMap) -> DataFrame:
    """The rows of the people who may have a conviction in scope: a conviction in a county of the
    run whose offense or comment text spells an in-scope section. A superset (the exact reading of
    the text comes later), so every person decided is kept whole, and the others are never
    shuffled."""
    subjects = rows.where(candidate_row(policy_map)).select(history.person_key(F.col("SUBJECT_ID")).alias("_person")).distinct()
    return rows.join(F.broadcast(subjects), history.person_key(rows["SUBJECT_ID"]) == subjects["_person"], "left_semi")


def persons(rows: DataFrame, charge_codes: DataFrame) -> DataFrame:
    """One row per person with their statewide history (one shuffle by SUBJECT_ID);
    `charge_codes` is `codes.reference_table`."""
    derived = history.with_row_facts(rows)
    classified = history.with_charge_codes(derived, charge_codes)
    return history.people(classified)


def decided_convictions(people: DataFrame, policy_map: PolicyMap) -> DataFrame:
    """The people's rows once per in-scope conviction, that conviction as `c`: what every rule
    reads (also what `clearsweep explain` evaluates the rules on)."""
    return people.select("*", F.explode(_in_scope(policy_map)).alias("c"))


def determinations(people: DataFrame, policy_map: PolicyMap, as_of: dt.date) -> DataFrame:
    """One row per in-scope conviction: its facts, and the outcome of its county's policy."""
    as_of_date = F.lit(as_of)
    policies, policy_index = _policy_index(policy_map)
    decided = decided_convictions(people, policy_map)
    outcome = _outcome(policies, policy_index, as_of_date)
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
        C().felony_conflict.alias("felony_flags_conflict"),
        C().disp_date.alias("disposition_date"),
        is_recent(C().disp_date, as_of_date).alias("recent"),
        "race",
        as_of_date.alias("as_of"),
        latest_conviction().alias("latest_conviction_date"),
        # the first date after as-of on which time alone could change this row or its person's figures
        stable_until([p.rules(as_of_date) for p in policies], policy_index, as_of_date).alias("stable_until"),
        *fact_columns(as_of_date),
        *person_counts(as_of_date),
        F.col("orphan_sentences").alias("person_orphan_sentences"),
        outcome.alias("outcome"),
        F.try_element_at(F.array(*[F.lit(p.name) for p in policies]), policy_index + 1).alias("policy"),
    ).select(
        "*",
        F.col("outcome.determination").alias("determination"),
        F.col("outcome.reason").alias("reason"),
        F.col("outcome.rule").alias("rule"),
        F.col("outcome.statute").alias("statute"),
    ).drop("outcome")
