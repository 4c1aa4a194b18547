"""Each person's statewide history in one row: one shuffle by SUBJECT_ID, then array functions.

A conviction is a row whose DISP_DESCR starts with CONVICTED; further conviction rows with the
same (SUBJECT_ID, CNT_ORDER) are sentence continuations that add their sentence to it. Every
list is ordered by input position (file, line), so results never depend on partitioning.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep import codes
from clearsweep.counties import COUNTIES
from clearsweep.dates import parse_yyyymmdd

# input position as one sortable number: file index, then line number
SEQ_FILE_FACTOR = 10**12
MONTH_DAYS = 30.5  # the reference's month
YEAR_DAYS = 366.0  # the reference's year


def _blank(c: Column) -> Column:
    return F.coalesce(F.trim(c), F.lit(""))


def sentence_days(length: Column, unit: Column) -> Column:
    n = F.coalesce(F.trim(length).try_cast("int"), F.lit(0))
    per_unit = (
        F.when(_blank(unit) == "D", F.lit(1.0))
        .when(_blank(unit) == "M", F.lit(MONTH_DAYS))
        .when(_blank(unit) == "Y", F.lit(YEAR_DAYS))
        .otherwise(F.lit(0.0))  # no sentence part: other units carry no length
    )
    return n.cast("double") * per_unit


def is_felony() -> Column:
    status = _blank(F.col("CONV_STAT_DESCR"))
    return (status == "FELONY") | ((status == "") & (_blank(F.col("OFFENSE_TOC")) == "F"))


def possible_other_p64(offense: Column, comment: Column) -> Column:
    """'Possible Other P64 Charges' of one row: the comment names another Prop 64 charge."""
    comment = F.coalesce(comment, F.lit(""))
    o_sec, o_letter = codes.prop64_reading(offense)
    c_sec, c_letter = codes.prop64_reading(comment)
    o_ab = o_letter.isin("A", "B")
    c_ab = c_letter.isin("A", "B")
    o_known = o_letter.isin("A", "B", "C", "D")
    c_known = c_letter.isin("A", "B", "C", "D")
    differs = (
        o_sec.isNull()
        | (o_sec != c_sec)
        | ((o_sec == "11357") & o_known & c_known & (o_ab != c_ab))
        | ((o_sec == "11357") & ~F.coalesce(o_known, F.lit(False)) & F.coalesce(c_known, F.lit(False)))
    )
    from_offense = ~_blank(offense).isin("", codes.SEE_COMMENT)
    # most comments name no Prop 64 section at all: settled without reading either text
    may_name = reduce(lambda a, b: a | b, [comment.contains(s) for s in codes.prop64_sections()])
    return F.when(may_name & from_offense & c_sec.isNotNull() & differs, comment).otherwise(F.lit(""))


def person_key(subject_id: Column) -> Column:
    """SUBJECT_ID as the key of a person: padding never splits one person into two."""
    return F.trim(subject_id)


def row_county() -> Column:
    return F.upper(_blank(F.col("STP_ORI_CNTY_NAME")))


def row_is_conviction() -> Column:
    return _blank(F.col("DISP_DESCR")).startswith("CONVICTED")


def with_row_facts(rows: DataFrame) -> DataFrame:
    """Row-level values every later step needs (narrow: no shuffle)."""
    step = _blank(F.col("STP_TYPE_DESCR"))
    cnt = F.trim(F.coalesce(F.col("CNT_ORDER"), F.lit("")))  # keys are trimmed everywhere: " 123" is 123
    is_conviction = row_is_conviction()
    # the derived keys replace the raw ones they are made from, so no two columns differ only by
    # case: the library works whatever spark.sql.caseSensitive the session has
    replaced = {"SUBJECT_ID", "CNT_ORDER"}
    return rows.select(
        *[F.col(c) for c in rows.columns if c not in replaced],
        (F.col("file_index").cast("long") * SEQ_FILE_FACTOR + F.col("line_no")).alias("seq"),
        person_key(F.col("SUBJECT_ID")).alias("subject_id"),
        row_county().alias("county"),
        is_conviction.alias("is_conviction"),
        cnt.alias("cnt_order"),
        F.substring(cnt, 1, 6).alias("case_key"),
        # only convictions are classified: other rows skip the text normalisation
        F.when(is_conviction, codes.code_section_text(F.col("OFFENSE_DESCR"), F.col("COMMENT_TEXT"))).alias("text"),
        parse_yyyymmdd(F.col("STP_EVENT_DATE")).alias("disp_date"),
        is_felony().alias("felony"),
        sentence_days(F.col("SENT_LENGTH"), F.col("SENT_TIME_CODE")).alias("sentence_days"),
        (step == "DECEASED").alias("is_deceased_row"),
        ((step == "REGISTRATION") & F.coalesce(F.col("OFFENSE_DESCR"), F.lit("")).startswith("290")).alias("is_registration"),
        ((step == "COURT ACTION") & (F.coalesce(F.col("OFN"), F.lit("")) != "")).alias("has_case_number"),
        (~is_conviction & (_blank(F.col("SENT_LENGTH")) != "")).alias("is_sentence_only"),
    )


CONVICTION_FIELDS = (
    "seq", "cnt_order", "case_key", "county", "text", "disp_date", "felony", "sentence_days",
    "is_prop64", "p64_section", "p64_letter", "is_super_strike", "is_enhanceable", "is_pc290",
    "is_related", "is_enhancement", "file_index", "line_no", "OFFENSE_DESCR", "COMMENT_TEXT",
)


def with_charge_codes(rows: DataFrame, reference: DataFrame) -> DataFrame:
    """Join each conviction row's code-section text to its classification (broadcast)."""
    texts = rows.where("is_conviction").select("text").distinct()
    classified = codes.classify_texts(texts, reference)
    return rows.join(F.broadcast(classified), "text", "left")


def _conv_struct() -> Column:
    return F.struct(*[F.col(c) for c in CONVICTION_FIELDS])


def people(rows: DataFrame) -> DataFrame:
    """One row per SUBJECT_ID with its deduplicated convictions and person-level facts."""
    grouped = rows.groupBy("subject_id").agg(
        F.min_by("PRI_DOB", "seq").alias("dob_raw"),
        F.min_by("RACE_DESCR", "seq").alias("race"),
        F.max("is_deceased_row").alias("deceased"),
        F.array_sort(F.collect_list(F.when(F.col("is_registration"), F.struct("seq", F.col("disp_date").alias("date"))))).alias("registrations"),
        F.array_sort(F.collect_list(F.when(F.col("has_case_number"), F.struct("seq", "case_key", "OFN")))).alias("case_numbers"),
        F.array_sort(F.collect_list(F.when(F.col("is_conviction"), _conv_struct()))).alias("conviction_rows"),
        F.collect_list(F.when(F.col("is_sentence_only"), F.col("cnt_order"))).alias("sentence_only_counts"),
    )
    conviction_rows = F.col("conviction_rows")
    return grouped.select(
        "subject_id", parse_yyyymmdd(F.col("dob_raw")).alias("dob"),
        F.coalesce(F.trim("race"), F.lit("")).alias("race"), "deceased", "registrations", "case_numbers",
        _deduplicated_convictions(conviction_rows).alias("convictions"),
        # a sentence on a row that is no conviction, with no conviction of its count: read as
        # written (it adds to no sentence), and counted so it is seen
        F.size(F.filter("sentence_only_counts", lambda k: ~F.exists(conviction_rows, lambda c: c.cnt_order == k))).alias("orphan_sentences"),
    ).transform(_with_super_strike_texts)


def _deduplicated_convictions(conv_rows: Column) -> Column:
    """First row of each CNT_ORDER is the conviction; its continuations add their sentences."""
    firsts = F.filter(conv_rows, lambda c, i: ~F.exists(F.slice(conv_rows, 1, i), lambda p: p.cnt_order == c.cnt_order))
    return F.transform(
        firsts,
        lambda c: c.withField(
            "sentence_days",
            F.aggregate(F.filter(conv_rows, lambda r: r.cnt_order == c.cnt_order), F.lit(0.0), lambda acc, r: acc + r.sentence_days),
        ).withField(
            # the first row's felony flag decides; a continuation saying otherwise is counted
            "felony_conflict", F.exists(conv_rows, lambda r: (r.cnt_order == c.cnt_order) & (r.felony != c.felony)),
        ),
    )


def _with_super_strike_texts(persons: DataFrame) -> DataFrame:
    """Super-strike text per conviction; an enhanceable offense counts with a gang enhancement
    (PC 186.22(B)(4)) in the same case and is shown as `<offense> + <enhancement>`."""
    convs = F.col("convictions")

    def gang_text(c: Column) -> Column:
        gang = F.filter(convs, lambda g: g.is_enhancement & (g.case_key == c.case_key))
        return F.try_element_at(gang, F.lit(1)).text

    def ss_text(c: Column) -> Column:
        return F.when(c.is_super_strike, c.text).when(
            c.is_enhanceable & F.exists(convs, lambda g: g.is_enhancement & (g.case_key == c.case_key)),
            F.concat(F.rtrim(c.text), F.lit(" + "), F.rtrim(gang_text(c))),
        )

    return persons.withColumn("convictions", F.transform(convs, lambda c: c.withField("ss_text", ss_text(c))))


NOT_CALIFORNIA = "<not one of the 58>"  # the data-quality bucket of rows naming another county


QUALITY_KEYS = ("convictionsWithNoChargeWritten", "convictionRowsWithUnrecognisedCodeSection",
                "convictionRowsWithUnusableDispositionDate", "convictionRowsWithUnusableDateOfBirth",
                "convictionRowsWithBirthAfterDisposition", "rowsDatedAfterAsOf")


def quality_bucket() -> Column:
    """A row's data-quality bucket: the county it names (one of the 58), none, or another."""
    county = row_county()
    return F.when(county.isin(*COUNTIES), county).when(county == "", F.lit("")).otherwise(F.lit(NOT_CALIFORNIA))


def quality_aggregates(as_of: dt.date | None) -> list[Column]:
    """The data quality counts of a group of rows: `rows`, then each of QUALITY_KEYS."""
    conviction = row_is_conviction()
    offense = _blank(F.col("OFFENSE_DESCR"))
    text = codes.code_section_text(F.col("OFFENSE_DESCR"), F.col("COMMENT_TEXT"))
    no_charge = conviction & offense.isin("", codes.SEE_COMMENT) & (F.trim(text) == "")
    unrecognised = conviction & ~no_charge & ~codes.section_readable(text)
    after_as_of = parse_yyyymmdd(F.col("STP_EVENT_DATE")) > F.lit(as_of) if as_of else F.lit(False)
    count = lambda cond: F.sum(F.when(cond, 1).otherwise(0))  # noqa: E731
    return [
        F.count("*").alias("rows"),
        count(no_charge).alias(QUALITY_KEYS[0]),
        count(unrecognised).alias(QUALITY_KEYS[1]),
        count(conviction & parse_yyyymmdd(F.col("STP_EVENT_DATE")).isNull()).alias(QUALITY_KEYS[2]),
        count(conviction & parse_yyyymmdd(F.col("PRI_DOB")).isNull()).alias(QUALITY_KEYS[3]),
        # born after the conviction: the statutory baseline sends it to review, the reference flows read it as written
        count(conviction & (parse_yyyymmdd(F.col("PRI_DOB")) > parse_yyyymmdd(F.col("STP_EVENT_DATE")))).alias(QUALITY_KEYS[4]),
        count(after_as_of).alias(QUALITY_KEYS[5]),
    ]


def data_quality(rows: DataFrame, as_of: dt.date | None = None, several_files: bool = False) -> dict:
    """Counts of rows that are read as written but may change a decision, for the run's summary
    and figures: {"total": over every row read, "by_county": {county: over the rows naming it}}.
    One aggregate by county (the 58, none, or another); no values leave Spark. A code section is
    unrecognised when the text is written but no section number can be read from it
    (charge-codes spec: counted, never guessed); a date is unusable when it is no real date. Rows
    dated after `as_of` are counted (they are in no "last 7 years"), and with `several_files`
    the counts whose files disagree on the disposition (`_disposition_conflicts`)."""
    rows_by = rows.groupBy(quality_bucket().alias("bucket")).agg(*quality_aggregates(as_of)).collect()  # at most 60 rows
    return quality_of(rows_by, rows, several_files)


def quality_of(rows_by: list, rows: DataFrame, several_files: bool) -> dict:
    """`data_quality`'s answer from its counts by bucket (rows with `bucket`, `rows` and each of
    QUALITY_KEYS), and the disposition conflicts of `rows` when there are several files."""
    by_bucket = {r["bucket"]: r for r in rows_by}
    total = {
        "rowsWithCountyNotInCalifornia": int(by_bucket[NOT_CALIFORNIA]["rows"]) if NOT_CALIFORNIA in by_bucket else 0,
        "rowsWithoutCounty": int(by_bucket[""]["rows"]) if "" in by_bucket else 0,
        **{k: sum(int(r[k] or 0) for r in rows_by) for k in QUALITY_KEYS},
    }
    by_county = {c: {k: int(r[k] or 0) for k in QUALITY_KEYS} for c, r in by_bucket.items() if c in COUNTIES}
    conflicts = _disposition_conflicts(rows, quality_bucket()) if several_files else {}
    for c, counts in by_county.items():
        counts.update(conflicts.get(c, dict.fromkeys(CONFLICT_KEYS, 0)))
    total.update(conflicts.get(None, dict.fromkeys(CONFLICT_KEYS, 0)))
    zero = dict.fromkeys((*QUALITY_KEYS, *CONFLICT_KEYS), 0)
    return {"total": total, "by_county": {c: by_county.get(c, zero) for c in COUNTIES}}


CONFLICT_KEYS = ("countsWithConflictingDispositionsAcrossFiles", "peopleWithConflictingDispositionsAcrossFiles")


def _disposition_conflicts(rows: DataFrame, bucket: Column) -> dict:
    """Counts (SUBJECT_ID, CNT_ORDER) whose rows come from two or more files that disagree on the
    disposition (they are merged as one history, the conviction row deciding), and their people:
    {county or None for the whole input: {key: n}}, a count under the county of its first row.
    One shuffle of four short columns, only when the input has several files."""
    seq = F.col("file_index").cast("long") * SEQ_FILE_FACTOR + F.col("line_no")
    keyed = rows.select(person_key(F.col("SUBJECT_ID")).alias("subject"), F.trim(F.col("CNT_ORDER")).alias("cnt"),
                        "file_index", F.upper(_blank(F.col("DISP_DESCR"))).alias("disp"), bucket.alias("bucket"), seq.alias("seq"))
    # min != max rather than distinct counts: a partial aggregate before the shuffle, no row expansion
    per_count = keyed.groupBy("subject", "cnt").agg(
        (F.min("file_index") != F.max("file_index")).alias("files"), (F.min("disp") != F.max("disp")).alias("disps"),
        F.min_by("bucket", "seq").alias("bucket"))
    found = per_count.where(F.col("files") & F.col("disps")).rollup("bucket").agg(
        F.count("*").alias(CONFLICT_KEYS[0]), F.count_distinct("subject").alias(CONFLICT_KEYS[1]), F.grouping("bucket").alias("all"))
    return {None if r["all"] else r["bucket"]: {k: int(r[k]) for k in CONFLICT_KEYS} for r in found.collect()}  # at most 61 rows
