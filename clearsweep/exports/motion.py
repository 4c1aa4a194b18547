"""The motion exhibit: the list of convictions granted relief that the prosecutor attaches to the
motion (HS 11361.8) and the court matches to its own files, and the list of convictions the
prosecutor may challenge or must review. Both are read from the run's tables (a decided
conviction joined to its first input row, as the county files are); nothing is decided here.

Files (per county, beside the reference-tool files; they hold personal data like them):
- `motion_exhibit.csv` and `motion_exhibit.html` (printable): one line per conviction whose
  determination grants relief (`Eligible for Dismissal`, `Eligible for Reduction`);
- `review_list.csv`: one line per conviction for a person to review (`Hand Review`, `To be
  reviewed by City Attorneys`), with the determination and reason.
Lines are sorted as courts file them: court, case number, then disposition date (undated last),
CII number and input position, so the order is total and the same however the run was split.
Dates print as MM/DD/YYYY; a date of birth or disposition date the run found unusable prints as
written, so the court can still match it. Text fields are trimmed of surrounding blanks."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from pyspark.sql import Column
from pyspark.sql import functions as F

from clearsweep.dates import format_mdy, parse_yyyymmdd

EXHIBIT_CSV = "motion_exhibit.csv"
EXHIBIT_HTML = "motion_exhibit.html"
REVIEW_CSV = "review_list.csv"
FILES = (EXHIBIT_CSV, EXHIBIT_HTML, REVIEW_CSV)
TEMPLATE = "motion_exhibit.html"  # clearsweep/exports/templates/

# determinations as the determinations table holds them (clearsweep.decide.rules names them; an
# export reads results and may not import the rules: tests/test_motion.py checks they agree)
DISMISSAL = "Eligible for Dismissal"
REDUCTION = "Eligible for Reduction"
HAND_REVIEW = "Hand Review"
CITY_ATTORNEYS = "To be reviewed by City Attorneys"
GRANTED = (DISMISSAL, REDUCTION)  # the exhibit
REVIEWED = (HAND_REVIEW, CITY_ATTORNEYS)  # the review list
EXHIBIT, REVIEW = 0, 1  # which list a line belongs to (and the first sort key: the exhibit first)

DISMISS_AND_SEAL = "dismiss and seal"
TO_MISDEMEANOR = "reduce to misdemeanor"
TO_INFRACTION = "reduce to infraction"
FELONY, MISDEMEANOR = "Felony", "Misdemeanor"

IDENTITY_HEADERS = ("CII Number", "Name", "Date of Birth", "Court Case Number(s)", "Court", "Code Section",
                    "Date of Disposition", "Felony or Misdemeanor")
EXHIBIT_HEADERS = (*IDENTITY_HEADERS, "Relief", "Statute")
REVIEW_HEADERS = (*IDENTITY_HEADERS, "Determination", "Reason")


# ---------------------------------------------------------------- one line's columns


def text(c: Column) -> Column:
    """A field as the court reads it: surrounding blanks trimmed, null as empty."""
    return F.coalesce(F.trim(c.cast("string")), F.lit(""))


def date_as_filed(parsed: Column, written: Column) -> Column:
    """MM/DD/YYYY, or the text as written when it is no usable date (never a made-up date)."""
    return F.when(parsed.isNotNull(), format_mdy(parsed)).otherwise(text(written))


def level(felony: Column) -> Column:
    return F.when(felony, F.lit(FELONY)).otherwise(F.lit(MISDEMEANOR))


def relief(determination: Column, felony: Column) -> Column:
    """What the court is asked to do: a dismissal is dismissed and sealed; a reduction takes a
    felony to a misdemeanor and a misdemeanor to an infraction (HS 11361.8(b))."""
    return (F.when(determination == DISMISSAL, F.lit(DISMISS_AND_SEAL))
            .when((determination == REDUCTION) & F.coalesce(felony, F.lit(False)), F.lit(TO_MISDEMEANOR))
            .when(determination == REDUCTION, F.lit(TO_INFRACTION)))


def identity(d=F.col) -> list[Column]:
    """The columns that identify a conviction to the court, in IDENTITY_HEADERS order, over the
    determination joined to its first input row (`d`: a determination's column by name)."""
    return [
        text(F.col("CII_NUMBER")),
        text(F.col("PRI_NAME")),
        date_as_filed(parse_yyyymmdd(F.col("PRI_DOB")), F.col("PRI_DOB")),
        text(d("case_number")),
        text(F.col("STP_ORI_DESCR")),
        text(d("code_section")),
        date_as_filed(d("disposition_date"), F.col("STP_EVENT_DATE")),
        level(d("felony")),
    ]


# ---------------------------------------------------------------- the printable page's head and foot
# (its rows are made by Spark: clearsweep.exports.lines.html_cells, the `row` macro's twin)


@lru_cache(maxsize=1)
def page():
    """The HTML template's macros (begin, row, end)."""
    env = Environment(loader=PackageLoader("clearsweep.exports", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(TEMPLATE).module


def page_head(heading: dict) -> str:
    """`heading`: what the page says it is (county, run_id, as_of, policy, and `expected`: the
    count of each determination in the county's table)."""
    return page().begin(headers=EXHIBIT_HEADERS, granted=GRANTED, **heading)


def page_foot(listed: int) -> str:
    return page().end(listed=listed)


def file_rows(written: Counter) -> dict[str, int]:
    """Lines per file (header not counted), for the manifest."""
    exhibit = sum(written[d] for d in GRANTED)
    return {EXHIBIT_CSV: exhibit, EXHIBIT_HTML: exhibit, REVIEW_CSV: sum(written[d] for d in REVIEWED)}


# ---------------------------------------------------------------- tying out to the figures


def figures_by_determination(extended_json: str | None) -> dict[str, int] | None:
    """The run's figures counted by determination (the extended figures count them by
    "determination / reason"); None when the run recorded no figures for the county."""
    if extended_json is None:
        return None
    counts: Counter = Counter()
    for key, n in (json.loads(extended_json).get("determinations") or {}).items():
        counts[key.split(" / ", 1)[0]] += int(n)
    return dict(counts)


def tie_out(written: Counter, table: dict[str, int], figures: dict[str, int] | None) -> list[str]:
    """Where the lines written differ from the determinations table read and from the run's
    figures, per determination of either list (counts only: no personal data)."""
    problems = []
    for determination in (*GRANTED, *REVIEWED):
        n = written.get(determination, 0)
        if n != table.get(determination, 0):
            problems.append(f"{determination}: {n} lines written, {table.get(determination, 0)} determinations read")
        if figures is not None and n != figures.get(determination, 0):
            problems.append(f"{determination}: {n} lines written, {figures.get(determination, 0)} in the run's figures")
    return problems
