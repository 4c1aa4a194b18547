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
import math
from collections import Counter
from functools import lru_cache
from typing import IO, Iterable

from jinja2 import Environment, PackageLoader, StrictUndefined
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep.dates import format_mdy, parse_yyyymmdd
from clearsweep.exports.reference import go_csv_line, go_line_col

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

# what a line is made of: the determinations' columns, and the conviction's first input row's
DETERMINATION_COLUMNS = ("file_index", "line_no", "determination", "reason", "statute", "code_section", "case_number",
                         "felony", "disposition_date")
HISTORY_COLUMNS = ("file_index", "line_no", "CII_NUMBER", "PRI_NAME", "PRI_DOB", "STP_ORI_DESCR", "STP_EVENT_DATE")


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


def identity() -> list[Column]:
    """The columns that identify a conviction to the court, in IDENTITY_HEADERS order (over the
    determination joined to its first input row)."""
    return [
        text(F.col("CII_NUMBER")),
        text(F.col("PRI_NAME")),
        date_as_filed(parse_yyyymmdd(F.col("PRI_DOB")), F.col("PRI_DOB")),
        text(F.col("case_number")),
        text(F.col("STP_ORI_DESCR")),
        text(F.col("code_section")),
        date_as_filed(F.col("disposition_date"), F.col("STP_EVENT_DATE")),
        level(F.col("felony")),
    ]


# ---------------------------------------------------------------- the lines, in court order


SORT_KEYS = ("s_kind", "s_court", "s_case", "s_undated", "disposition_date", "s_cii", "file_index", "line_no")


def motion_rows(determinations: DataFrame, history: DataFrame, expected_rows: int, rows_per_partition: int) -> DataFrame:
    """Both lists in one query: each conviction granted relief or sent to review, joined to its
    first input row on (file_index, line_no), as (kind, determination, line: its CSV record,
    cells: the exhibit's fields for the HTML page, null for the review list), sorted by kind then
    as courts file them, range-partitioned so the driver holds one modest partition at a time."""
    det = determinations.where(F.col("determination").isin(*GRANTED, *REVIEWED)).select(
        *[F.col(c).alias(f"d_{c}") if c in ("file_index", "line_no") else F.col(c) for c in DETERMINATION_COLUMNS])
    hist = history.select(*HISTORY_COLUMNS)
    joined = det.join(hist, (hist.file_index == det.d_file_index) & (hist.line_no == det.d_line_no), "inner")
    ident = identity()
    granted = F.col("determination").isin(*GRANTED)
    exhibit_cells = [*ident, relief(F.col("determination"), F.col("felony")), text(F.col("statute"))]
    review_cells = [*ident, text(F.col("determination")), text(F.col("reason"))]
    lines = joined.select(
        F.when(granted, F.lit(EXHIBIT)).otherwise(F.lit(REVIEW)).alias("s_kind"),
        text(F.col("STP_ORI_DESCR")).alias("s_court"),
        text(F.col("case_number")).alias("s_case"),
        F.col("disposition_date").isNull().alias("s_undated"),
        "disposition_date",
        text(F.col("CII_NUMBER")).alias("s_cii"),
        "file_index", "line_no",
        "determination",
        F.when(granted, go_line_col(exhibit_cells)).otherwise(go_line_col(review_cells)).alias("line"),
        F.when(granted, F.array(*exhibit_cells)).alias("cells"),
    )
    partitions = max(1, math.ceil(expected_rows / rows_per_partition))
    spread = lines.repartition(1) if partitions == 1 else lines.repartitionByRange(partitions, *SORT_KEYS)
    return spread.sortWithinPartitions(*SORT_KEYS).select(F.col("s_kind").alias("kind"), "determination", "line", "cells")


# ---------------------------------------------------------------- the files


@lru_cache(maxsize=1)
def _page():
    """The HTML template's macros (begin, row, end): the page is written row by row."""
    env = Environment(loader=PackageLoader("clearsweep.exports", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(TEMPLATE).module


def write_motion(rows: Iterable, files: dict[str, IO[str]], heading: dict) -> Counter:
    """Write the three files from the lines in order (one pass); returns the lines written by
    determination. `heading`: what the page says it is (county, run, as-of date, policy, and the
    expected count of each determination: `expected`)."""
    exhibit, html, review = (files[name] for name in FILES)
    page = _page()
    exhibit.write(go_csv_line(EXHIBIT_HEADERS))
    review.write(go_csv_line(REVIEW_HEADERS))
    html.write(page.begin(headers=EXHIBIT_HEADERS, granted=GRANTED, **heading))
    written: Counter = Counter()
    number = 0
    for kind, determination, line, cells in rows:
        written[determination] += 1
        if kind == EXHIBIT:
            number += 1
            exhibit.write(line + "\n")
            html.write(page.row(number=number, cells=cells))
        else:
            review.write(line + "\n")
    html.write(page.end(listed=number))
    return written


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
