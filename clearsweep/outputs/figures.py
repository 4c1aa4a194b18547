"""Per-person impact and per-county figures (the reference summary keys, plus statewide totals,
relief by race and human-review reasons). Only small aggregates reach the driver."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep.decide.policies import PolicyMap
from clearsweep.decide.rules import DISMISSAL, HAND_REVIEW, REDUCTION

STATEWIDE = "STATEWIDE"

# RACE_DESCR values the DOJ uses for its race codes; any other text (free text, blanks, typos)
# is counted as OTHER/UNKNOWN, so no value from the data ever becomes a figure's key.
RACES = ("AMERICAN INDIAN", "ASIAN", "ASIAN INDIAN", "BLACK", "CAMBODIAN", "CHINESE", "FILIPINO", "GUAMANIAN",
         "HAWAIIAN", "HISPANIC", "JAPANESE", "KOREAN", "LAOTIAN", "PACIFIC ISLANDER", "SAMOAN", "VIETNAMESE", "WHITE")
OTHER_RACE = "OTHER/UNKNOWN"


def race_category(race: Column) -> Column:
    text = F.upper(F.trim(race))
    return F.when(text.isin(*RACES), text).otherwise(F.lit(OTHER_RACE))


def _sum_if(cond: Column) -> Column:
    return F.sum(F.when(cond, 1).otherwise(0))


def people_impact(dets: DataFrame) -> DataFrame:
    """One row per (county, person decided there): what the county's determinations do for them,
    measured against all of the person's convictions statewide."""
    dismissed = F.col("determination") == DISMISSAL
    relief = F.col("determination").isin(DISMISSAL, REDUCTION)
    p64 = F.col("is_prop64")
    agg = dets.groupBy("county", "subject_id").agg(
        F.first("race").alias("race"),
        F.max("person_felonies").alias("felonies"),
        F.max("person_convictions").alias("convictions"),
        F.max("person_recent_convictions").alias("recent_convictions"),
        F.count("*").alias("decided"),
        _sum_if(p64).alias("prop64_decided"),
        _sum_if(dismissed).alias("dismissed"),
        _sum_if(F.col("determination") == REDUCTION).alias("reduced"),
        _sum_if(relief & F.col("felony")).alias("felonies_relieved"),
        _sum_if(dismissed & F.col("recent")).alias("recent_dismissed"),
        _sum_if(p64 & F.col("felony")).alias("prop64_felonies"),
        _sum_if(p64 & F.col("recent")).alias("prop64_recent"),
        F.max("run_id").alias("run_id"),
    )
    return agg.select(
        "*",
        (F.col("dismissed") + F.col("reduced") > 0).alias("some_relief"),
        ((F.col("felonies") > 0) & (F.col("felonies_relieved") == F.col("felonies"))).alias("no_felony_after"),
        ((F.col("convictions") > 0) & (F.col("dismissed") == F.col("convictions"))).alias("no_conviction_after"),
        ((F.col("recent_convictions") > 0) & (F.col("recent_dismissed") == F.col("recent_convictions"))).alias("no_conviction_last7_after"),
        ((F.col("felonies") > 0) & (F.col("prop64_felonies") == F.col("felonies"))).alias("no_felony_if_dismiss_all"),
        ((F.col("convictions") > 0) & (F.col("prop64_decided") == F.col("convictions"))).alias("no_conviction_if_dismiss_all"),
        ((F.col("recent_convictions") > 0) & (F.col("prop64_recent") == F.col("recent_convictions"))).alias("no_conviction_last7_if_dismiss_all"),
    )


FLAGS = ("some_relief", "no_felony_after", "no_conviction_after", "no_conviction_last7_after",
         "no_felony_if_dismiss_all", "no_conviction_if_dismiss_all", "no_conviction_last7_if_dismiss_all")


def county_figures(dets: DataFrame, people: DataFrame, policy_map: PolicyMap, line_count: int, as_of: dt.date) -> dict[str, dict]:
    """county -> {"summary": reference summary keys, "extended": clearsweep's extra figures}.
    Two small aggregates reach the driver: determinations by kind (counted by the rule that
    decided them), people by race."""
    by_section: dict = defaultdict(int)
    conv: dict = defaultdict(lambda: {"earliest": None, "felonies": 0, "non_felonies": 0, "subjects": 0})
    reasons: dict = defaultdict(lambda: defaultdict(int))
    for r in dets.groupBy("county", "is_prop64", "section", "felony", "determination", "reason", "rule").agg(
            F.count("*").alias("n"), F.min("disposition_date").alias("earliest")).collect():
        reasons[r["county"]][(r["determination"], r["reason"], r["rule"])] += r["n"]
        if r["is_prop64"]:
            c = conv[r["county"]]
            by_section[(r["county"], r["section"])] += r["n"]
            c["felonies" if r["felony"] else "non_felonies"] += r["n"]
            if r["earliest"] is not None and (c["earliest"] is None or r["earliest"] < c["earliest"]):
                c["earliest"] = r["earliest"]
    ppl: dict = defaultdict(lambda: dict.fromkeys(FLAGS, 0))
    race = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for r in people.groupBy("county", race_category(F.col("race")).alias("race")).agg(
            F.count("*").alias("all"), _sum_if(F.col("prop64_decided") > 0).alias("prop64_subjects"),
            *[_sum_if(F.col(f)).alias(f) for f in FLAGS]).collect():
        for f in FLAGS:
            ppl[r["county"]][f] += r[f]
        conv[r["county"]]["subjects"] += r["prop64_subjects"]
        race[r["county"]][r["race"]] = [r["all"], r["some_relief"]]

    out = {}
    for county in sorted(policy_map.by_county):
        out[county] = _assemble(county, policy_map, line_count, by_section, conv.get(county), reasons[county], ppl.get(county), race[county], as_of)
    out[STATEWIDE] = _statewide(out, line_count)
    return out


def _relief(ppl, suffix: str) -> dict:
    get = (lambda k: int(ppl[k] or 0)) if ppl is not None else (lambda k: 0)
    return {
        "CountSubjectsNoConviction": get(f"no_conviction_{suffix}"),
        "CountSubjectsNoConvictionLast7Years": get(f"no_conviction_last7_{suffix}"),
        "CountSubjectsNoFelony": get(f"no_felony_{suffix}"),
    }


def _by_reason(counts: dict, keep=lambda det, rule: True) -> dict:
    out: dict = defaultdict(int)
    for (det, reason, rule), n in sorted(counts.items()):
        if keep(det, rule):
            out[(det, reason)] += n
    return dict(out)


def _assemble(county, policy_map, line_count, by_section, conv, counts, ppl, race, as_of) -> dict:
    policy = policy_map.by_county[county]
    baseline = policy.baseline_rules(F.lit(as_of))
    by_rule: dict = defaultdict(int)
    for (_, _, rule), n in counts.items():
        by_rule[rule] += n
    reasons = _by_reason(counts)
    additional = {reason: n for (_, reason), n in _by_reason(counts, lambda det, rule: det == DISMISSAL and rule not in baseline).items()}
    summary = {
        "county": county,
        "earliestConviction": f"{conv['earliest']:%Y-%m-%d}T00:00:00Z" if conv and conv["earliest"] else None,
        "lineCount": line_count,
        "reliefWithCurrentEligibilityChoices": _relief(ppl, "after"),
        "reliefWithDismissAllProp64": _relief(ppl, "if_dismiss_all"),
        "prop64ConvictionsCountInCountyByCodeSection": {s: n for (c, s), n in sorted(by_section.items()) if c == county},
        "subjectsWithProp64ConvictionCountInCounty": int(conv["subjects"]) if conv else 0,
        "prop64FelonyConvictionsCountInCounty": int(conv["felonies"]) if conv else 0,
        "prop64NonFelonyConvictionsCountInCounty": int(conv["non_felonies"]) if conv else 0,
        "subjectsWithSomeReliefCount": int(ppl["some_relief"]) if ppl else 0,
        "convictionDismissalCountByCodeSection": {s: by_rule.get(f"{policy.name}.dismiss_{s}", 0) for s in policy.sections("dismiss")},
        "convictionReductionCountByCodeSection": {s: by_rule.get(f"{policy.name}.reduce_{s}", 0) for s in policy.sections("reduce")},
        "convictionDismissalCountByAdditionalRelief": additional,
    }
    extended = {
        "policy": policy.as_dict(),
        "determinations": {f"{d} / {r}": n for (d, r), n in sorted(reasons.items())},
        "humanReviewCountByReason": {r: n for (d, r), n in sorted(reasons.items()) if d == HAND_REVIEW},
        "peopleByRace": {k: {"withProp64Conviction": v[0], "relieved": v[1]} for k, v in sorted(race.items())},
    }
    return {"summary": summary, "extended": extended}


def _statewide(per_county: dict, line_count: int) -> dict:
    def add(a: dict, b: dict) -> dict:
        out = dict(a)
        for k, v in b.items():
            out[k] = add(out.get(k, {}), v) if isinstance(v, dict) else out.get(k, 0) + v
        return out

    summary_keys = ("reliefWithCurrentEligibilityChoices", "reliefWithDismissAllProp64", "prop64ConvictionsCountInCountyByCodeSection",
                    "subjectsWithProp64ConvictionCountInCounty", "prop64FelonyConvictionsCountInCounty", "prop64NonFelonyConvictionsCountInCounty",
                    "subjectsWithSomeReliefCount", "convictionDismissalCountByAdditionalRelief")
    total: dict = {}
    extended: dict = {}
    earliest = [f["summary"]["earliestConviction"] for f in per_county.values() if f["summary"]["earliestConviction"]]
    for f in per_county.values():
        total = add(total, {k: f["summary"][k] for k in summary_keys})
        extended = add(extended, {k: f["extended"][k] for k in ("determinations", "humanReviewCountByReason", "peopleByRace")})
    # a person decided in two counties is counted in each county's figures and once per county here
    return {"summary": {"county": STATEWIDE, "earliestConviction": min(earliest) if earliest else None, "lineCount": line_count, **total},
            "extended": extended}
