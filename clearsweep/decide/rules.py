"""Eligibility rules: each a named condition with its outcome; the first that holds decides.

Every outcome carries the determination, the reason (exact reference strings), the rule's name
and the statute or county rule behind it. Rules read one decided conviction `c` (a struct) and
its person's statewide history (`convictions`, `registrations`, `dob`, `deceased`); the as-of
date is passed in (a date Column), never read from the rows or the clock. Which policy uses
which builder is the registry's business (`policies.REGISTRY`).

Each rule names the facts its condition reads (`uses`, keys of `FACTS`): `clearsweep explain`
evaluates the same rules and shows, per rule, whether it held and the values of those facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

from clearsweep.dates import add_years, ahead, years_back_reach, years_between

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
    uses: tuple[str, ...] = ()  # the facts (`FACTS` keys) its condition reads; none for a catch-all
    # the years a fact it reads that moves with the as-of date is compared to (age 50, 10 years
    # since ...): where that fact's answer flips (`Fact.changes_on`, `decide.timing`)
    threshold: float | None = None

    def rule_id(self, policy_name: str) -> str:
        """The name stored in the determinations' `rule` column."""
        return f"{policy_name}.{self.name}"

    def outcome(self, policy_name: str) -> Column:
        """struct(determination, reason, rule, statute): what the rule decides when it holds."""
        return F.struct(
            F.lit(self.determination).alias("determination"),
            (self.reason if isinstance(self.reason, Column) else F.lit(self.reason)).alias("reason"),
            F.lit(self.rule_id(policy_name)).alias("rule"),
            (self.statute if isinstance(self.statute, Column) else F.lit(self.statute)).alias("statute"),
        )


def first_match(rules: list[Rule], policy_name: str) -> Column:
    """struct(determination, reason, rule, statute) of the first rule that holds (a null
    condition does not)."""
    outcome = None
    for r in rules:
        value = r.outcome(policy_name)
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


def prior_super_strike() -> tuple[Column, Column]:
    """(a super strike before `c`, the first met is undated)."""
    return found_prior(super_strike_priors())


def prior_pc290() -> tuple[Column, Column]:
    """(a PC 290 conviction or registration before `c`, the first met is undated)."""
    c290_found, c290_undated = found_prior(pc290_priors())
    reg_found, reg_undated = found_prior(F.col("registrations"))
    return c290_found | (~c290_undated & reg_found), c290_undated | (~c290_found & reg_undated)


def same_section_priors() -> Column:
    """How many other convictions of `c`'s section are dated before it."""
    return F.size(F.filter(same_section_others(), lambda o: o.disp_date < C().disp_date))


def same_section_undated() -> Column:
    return F.exists(same_section_others(), lambda o: o.disp_date.isNull())


def prior_checks() -> list[tuple[str, Column, Column]]:
    """(name, prior found, undated candidate met first) for super strikes, PC 290, two priors."""
    ss_found, ss_undated = prior_super_strike()
    pc290_found, pc290_undated = prior_pc290()
    same_undated = same_section_undated()
    return [
        ("super_strike", ss_found, ss_undated),
        ("pc290", pc290_found, ~ss_found & pc290_undated),
        ("two_priors", (same_section_priors() >= 2) & ~same_undated, same_undated),
    ]


# the facts each prior check reads: (when found, when undated)
PRIOR_USES = {
    "super_strike": (("prior_super_strike",), ("prior_super_strike_undated",)),
    "pc290": (("prior_pc290",), ("prior_pc290_undated", "prior_super_strike")),
    "two_priors": (("same_section_priors", "same_section_undated"), ("same_section_undated",)),
}


def calendar_age(dob: Column, on: Column) -> Column:
    """Whole years from `dob` to `on` as the rules count them: `age` years are reached on
    add_years(dob, age) (a Feb 29 birthday turns over on Mar 1 in common years)."""
    years = F.year(on) - F.year(dob)
    return years - F.when(add_years(dob, years) > on, F.lit(1)).otherwise(F.lit(0))


# ---------------------------------------------------------------- the facts rules read, by name


@dataclass(frozen=True)
class Fact:
    """A value a rule's condition reads, over one decided conviction `c` and its person's
    history, given the as-of date: what `clearsweep explain` shows beside each rule.

    A fact whose value moves with the as-of date declares `changes_on`: (as-of, the rule's
    threshold in years or None) -> the first date after as-of on which its comparison with the
    threshold can give another answer, null when none can (it already flipped for good). The
    engine's `stable_until` is the earliest of these over the facts a policy's rules read
    (`decide.timing`); `tests/test_timing.py` fails for a fact or rule that reads the as-of
    date and declares none."""
    label: str
    value: Callable[[Column], Column]  # as-of date -> the value
    changes_on: Callable[[Column, float | None], Column] | None = None
    needs_threshold: bool = False  # changes_on reads the rule's threshold


def _sentence_end(o: Column) -> Column:
    """The first day a conviction's sentence counts as complete (sentence_days <= days since it;
    capped so that a nonsense length cannot overflow the date)."""
    return F.date_add(o.disp_date, F.least(F.ceil(o.sentence_days), F.lit(1_000_000)).cast("int"))


def _days_reach(start: Column, years: float) -> Column:
    """The first day on which (day - start) / 365.25 can compare otherwise with `years`."""
    return F.date_add(start, F.lit(math.ceil(years * 365.25)))


FACTS: dict[str, Fact] = {
    "felony": Fact("felony", lambda as_of: C().felony),
    "disposition_date": Fact("disposition date", lambda as_of: C().disp_date),
    "section": Fact("section", lambda as_of: C().p64_section),
    "letter": Fact("subsection letter", lambda as_of: C().p64_letter),
    "prop64": Fact("Prop 64 conviction", lambda as_of: C().is_prop64),
    "related": Fact("related conviction", lambda as_of: C().is_related),
    "dob_usable": Fact("date of birth usable", lambda as_of: F.col("dob").isNotNull()),
    "born_after_this": Fact("date of birth after this disposition date", lambda as_of: F.col("dob") > C().disp_date),
    "age_at_as_of": Fact("age at as-of", lambda as_of: calendar_age(F.col("dob"), as_of),
                         lambda as_of, years: ahead(add_years(F.col("dob"), int(years)), as_of), needs_threshold=True),
    "years_since_birth": Fact("years since birth at as-of (days / 365.25)", lambda as_of: years_between(as_of, F.col("dob")),
                              lambda as_of, years: ahead(_days_reach(F.col("dob"), years), as_of), needs_threshold=True),
    "age_at_conviction": Fact("age at conviction", lambda as_of: calendar_age(F.col("dob"), C().disp_date)),
    "years_since_this": Fact("years since this conviction", lambda as_of: years_between(as_of, C().disp_date),
                             lambda as_of, years: ahead(years_back_reach(C().disp_date, int(years)), as_of), needs_threshold=True),
    "latest_conviction_date": Fact("latest conviction date", lambda as_of: latest_conviction_date()),
    "years_since_latest": Fact("years since latest conviction", lambda as_of: years_between(as_of, latest_conviction_date()),
                               lambda as_of, years: ahead(years_back_reach(latest_conviction_date(), int(years)), as_of),
                               needs_threshold=True),
    "undated_conviction": Fact("a conviction with no usable date", lambda as_of: any_undated_conviction()),
    "all_prop64": Fact("all convictions Prop 64", lambda as_of: all_prop64()),
    # flips once, when the last dated sentence is served (an undated conviction never completes)
    "sentences_complete": Fact("sentences complete by as-of", sentences_complete,
                               lambda as_of, years: ahead(F.array_max(F.transform(CONVS(), _sentence_end)), as_of)),
    "deceased": Fact("deceased", lambda as_of: F.col("deceased")),
    "prior_super_strike": Fact("prior super strike found", lambda as_of: prior_super_strike()[0]),
    "prior_super_strike_undated": Fact("first super strike met has no usable date", lambda as_of: prior_super_strike()[1]),
    "prior_pc290": Fact("prior PC 290 offense or registration found", lambda as_of: prior_pc290()[0]),
    "prior_pc290_undated": Fact("first PC 290 offense or registration met has no usable date", lambda as_of: prior_pc290()[1]),
    "same_section_priors": Fact("priors of the same section before this one", lambda as_of: same_section_priors()),
    "same_section_undated": Fact("another conviction of the same section has no usable date", lambda as_of: same_section_undated()),
}


# ---------------------------------------------------------------- A. configurable

REVIEW = "project rule: unusable dates go to review"


def configurable_rules(options: dict, as_of: Column) -> list[Rule]:
    """The reference tool's eligibility_options.json flow (options as `policies.Options.as_dict`)."""
    base, relief = options["baselineEligibility"], options["additionalRelief"]
    dob, date = F.col("dob"), C().disp_date
    felony = C().felony
    src = "county option eligibility_options.json"
    rules = [Rule("misdemeanor", ~felony, DISMISSAL, "Misdemeanor or Infraction", "HS 11361.8(e)", baseline=True, uses=("felony",))]
    for s in base["dismiss"]:
        rules.append(Rule(f"dismiss_{s}", C().p64_section == s, DISMISSAL, f"Dismiss all HS {s} convictions",
                          f"{src}: baselineEligibility.dismiss", baseline=True, uses=("section",)))
    if relief.get("subjectUnder21AtConviction"):
        rules += [
            Rule("under_21.undated_dob", dob.isNull(), HAND_REVIEW, BAD_DOB, REVIEW, uses=("dob_usable",)),
            Rule("under_21.undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, REVIEW, uses=("disposition_date",)),
            Rule("under_21", add_years(dob, 21) > date, DISMISSAL, "21 years or younger", f"{src}: subjectUnder21AtConviction",
                 uses=("age_at_conviction", "disposition_date")),
        ]
    age = relief.get("subjectAgeThreshold", 0)
    if age:
        rules += [
            Rule("age.undated_dob", dob.isNull(), HAND_REVIEW, BAD_DOB, REVIEW, uses=("dob_usable",)),
            Rule("age", add_years(dob, age) <= as_of, DISMISSAL, f"{age} years or older", f"{src}: subjectAgeThreshold",
                 uses=("age_at_as_of",), threshold=age),
        ]
    years = relief.get("yearsSinceConvictionThreshold", 0)
    if years:
        rules += [
            Rule("years_since.undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, REVIEW, uses=("disposition_date",)),
            Rule("years_since", date <= add_years(as_of, -years), DISMISSAL, f"Conviction occurred {years} or more years ago",
                 f"{src}: yearsSinceConvictionThreshold", uses=("disposition_date", "years_since_this"), threshold=years),
        ]
    crime_free = relief.get("yearsCrimeFreeThreshold", 0)
    if crime_free:
        first_undated = F.try_element_at(F.filter(CONVS(), lambda o: o.disp_date.isNull()), F.lit(1))
        rules += [
            Rule("crime_free.undated", first_undated.isNotNull(), HAND_REVIEW,
                 F.when(first_undated.cnt_order == C().cnt_order, F.lit(BAD_DISP_DATE)).otherwise(F.lit(BAD_OTHER_DATE)),
                 REVIEW, uses=("undated_conviction", "disposition_date")),
            Rule("crime_free", latest_conviction_date() < add_years(as_of, -crime_free), DISMISSAL,
                 f"No convictions in the past {crime_free} years", f"{src}: yearsCrimeFreeThreshold",
                 uses=("latest_conviction_date", "years_since_latest"), threshold=crime_free),
        ]
    if relief.get("subjectHasOnlyProp64Charges"):
        rules.append(Rule("only_prop64", all_prop64(), DISMISSAL, "Only has 11357-60 charges", f"{src}: subjectHasOnlyProp64Charges",
                          uses=("all_prop64",)))
    if relief.get("subjectIsDeceased"):
        rules.append(Rule("deceased", F.col("deceased"), DISMISSAL, "Individual is deceased", f"{src}: subjectIsDeceased",
                          uses=("deceased",)))
    for s in base["reduce"]:
        rules.append(Rule(f"reduce_{s}", C().p64_section == s, REDUCTION, f"Reduce all HS {s} convictions",
                          f"{src}: baselineEligibility.reduce", baseline=True, uses=("section",)))
    rules.append(Rule("no_rule", F.lit(True), HAND_REVIEW, "No applicable eligibility criteria", "no configured relief applies"))
    return rules


# ---------------------------------------------------------------- B. Los Angeles 2020


def _prior_rules(check: str, found: Column, undated: Column, found_rule: tuple[str, str, Column | str]) -> list[Rule]:
    """A prior check as two rules: an undated candidate met first goes to review, then the
    prior found decides (`found_rule`: determination, reason, statute)."""
    found_uses, undated_uses = PRIOR_USES[check]
    determination, reason, statute = found_rule
    return [
        Rule(f"{check}.undated", undated, HAND_REVIEW, BAD_OTHER_DATE, REVIEW, uses=undated_uses),
        Rule(check, found, determination, reason, statute, uses=found_uses),
    ]


def la_2020_rules(age: int, years: int, as_of: Column) -> list[Rule]:
    la = "Los Angeles County 2020 policy"
    date, dob = C().disp_date, F.col("dob")
    checks = {name: (found, undated) for name, found, undated in prior_checks()}
    outcomes = {
        "super_strike": (NOT_ELIGIBLE, "PC 667(e)(2)(c)(iv)", f"PC 667(e)(2)(C)(iv); {la} rule 4"),
        "pc290": (NOT_ELIGIBLE, "PC 290", f"PC 290; {la} rule 5"),
        "two_priors": (NOT_ELIGIBLE, "Two priors", f"{la} rule 6"),
    }
    return [
        Rule("misdemeanor", ~C().felony, CITY_ATTORNEYS, "Misdemeanor or Infraction", f"{la} rule 1", uses=("felony",)),
        Rule("undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, REVIEW, uses=("disposition_date",)),
        Rule("after_prop64", date >= F.lit(PROP64_IN_FORCE).cast("date"), NOT_ELIGIBLE, "Occurred after 11/09/2016", f"{la} rule 2",
             uses=("disposition_date",)),
        Rule("11357_ab", (C().p64_section == "11357") & C().p64_letter.isin("A", "B"), DISMISSAL, "11357(a) or 11357(b)", f"{la} rule 3",
             uses=("section", "letter")),
        Rule("11357_other", C().p64_section == "11357", HAND_REVIEW, "Other 11357", f"{la} rule 3", uses=("section",)),
        *[r for name in ("super_strike", "pc290", "two_priors") for r in _prior_rules(name, *checks[name], outcomes[name])],
        Rule("age.undated_dob", dob.isNull(), HAND_REVIEW, BAD_DOB, REVIEW, uses=("dob_usable",)),
        Rule("age", add_years(dob, age) <= as_of, DISMISSAL, f"{age} years or older", f"{la} rule 7", uses=("age_at_as_of",),
             threshold=age),
        Rule("under_21", years_between(as_of, dob) <= 21, DISMISSAL, "21 years or younger", f"{la} rule 8",
             uses=("years_since_birth",), threshold=21),
        Rule("sentence.undated", any_undated_conviction(), HAND_REVIEW, BAD_OTHER_DATE, REVIEW, uses=("undated_conviction",)),
        Rule("only_prop64_completed", all_prop64() & sentences_complete(as_of), DISMISSAL, "Only has 11357-60 charges and completed sentence",
             f"{la} rule 9", uses=("all_prop64", "sentences_complete")),
        Rule("conviction_free", F.forall(CONVS(), lambda o: o.disp_date <= add_years(as_of, -years)), DISMISSAL,
             f"No convictions in past {years} years", f"{la} rule 10", uses=("latest_conviction_date", "years_since_latest"),
             threshold=years),
        Rule("serving_sentence", ~sentences_complete(as_of), HAND_REVIEW, "Currently serving sentence", f"{la} rule 11",
             uses=("sentences_complete",)),
        Rule("deceased", F.col("deceased"), DISMISSAL, "Deceased", f"{la} rule 12", uses=("deceased",)),
        Rule("no_rule", F.lit(True), HAND_REVIEW, "No applicable eligibility criteria", f"{la} rule 13"),
    ]


# ---------------------------------------------------------------- C. what-ifs


def dismiss_all_rules(with_related: bool) -> list[Rule]:
    rules = [Rule("prop64", C().is_prop64, DISMISSAL, "Dismiss all Prop 64 charges", "what-if: dismiss every Prop 64 conviction",
                  uses=("prop64",))]
    if with_related:
        rules.append(Rule("related", C().is_related, DISMISSAL, "Dismiss all Prop 64 and related charges",
                          "what-if: dismiss Prop 64 and related convictions", uses=("related",)))
    return rules


# ---------------------------------------------------------------- D. statutory baseline


def statutory_rules() -> list[Rule]:
    date, dob = C().disp_date, F.col("dob")
    statute_by_section = F.when(C().p64_section == "11358", F.lit("HS 11358(d)")).when(C().p64_section == "11359", F.lit("HS 11359(c)")).otherwise(F.lit("HS 11360(a)(3)"))
    rules = [
        Rule("after_prop64", date >= F.lit(PROP64_IN_FORCE).cast("date"), NOT_ELIGIBLE, "Occurred after 11/09/2016",
             "HS 11361.8(a): convictions before 2016-11-09", uses=("disposition_date",)),
        Rule("undated", date.isNull(), HAND_REVIEW, BAD_DISP_DATE, REVIEW, uses=("disposition_date",)),
        # born after the conviction: one of the two dates is wrong (the reference flows keep the reference's reading)
        Rule("undated_dob", dob.isNull() | (dob > date), HAND_REVIEW, BAD_DOB, REVIEW, uses=("dob_usable", "born_after_this")),
        Rule("misdemeanor", ~C().felony, DISMISSAL, "Misdemeanor or Infraction", "HS 11361.8(e)", baseline=True, uses=("felony",)),
        Rule("felony_11357", C().p64_section == "11357", DISMISSAL, "Felony HS 11357", "HS 11357 (Prop 64); HS 11361.8(e)",
             uses=("section",)),
    ]
    reasons = {
        "super_strike": "Prior super strike: felony may stand",
        "pc290": "Prior PC 290 offense: felony may stand",
        "two_priors": "Two or more priors of the same section: felony may stand",
    }
    for name, found, undated in prior_checks():
        rules += _prior_rules(name, found, undated, (HAND_REVIEW, reasons[name], statute_by_section))
    rules.append(Rule("reduce", F.lit(True), REDUCTION, "Reduce felony to misdemeanor", "HS 11361.8(b)"))
    return rules
