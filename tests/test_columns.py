"""Column-level tests: one rule or helper at a time, on a tiny hand-made DataFrame.

Every test builds one DataFrame (explicit DDL schema, an `expected` column written by hand from
shared/spec/), adds the column under test as `got` and compares the two with chispa. No history
is built, no Delta table or file is touched.

Sections: clearsweep.dates, clearsweep.decide.facts (recent window), clearsweep.codes,
clearsweep.history (row-level facts), clearsweep.decide.rules (shared facts, prior checks, each
policy's rules, first match).
"""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_column_equality
from pyspark.sql import Column
from pyspark.sql import functions as F

from clearsweep import codes, history
from clearsweep.dates import add_years, format_mdy, format_years, parse_yyyymmdd, years_between
from clearsweep.decide import rules as R
from clearsweep.decide.facts import is_recent, recent_cutoff
from clearsweep.decide.policies import Options


def day(iso: str | None) -> dt.date | None:
    return dt.date.fromisoformat(iso) if iso else None


def check(spark, ddl: str, rows: list, got: Column) -> None:
    """`rows` under `ddl` (which has an `expected` column), plus `got`: equal row by row."""
    df = spark.createDataFrame(rows, ddl).withColumn("got", got)
    assert_column_equality(df, "got", "expected")


AS_OF_LEAP = dt.date(2020, 2, 29)


# ==================================================================== clearsweep.dates


def test_parse_yyyymmdd(spark):
    rows = [
        ("20190315", day("2019-03-15")),
        (" 20190315 ", day("2019-03-15")),  # padded with spaces
        ("20200229", day("2020-02-29")),  # a real leap day
        ("", None),
        ("   ", None),
        (None, None),
        ("00000000", None),
        ("19990000", None),  # YYYY0000
        ("19990100", None),  # day 00
        ("20190230", None),  # impossible
        ("20190229", None),  # not a leap year
        ("20191301", None),
        ("2019031", None),  # 7 digits
        ("201903150", None),  # 9 digits
        ("2019-03-15", None),
        ("NULL", None),
        ("  -  ", None),
    ]
    check(spark, "s string, expected date", rows, parse_yyyymmdd(F.col("s")))


ADD_YEARS_ROWS = [
    ("2020-02-29", 1, "2021-03-01"),  # Go's AddDate, not Spark's Feb 28
    ("2020-02-29", 4, "2024-02-29"),
    ("2020-02-29", -7, "2013-03-01"),
    ("2020-02-29", -4, "2016-02-29"),
    ("2000-02-29", 100, "2100-03-01"),  # 2100 is not a leap year
    ("2000-02-29", 400, "2400-02-29"),
    ("2019-03-15", 21, "2040-03-15"),
    ("2019-02-28", 1, "2020-02-28"),
    ("2020-12-31", -1, "2019-12-31"),
    ("1970-03-01", 50, "2020-03-01"),
    (None, 5, None),
]


@pytest.mark.parametrize("years", [1, 4, -7, 21, 50], ids=lambda n: f"literal{n:+d}")
def test_add_years_literal(spark, years):
    rows = [(day(d), day(e)) for d, n, e in ADD_YEARS_ROWS if n == years] + [(None, None)]
    check(spark, "d date, expected date", rows, add_years(F.col("d"), years))


def test_add_years_column(spark):
    rows = [(day(d), n, day(e)) for d, n, e in ADD_YEARS_ROWS] + [(day("2020-02-29"), None, None)]
    check(spark, "d date, n int, expected date", rows, add_years(F.col("d"), F.col("n")))


def test_years_between(spark):
    rows = [
        (day("2024-01-01"), day("2020-01-01"), 4.0),  # 1461 days
        (day("2020-01-01"), day("2020-01-01"), 0.0),
        (day("2020-01-01"), day("2019-01-01"), 365 / 365.25),
        (day("2019-01-01"), day("2020-01-01"), -365 / 365.25),
        (day("2020-02-29"), day("1999-03-01"), 7670 / 365.25),
        (None, day("2020-01-01"), None),
        (day("2020-01-01"), None, None),
    ]
    check(spark, "later date, earlier date, expected double", rows, years_between(F.col("later"), F.col("earlier")))


def test_format_years(spark):
    rows = [(None, "-1"), (0.0, "0.0"), (4.0, "4.0"), (12.34, "12.3"), (12.36, "12.4"), (0.04, "0.0"),
            (99.96, "100.0"), (-0.2, "-0.2"), (59.0007, "59.0")]
    check(spark, "y double, expected string", rows, format_years(F.col("y")))


def test_format_mdy(spark):
    rows = [(day("2019-03-05"), "03/05/2019"), (day("1961-12-31"), "12/31/1961"), (day("2020-02-29"), "02/29/2020"), (None, "")]
    check(spark, "d date, expected string", rows, format_mdy(F.col("d")))


# ==================================================================== clearsweep.decide.facts: the recent window


def test_recent_cutoff_literal_as_of(spark):
    rows = [(day("2013-03-01"),)]
    check(spark, "expected date", rows, recent_cutoff(F.lit(AS_OF_LEAP)))


def test_recent_cutoff_column_as_of(spark):
    rows = [
        (day("2020-02-29"), day("2013-03-01")),
        (day("2019-11-11"), day("2012-11-11")),
        (day("2024-02-29"), day("2017-03-01")),
        (day("2021-02-28"), day("2014-02-28")),
    ]
    check(spark, "as_of date, expected date", rows, recent_cutoff(F.col("as_of")))


def test_is_recent_literal_as_of(spark):
    rows = [
        (day("2013-02-28"), False),
        (day("2013-03-01"), False),  # the cutoff itself is not recent
        (day("2013-03-02"), True),
        (day("2020-02-29"), True),  # the as-of date itself is recent
        (day("2020-03-01"), False),  # after the as-of date: not in the 7 years before it
        (day("1990-01-01"), False),
    ]
    check(spark, "d date, expected boolean", rows, is_recent(F.col("d"), F.lit(AS_OF_LEAP)))


def test_is_recent_column_as_of(spark):
    rows = [
        (day("2013-03-01"), day("2020-02-29"), False),
        (day("2013-03-02"), day("2020-02-29"), True),
        (day("2012-11-11"), day("2019-11-11"), False),
        (day("2012-11-12"), day("2019-11-11"), True),
        (day("2019-11-12"), day("2019-11-11"), False),
    ]
    check(spark, "d date, as_of date, expected boolean", rows, is_recent(F.col("d"), F.col("as_of")))


# ==================================================================== clearsweep.codes


def test_code_section_text(spark):
    see = "SEE COMMENT FOR CHARGE"
    rows = [
        ("11357(A) HS-POSSESS MARIJUANA", None, "11357(A) HS"),
        ("11359 HS-POSSESS MARIJUANA FOR SALE", "11360(A) HS", "11359 HS"),  # offense wins
        ("11357(C)HS-POSSESS MARIJUANA", None, "11357(C)HS"),
        ("11359HS-INTENT SELL", None, "11359HS"),
        (see, "11360(A) HS", "11360(A) HS"),
        (see, "11360(A) HS-TRANSPORT MARIJUANA", "11360(A) HS"),
        ("  " + see + " ", "11358 HS", "11358 HS"),
        ("", "11358 HS-CULTIVATE MARIJUANA", "11358 HS"),
        ("   ", "11358 HS", "11358 HS"),
        (None, "11358 HS", "11358 HS"),
        (see, None, ""),
        (None, None, ""),
        ("664/211 PC-ATTEMPTED ROBBERY", None, "664/211 PC"),
        ("664-11357 HS-POSSESS MARIJUANA", None, "664-11357 HS"),  # the attempt keeps its section
        ("664.11357 HS-POSSESS MARIJUANA", None, "664.11357 HS"),
        ("503 VC-TAKE CAR W/OUT OWNERS CONSENT", None, "503 VC"),
        ("11357(a) hs-possess marijuana", None, "11357(a) hs"),
    ]
    check(spark, "offense string, comment string, expected string", rows,
          codes.code_section_text(F.col("offense"), F.col("comment")))


NORMALIZED = "struct<attempt: boolean, base: string, letters: string, paren: string, trailing: string, code: string>"


def test_normalize(spark):
    rows = [
        ("11357(A) HS", (False, "11357", "", "(A)", "", "HS")),
        ("11359 HS", (False, "11359", "", "", "", "HS")),
        ("11359(A) HS", (False, "11359", "", "(A)", "", "HS")),
        ("11357(C)HS", (False, "11357", "", "(C)", "", "HS")),
        ("11359HS", (False, "11359", "", "", "", "HS")),
        ("11357A HS", (False, "11357", "A", "", "", "HS")),
        ("11357B2 HS", (False, "11357", "B", "", "2", "HS")),
        ("11357 (A) HS", (False, "11357", "", "(A)", "", "HS")),  # a space before the subsection
        ("245 (A) (1) PC", (False, "245", "", "(A)(1)", "", "PC")),
        ("664/11357(C) HS", (True, "11357", "", "(C)", "", "HS")),
        ("664.11357 HS", (True, "11357", "", "", "", "HS")),
        ("664-11357 HS", (True, "11357", "", "", "", "HS")),
        ("66411357 HS", (True, "11357", "", "", "", "HS")),
        ("664/211 PC", (True, "211", "", "", "", "PC")),
        ("11357(a) hs", (False, "11357", "", "(A)", "", "HS")),
        ("  11357(A)   HS  ", (False, "11357", "", "(A)", "", "HS")),
        ("190.2(A) PC", (False, "190.2", "", "(A)", "", "PC")),
        ("288A(C)(1) PC", (False, "288", "A", "(C)(1)", "", "PC")),
        ("245(A)(1) PC", (False, "245", "", "(A)(1)", "", "PC")),
        ("537 PC", (False, "537", "", "", "", "PC")),
        ("11360", (False, "11360", "", "", "", "")),
        ("", (False, "", "", "", "", "")),
        (None, (False, "", "", "", "", "")),
    ]
    check(spark, f"text string, expected {NORMALIZED}", rows, codes.normalize(F.col("text")))


def test_prop64_reading(spark):
    rows = [
        ("11357(A) HS", ("11357", "A")),
        ("11357(B) HS", ("11357", "B")),
        ("11357A HS", ("11357", "A")),  # a letter without parentheses
        ("11357B2 HS", ("11357", "B")),
        ("11357 (A) HS", ("11357", "A")),  # a space before the subsection
        ("11357 (B)", ("11357", "B")),
        ("11357(C)HS", ("11357", "C")),
        ("11357 HS", ("11357", None)),
        ("11357(A)", ("11357", "A")),  # the extract sometimes omits the code
        ("11358 HS", ("11358", None)),
        ("11359 HS", ("11359", None)),
        ("11360(A) HS", ("11360", "A")),
        ("664/11357(C) HS", ("11357", "C")),
        ("664-11359 HS", ("11359", None)),
        ("11359(b) hs", ("11359", "B")),
        ("  11360(A)   HS ", ("11360", "A")),
        ("11357(A) PC", (None, None)),  # not the Health & Safety code
        ("113570 HS", (None, None)),  # anchored: a longer number is another section
        ("11357.5 HS", (None, None)),
        ("11361 HS", (None, None)),
        ("211 PC", (None, None)),
        ("", (None, None)),
    ]
    check(spark, "text string, expected struct<section: string, letter: string>", rows,
          F.struct(*codes.prop64_reading(F.col("text"))))


def test_classify_texts(spark):
    # (text, is_prop64, is_super_strike, is_enhanceable, is_pc290, is_related, is_enhancement, p64_section, p64_letter)
    cases = [
        ("11357(A) HS", True, False, False, False, False, False, "11357", "A"),
        ("11357B2 HS", True, False, False, False, False, False, "11357", "B"),
        ("664/11359 HS", True, False, False, False, False, False, "11359", None),
        ("11360", True, False, False, False, False, False, "11360", None),
        ("11357(a) hs", True, False, False, False, False, False, "11357", "A"),
        ("11357.5 HS", False, False, False, False, False, False, None, None),  # synthetic cannabinoids
        ("11359 PC", False, False, False, False, False, False, None, None),
        ("37 PC", False, True, False, False, False, False, None, None),
        ("537 PC", False, False, False, False, False, False, None, None),  # not the super strike 37
        ("187(A) PC", False, False, False, False, False, False, None, None),  # 187: bare section only
        ("190.2(A) PC", False, True, False, False, False, False, None, None),  # 190.x, any subsection
        ("288 PC", False, True, False, True, False, False, None, None),
        ("288(B)(1) PC", False, True, False, False, False, False, None, None),  # PC 290 lists 288 bare
        ("288A(C)(1) PC", False, True, False, True, False, False, None, None),
        ("261(A)(2) PC", False, True, False, True, False, False, None, None),
        ("653F PC", False, True, False, False, False, False, None, None),
        ("653F(B) PC", False, False, False, True, False, False, None, None),
        ("246 PC", False, False, True, False, False, False, None, None),
        ("186.22(B)(4)(A) PC", False, False, False, False, False, True, None, None),
        ("647(F) PC", False, False, False, False, True, False, None, None),
        ("211 PC", False, False, False, False, False, False, None, None),
    ]
    flags = ("is_prop64", "is_super_strike", "is_enhanceable", "is_pc290", "is_related", "is_enhancement", "p64_section", "p64_letter")
    struct_ddl = ", ".join(f"{f}: {'string' if f.startswith('p64') else 'boolean'}" for f in flags)
    expected = spark.createDataFrame([(c[0], c[1:]) for c in cases], f"text string, expected struct<{struct_ddl}>")
    classified = codes.classify_texts(expected.select("text"), codes.reference_table(spark))
    # a text the classification dropped would come back with null flags
    df = expected.join(classified, "text", "left").withColumn("got", F.struct(*flags))
    assert_column_equality(df, "got", "expected")


# ==================================================================== clearsweep.history


def test_possible_other_p64(spark):
    rows = [
        ("11357(A) HS-POSSESS MARIJUANA", "11360(A) HS", "11360(A) HS"),  # another Prop 64 section
        ("11358 HS-CULTIVATE MARIJUANA", "664/11359 HS", "664/11359 HS"),
        ("11359 HS-POSSESS MARIJUANA FOR SALE", "11359 HS", ""),  # the same section
        ("11359 HS-POSSESS MARIJUANA FOR SALE", "11359(B) HS", ""),
        ("SEE COMMENT FOR CHARGE", "11360(A) HS", ""),  # the section came from the comment
        ("", "11360(A) HS", ""),
        ("11357(A) HS-POSSESS MARIJUANA", "11357(C) HS", "11357(C) HS"),  # {A,B} vs {C,D}
        ("11357(C) HS-POSSESS MARIJUANA", "11357(B) HS", "11357(B) HS"),
        ("11357(A) HS-POSSESS MARIJUANA", "11357(B) HS", ""),  # same group
        ("11357(C) HS-POSSESS MARIJUANA", "11357(D) HS", ""),
        ("11357A HS-POSSESS MARIJUANA", "11357C HS", "11357C HS"),
        ("211 PC-ROBBERY", "11359 HS", "11359 HS"),
        ("664/11357(A) HS-ATTEMPTED POSSESSION", "11357(A) HS", ""),  # an attempt of the same charge
        ("66411359 HS-ATTEMPTED POSSESSION FOR SALE", "11360 HS", "11360 HS"),
        ("11359 HS-POSSESS MARIJUANA FOR SALE", "11360(a) hs", "11360(a) hs"),
        ("11357(A) HS-POSSESS MARIJUANA", "PLEA AGREEMENT", ""),
        ("11357(A) HS-POSSESS MARIJUANA", "211 PC", ""),
        ("11357(A) HS-POSSESS MARIJUANA", "", ""),
        ("11357(A) HS-POSSESS MARIJUANA", None, ""),
    ]
    check(spark, "offense string, comment string, expected string", rows,
          history.possible_other_p64(F.col("offense"), F.col("comment")))


def test_sentence_days(spark):
    rows = [
        ("30", "D", 30.0),
        ("6", "M", 183.0),  # a month is 30.5 days
        ("2", "Y", 732.0),  # a year is 366 days
        (" 3 ", "M", 91.5),
        ("1", " Y ", 366.0),
        ("0", "D", 0.0),
        ("", "D", 0.0),
        (None, None, 0.0),
        ("5", "X", 0.0),
        ("10", None, 0.0),
        ("10", "", 0.0),
        ("ABC", "D", 0.0),
    ]
    check(spark, "length string, unit string, expected double", rows,
          history.sentence_days(F.col("length"), F.col("unit")))


def test_is_felony(spark):
    rows = [
        ("FELONY", "M", True),
        ("FELONY", None, True),
        (" FELONY ", None, True),
        ("MISDEMEANOR", "F", False),  # the status wins over the type of charge
        ("INFRACTION", None, False),
        ("", "F", True),
        ("  ", "F", True),
        (None, "F", True),
        (None, " F ", True),
        (None, "M", False),
        (None, "I", False),
        (None, None, False),
    ]
    check(spark, "CONV_STAT_DESCR string, OFFENSE_TOC string, expected boolean", rows, history.is_felony())


# ==================================================================== clearsweep.decide.rules
#
# A row is one decided conviction `c` with its person's history: `convictions` (input order, `c`
# among them), `registrations`, `dob`, `deceased`. Only the struct fields the rules read.

CONV = ("cnt_order: string, disp_date: date, felony: boolean, sentence_days: double, is_prop64: boolean, "
        "p64_section: string, p64_letter: string, is_pc290: boolean, ss_text: string, is_related: boolean")
PERSON = (f"c struct<{CONV}>, convictions array<struct<{CONV}>>, "
          "registrations array<struct<seq: bigint, date: date>>, dob date, deceased boolean")
OUTCOME = "struct<determination: string, reason: string, rule: string, statute: string>"


def conv(cnt: str, date: str | None, section: str | None = "11359", *, letter=None, felony=True, days=0.0,
         pc290=False, ss=None, related=False) -> tuple:
    """One conviction; `section=None` is a conviction that is not Prop 64."""
    return (cnt, day(date), felony, float(days), section is not None, section, letter, pc290, ss, related)


def person(convs: list, at: int = 0, *, regs=(), dob="1960-01-01", deceased=False) -> tuple:
    """The columns of one decided conviction: `convs[at]` is `c`; `regs` are registration dates."""
    return (convs[at], list(convs), [(i, day(r)) for i, r in enumerate(regs)], day(dob), deceased)


def holds(rule: R.Rule) -> Column:
    """Whether the rule decides the row, as `first_match` reads it (a null condition does not)."""
    return F.coalesce(rule.when, F.lit(False))


def by_name(rules: list[R.Rule], name: str) -> R.Rule:
    found = [r for r in rules if r.name == name]
    assert len(found) == 1, f"no single rule named {name!r} in {[r.name for r in rules]}"
    return found[0]


def checks() -> dict[str, Column]:
    return {name: F.struct(found.alias("found"), undated.alias("undated")) for name, found, undated in R.prior_checks()}


C10 = conv("001001001000", "2010-01-01")  # the usual decided conviction: felony 11359 on 2010-01-01


# ---------------------------------------------------------------- shared facts about the history


def test_found_prior_super_strike(spark):
    ss = lambda cnt, date: conv(cnt, date, None, ss="187 PC")  # noqa: E731
    rows = [
        (*person([C10, ss("002", "2005-06-01")]), (True, False)),  # before
        (*person([ss("002", "2005-06-01"), C10], at=1), (True, False)),  # listed first, same answer
        (*person([C10, ss("002", "2012-06-01")]), (False, False)),  # after
        (*person([C10, ss("002", "2010-01-01")]), (False, False)),  # same day: not strictly before
        (*person([C10, ss("002", None), ss("003", "2005-06-01")]), (False, True)),  # undated met first
        (*person([C10, ss("002", "2005-06-01"), ss("003", None)]), (True, False)),  # dated met first
        (*person([C10, ss("002", "2012-06-01"), ss("003", "2005-06-01")]), (True, False)),  # a later one skipped
        (*person([C10, conv("002", "2005-06-01", None)]), (False, False)),  # not a super strike
        (*person([conv("001001001000", "2010-01-01", None, ss="187 PC")]), (False, False)),  # only itself
    ]
    check(spark, f"{PERSON}, expected struct<found: boolean, undated: boolean>", rows, checks()["super_strike"])


def test_found_prior_pc290(spark):
    p290 = lambda cnt, date: conv(cnt, date, None, pc290=True)  # noqa: E731
    rows = [
        (*person([C10, p290("002", "2001-01-01")]), (True, False)),
        (*person([C10, p290("002", "2011-01-01")]), (False, False)),
        (*person([C10], regs=["2009-12-31"]), (True, False)),  # a registration before
        (*person([C10], regs=["2010-01-01"]), (False, False)),
        (*person([C10], regs=["2015-01-01"]), (False, False)),
        (*person([C10], regs=[None]), (False, True)),  # an undated registration
        (*person([C10, p290("002", None)]), (False, True)),
        (*person([C10]), (False, False)),
    ]
    check(spark, f"{PERSON}, expected struct<found: boolean, undated: boolean>", rows, checks()["pc290"])


def test_found_two_priors(spark):
    rows = [
        (*person([C10, conv("002", "2001-01-01"), conv("003", "2005-01-01")]), (True, False)),
        (*person([C10, conv("002", "2001-01-01")]), (False, False)),  # only one
        (*person([C10, conv("002", "2001-01-01"), conv("003", "2005-01-01", "11360")]), (False, False)),  # other section
        (*person([C10, conv("002", "2001-01-01"), conv("003", "2011-01-01")]), (False, False)),  # one after
        (*person([C10, conv("002", "2001-01-01"), conv("003", "2010-01-01")]), (False, False)),  # one same day
        (*person([C10, conv("002", "2001-01-01"), conv("003", "2005-01-01"), conv("004", None)]), (False, True)),
        (*person([C10, conv("002", "2001-01-01"), conv("003", "2005-01-01", None)]), (False, False)),  # not Prop 64
    ]
    check(spark, f"{PERSON}, expected struct<found: boolean, undated: boolean>", rows, checks()["two_priors"])


@pytest.mark.parametrize("as_of, expected", [
    ("2020-01-01", [True, False, True, False]),
    ("2020-01-02", [True, True, True, False]),
    ("2025-01-01", [True, True, True, True]),
])
def test_sentences_complete(spark, as_of, expected):
    people = [
        person([conv("001", "2019-01-01", days=365)]),  # ends 2020-01-01
        person([conv("001", "2019-01-01", days=366)]),  # ends 2020-01-02
        person([conv("001", "2019-06-01"), conv("002", "2018-01-01", days=30.5)]),
        person([conv("001", "2019-06-01"), conv("002", "2018-01-01", days=5 * 366)]),  # ends 2023-01-05
    ]
    rows = [(*p, e) for p, e in zip(people, expected)]
    check(spark, f"{PERSON}, expected boolean", rows, R.sentences_complete(F.lit(day(as_of))))


def test_all_prop64(spark):
    rows = [
        (*person([conv("001", "2010-01-01"), conv("002", "2011-01-01", "11357")]), True),
        (*person([conv("001", "2010-01-01"), conv("002", "2011-01-01", None)]), False),
        (*person([conv("001", "2010-01-01")]), True),
    ]
    check(spark, f"{PERSON}, expected boolean", rows, R.all_prop64())


def test_any_undated_conviction(spark):
    rows = [
        (*person([conv("001", "2010-01-01"), conv("002", "2011-01-01")]), False),
        (*person([conv("001", "2010-01-01"), conv("002", None, None)]), True),
        (*person([conv("001", None)]), True),
    ]
    check(spark, f"{PERSON}, expected boolean", rows, R.any_undated_conviction())


def test_latest_conviction_date(spark):
    rows = [
        (*person([conv("001", "2010-01-01"), conv("002", "2015-06-30", None), conv("003", "2012-01-01")]), day("2015-06-30")),
        (*person([conv("001", "2010-01-01"), conv("002", None)]), day("2010-01-01")),
        (*person([conv("001", None)]), None),
    ]
    check(spark, f"{PERSON}, expected date", rows, R.latest_conviction_date())


# ---------------------------------------------------------------- D. statutory baseline


@pytest.mark.parametrize("name, cases", [
    ("after_prop64", [("2016-11-08", "11359", True, False), ("2016-11-09", "11359", True, True), ("2019-01-01", "11359", False, True)]),
    ("misdemeanor", [("2010-01-01", "11359", False, True), ("2010-01-01", "11359", True, False)]),
    ("felony_11357", [("2010-01-01", "11357", True, True), ("2010-01-01", "11358", True, False)]),
    ("undated", [(None, "11359", True, True), ("2010-01-01", "11359", True, False)]),
])
def test_statutory_rule(spark, name, cases):
    rows = [(*person([conv("001", d, s, felony=f)]), e) for d, s, f, e in cases]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(R.statutory_rules(), name)))


def test_statutory_first_match(spark):
    c = lambda section, date="2010-01-01", **kw: conv("001", date, section, **kw)  # noqa: E731
    review = "project rule: unusable dates go to review"
    rows = [
        (*person([c("11359", felony=False)]),
         (R.DISMISSAL, "Misdemeanor or Infraction", "statutory.misdemeanor", "HS 11361.8(e)")),
        # after Prop 64 comes before misdemeanor
        (*person([c("11359", "2016-11-09", felony=False)]),
         (R.NOT_ELIGIBLE, "Occurred after 11/09/2016", "statutory.after_prop64", "HS 11361.8(a): convictions before 2016-11-09")),
        (*person([c("11359", None)]), (R.HAND_REVIEW, R.BAD_DISP_DATE, "statutory.undated", review)),
        (*person([c("11359")], dob=None), (R.HAND_REVIEW, R.BAD_DOB, "statutory.undated_dob", review)),
        (*person([c("11357", letter="C")]), (R.DISMISSAL, "Felony HS 11357", "statutory.felony_11357", "HS 11357 (Prop 64); HS 11361.8(e)")),
        (*person([c("11359"), conv("002", "2001-01-01", None, ss="187 PC")]),
         (R.HAND_REVIEW, "Prior super strike: felony may stand", "statutory.super_strike", "HS 11359(c)")),
        (*person([c("11360")], regs=["2005-01-01"]),
         (R.HAND_REVIEW, "Prior PC 290 offense: felony may stand", "statutory.pc290", "HS 11360(a)(3)")),
        (*person([c("11358"), conv("002", "2001-01-01", "11358"), conv("003", "2002-01-01", "11358")]),
         (R.HAND_REVIEW, "Two or more priors of the same section: felony may stand", "statutory.two_priors", "HS 11358(d)")),
        (*person([c("11358"), conv("002", None, "11358")]),
         (R.HAND_REVIEW, R.BAD_OTHER_DATE, "statutory.two_priors.undated", review)),
        (*person([c("11360"), conv("002", "2001-01-01", "11359")]),
         (R.REDUCTION, "Reduce felony to misdemeanor", "statutory.reduce", "HS 11361.8(b)")),
    ]
    check(spark, f"{PERSON}, expected {OUTCOME}", rows, R.first_match(R.statutory_rules(), "statutory"))


# ---------------------------------------------------------------- B. Los Angeles 2020


def la_rules(age=50, years=10, as_of="2020-02-29") -> list[R.Rule]:
    return R.la_2020_rules(age, years, F.lit(day(as_of)))


@pytest.mark.parametrize("age, cases", [
    (50, [("1970-03-01", False), ("1970-02-28", True), ("1969-12-31", True), ("1990-01-01", False)]),
    (48, [("1972-02-29", True), ("1972-03-01", False)]),
])
def test_la_2020_age(spark, age, cases):
    rows = [(*person([C10], dob=dob), e) for dob, e in cases]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(la_rules(age=age), "age")))


def test_la_2020_under_21(spark):
    # as-of 2020-02-29: (as-of - DOB) / 365.25 <= 21
    rows = [(*person([C10], dob="1999-03-01"), True),  # 7670 days: 20.999 years
            (*person([C10], dob="1999-02-28"), False),  # 7671 days: 21.002 years
            (*person([C10], dob="2001-01-01"), True)]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(la_rules(), "under_21")))


def test_la_2020_11357_ab(spark):
    c = lambda section, letter: conv("001", "2010-01-01", section, letter=letter)  # noqa: E731
    rows = [(*person([c("11357", "A")]), True), (*person([c("11357", "B")]), True),
            (*person([c("11357", "C")]), False), (*person([c("11357", None)]), False),
            (*person([c("11359", "A")]), False)]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(la_rules(), "11357_ab")))


@pytest.mark.parametrize("years, cases", [
    # as-of 2020-02-29 - 10 years = 2010-03-01 (calendar years); none may be after it
    (10, [(["2010-03-01"], True), (["2010-03-02"], False), (["2001-01-01", "2015-01-01"], False), (["2001-01-01", "2009-01-01"], True)]),
    (5, [(["2015-03-01"], True), (["2015-03-02"], False)]),
])
def test_la_2020_conviction_free(spark, years, cases):
    rows = [(*person([conv(f"00{i}", d) for i, d in enumerate(dates)]), e) for dates, e in cases]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(la_rules(years=years), "conviction_free")))


def test_la_2020_only_prop64_completed(spark):
    rows = [
        (*person([conv("001", "2010-01-01", days=366), conv("002", "2012-01-01", "11357")]), True),
        (*person([conv("001", "2010-01-01"), conv("002", "2012-01-01", None)]), False),  # not only Prop 64
        (*person([conv("001", "2010-01-01"), conv("002", "2019-06-01", "11357", days=366)]), False),  # running
    ]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(la_rules(), "only_prop64_completed")))


def test_la_2020_first_match(spark):
    la = "Los Angeles County 2020 policy"
    review = "project rule: unusable dates go to review"
    recent_other = conv("002", "2018-01-01", None)  # not Prop 64, within 10 years, sentence done
    rows = [
        (*person([conv("001", "2010-01-01", felony=False)]),
         (R.CITY_ATTORNEYS, "Misdemeanor or Infraction", "la-2020.misdemeanor", f"{la} rule 1")),
        (*person([conv("001", "2017-01-01", "11357", letter="A")]),
         (R.NOT_ELIGIBLE, "Occurred after 11/09/2016", "la-2020.after_prop64", f"{la} rule 2")),
        (*person([conv("001", "2010-01-01", "11357", letter="B")]),
         (R.DISMISSAL, "11357(a) or 11357(b)", "la-2020.11357_ab", f"{la} rule 3")),
        (*person([conv("001", "2010-01-01", "11357", letter="D")]),
         (R.HAND_REVIEW, "Other 11357", "la-2020.11357_other", f"{la} rule 3")),
        (*person([conv("001", None)]), (R.HAND_REVIEW, R.BAD_DISP_DATE, "la-2020.undated", review)),
        (*person([C10, conv("002", "2001-01-01", None, ss="187 PC")], dob="1950-01-01"),
         (R.NOT_ELIGIBLE, "PC 667(e)(2)(c)(iv)", "la-2020.super_strike", f"PC 667(e)(2)(C)(iv); {la} rule 4")),
        (*person([C10, conv("002", None, None, ss="187 PC")], dob="1950-01-01"),
         (R.HAND_REVIEW, R.BAD_OTHER_DATE, "la-2020.super_strike.undated", review)),
        (*person([C10], regs=["2005-01-01"], dob="1950-01-01"),
         (R.NOT_ELIGIBLE, "PC 290", "la-2020.pc290", f"PC 290; {la} rule 5")),
        (*person([C10, conv("002", "2001-01-01"), conv("003", "2002-01-01")], dob="1950-01-01"),
         (R.NOT_ELIGIBLE, "Two priors", "la-2020.two_priors", f"{la} rule 6")),
        (*person([conv("001", "2015-06-01"), recent_other], dob="1999-06-01"),
         (R.DISMISSAL, "21 years or younger", "la-2020.under_21", f"{la} rule 8")),
        (*person([C10, conv("002", None, None)], dob="1990-01-01"),
         (R.HAND_REVIEW, R.BAD_OTHER_DATE, "la-2020.sentence.undated", review)),
        (*person([C10, conv("002", "2018-01-01", "11357", days=30)], dob="1990-01-01"),
         (R.DISMISSAL, "Only has 11357-60 charges and completed sentence", "la-2020.only_prop64_completed", f"{la} rule 9")),
        (*person([C10, conv("002", "2009-01-01", None)], dob="1990-01-01"),
         (R.DISMISSAL, "No convictions in past 10 years", "la-2020.conviction_free", f"{la} rule 10")),
        (*person([C10, recent_other], dob="1970-02-28"),
         (R.DISMISSAL, "50 years or older", "la-2020.age", f"{la} rule 7")),
        (*person([C10, recent_other], dob="1990-01-01"),
         (R.HAND_REVIEW, "No applicable eligibility criteria", "la-2020.no_rule", f"{la} rule 13")),
        (*person([C10, recent_other], dob="1990-01-01", deceased=True),
         (R.DISMISSAL, "Deceased", "la-2020.deceased", f"{la} rule 12")),
        (*person([C10, conv("002", "2019-06-01", None, days=366)], dob="1990-01-01"),
         (R.HAND_REVIEW, "Currently serving sentence", "la-2020.serving_sentence", f"{la} rule 11")),
    ]
    check(spark, f"{PERSON}, expected {OUTCOME}", rows, R.first_match(la_rules(), "la-2020"))


# ---------------------------------------------------------------- A. configurable


def configurable(dismiss=("11357",), reduce=("11359",), as_of="2020-02-29", **relief) -> list[R.Rule]:
    options = Options.model_validate({"baselineEligibility": {"dismiss": list(dismiss), "reduce": list(reduce)},
                                      "additionalRelief": relief}).model_dump()
    return R.configurable_rules(options, F.lit(day(as_of)))


def test_configurable_under_21(spark):
    # DOB 1992-02-29: the 21st birthday is 2013-03-01 (calendar years)
    rows = [(*person([conv("001", "2013-02-28")], dob="1992-02-29"), True),
            (*person([conv("001", "2013-03-01")], dob="1992-02-29"), False),
            (*person([conv("001", "2010-01-01")], dob="1980-01-01"), False)]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(configurable(subjectUnder21AtConviction=True), "under_21")))


def test_configurable_age(spark):
    rows = [(*person([C10], dob="1970-03-01"), False), (*person([C10], dob="1970-02-28"), True)]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(configurable(subjectAgeThreshold=50), "age")))


def test_configurable_years_since(spark):
    # disposition <= as-of - 10 years = 2010-03-01
    rows = [(*person([conv("001", "2010-03-01")]), True), (*person([conv("001", "2010-03-02")]), False)]
    check(spark, f"{PERSON}, expected boolean", rows,
          holds(by_name(configurable(yearsSinceConvictionThreshold=10), "years_since")))


def test_configurable_crime_free(spark):
    # the latest conviction strictly before as-of - 5 years = 2015-03-01
    rows = [(*person([conv("001", "2010-01-01"), conv("002", "2015-02-28", None)]), True),
            (*person([conv("001", "2010-01-01"), conv("002", "2015-03-01", None)]), False)]
    check(spark, f"{PERSON}, expected boolean", rows, holds(by_name(configurable(yearsCrimeFreeThreshold=5), "crime_free")))


def test_configurable_first_match(spark):
    rules = configurable(dismiss=("11357",), reduce=("11359",), yearsCrimeFreeThreshold=5,
                         subjectHasOnlyProp64Charges=True, subjectIsDeceased=True)
    src = "county option eligibility_options.json"
    review = "project rule: unusable dates go to review"
    recent = conv("002", "2018-01-01", None)  # not Prop 64, within 5 years
    rows = [
        (*person([conv("001", "2010-01-01", "11360", felony=False)]),
         (R.DISMISSAL, "Misdemeanor or Infraction", "configurable.misdemeanor", "HS 11361.8(e)")),
        (*person([conv("001", "2010-01-01", "11357"), recent]),
         (R.DISMISSAL, "Dismiss all HS 11357 convictions", "configurable.dismiss_11357", f"{src}: baselineEligibility.dismiss")),
        (*person([conv("001", None), recent]),
         (R.HAND_REVIEW, R.BAD_DISP_DATE, "configurable.crime_free.undated", review)),
        (*person([C10, conv("002", None, None)]),
         (R.HAND_REVIEW, R.BAD_OTHER_DATE, "configurable.crime_free.undated", review)),
        (*person([C10, conv("002", "2012-01-01", None)]),
         (R.DISMISSAL, "No convictions in the past 5 years", "configurable.crime_free", f"{src}: yearsCrimeFreeThreshold")),
        (*person([C10, conv("002", "2018-01-01", "11357")]),
         (R.DISMISSAL, "Only has 11357-60 charges", "configurable.only_prop64", f"{src}: subjectHasOnlyProp64Charges")),
        (*person([C10, recent], deceased=True),
         (R.DISMISSAL, "Individual is deceased", "configurable.deceased", f"{src}: subjectIsDeceased")),
        (*person([C10, recent]),
         (R.REDUCTION, "Reduce all HS 11359 convictions", "configurable.reduce_11359", f"{src}: baselineEligibility.reduce")),
        (*person([conv("001", "2010-01-01", "11360"), recent]),
         (R.HAND_REVIEW, "No applicable eligibility criteria", "configurable.no_rule", "no configured relief applies")),
    ]
    check(spark, f"{PERSON}, expected {OUTCOME}", rows, R.first_match(rules, "configurable"))


# ---------------------------------------------------------------- C. what-ifs


def test_dismiss_all_related(spark):
    rows = [
        (*person([C10]), (R.DISMISSAL, "Dismiss all Prop 64 charges", "dismiss-all-related.prop64", "what-if: dismiss every Prop 64 conviction")),
        (*person([conv("001", "2010-01-01", None, related=True)]),
         (R.DISMISSAL, "Dismiss all Prop 64 and related charges", "dismiss-all-related.related", "what-if: dismiss Prop 64 and related convictions")),
        (*person([conv("001", "2010-01-01", None)]), None),
    ]
    check(spark, f"{PERSON}, expected {OUTCOME}", rows, R.first_match(R.dismiss_all_rules(True), "dismiss-all-related"))
