"""The reference tool's (Go) file formats, byte for byte: its file names, the columns of its
condensed file, a CSV record as Go's encoding/csv writes it (in Python, and as a Spark expression
so the executors build the lines), and summary.json as Go's encoding/json writes it."""

from __future__ import annotations

import json
import re
from typing import Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F

from clearsweep.frames import sql_string

PROP64_FILE = "Prop64_Results.csv"
ALL_FILE = "All_Results.csv"
CONDENSED_FILE = "All_Results_Condensed.csv"
SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"  # SHA-256 of each file of the export (not a reference-tool file)

# The reference's condensed file (its header also names CYC_ORDER, which its rows never held:
# the export writes the 20 columns the rows really carry, as spec/exports.md lists them).
CONDENSED_COLUMNS = (
    "CII_NUMBER", "PRI_NAME", "GENDER", "PRI_DOB", "RACE_DESCR", "CYC_DATE", "STP_EVENT_DATE",
    "STP_ORI_DESCR", "STP_ORI_CNTY_NAME", "DISP_DATE", "OFN", "OFFENSE_DESCR", "DISP_DESCR",
    "CONV_STAT_DESCR", "SENT_LOC_DESCR", "SENT_LENGTH", "SENT_TIME_CODE", "CYC_AGE", "COMMENT_TEXT",
    "END_OF_REC",
)


# ---------------------------------------------------------------- Go encoding/csv, byte for byte


_NEEDS_QUOTES = re.compile(r'[",\r\n]')
# Go's unicode.IsSpace (Python's isspace also counts \x1c-\x1f), and the same set as a Java regex
_NOT_GO_SPACE = frozenset("\x1c\x1d\x1e\x1f")


def go_field(field: str) -> str:
    """One field as Go's csv.Writer (Comma ',', UseCRLF false) writes it: quoted iff non-empty and
    it holds a comma, a double quote, \\r or \\n, is exactly `\\.`, or starts with a Unicode space."""
    if not field:
        return field
    first = field[0]
    if _NEEDS_QUOTES.search(field) or (first.isspace() and first not in _NOT_GO_SPACE) or field == "\\.":
        return '"' + field.replace('"', '""') + '"'
    return field


def go_csv_line(fields: Iterable[str | None]) -> str:
    """A record as Go's csv.Writer writes it, "\\n"-terminated; None is written as an empty field."""
    return ",".join([go_field("" if f is None else f) for f in fields]) + "\n"


# Go's unicode.IsSpace, each character (the Spark expression looks the first character up)
_GO_SPACES = ("\t", "\n", "\x0b", "\x0c", "\r", " ", "\x85", "\xa0", "\u1680", *map(chr, range(0x2000, 0x200B)),
              "\u2028", "\u2029", "\u202f", "\u205f", "\u3000")


def go_field_col(c: Column) -> Column:
    """go_field as a Spark expression (null -> empty), so executors build the lines. Byte scans
    and comparisons, no regular expressions: a field is tested in a few nanoseconds, and a
    statewide delivery tests hundreds of millions. The first character is looked up only when
    the field's first byte can start a space (below "!": the ASCII ones; from U+0080 on: the
    others), since strings compare by their UTF-8 bytes."""
    text = F.coalesce(c.cast("string"), F.lit(""))
    leading = ((text < F.lit("!")) | (text >= F.lit("\u0080"))) & F.substring(text, 1, 1).isin(*_GO_SPACES)
    quote = (text.contains('"') | text.contains(",") | text.contains("\n") | text.contains("\r") | leading
             | (text == F.lit("\\.")))
    return F.when(quote, F.concat(F.lit('"'), F.regexp_replace(text, '"', '""'), F.lit('"'))).otherwise(text)


def go_line_col(columns: list[Column]) -> Column:
    """The fields of a record, quoted and comma-joined (no line terminator)."""
    return F.concat_ws(",", *[go_field_col(c) for c in columns])


_SQL_SPACES = ", ".join(sql_string(c) for c in _GO_SPACES)


def go_field_sql(expr: str) -> str:
    """go_field_col of a SQL expression, as SQL text: the same expression, built by one JVM call
    for a whole line instead of dozens per field (a statewide delivery's plan holds thousands)."""
    t = f"coalesce(CAST({expr} AS STRING), '')"
    leading = f"(({t} < '!' OR {t} >= {sql_string(chr(0x80))}) AND substring({t}, 1, 1) IN ({_SQL_SPACES}))"
    quote = (f"(contains({t}, '\"') OR contains({t}, ',') OR contains({t}, '\\n') OR contains({t}, '\\r') OR {leading}"
             f" OR {t} = {sql_string(chr(92) + '.')})")
    return f"CASE WHEN {quote} THEN concat('\"', regexp_replace({t}, '\"', '\"\"'), '\"') ELSE {t} END"


def joined_sql(fields: list[str]) -> str:
    """Fields already quoted (SQL text) as one CSV line."""
    return f"concat_ws(',', {', '.join(fields)})"


def go_line_sql(exprs: list[str]) -> str:
    """go_line_col of SQL expressions (e.g. "`CII_NUMBER`"), as SQL text."""
    return joined_sql([go_field_sql(e) for e in exprs])


# ---------------------------------------------------------------- summary.json as Go writes it


def go_json(obj) -> str:
    """json.MarshalIndent(obj, "", "  "): Go escapes <, >, & and U+2028/9, not other non-ASCII."""
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def summary_with_time(summary_json: str, seconds: float | None) -> dict:
    """The figures' summary with processingTimeInSeconds where the reference's struct has it
    (right after lineCount), or last when there is no lineCount. The time is the run's (its
    record's `seconds`), not the export's: the summary describes the run, and exporting the same
    run twice gives the same file."""
    summary = json.loads(summary_json)
    summary.pop("processingTimeInSeconds", None)
    out: dict = {}
    for key, value in summary.items():
        out[key] = value
        if key == "lineCount":
            out["processingTimeInSeconds"] = seconds
    out.setdefault("processingTimeInSeconds", seconds)
    return out
