"""Eligibility rules: each a named condition with its outcome; the first that holds decides.

Every outcome carries the determination, the reason (exact reference strings), the rule's name
and the statute or county rule behind it. Rules read one decided conviction `c` (a struct) and
its person's statewide history (`convictions`, `registrations`, `dob`, `deceased`); the as-of
date is passed in (a date Column), never read from the rows or the clock. Which policy uses
which builder is the registry's business (`policies.REGISTRY`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from clearsweep.dates import add_years, years_between

DISMISSAL = "Eligible for Dismissal"
REDUCTION = "Eligible for Reduction"
NOT_ELIGIBLE = "Not eligible"
HAND_REVIEW = "Hand Review"
CITY_ATTORNEYS = "To be reviewed by City Attorneys"
PROP64_IN_FORCE = "2016-11-09"

BAD_DISP_DATE = "Unusable disposition date"
BAD_DOB = "Unusable date of birth"
BAD_OTHER_DATE = "Unusable date on another conviction"


@dataclass(frozen=True)
class Rule:
    name: str
    when: Column
    determination: str
    reason: Column | str
    statute: Column | str
    baseline: bool = False  # relief the reference summary counts apart from "additional relief"


def first_match(rules: list[Rule], policy_name: str) -> Column:
    """struct(determination, reason, rule, statute) of the first rule that holds."""
    outcome = None
    for r in rules:
        value = F.struct(
            F.lit(r.determination).alias("determination"),
            (r.reason if isinstance(r.reason, Column) else F.lit(r.reason)).alias("reason"),
            F.lit(f"{policy_name}.{r.name}").alias("rule"),
            (r.statute if isinstance(r.statute, Column) else F.lit(r.statute)).alias("statute"),
        )
        outcome = F.when(r.when, value) if outcome is None else outcome.when(r.when, value)
    return outcome


# ---------------------------------------------------------------- shared facts about the history

def C() -> Column:  # noqa: N802
    """The conviction being decided."""
    return F.col("c")


def CONVS() -> Column:  # noqa: N802 - reads like the constant it stands for
    """The person's deduplicated statewide convictions, in input order."""
    return F.col("convictions")


def others() -> Column:
    return F.filter(CONVS(), lambda o: o.cnt_order != C().cnt_order)


def first_prior_or_undated(candidates: Column) -> Column:
    """The first candidate (input order) that is dated strictly before `c` or has no usable
    date: the reference stops at the first prior, so an undated one met first needs review."""
    return F.try_element_at(F.filter(candidates, lambda o: o.date.isNull() | (o.date < C().disp_date)), F.lit(1))


def found_prior(candidates: Column) -> tuple[Column, Column]:
    """(a prior exists, the first one met is undated)."""
    hit = first_prior_or_undated(candidates)
    return hit.isNotNull() & hit.date.isNotNull(), hit.isNotNull() & hit.date.isNull()


def dated(convs: Column) -> Column:
    return F.transform(convs, lambda o: o.withField("date", o.disp_date))


def super_strike_priors() -> Column:
    return dated(F.filter(others(), lambda o: o.ss_text.isNotNull()))


def pc290_priors() -> Column:
    return dated(F.filter(others(), lambda o: o.is_pc290))


def same_section_others() -> Column:
    return F.filter(others(), lambda o: o.p64_section == C().p64_section)


def all_prop64() -> Column:
    return F.forall(CONVS(), lambda o: o.is_prop64)


def sentences_complete(as_of: Column) -> Column:
    return F.forall(CONVS(), lambda o: o.sentence_days <= F.datediff(as_of, o.disp_date))


def any_undated_conviction() -> Column:
    return F.exists(CONVS(), lambda o: o.disp_date.isNull())


def latest_conviction_date() -> Column:
    return F.array_max(F.transform(CONVS(), lambda o: o.disp_date))


def prior_checks() -> list[tuple[str, Column, Column]]:
    """(name, prior found, undated candidate met first) for super strikes, PC 290, two priors."""
    ss_found, ss_undated = found_prior(super_strike_priors())
    c290_found, c290_undated = found_prior(pc290_priors())
    reg_found, reg_undated = found_prior(F.col("registrations"))
    same = same_section_others()
    two_priors = F.size(F.filter(same, lambda o: o.disp_date < C().disp_date)) >= 2
    same_undated = F.exists(same, lambda o: o.disp_date.isNull())
    pc290_found = c290_found | (~c290_undated & reg_found)
    pc290_undated = c290_undated | (~c290_found & reg_undated)
    return [
        ("super_strike", ss_found, ss_undated),
        ("pc290", pc290_found, ~ss_found & pc290_undated),
        ("two_priors", two_priors & ~same_undated, same_undated),
    ]


# ---------------------------------------------------------------- A. configurable


def configurable_rules(options: dict, as_of: Column) -> list[Rule]:
    """The reference tool's eligibility_options.json flow (options as `policies.Options.as_dict`)."""
    base, relief = options["baselineEligibility"], options["additionalRelief"]
    dob, date = F.col("dob"), C().disp_date
    felony = C().felony
    src = "county option eligibility_options.json"
    rules = [Rule("misdemeanor", ~felony, DISMISSAL, "Misdemeanor or Infraction", "HS 11361.8(e)", baseline=True)]
    for s in base["dismiss"]:
        rules.append(Rule(f"dismiss_{s}", C().p64_section == s, DISMISSAL, f"Dismiss all HS {s} convictions", f"{src}: baselineEligibility.dismiss", baseline=True))
    if relief.get("subjectUnder21AtConviction"):
        rules += [
            Rule("under_21.undated_dob", dob.isNull(), HAND_REVIEW, BAD_DOB, "project rule: unusable dates go to review"),
            Rule("under_21.undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, "project rule: unusable dates go to review"),
            Rule("under_21", add_years(dob, 21) > date, DISMISSAL, "21 years or younger", f"{src}: subjectUnder21AtConviction"),
        ]
    age = relief.get("subjectAgeThreshold", 0)
    if age:
        rules += [
            Rule("age.undated_dob", dob.isNull(), HAND_REVIEW, BAD_DOB, "project rule: unusable dates go to review"),
            Rule("age", add_years(dob, age) <= as_of, DISMISSAL, f"{age} years or older", f"{src}: subjectAgeThreshold"),
        ]
    years = relief.get("yearsSinceConvictionThreshold", 0)
    if years:
        rules += [
            Rule("years_since.undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, "project rule: unusable dates go to review"),
            Rule("years_since", date <= add_years(as_of, -years), DISMISSAL, f"Conviction occurred {years} or more years ago", f"{src}: yearsSinceConvictionThreshold"),
        ]
    crime_free = relief.get("yearsCrimeFreeThreshold", 0)
    if crime_free:
        first_undated = F.try_element_at(F.filter(CONVS(), lambda o: o.disp_date.isNull()), F.lit(1))
        rules += [
            Rule("crime_free.undated", first_undated.isNotNull(), HAND_REVIEW,
                 F.when(first_undated.cnt_order == C().cnt_order, F.lit(BAD_DISP_DATE)).otherwise(F.lit(BAD_OTHER_DATE)),
                 "project rule: unusable dates go to review"),
            Rule("crime_free", latest_conviction_date() < add_years(as_of, -crime_free), DISMISSAL, f"No convictions in the past {crime_free} years", f"{src}: yearsCrimeFreeThreshold"),
        ]
    if relief.get("subjectHasOnlyProp64Charges"):
        rules.append(Rule("only_prop64", all_prop64(), DISMISSAL, "Only has 11357-60 charges", f"{src}: subjectHasOnlyProp64Charges"))
    if relief.get("subjectIsDeceased"):
        rules.append(Rule("deceased", F.col("deceased"), DISMISSAL, "Individual is deceased", f"{src}: subjectIsDeceased"))
    for s in base["reduce"]:
        rules.append(Rule(f"reduce_{s}", C().p64_section == s, REDUCTION, f"Reduce all HS {s} convictions", f"{src}: baselineEligibility.reduce", baseline=True))
    rules.append(Rule("no_rule", F.lit(True), HAND_REVIEW, "No applicable eligibility criteria", "no configured relief applies"))
    return rules


# ---------------------------------------------------------------- B. Los Angeles 2020


def la_2020_rules(age: int, years: int, as_of: Column) -> list[Rule]:
    la = "Los Angeles County 2020 policy"
    date, dob = C().disp_date, F.col("dob")
    checks = {name: (found, undated) for name, found, undated in prior_checks()}
    ss_found, ss_undated = checks["super_strike"]
    p290_found, p290_undated = checks["pc290"]
    two_found, two_undated = checks["two_priors"]
    review = "project rule: unusable dates go to review"
    return [
        Rule("misdemeanor", ~C().felony, CITY_ATTORNEYS, "Misdemeanor or Infraction", f"{la} rule 1"),
        Rule("undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, review),
        Rule("after_prop64", date >= F.lit(PROP64_IN_FORCE).cast("date"), NOT_ELIGIBLE, "Occurred after 11/09/2016", f"{la} rule 2"),
        Rule("11357_ab", (C().p64_section == "11357") & C().p64_letter.isin("A", "B"), DISMISSAL, "11357(a) or 11357(b)", f"{la} rule 3"),
        Rule("11357_other", C().p64_section == "11357", HAND_REVIEW, "Other 11357", f"{la} rule 3"),
        Rule("super_strike.undated", ss_undated, HAND_REVIEW, BAD_OTHER_DATE, review),
        Rule("super_strike", ss_found, NOT_ELIGIBLE, "PC 667(e)(2)(c)(iv)", f"PC 667(e)(2)(C)(iv); {la} rule 4"),
        Rule("pc290.undated", p290_undated, HAND_REVIEW, BAD_OTHER_DATE, review),
        Rule("pc290", p290_found, NOT_ELIGIBLE, "PC 290", f"PC 290; {la} rule 5"),
        Rule("two_priors.undated", two_undated, HAND_REVIEW, BAD_OTHER_DATE, review),
        Rule("two_priors", two_found, NOT_ELIGIBLE, "Two priors", f"{la} rule 6"),
        Rule("age.undated_dob", dob.isNull(), HAND_REVIEW, BAD_DOB, review),
        Rule("age", add_years(dob, age) <= as_of, DISMISSAL, f"{age} years or older", f"{la} rule 7"),
        Rule("under_21", years_between(as_of, dob) <= 21, DISMISSAL, "21 years or younger", f"{la} rule 8"),
        Rule("sentence.undated", any_undated_conviction(), HAND_REVIEW, BAD_OTHER_DATE, review),
        Rule("only_prop64_completed", all_prop64() & sentences_complete(as_of), DISMISSAL, "Only has 11357-60 charges and completed sentence", f"{la} rule 9"),
        Rule("conviction_free", F.forall(CONVS(), lambda o: o.disp_date <= add_years(as_of, -years)), DISMISSAL, f"No convictions in past {years} years", f"{la} rule 10"),
        Rule("serving_sentence", ~sentences_complete(as_of), HAND_REVIEW, "Currently serving sentence", f"{la} rule 11"),
        Rule("deceased", F.col("deceased"), DISMISSAL, "Deceased", f"{la} rule 12"),
        Rule("no_rule", F.lit(True), HAND_REVIEW, "No applicable eligibility criteria", f"{la} rule 13"),
    ]


# ---------------------------------------------------------------- C. what-ifs


def dismiss_all_rules(with_related: bool) -> list[Rule]:
    rules = [Rule("prop64", C().is_prop64, DISMISSAL, "Dismiss all Prop 64 charges", "what-if: dismiss every Prop 64 conviction")]
    if with_related:
        rules.append(Rule("related", C().is_related, DISMISSAL, "Dismiss all Prop 64 and related charges", "what-if: dismiss Prop 64 and related convictions"))
    return rules


# ---------------------------------------------------------------- D. statutory baseline


def statutory_rules() -> list[Rule]:
    date, dob = C().disp_date, F.col("dob")
    checks = prior_checks()
    statute_by_section = F.when(C().p64_section == "11358", F.lit("HS 11358(d)")).when(C().p64_section == "11359", F.lit("HS 11359(c)")).otherwise(F.lit("HS 11360(a)(3)"))
    rules = [
        Rule("after_prop64", date >= F.lit(PROP64_IN_FORCE).cast("date"), NOT_ELIGIBLE, "Occurred after 11/09/2016", "HS 11361.8(a): convictions before 2016-11-09"),
        Rule("undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, "project rule: unusable dates go to review"),
        # born after the conviction: one of the two dates is wrong (the reference flows keep the reference's reading)
        Rule("undated_dob", dob.isNull() | (dob > date), HAND_REVIEW, BAD_DOB, "project rule: unusable dates go to review"),
        Rule("misdemeanor", ~C().felony, DISMISSAL, "Misdemeanor or Infraction", "HS 11361.8(e)", baseline=True),
        Rule("felony_11357", C().p64_section == "11357", DISMISSAL, "Felony HS 11357", "HS 11357 (Prop 64); HS 11361.8(e)"),
    ]
    reasons = {
        "super_strike": "Prior super strike: felony may stand",
        "pc290": "Prior PC 290 offense: felony may stand",
        "two_priors": "Two or more priors of the same section: felony may stand",
    }
    for name, found, undated in checks:
        rules.append(Rule(f"{name}.undated", undated, HAND_REVIEW, BAD_OTHER_DATE, "project rule: unusable dates go to review"))
        rules.append(Rule(name, found, HAND_REVIEW, reasons[name], statute_by_section))
    rules.append(Rule("reduce", F.lit(True), REDUCTION, "Reduce felony to misdemeanor", "HS 11361.8(b)"))
    return rules
