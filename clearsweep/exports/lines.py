"""Every line of the county packets as Spark expressions: which rows a county's packet holds, each
file's records formatted as the reference tool and the courts read them (Go's CSV quoting, dates,
HTML escaping), and the order they are written in. Nothing here runs a job; the delivery writes
the frame (clearsweep.exports.delivery).

One frame for all the counties delivered: (c, f, order keys, line), where `c` numbers the county
and `f` the file (FILES), each file's header as its first line (and the HTML page's foot as its
last), so that Spark writes each (county, file) as one text file, in order, by one task."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from clearsweep.decide.facts import FACT_COLUMNS
from clearsweep.exports import motion
from clearsweep.exports.reference import (ALL_FILE, CONDENSED_COLUMNS, CONDENSED_FILE, PROP64_FILE, go_csv_line, go_field_sql,
                                          go_line_col, joined_sql)
from clearsweep.frames import local_frame, sql_literal
from clearsweep.schema import DOJ_COLUMNS

POSSIBLE_OTHER = "possible_other_p64"
HISTORY_KEYS = ("file_index", "line_no")
# the files Spark writes, numbered by their place here (the `f` partition of the rows written)
FILES = (PROP64_FILE, ALL_FILE, CONDENSED_FILE, motion.EXHIBIT_CSV, motion.REVIEW_CSV, motion.EXHIBIT_HTML)
F_PROP64, F_ALL, F_CONDENSED, F_EXHIBIT, F_REVIEW, F_HTML = range(len(FILES))
HEAD, BODY, FOOT = 0, 1, 2  # the `part` of a file a line belongs to: its first, its records, its last
# the order of a file's lines: court order for the motion files (clearsweep.exports.motion), input
# order for the reference files (their court keys are null)
ORDER = ("part", "k_court", "k_case", "k_undated", "k_date", "k_cii", "file_index", "line_no")
DETERMINATION_COLUMNS = (*HISTORY_KEYS, *FACT_COLUMNS, "statute", "code_section", "felony", "disposition_date", "run_id")


def fact_keys(policy) -> list[str]:
    """The 18 columns of the reference files, less those the county's policy's reference export left out."""
    return [k for k in FACT_COLUMNS if k not in policy.kind.export_omits]


# ---------------------------------------------------------------- which rows a county's packet holds


def county_rows(determinations: DataFrame, history: DataFrame) -> DataFrame:
    """Every history row of the people decided in each county (the rows of that county's
    partition: a person decided in two counties is in both), with the determination of the
    conviction whose first input row it is (columns `d_*`, null on other rows). The one
    selection every file of a packet is made from; filter either frame first to narrow it (a
    county, or the convictions of a later supplement)."""
    det = determinations.select(F.col("county").alias("d_county"), *[F.col(c).alias(f"d_{c}") for c in DETERMINATION_COLUMNS])
    hist = history.select("county", *DOJ_COLUMNS, *HISTORY_KEYS, POSSIBLE_OTHER, "run_id")
    on = (hist.county == det.d_county) & (hist.file_index == det.d_file_index) & (hist.line_no == det.d_line_no)
    return hist.join(det, on, "left")


# ---------------------------------------------------------------- the records of each file


def _by_county_sql(variants: dict[tuple, list[str]], make) -> Column:
    """An expression that differs by the county's columns: one CASE branch per set of columns
    (`make`: columns -> SQL text), built by one JVM call."""
    items = list(variants.items())
    if len(items) == 1:
        return F.expr(make(items[0][0]))
    branches = " ".join(f"WHEN county IN ({', '.join(sql_literal(c, StringType()) for c in counties)}) THEN {make(keys)}"
                        for keys, counties in items)
    return F.expr(f"CASE {branches} END")


def html_text(c: Column) -> Column:
    """Text as jinja2's autoescape (markupsafe) writes it into the page."""
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;")):
        c = F.replace(c, F.lit(char), F.lit(entity))
    return c


def html_cells(cells: list[Column]) -> Column:
    """An exhibit row after its number cell, as the template's `row` macro writes it (the date
    cells, 3rd and 7th, are kept on one line)."""
    parts = [F.lit("</td>")]
    for i, cell in enumerate(cells, start=1):
        parts += [F.lit('<td class="date">' if i in (3, 7) else "<td>"), html_text(cell), F.lit("</td>")]
    return F.concat(*parts, F.lit("</tr>"))


def _record(f: int, line: Column, keys: list[Column] | None = None) -> Column:
    keys = keys or [F.lit(None).cast(t) for t in ("string", "string", "boolean", "date", "string")]
    return F.struct(F.lit(f).alias("f"), line.alias("line"), *[k.alias(n) for k, n in zip(keys, ORDER[1:6])])


def records(rows: DataFrame, fact_variants: dict[tuple, list[str]]) -> DataFrame:
    """Each row of `county_rows` as the records it gives: its All_Results and condensed lines,
    and, for a decided conviction's first row, its Prop64_Results line and its line in the motion
    exhibit (CSV and HTML) or the review list. `fact_variants`: the reference columns -> the
    counties that print them."""
    decided = F.col("d_file_index").isNotNull()
    d = lambda c: F.col(f"d_{c}")  # noqa: E731

    used = [k for k in FACT_COLUMNS if any(k in keys for keys in fact_variants)]

    # blank on undecided rows (their d_ columns are null), but Possible Other P64 Charges, always the row's own
    def all_facts(keys):
        return joined_sql(["`qr_possible`" if k == POSSIBLE_OTHER else f"`qd_{k}`" for k in keys])

    # each field quoted once, DOJ and fact fields alike, and the DOJ and fact fields joined once,
    # in projections of their own (what two files share is computed once per row, not once per
    # file; the facts quoted inside each file's per-county CASE made the 1M delivery 74 s instead
    # of 56 s); built as SQL text, a few JVM calls instead of thousands
    rows = rows.selectExpr("*", *[f"{go_field_sql(f'`{c}`')} AS `q_{c}`" for c in DOJ_COLUMNS],
                           *[f"{go_field_sql(f'`d_{k}`')} AS `qd_{k}`" for k in used],
                           f"{go_field_sql(f'`{POSSIBLE_OTHER}`')} AS `qr_possible`")
    rows = rows.select("*", F.concat_ws(",", *[F.col(f"q_{c}") for c in DOJ_COLUMNS]).alias("q_doj"),
                       _by_county_sql(fact_variants, all_facts).alias("q_facts"))
    facts, doj = F.col("q_facts"), F.col("q_doj")
    prop64_facts = _by_county_sql(fact_variants, lambda keys: joined_sql([f"`qd_{k}`" for k in keys]))
    ident = motion.identity(d)
    determination = d("determination")
    granted, reviewed = determination.isin(*motion.GRANTED), determination.isin(*motion.REVIEWED)
    exhibit_cells = [*ident, motion.relief(determination, d("felony")), motion.text(d("statute"))]
    review_cells = [*ident, motion.text(determination), motion.text(d("reason"))]
    court = [motion.text(F.col("STP_ORI_DESCR")), motion.text(d("case_number")), d("disposition_date").isNull(),
             d("disposition_date"), motion.text(F.col("CII_NUMBER"))]
    # each line its own column of a projection (compiled, one method each), then the records
    # made of those columns and exploded: a generator's arguments run interpreted whenever its
    # stage's generated code passes the JVM's 64 KB method limit, as these lines' does, so the
    # generator is given only column references (with the report change, the 1M delivery 85 s -> 73 s)
    made = {
        "l_all": F.concat_ws(",", doj, facts),
        "l_condensed": F.concat_ws(",", *[F.col(f"q_{c}") for c in CONDENSED_COLUMNS], facts),
        "l_prop64": F.when(decided, F.concat_ws(",", doj, prop64_facts)),
        "l_exhibit": F.when(granted, go_line_col(exhibit_cells)),
        "l_html": F.when(granted, html_cells(exhibit_cells)),
        "l_review": F.when(reviewed, go_line_col(review_cells)),
        **{f"c_{k}": c for k, c in zip(ORDER[1:6], court)},
    }
    court_keys = [F.col(f"c_{k}") for k in ORDER[1:6]]
    given = lambda f, name, keys=None: F.when(F.col(name).isNotNull(), _record(f, F.col(name), keys))  # noqa: E731
    out = F.array(_record(F_ALL, F.col("l_all")), _record(F_CONDENSED, F.col("l_condensed")), given(F_PROP64, "l_prop64"),
                  given(F_EXHIBIT, "l_exhibit", court_keys), given(F_HTML, "l_html", court_keys), given(F_REVIEW, "l_review", court_keys))
    return (rows.select("county", *HISTORY_KEYS, determination.alias("determination"), "run_id",
                        *[c.alias(name) for name, c in made.items()])
            .select("county", *HISTORY_KEYS, "determination", "run_id", F.explode(out).alias("r"))
            .where(F.col("r").isNotNull())
            .select("county", F.col("r.f").alias("f"), F.lit(BODY).alias("part"), *[F.col(f"r.{k}").alias(k) for k in ORDER[1:6]],
                    *HISTORY_KEYS, F.col("r.line").alias("line"), "determination", "run_id"))


# ---------------------------------------------------------------- heads and feet, from the driver


EDGE_SCHEMA = StructType([StructField("county", StringType()), StructField("f", IntegerType()),
                          StructField("part", IntegerType()), StructField("line", StringType())])


def csv_headers(keys: list[str]) -> dict[int, str]:
    headers = [FACT_COLUMNS[k] for k in keys]
    return {F_PROP64: go_csv_line([*DOJ_COLUMNS, *headers]), F_ALL: go_csv_line([*DOJ_COLUMNS, *headers]),
            F_CONDENSED: go_csv_line([*CONDENSED_COLUMNS, *headers]),
            F_EXHIBIT: go_csv_line(motion.EXHIBIT_HEADERS), F_REVIEW: go_csv_line(motion.REVIEW_HEADERS)}


def edge_lines(page: tuple[list[str], str, str]) -> dict[int, list[str]]:
    """A county's lines that come from the driver, per file: its head (the CSV header, the HTML
    page's head) and the page's foot, from (reference columns, HTML head, HTML foot). All a file
    holds when the county has no rows."""
    keys, head, foot = page
    out = {f: [text.removesuffix("\n")] for f, text in {**csv_headers(keys), F_HTML: head}.items()}
    out[F_HTML].append(foot.removesuffix("\n"))
    return out


def edges(spark: SparkSession, pages: dict[str, tuple[list[str], str, str]]) -> DataFrame:
    """Each county's edge_lines as rows: county -> (reference columns, HTML head, HTML foot).
    Every file of every county has a line here, so a county with no rows still gets its files."""
    rows = [{"county": county, "f": f, "part": HEAD if i == 0 else FOOT, "line": line}
            for county, page in pages.items() for f, texts in edge_lines(page).items() for i, line in enumerate(texts)]
    return local_frame(spark, rows, EDGE_SCHEMA)


# ---------------------------------------------------------------- all of it, in order


def number_lines(lines: DataFrame, county_numbers: dict[str, int], first: Column) -> DataFrame:
    """Lines (county, f, part, the ORDER keys, line, run_id) numbered in their file: (c, f, part,
    line, run_id, and per line n: its place in its file, first: how many lines so far `first`
    holds for, last: whether it ends its file), one window per (county, file) in file order,
    which is also how Spark distributes and sorts the lines for the writer, so each file is
    written by one task with no further shuffle or sort."""
    number = F.create_map(*[x for county, c in county_numbers.items() for x in (F.lit(county), F.lit(c))])
    order = [F.col(k).asc_nulls_first() for k in ORDER]
    w = Window.partitionBy("c", "f").orderBy(*order)
    running = w.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return lines.select(number[F.col("county")].alias("c"), "*", F.coalesce(first.cast("int"), F.lit(0)).alias("_first")).select(
        "c", "f", "part", "line", "run_id",
        F.row_number().over(w).alias("n"),
        F.sum("_first").over(running).alias("first"),
        F.lead("part").over(w).isNull().alias("last"),
    )


def packet_lines(spark: SparkSession, rows: DataFrame, fact_variants: dict[tuple, list[str]],
                 pages: dict[str, tuple[list[str], str, str]], county_numbers: dict[str, int]) -> DataFrame:
    """(c, f, line, and per line n, last and first: how many lines so far list a Dismissal or
    Hand Review; stray: a row of another run), numbered by number_lines."""
    body = records(rows, fact_variants)
    head = edges(spark, pages)
    lines = body.unionByName(head, allowMissingColumns=True)
    numbered = number_lines(lines, county_numbers, F.col("determination").isin(motion.DISMISSAL, motion.HAND_REVIEW))
    html_row = F.concat(F.lit('<tr><td class="number">'), (F.col("n") - 1).cast("string"), F.col("line"))
    return numbered.select("c", "f", "part", "n", "first", "last", "run_id",
                           F.when((F.col("f") == F_HTML) & (F.col("part") == BODY), html_row).otherwise(F.col("line")).alias("line"))
