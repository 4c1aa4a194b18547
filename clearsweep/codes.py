"""Code-section texts: normalised to (section, subsection path, code) and joined to the
charge-code reference tables in conf/charge_codes/ (data, each row citing its source).

Matching (shared/spec/charge-codes.md): same code (or no code where the entry allows it), same
section, and a subsection rule per entry: `bare` (no subsection), `any`, `prefix` (an entry
`288(B)` matches `288(B)(1)`) or `exact`. A section written `190.*` matches every dotted child.
Prop 64 entries read a letter written without parentheses (`11357A`, `11357B2`) as a subsection;
`11357 (A)` is `11357(A)`.
"""

from __future__ import annotations

import csv
import hashlib
from functools import lru_cache

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from clearsweep.frames import local_frame
from clearsweep.paths import CHARGE_CODES_DIR

TABLES = ("prop64", "super_strikes", "pc290", "related", "enhancements")
CODES = "HS|PC|VC|BP|MV|WI|FG|GC|CC|PR|UI|SH|ED|LC|RT|HN|IC|FA|EC"
ATTEMPT = r"^\s*(664|182)(?:\s*[-/.+]\s*|\s+(?=\d)|(?=\d{5}))"
HEAD = r"^(\d+(?:\.\d+)?)([A-Z]*)((?:\([A-Z0-9]+\))*)([A-Z0-9]*)"
SEE_COMMENT = "SEE COMMENT FOR CHARGE"


@lru_cache(maxsize=None)
def reference_rows() -> tuple[dict, ...]:
    rows = []
    for table in TABLES:
        with open(CHARGE_CODES_DIR / f"{table}.csv", newline="", encoding="utf-8") as f:
            for entry in csv.DictReader(f):
                rows.append({"list": table, **entry})
    return tuple(rows)


def reference_version() -> str:
    """Content hash of the reference tables, recorded with every run."""
    h = hashlib.sha256()
    for table in TABLES:
        h.update((CHARGE_CODES_DIR / f"{table}.csv").read_bytes())
    return h.hexdigest()[:16]


def prop64_sections() -> list[str]:
    return sorted({r["section"] for r in reference_rows() if r["list"] == "prop64"})


def section_names(lists: tuple[str, ...]) -> list[str]:
    """The text every code section of these lists is written with (a `190.*` entry: `190.`):
    a code-section text can only match an entry whose section it spells out."""
    return sorted({r["section"].removesuffix("*") for r in reference_rows() if r["list"] in lists})


REFERENCE_SCHEMA = StructType([
    StructField("list", StringType()), StructField("code", StringType()), StructField("section", StringType()),
    StructField("subsection", StringType()), StructField("match", StringType()), StructField("letter_subsections", BooleanType()),
    StructField("code_optional", BooleanType()), StructField("with_section", StringType()), StructField("source", StringType()),
])


def reference_table(spark: SparkSession) -> DataFrame:
    rows = [
        {**r, "letter_subsections": r["letter_subsections"] == "true", "code_optional": r["code_optional"] == "true",
         "with_section": r["with_section"] or None}
        for r in reference_rows()
    ]
    return local_frame(spark, rows, REFERENCE_SCHEMA)


def code_section_text(offense: Column, comment: Column) -> Column:
    """OFFENSE_DESCR, or COMMENT_TEXT when it is blank or SEE COMMENT, up to the description's '-'.

    An attempt written `664-11357` keeps its section: the cut is at the first '-' after it.
    """
    use_comment = F.coalesce(F.trim(offense), F.lit("")).isin("", SEE_COMMENT)
    raw = F.coalesce(F.when(use_comment, comment).otherwise(offense), F.lit(""))
    return F.regexp_extract(raw, r"^(\s*(?:664|182)\s*-)?[^-]*", 0)


def normalize(text: Column) -> Column:
    """struct(attempt, base, letters, paren, trailing, code) of a code-section text."""
    t = F.upper(F.coalesce(text, F.lit("")))
    rest = F.regexp_replace(t, ATTEMPT, "")
    code = F.regexp_extract(rest, rf"(?:^|[^A-Z])({CODES})(?![A-Z])", 1)
    # `11357 (A)` is subsection A, as `11357(A)` (spec): spaces before a parenthesis are dropped
    body = F.regexp_replace(F.trim(F.regexp_replace(rest, rf"(?<![A-Z])({CODES})(?![A-Z]).*$", "")), r"\s+(?=\()", "")
    return F.struct(
        t.rlike(ATTEMPT).alias("attempt"),
        F.regexp_extract(body, HEAD, 1).alias("base"),
        F.regexp_extract(body, HEAD, 2).alias("letters"),
        F.regexp_extract(body, HEAD, 3).alias("paren"),
        F.regexp_extract(body, HEAD, 4).alias("trailing"),
        code.alias("code"),
    )


# `normalize(text).base` is not empty exactly when the digits of a section come first: right
# after an attempt prefix (ATTEMPT), or, with no prefix, after leading spaces (normalize trims
# spaces only). The same test as one regular expression:
READABLE = (r"^(?:\s*(?:664|182)(?:\s*[-/.+]\s*|\s+|(?=[0-9]{5}))[0-9]"
            r"|(?!\s*(?:664|182)(?:\s*[-/.+]|\s+[0-9]|[0-9]{5})) *[0-9])")


def section_readable(text: Column) -> Column:
    """A section number can be read from the text (`normalize(text).base != ""`), in one regex:
    cheap enough to ask of every conviction row of the extract."""
    return F.upper(F.coalesce(text, F.lit(""))).rlike(READABLE)


def _candidates(n: Column) -> Column:
    """The (section, subsection) readings of a normalised text to look up in the tables."""
    letters_as_sub = F.concat(
        F.when(n.letters != "", F.concat(F.lit("("), n.letters, F.lit(")"))).otherwise(F.lit("")),
        F.when(n.trailing != "", F.concat(F.lit("("), n.trailing, F.lit(")"))).otherwise(F.lit("")),
        n.paren,
    )
    full = F.concat(n.base, n.letters)
    return F.array(
        F.struct(full.alias("section"), n.paren.alias("subsection"), F.lit(False).alias("via_letters")),
        F.struct(n.base.alias("section"), letters_as_sub.alias("subsection"), F.lit(True).alias("via_letters")),
        F.struct(F.regexp_replace(full, r"\.[0-9]+$", ".*").alias("section"), n.paren.alias("subsection"), F.lit(False).alias("via_letters")),
    )


def _subsection_matches(entry_match: Column, entry_sub: Column, sub: Column) -> Column:
    return (
        ((entry_match == "bare") & (sub == ""))
        | (entry_match == "any")
        | ((entry_match == "prefix") & sub.startswith(entry_sub))
        | ((entry_match == "exact") & (sub == entry_sub))
    )


def classify_texts(texts: DataFrame, reference: DataFrame) -> DataFrame:
    """One row per distinct `text`: which reference lists it falls in, and its Prop 64 reading."""
    n = normalize(F.col("text"))
    readings = texts.select("text", n.alias("n")).select(
        "text", "n", F.explode(_candidates(F.col("n"))).alias("cand")
    ).where(F.col("cand.section") != "")
    ref = F.broadcast(reference.alias("r"))
    joined = readings.join(
        ref,
        (F.col("cand.section") == F.col("r.section"))
        & (~F.col("cand.via_letters") | F.col("r.letter_subsections"))
        & ((F.col("n.code") == F.col("r.code")) | ((F.col("n.code") == "") & F.col("r.code_optional")))
        & _subsection_matches(F.col("r.match"), F.col("r.subsection"), F.col("cand.subsection")),
        "inner",
    )
    in_list = lambda name, extra=F.lit(True): F.max((F.col("r.list") == name) & extra)  # noqa: E731
    p64 = F.col("r.list") == "prop64"
    matched = joined.groupBy("text").agg(
        in_list("prop64").alias("is_prop64"),
        F.max(F.when(p64, F.col("r.section"))).alias("p64_section"),
        F.max(F.when(p64, F.regexp_extract(F.col("cand.subsection"), r"^\(([A-Z])\)", 1))).alias("p64_letter"),
        in_list("super_strikes", F.col("r.with_section").isNull()).alias("is_super_strike"),
        in_list("super_strikes", F.col("r.with_section").isNotNull()).alias("is_enhanceable"),
        in_list("pc290").alias("is_pc290"),
        in_list("related").alias("is_related"),
        in_list("enhancements").alias("is_enhancement"),
    )
    return texts.join(matched, "text", "left").select(
        "text",
        *[F.coalesce(F.col(c), F.lit(False)).alias(c) for c in ("is_prop64", "is_super_strike", "is_enhanceable", "is_pc290", "is_related", "is_enhancement")],
        "p64_section",
        F.when(F.col("p64_letter") != "", F.col("p64_letter")).alias("p64_letter"),
    )


def prop64_reading(text: Column) -> tuple[Column, Column]:
    """(section, subsection letter) of a text without a join, for row-level flags such as
    'Possible Other P64 Charges' (sections from the prop64 table)."""
    n = normalize(text)
    code_ok = (n.code == "") | (n.code == "HS")
    section = F.when(n.base.isin(*prop64_sections()) & code_ok, n.base)
    letter = F.when(n.letters != "", F.substring(n.letters, 1, 1)).otherwise(F.regexp_extract(n.paren, r"^\(([A-Z])\)", 1))
    return section, F.when(section.isNotNull() & (letter != ""), letter)
