"""Time alone: when a determination can change with no new input rows, and a stored
determination refreshed to a later as-of date.

`stable_until` (a column of every determination) is the first date after the as-of date on which
its outcome (determination, reason, rule, statute) or its person's figures could change if the
person's rows stay as they are; null when no date can change them. It is derived from the facts
the rules declare (`Rule.uses`, `rules.FACTS`): each fact that moves with the as-of date declares
`changes_on` (the exact date its comparison with the rule's `threshold` flips: the 50th birthday
for "age >= 50", the 10th anniversary for "10 years since this conviction", the day the last
sentence is served), and the person's figures declare theirs here (`FIGURE_FACTS`: a conviction
enters the 7-year window on its date and leaves it 7 calendar years later). stable_until is the
earliest of these over the rules of the conviction's policy and the figures. It is conservative:
a fact a rule reads counts even where an earlier rule decides, and where two rules compare one
fact with the same threshold, one `<` and one `<=`, the earlier of their flips counts.

`at_as_of` turns stored determinations decided at an earlier as-of date into the rows a decision
at a later one writes, for those whose stable_until is after it: only the columns that show the
as-of date (`as_of`, `recent`, `years_since_this`, `years_since_any`) are recomputed.
"""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep.dates import ahead, format_years, years_back_reach, years_between
from clearsweep.decide.facts import RECENT_YEARS, is_recent
from clearsweep.decide.rules import CONVS, FACTS, Fact, Rule, latest_conviction_date


def _window_change(date: Column, as_of: Column) -> Column:
    """The next day a conviction on `date` enters (a date after as-of) or leaves the 7-year
    window `is_recent` reads; null when neither is to come."""
    return F.when(date > as_of, date).otherwise(ahead(years_back_reach(date, RECENT_YEARS), as_of))


# what the person's figures (`people_impact`: the recent counts, each determination's `recent`) read
FIGURE_FACTS: dict[str, Fact] = {
    "recent_convictions": Fact(
        f"convictions in the {RECENT_YEARS} years before as-of (the person's figures)",
        lambda as_of: F.size(F.filter(CONVS(), lambda o: is_recent(o.disp_date, as_of))),
        lambda as_of, years: F.array_min(F.transform(CONVS(), lambda o: _window_change(o.disp_date, as_of))),
    ),
}


def time_facts(rules: list[Rule]) -> list[tuple[str, float | None]]:
    """(fact, threshold) of every fact the rules read that moves with the as-of date, once each."""
    found: dict[tuple[str, float | None], None] = {}
    for r in rules:
        for name in r.uses:
            fact = FACTS[name]
            if fact.changes_on is None:
                continue
            if fact.needs_threshold and r.threshold is None:
                raise ValueError(f"rule {r.name} reads {name}, which moves with the as-of date, but declares no threshold")
            found[(name, r.threshold if fact.needs_threshold else None)] = None
    return list(found)


def _earliest(dates: list[Column]) -> Column:
    return dates[0] if len(dates) == 1 else F.least(*dates)  # least skips nulls


def changes_on(rules: list[Rule], as_of: Column) -> Column:
    """The first date after as-of on which a fact the rules read or the figures read flips."""
    dates = [FACTS[name].changes_on(as_of, threshold) for name, threshold in time_facts(rules)]
    dates += [f.changes_on(as_of, None) for f in FIGURE_FACTS.values()]
    return _earliest(dates)


def stable_until(rules_by_index: list[list[Rule]], policy_index: Column, as_of: Column) -> Column:
    """Per decided conviction, `changes_on` of its county's policy (by the engine's index)."""
    chosen = None
    for i, rules in enumerate(rules_by_index):
        date = changes_on(rules, as_of)
        chosen = F.when(policy_index == i, date) if chosen is None else chosen.when(policy_index == i, date)
    return chosen


# ---------------------------------------------------------------- refreshing stored rows

def as_of_columns(as_of: Column) -> dict[str, Column]:
    """The determinations' columns that show the as-of date, from the row's stored columns."""
    return {
        "as_of": as_of,
        "recent": is_recent(F.col("disposition_date"), as_of),
        "years_since_this": format_years(years_between(as_of, F.col("disposition_date"))),
        "years_since_any": format_years(years_between(as_of, F.col("latest_conviction_date"))),
    }


def at_as_of(dets: DataFrame, as_of: dt.date) -> DataFrame:
    """Stored determinations (the determinations table's columns, with or without run_id) as a
    decision at `as_of` would write them: the rows decided at an as-of date up to `as_of` whose
    stable_until is null or after `as_of`, the as-of columns recomputed, the same columns in the
    same order. The other rows are left out: they must be decided again."""
    day = F.lit(as_of)
    fresh = as_of_columns(day)
    still = (F.col("as_of") <= day) & (F.col("stable_until").isNull() | (F.col("stable_until") > day))
    return dets.where(still).select(*[fresh[c].alias(c) if c in fresh else F.col(c) for c in dets.columns])


# ---------------------------------------------------------------- the guard


def _text(c: Column) -> str:
    """An expression as text, its lambda variables (x_12, numbered as built) renumbered in order."""
    names: dict[str, str] = {}
    return re.sub(r"\bx_\d+\b", lambda m: names.setdefault(m.group(0), f"x{len(names)}"), str(c))


def undeclared(rules_then: list[Rule], rules_later: list[Rule]) -> list[str]:
    """Rules (one policy's, built at two as-of dates) whose condition, reason or statute reads the
    as-of date but that read no fact declaring when it changes: a stable_until that would not see
    them. Needs an active Spark session (expressions are compared as text)."""
    out = []
    for a, b in zip(rules_then, rules_later):
        reads_time = any(_text(x) != _text(y) for x, y in ((a.when, b.when), (a.outcome("p"), b.outcome("p"))))
        if reads_time and not any(FACTS[n].changes_on is not None for n in a.uses):
            out.append(a.name)
    return out


def facts_undeclared(then: Column, later: Column) -> list[str]:
    """Facts whose value reads the as-of date but that declare no `changes_on`."""
    every = {**FACTS, **FIGURE_FACTS}
    return [n for n, f in every.items() if f.changes_on is None and _text(f.value(then)) != _text(f.value(later))]


def latest_conviction() -> Column:
    """The person's latest conviction date (stored, for `at_as_of`'s years_since_any)."""
    return latest_conviction_date()

