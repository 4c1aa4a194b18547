"""The reference tool's 18 columns for a decided conviction, formatted as its exports print them."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from clearsweep.dates import add_years, format_mdy, format_years, years_between
from clearsweep.history import possible_other_p64
from clearsweep.decide.rules import C, CONVS, PROP64_IN_FORCE, latest_conviction_date

RECENT_YEARS = 7  # "no conviction in the last 7 years": the reference summary's window

# Delta column -> export header, in the export's order
FACT_COLUMNS = {
    "case_number": "Case Number",
    "convictions_on_record": "# of convictions on record",
    "possible_other_p64": "Possible Other P64 Charges",
    "occurred_after_prop64": "Occurred after 11/9/2016",
    "superstrike_sections": "Superstrike Code Section(s)",
    "pc290_sections": "PC290 Code Section(s)",
    "pc290_registration": "PC290 Registration",
    "date_of_conviction": "Date of Conviction",
    "years_since_this": "Years Since This Conviction",
    "years_since_any": "Years Since Any Conviction",
    "prop64_convictions": "# of Prop 64 convictions",
    "hs11357_convictions": "# of HS 11357 convictions",
    "hs11358_convictions": "# of HS 11358 convictions",
    "hs11359_convictions": "# of HS 11359 convictions",
    "hs11360_convictions": "# of HS 11360 convictions",
    "deceased": "Deceased",
    "determination": "Eligibility Determination",
    "reason": "Eligibility Reason",
}


def _joined_or_dash(texts: Column, sep: str) -> Column:
    return F.when(F.size(texts) > 0, F.array_join(texts, sep)).otherwise(F.lit("-"))


def _count(pred) -> Column:
    return F.size(F.filter(CONVS(), pred)).cast("string")


def _in_section(section: str):
    # a one-argument lambda: Spark reads a second argument as the element's index
    return lambda o: o.p64_section == section


def case_numbers_of(conviction: Column) -> Column:
    """The court case numbers (OFN) of a conviction's case, distinct, in input order."""
    same_case = F.filter(F.col("case_numbers"), lambda x: x.case_key == conviction.case_key)
    return F.array_distinct(F.transform(same_case, lambda x: x.OFN))


def case_number() -> Column:
    return F.array_join(case_numbers_of(C()), "; ")


def recent_cutoff(as_of: Column) -> Column:
    """Convictions after this date are recent: calendar years back (Feb 29 - 7 years = Mar 1)."""
    return add_years(as_of, -RECENT_YEARS)


def is_recent(date: Column, as_of: Column) -> Column:
    """In the 7 years before as-of, (as-of - 7 years, as-of] (spec): a date after as-of is not."""
    return (date > recent_cutoff(as_of)) & (date <= as_of)


def fact_columns(as_of: Column) -> list[Column]:
    date = C().disp_date
    after = F.when(date.isNull(), F.lit("")).when(date > F.lit(PROP64_IN_FORCE).cast("date"), F.lit("Y")).otherwise(F.lit("N"))
    return [
        case_number().alias("case_number"),
        F.size(CONVS()).cast("string").alias("convictions_on_record"),
        possible_other_p64(C().OFFENSE_DESCR, C().COMMENT_TEXT).alias("possible_other_p64"),
        after.alias("occurred_after_prop64"),
        _joined_or_dash(F.transform(F.filter(CONVS(), lambda o: o.ss_text.isNotNull()), lambda o: o.ss_text), ";").alias("superstrike_sections"),
        _joined_or_dash(F.transform(F.filter(CONVS(), lambda o: o.is_pc290), lambda o: o.text), ";").alias("pc290_sections"),
        F.when(F.size("registrations") > 0, F.lit("Yes")).otherwise(F.lit("-")).alias("pc290_registration"),
        format_mdy(date).alias("date_of_conviction"),
        format_years(years_between(as_of, date)).alias("years_since_this"),
        format_years(years_between(as_of, latest_conviction_date())).alias("years_since_any"),
        _count(lambda o: o.is_prop64).alias("prop64_convictions"),
        *[_count(_in_section(s)).alias(f"hs{s}_convictions") for s in ("11357", "11358", "11359", "11360")],
        F.when(F.col("deceased"), F.lit("Deceased")).otherwise(F.lit("-")).alias("deceased"),
    ]


def person_counts(as_of: Column) -> list[Column]:
    """Counts the relief figures compare determinations against: the person's convictions
    statewide, and their related-charge convictions (not Prop 64) in the conviction's county,
    which the "dismiss all Prop 64 and related" scenario dismisses too."""
    related_here = F.filter(CONVS(), lambda o: (o.county == C().county) & o.is_related & ~o.is_prop64)
    return [
        F.size(F.filter(CONVS(), lambda o: o.felony)).alias("person_felonies"),
        F.size(CONVS()).alias("person_convictions"),
        F.size(F.filter(CONVS(), lambda o: is_recent(o.disp_date, as_of))).alias("person_recent_convictions"),
        F.size(related_here).alias("person_related_convictions"),
        F.size(F.filter(related_here, lambda o: o.felony)).alias("person_related_felonies"),
        F.size(F.filter(related_here, lambda o: is_recent(o.disp_date, as_of))).alias("person_related_recent"),
    ]
