"""Per-person impact and per-county figures: the reference summary keys, and what a district
attorney announces and a DOJ analyst checks (relief under the chosen policy and two what-if
scenarios, per code section and decade, relief by race, human-review reasons, data quality), for
each county of a run and for the run's total. Only small aggregates reach the driver.

The total row is keyed `STATEWIDE` for a run of all 58 counties and `TOTAL` otherwise; every row
says what it covers (`extended.covers`, `extended.label`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep.counties import COUNTIES
from clearsweep.decide.policies import PolicyMap
from clearsweep.decide.rules import BAD_DISP_DATE, BAD_DOB, BAD_OTHER_DATE, DISMISSAL, HAND_REVIEW, REDUCTION

STATEWIDE = "STATEWIDE"  # the total of a run of all 58 counties
TOTAL = "TOTAL"  # the total of a run of some counties
TOTAL_KEYS = (STATEWIDE, TOTAL)

# RACE_DESCR values the DOJ uses for its race codes; any other text (free text, blanks, typos)
# is counted as OTHER/UNKNOWN, so no value from the data ever becomes a figure's key.
RACES = ("AMERICAN INDIAN", "ASIAN", "ASIAN INDIAN", "BLACK", "CAMBODIAN", "CHINESE", "FILIPINO", "GUAMANIAN",
         "HAWAIIAN", "HISPANIC", "JAPANESE", "KOREAN", "LAOTIAN", "PACIFIC ISLANDER", "SAMOAN", "VIETNAMESE", "WHITE")
OTHER_RACE = "OTHER/UNKNOWN"

UNUSABLE_DATE_REASONS = (BAD_DISP_DATE, BAD_DOB, BAD_OTHER_DATE)
RELATED_SECTION = "related charges"  # bySection key of the related (non-Prop 64) convictions a policy decides
UNDATED_DECADE = "date unusable"  # byDecade key of convictions without a usable date
SCENARIOS = ("chosenPolicy", "dismissAllProp64", "dismissAllProp64AndRelated")


# ---------------------------------------------------------------- what a row covers


def total_key(counties) -> str:
    """The county key of a run's total row."""
    return STATEWIDE if set(counties) == set(COUNTIES) else TOTAL


def county_label(county: str) -> str:
    return f"{county.title()} County"


def coverage_label(counties) -> str:
    """'California (all 58 counties)', 'Los Angeles County', '3 counties: FRESNO, SAN DIEGO, SANTA CLARA'."""
    counties = sorted(counties)
    if set(counties) == set(COUNTIES):
        return f"California (all {len(COUNTIES)} counties)"
    if len(counties) == 1:
        return county_label(counties[0])
    return f"{len(counties)} counties: {', '.join(counties)}"


def headline(extended: dict) -> dict:
    """What a run's total row announces (the `runs` listing): what it covers, convictions decided,
    dismissed and reduced, and people relieved / left with no felony / no conviction."""
    chosen = extended["scenarios"]["chosenPolicy"]
    return {"covers": extended["label"], "prop64ConvictionsDecided": extended["prop64Convictions"]["total"],
            "convictionsDismissed": chosen["convictionsDismissed"]["total"], "convictionsReduced": chosen["convictionsReduced"]["total"],
            "peopleWithProp64Conviction": extended["peopleWithProp64Conviction"],
            **{k: chosen[k] for k in ("peopleRelieved", "peopleWithNoFelony", "peopleWithNoConviction")}}


def total_of(figures: dict) -> dict:
    """The total row of a run's figures (county -> {summary, extended})."""
    found = [figures[k] for k in TOTAL_KEYS if k in figures]
    if len(found) != 1:
        raise ValueError(f"figures hold {len(found)} total rows")
    return found[0]


# ---------------------------------------------------------------- people


def race_category(race: Column) -> Column:
    text = F.upper(F.trim(race))
    return F.when(text.isin(*RACES), text).otherwise(F.lit(OTHER_RACE))


def _sum_if(cond: Column) -> Column:
    return F.sum(F.when(cond, 1).otherwise(0))


def _all_of(part: Column, whole: str) -> Column:
    """The person has some `whole` and `part` of them are all of them."""
    return (F.col(whole) > 0) & (part == F.col(whole))


def relief_flags() -> dict[str, Column]:
    """Per-person flags from the person's counts (one county's, or summed over the run's counties):
    relief under the chosen policy, under "dismiss all Prop 64" (every Prop 64 conviction decided
    dismissed) and under "dismiss all Prop 64 and related" (their related convictions in the
    county too)."""
    c = F.col
    return {
        "some_relief": c("dismissed") + c("reduced") > 0,
        "no_felony_after": _all_of(c("felonies_relieved"), "felonies"),
        "no_conviction_after": _all_of(c("dismissed"), "convictions"),
        "no_conviction_last7_after": _all_of(c("recent_dismissed"), "recent_convictions"),
        "no_felony_if_dismiss_all": _all_of(c("prop64_felonies"), "felonies"),
        "no_conviction_if_dismiss_all": _all_of(c("prop64_decided"), "convictions"),
        "no_conviction_last7_if_dismiss_all": _all_of(c("prop64_recent"), "recent_convictions"),
        "no_felony_if_dismiss_related": _all_of(c("prop64_felonies") + c("related_felonies"), "felonies"),
        "no_conviction_if_dismiss_related": _all_of(c("prop64_decided") + c("related_convictions"), "convictions"),
        "no_conviction_last7_if_dismiss_related": _all_of(c("prop64_recent") + c("related_recent"), "recent_convictions"),
    }


FLAGS = ("some_relief", "no_felony_after", "no_conviction_after", "no_conviction_last7_after",
         "no_felony_if_dismiss_all", "no_conviction_if_dismiss_all", "no_conviction_last7_if_dismiss_all",
         "no_felony_if_dismiss_related", "no_conviction_if_dismiss_related", "no_conviction_last7_if_dismiss_related")  # relief_flags' names
COUNTS = ("decided", "prop64_decided", "dismissed", "reduced", "felonies_relieved", "recent_dismissed",
          "prop64_felonies", "prop64_recent")
RELATED_COUNTS = ("related_convictions", "related_felonies", "related_recent")


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
        F.max("person_related_convictions").alias("related_convictions"),
        F.max("person_related_felonies").alias("related_felonies"),
        F.max("person_related_recent").alias("related_recent"),
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
    return agg.select("*", *[cond.alias(name) for name, cond in relief_flags().items()])


def _across_counties(people: DataFrame) -> DataFrame:
    """One row per person of the run: their counts summed over the counties that decided them,
    flags recomputed from the sums (a person is counted once in the total)."""
    per_person = people.groupBy("subject_id").agg(
        F.min("race").alias("race"),  # the person's race, the same in every county's row
        *[F.max(c).alias(c) for c in ("felonies", "convictions", "recent_convictions")],
        *[F.sum(c).alias(c) for c in (*COUNTS, *RELATED_COUNTS)],
    )
    return per_person.select("*", *[cond.alias(name) for name, cond in relief_flags().items()])


def _people_counts(people: DataFrame, county: Column) -> DataFrame:
    """Counts of people per (county, race): the flags, and the what-if scenarios' totals."""
    p64 = F.col("prop64_decided") > 0
    return people.groupBy(county.alias("county"), race_category(F.col("race")).alias("race")).agg(
        _sum_if(p64).alias("prop64_people"),
        _sum_if(p64 & F.col("some_relief")).alias("prop64_relieved"),
        _sum_if(F.col("prop64_decided") + F.col("related_convictions") > 0).alias("relieved_if_dismiss_related"),
        F.sum("related_convictions").alias("related_convictions"),
        F.sum("related_felonies").alias("related_felonies"),
        *[_sum_if(F.col(f)).alias(f) for f in FLAGS],
    )


# ---------------------------------------------------------------- figures


def county_figures(dets: DataFrame, people: DataFrame, policy_map: PolicyMap, line_count: int, as_of: dt.date,
                   quality: dict | None = None, quarantine: dict | None = None) -> dict[str, dict]:
    """county -> {"summary": reference summary keys, "extended": clearsweep's extra figures}, and
    the run's total under `total_key`. Two small aggregates reach the driver: determinations by
    kind (counted by the rule that decided them, the section and the decade), and people by
    county and race (with the run's people once each, by race, in the same job).
    `quality`: history.data_quality of the rows read; `quarantine`: lines quarantined by reason
    code and where ({"byReason": {...}, "at": ...})."""
    decade = (F.floor(F.year("disposition_date") / 10) * 10).cast("int")
    dets_rows = dets.groupBy("county", "is_prop64", "section", "felony", "determination", "reason", "rule", decade.alias("decade")).agg(
        F.count("*").alias("n"), F.min("disposition_date").alias("earliest"),
        _sum_if(F.col("felony_flags_conflict")).alias("felony_conflicts"),
        _sum_if(F.col("person_orphan_sentences") > 0).alias("orphan_sentence_people")).collect()
    by_county: dict = defaultdict(list)
    for r in dets_rows:
        by_county[r["county"]].append(r)
    total = total_key(policy_map.by_county)
    people_rows = _people_counts(people, F.col("county")).unionByName(
        _people_counts(_across_counties(people), F.lit(total))).collect()
    race_rows: dict = defaultdict(list)
    for r in people_rows:
        race_rows[r["county"]].append(r)

    quality = quality or {"total": {}, "by_county": {}}
    baselines = _rules_by_policy(policy_map, as_of)
    out = {}
    for county in sorted(policy_map.by_county):
        out[county] = _assemble(county, policy_map, line_count, by_county[county], race_rows[county], as_of,
                                quality["by_county"].get(county, {}), baselines[policy_map.by_county[county].key()])
    out[total] = _total(out, line_count, total, race_rows[total], {**quality["total"], **_quarantine(quarantine)})
    return out


def _rules_by_policy(policy_map: PolicyMap, as_of: dt.date) -> dict[str, set[str]]:
    """Each policy's baseline rules by its key: built once per policy, not once per county (each
    build is thousands of calls into the JVM)."""
    rules: dict[str, set[str]] = {}
    for policy in policy_map.by_county.values():
        if policy.key() not in rules:
            rules[policy.key()] = policy.baseline_rules(F.lit(as_of))
    return rules


def _quarantine(quarantine: dict | None) -> dict:
    q = quarantine or {}
    by_reason = {k: int(v) for k, v in sorted((q.get("byReason") or {}).items())}
    return {"quarantinedLinesByReason": by_reason, "quarantinedLines": sum(by_reason.values()),
            "quarantinedLinesAt": q.get("at", "run")}


def _relief(ppl, suffix: str) -> dict:
    return {
        "CountSubjectsNoConviction": ppl[f"no_conviction_{suffix}"],
        "CountSubjectsNoConvictionLast7Years": ppl[f"no_conviction_last7_{suffix}"],
        "CountSubjectsNoFelony": ppl[f"no_felony_{suffix}"],
    }


def _by_reason(counts: dict, keep=lambda det, rule: True) -> dict:
    out: dict = defaultdict(int)
    for (det, reason, rule), n in sorted(counts.items()):
        if keep(det, rule):
            out[(det, reason)] += n
    return dict(out)


def _split(felony: int, misdemeanor: int) -> dict:
    return {"felony": felony, "misdemeanor": misdemeanor, "total": felony + misdemeanor}


def _people_sums(rows) -> dict:
    keys = ("prop64_people", "relieved_if_dismiss_related", "related_convictions", "related_felonies", *FLAGS)
    return {k: sum(int(r[k] or 0) for r in rows) for k in keys}


def _scenarios(convictions: dict, ppl: dict) -> dict:
    """The three scenarios side by side: convictions dismissed and reduced, felony and
    misdemeanor (or infraction), and people relieved / left with no felony, no conviction, no
    conviction in the last 7 years. `convictions[(determination, felony)]` counts determinations;
    `("prop64", felony)` the Prop 64 convictions decided."""
    def people(relieved: int, suffix: str) -> dict:
        return {"peopleRelieved": relieved, "peopleWithNoFelony": ppl[f"no_felony_{suffix}"],
                "peopleWithNoConviction": ppl[f"no_conviction_{suffix}"],
                "peopleWithNoConvictionLast7Years": ppl[f"no_conviction_last7_{suffix}"]}

    get = lambda kind, felony: convictions.get((kind, felony), 0)  # noqa: E731
    p64_felony, p64_misd = get("prop64", True), get("prop64", False)
    rel_felony = ppl["related_felonies"]
    rel_misd = ppl["related_convictions"] - rel_felony
    none = _split(0, 0)
    return {
        "chosenPolicy": {"convictionsDismissed": _split(get(DISMISSAL, True), get(DISMISSAL, False)),
                         "convictionsReduced": _split(get(REDUCTION, True), get(REDUCTION, False)),
                         **people(ppl["some_relief"], "after")},
        "dismissAllProp64": {"convictionsDismissed": _split(p64_felony, p64_misd), "convictionsReduced": none,
                             **people(ppl["prop64_people"], "if_dismiss_all")},
        "dismissAllProp64AndRelated": {"convictionsDismissed": _split(p64_felony + rel_felony, p64_misd + rel_misd),
                                       "convictionsReduced": none,
                                       **people(ppl["relieved_if_dismiss_related"], "if_dismiss_related")},
    }


def _nested(pairs: dict) -> dict:
    """{(outer, inner): n} -> {outer: {inner: n}}, both sorted."""
    out: dict = defaultdict(dict)
    for (outer, inner), n in sorted(pairs.items()):
        out[outer][inner] = n
    return dict(out)


def _decade_key(decade) -> str:
    return UNDATED_DECADE if decade is None else f"{decade}s"


def _ordered_decades(by_decade: dict) -> dict:
    return {k: by_decade[k] for k in sorted(by_decade, key=lambda k: (k == UNDATED_DECADE, k))}


DECIDED_QUALITY = {  # figure key -> the determinations aggregate column counting it
    "decidedConvictionsWithConflictingFelonyFlags": "felony_conflicts",
    "decidedConvictionsOfPeopleWithSentenceRowsWithoutConviction": "orphan_sentence_people",
}


def _quality(county_rows: dict, reasons: dict, rows) -> dict:
    unusable = {r: 0 for r in UNUSABLE_DATE_REASONS}
    for (det, reason), n in reasons.items():
        if reason in unusable:
            unusable[reason] += n
    decided = {key: sum(int(r[column] or 0) for r in rows) for key, column in DECIDED_QUALITY.items()}
    return {**county_rows, "determinationsWithUnusableDate": unusable, **decided}


def _assemble(county, policy_map, line_count, rows, race_rows, as_of, quality_rows, baseline: set[str]) -> dict:
    policy = policy_map.by_county[county]
    counts: dict = defaultdict(int)  # (determination, reason, rule) -> n
    by_rule: dict = defaultdict(int)
    by_section: dict = defaultdict(int)  # Prop 64 section -> n (the reference's key)
    convictions: dict = defaultdict(int)  # (determination or "prop64", felony) -> n
    section_det: dict = defaultdict(int)
    decade_det: dict = defaultdict(int)
    earliest = None
    for r in rows:
        n, det = r["n"], r["determination"]
        counts[(det, r["reason"], r["rule"])] += n
        by_rule[r["rule"]] += n
        convictions[(det, bool(r["felony"]))] += n
        section_det[(r["section"] if r["is_prop64"] else RELATED_SECTION, det)] += n
        decade_det[(_decade_key(r["decade"]), det)] += n
        if r["is_prop64"]:
            by_section[r["section"]] += n
            convictions[("prop64", bool(r["felony"]))] += n
            if r["earliest"] is not None and (earliest is None or r["earliest"] < earliest):
                earliest = r["earliest"]
    ppl = _people_sums(race_rows)
    reasons = _by_reason(counts)
    additional = {reason: n for (_, reason), n in _by_reason(counts, lambda det, rule: det == DISMISSAL and rule not in baseline).items()}
    summary = {
        "county": county,
        "earliestConviction": f"{earliest:%Y-%m-%d}T00:00:00Z" if earliest else None,
        "lineCount": line_count,
        "reliefWithCurrentEligibilityChoices": _relief(ppl, "after"),
        "reliefWithDismissAllProp64": _relief(ppl, "if_dismiss_all"),
        "prop64ConvictionsCountInCountyByCodeSection": dict(sorted(by_section.items())),
        "subjectsWithProp64ConvictionCountInCounty": ppl["prop64_people"],
        "prop64FelonyConvictionsCountInCounty": convictions[("prop64", True)],
        "prop64NonFelonyConvictionsCountInCounty": convictions[("prop64", False)],
        "subjectsWithSomeReliefCount": ppl["some_relief"],
        "convictionDismissalCountByCodeSection": {s: by_rule.get(f"{policy.name}.dismiss_{s}", 0) for s in policy.sections("dismiss")},
        "convictionReductionCountByCodeSection": {s: by_rule.get(f"{policy.name}.reduce_{s}", 0) for s in policy.sections("reduce")},
        "convictionDismissalCountByAdditionalRelief": additional,
    }
    extended = {
        "covers": [county],
        "label": county_label(county),
        "policy": policy.as_dict(),
        "policyName": policy.name,
        "policySummary": policy.kind.summary,
        "peopleWithProp64Conviction": ppl["prop64_people"],
        "prop64Convictions": _split(convictions[("prop64", True)], convictions[("prop64", False)]),
        "scenarios": _scenarios(convictions, ppl),
        "bySection": _nested(section_det),
        "byDecade": _ordered_decades(_nested(decade_det)),
        "determinations": {f"{d} / {r}": n for (d, r), n in sorted(reasons.items())},
        "humanReviewCountByReason": {r: n for (d, r), n in sorted(reasons.items()) if d == HAND_REVIEW},
        "peopleByRace": _by_race(race_rows),
        "dataQuality": _quality(quality_rows, reasons, rows),
    }
    return {"summary": summary, "extended": extended}


def _by_race(race_rows) -> dict:
    """Per race: people with a Prop 64 conviction, people relieved (of any conviction decided, a
    related charge's too), and those of the first who are relieved (the share of a race relieved
    is of them: a person relieved only of a related charge is not among its first count)."""
    return {r["race"]: {"withProp64Conviction": int(r["prop64_people"]), "relieved": int(r["some_relief"]),
                        "relievedWithProp64Conviction": int(r["prop64_relieved"])}
            for r in sorted(race_rows, key=lambda r: r["race"])}


def _sorted(d: dict) -> dict:
    return {k: _sorted(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}


def _add(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _add(out.get(k, {}), v) if isinstance(v, dict) else out.get(k, 0) + v
    return out


def _policies(per_county: dict) -> dict:
    """policy name -> the counties of the run it decided."""
    out: dict = defaultdict(list)
    for county, f in sorted(per_county.items()):
        out[f["extended"]["policyName"]].append(county)
    return dict(sorted(out.items()))


SUMMED_SUMMARY_KEYS = ("reliefWithCurrentEligibilityChoices", "reliefWithDismissAllProp64", "prop64ConvictionsCountInCountyByCodeSection",
                       "subjectsWithProp64ConvictionCountInCounty", "prop64FelonyConvictionsCountInCounty",
                       "prop64NonFelonyConvictionsCountInCounty", "subjectsWithSomeReliefCount", "convictionDismissalCountByAdditionalRelief")
SUMMED_EXTENDED_KEYS = ("prop64Convictions", "bySection", "byDecade", "determinations", "humanReviewCountByReason")


def _total(per_county: dict, line_count: int, key: str, race_rows, quality_total: dict) -> dict:
    """The run's total. `summary` adds up the county summaries (as the reference tool's files
    would: a person decided in two counties counts in each); `extended` counts convictions over
    the counties and each person once (their counties' relief together)."""
    summary: dict = {}
    extended: dict = {}
    earliest = [f["summary"]["earliestConviction"] for f in per_county.values() if f["summary"]["earliestConviction"]]
    for f in per_county.values():
        summary = _add(summary, {k: f["summary"][k] for k in SUMMED_SUMMARY_KEYS})
        extended = _add(extended, {k: f["extended"][k] for k in SUMMED_EXTENDED_KEYS})
    ppl = _people_sums(race_rows)  # each related conviction is in one county: the per-person sums are exact
    convictions: dict = defaultdict(int)
    for f in per_county.values():
        chosen = f["extended"]["scenarios"]["chosenPolicy"]
        for det, key_ in ((DISMISSAL, "convictionsDismissed"), (REDUCTION, "convictionsReduced")):
            convictions[(det, True)] += chosen[key_]["felony"]
            convictions[(det, False)] += chosen[key_]["misdemeanor"]
        p64 = f["extended"]["prop64Convictions"]
        convictions[("prop64", True)] += p64["felony"]
        convictions[("prop64", False)] += p64["misdemeanor"]
    unusable = {r: 0 for r in UNUSABLE_DATE_REASONS}
    for f in per_county.values():
        for r, n in f["extended"]["dataQuality"]["determinationsWithUnusableDate"].items():
            unusable[r] += n
    counties = sorted(per_county)
    return {
        "summary": {"county": key, "earliestConviction": min(earliest) if earliest else None, "lineCount": line_count,
                    **{k: _sorted(v) if isinstance(v, dict) else v for k, v in summary.items()}},
        "extended": {
            "covers": counties,
            "label": coverage_label(counties),
            "peopleCountedOnce": True,
            "peopleWithProp64Conviction": ppl["prop64_people"],
            "policies": _policies(per_county),
            **{k: _sorted(extended.get(k, {})) for k in SUMMED_EXTENDED_KEYS},
            "byDecade": _ordered_decades(_sorted(extended.get("byDecade", {}))),
            "scenarios": _scenarios(convictions, ppl),
            "peopleByRace": _by_race(race_rows),
            "dataQuality": {**quality_total, "determinationsWithUnusableDate": unusable,
                            **{k: sum(f["extended"]["dataQuality"][k] for f in per_county.values()) for k in DECIDED_QUALITY}},
        },
    }
