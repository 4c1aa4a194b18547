"""Reading DOJ research files into typed rows and quarantined lines, with exact line numbers.

CSV files are read line by line in the JVM: every physical line keeps its file and 1-based line
number, is checked for field count and quoting, and only then parsed. Lines that fail land in
quarantine with a reason; none is dropped, and the caller reconciles the counts per file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType
from pyspark.sql.window import Window

from clearsweep.errors import UserError
from clearsweep.schema import DOJ_COLUMNS, N_COLUMNS

POSITION_COLUMNS = ("source_file", "file_index", "line_no")
QUARANTINE_COLUMNS = ("source_file", "file_index", "line_no", "reason_code", "reason", "n_fields", "line")
# A well-formed quoted field: "..." with "" as the escaped quote.
QUOTED_FIELD = r'"[^"]*(?:""[^"]*)*"'  # unrolled: no per-character alternation
HEADER_PREFIX = "RECORD_ID"


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute local path or URI
    index: int  # position among the run's inputs: input order is (index, line_no)
    kind: str  # csv | parquet


@dataclass
class Extract:
    lines: DataFrame  # every data line once: DOJ columns, position, reason_code (null = accepted)
    files: list[InputFile]
    physical_lines: dict[str, int] = field(default_factory=dict)  # per file, header included
    header_lines: dict[str, int] = field(default_factory=dict)  # per file: 1 where a header was read
    header_notes: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> DataFrame:
        return accepted_rows(self.lines)

    @property
    def quarantine(self) -> DataFrame:
        return quarantined_lines(self.lines)


def resolve_inputs(paths: list[str]) -> list[InputFile]:
    """Expand directories, check every file is there and readable, and fix the input order."""
    found: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            children = sorted(c for c in p.iterdir() if c.is_file() and not c.name.startswith((".", "_")) and c.suffix != ".json")
            if not children:
                raise UserError(f"input folder has no data files: {raw}")
            found.extend(str(c.resolve()) for c in children)
        elif not p.exists():
            raise UserError(f"input file not found: {raw}")
        elif not os.access(p, os.R_OK):
            raise UserError(f"input file is not readable: {raw}")
        else:
            found.append(str(p.resolve()))
    kinds = {f: ("parquet" if f.endswith(".parquet") else "csv") for f in found}
    return [InputFile(path=f, index=i, kind=kinds[f]) for i, f in enumerate(found)]


def read_extract(spark: SparkSession, inputs: list[InputFile]) -> Extract:
    csv_files = [f for f in inputs if f.kind == "csv"]
    parquet_files = [f for f in inputs if f.kind == "parquet"]
    extract = Extract(lines=None, files=inputs)
    parts = []
    if csv_files:
        parts.append(_read_csv_files(spark, csv_files, extract))
    if parquet_files:
        parts.append(_read_parquet_files(spark, parquet_files, extract))
    lines = parts[0]
    for more in parts[1:]:
        lines = lines.unionByName(more)
    extract.lines = lines
    return extract


# ---------------------------------------------------------------- CSV


def _file_index_column(files: list[InputFile], path_col: Column) -> Column:
    mapping = F.create_map(*[x for f in files for x in (F.lit(_as_uri(f.path)), F.lit(f.index))])
    return mapping[path_col]


def _as_uri(path: str) -> str:
    return path if "://" in path else Path(path).as_uri().replace("file:///", "file:/")


def _physical_lines(spark: SparkSession, files: list[InputFile]) -> tuple[DataFrame, dict[str, int]]:
    """Every physical line with its file and 1-based line number (two passes, no big collect)."""
    text = spark.read.text([f.path for f in files]).select(
        F.col("_metadata.file_path").alias("source_uri"),
        F.col("_metadata.file_block_start").alias("block_start"),
        F.monotonically_increasing_id().alias("_mid"),
        _without_cr(F.col("value")).alias("line"),
    )
    # One small row per file split: how many lines it holds and its first id.
    blocks = text.groupBy("source_uri", "block_start").agg(F.count("*").alias("n"), F.min("_mid").alias("first_mid"))
    earlier_in_file = Window.partitionBy("source_uri").orderBy("block_start").rowsBetween(Window.unboundedPreceding, -1)
    offsets = blocks.select(
        "source_uri", "block_start", "first_mid", "n",
        F.coalesce(F.sum("n").over(earlier_in_file), F.lit(0)).alias("lines_before"),
    )
    split_rows = offsets.collect()  # a row per file split, not per line
    lines_per_uri: dict[str, int] = {}
    for r in split_rows:
        lines_per_uri[r["source_uri"]] = lines_per_uri.get(r["source_uri"], 0) + r["n"]
    offsets = spark.createDataFrame(split_rows, offsets.schema).drop("n")
    numbered = text.join(F.broadcast(offsets), ["source_uri", "block_start"], "inner").select(
        "source_uri",
        (F.col("lines_before") + F.col("_mid") - F.col("first_mid") + 1).cast(LongType()).alias("line_no"),
        "line",
    )
    return numbered, lines_per_uri


def _without_cr(value: Column) -> Column:
    return F.when(value.endswith("\r"), F.substring(value, F.lit(1), F.length(value) - 1)).otherwise(value)


def _commas(text: Column) -> Column:
    return F.length(text) - F.length(F.replace(text, F.lit(","), F.lit("")))


def _field_count(line: Column) -> Column:
    """Fields = commas outside quoted fields + 1. With an even number of quotes the quoted
    fields are exactly the odd pieces between quotes, which avoids a regex per line; an odd
    count (a quarantined line) keeps the regex so its reported count is unchanged."""
    pieces = F.split(line, '"')
    inside = F.array_join(F.filter(pieces, lambda piece, i: i % 2 == 1), "")
    by_regex = _commas(F.regexp_replace(line, QUOTED_FIELD, "")) + 1
    return F.when(~line.contains('"'), _commas(line) + 1).when(_quoting_ok(line), _commas(line) - _commas(inside) + 1).otherwise(by_regex)


def _quoting_ok(line: Column) -> Column:
    """Every quote pairs up: removing the well-formed quoted fields (QUOTED_FIELD) leaves no
    quote exactly when the line holds an even number of quotes."""
    return F.size(F.split(line, '"')) % 2 == 1


def _read_csv_files(spark: SparkSession, files: list[InputFile], extract: Extract) -> DataFrame:
    lines, lines_per_uri = _physical_lines(spark, files)
    for f in files:
        extract.physical_lines[f.path] = lines_per_uri.get(_as_uri(f.path), 0)
    lines = lines.withColumn("file_index", _file_index_column(files, F.col("source_uri")))
    layouts = _header_layouts(files, extract)
    headed = [f.index for f in files if extract.header_lines.get(f.path)]
    is_header = (F.col("line_no") == 1) & F.col("file_index").isin(*headed) if headed else F.lit(False)
    expected_fields = _file_index_lookup(layouts, F.col("file_index"), default=N_COLUMNS)

    checked = lines.select(
        "*",
        is_header.alias("is_header"),
        _field_count(F.col("line")).alias("n_fields"),
        F.when(F.col("line").contains('"'), _quoting_ok(F.col("line"))).otherwise(F.lit(True)).alias("quoting_ok"),
    ).withColumn("source_file", _file_index_lookup({f.index: f.path for f in files}, F.col("file_index"), default=None))
    checked = checked.withColumn("problem", _line_problem(expected_fields)).where(
        F.col("problem").isNotNull() | ~F.col("is_header"))
    options = {"escape": '"', "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false", "mode": "PERMISSIVE"}
    parsed = checked.select(
        "*", F.when(F.col("problem").isNull(), F.from_csv("line", _csv_schema_ddl(), options)).alias("f"),
    ).select(*[F.col(f"f.{c}").alias(c) for c in DOJ_COLUMNS], *POSITION_COLUMNS, "problem", "n_fields", "line")
    return _with_status(parsed, F.col("problem.code"), F.col("problem.reason"))


def _with_status(parsed: DataFrame, line_code: Column, line_reason: Column) -> DataFrame:
    """Every line once: its DOJ fields when accepted, else a reason code and reason."""
    bad_value = _bad_value_reason()
    code = F.coalesce(line_code, F.when(bad_value.isNotNull(), F.lit("bad_value")))
    return parsed.select(
        *DOJ_COLUMNS, *POSITION_COLUMNS,
        code.alias("reason_code"),
        F.coalesce(line_reason, bad_value).alias("reason"),
        F.col("n_fields").cast(LongType()).alias("n_fields"),
        F.when(code.isNotNull(), F.coalesce(F.col("line"), _rebuilt_line())).alias("line"),
    )


def accepted_rows(lines: DataFrame) -> DataFrame:
    return lines.where(F.col("reason_code").isNull()).select(*DOJ_COLUMNS, *POSITION_COLUMNS)


def quarantined_lines(lines: DataFrame) -> DataFrame:
    return lines.where(F.col("reason_code").isNotNull()).select(*QUARANTINE_COLUMNS)


def _csv_schema_ddl() -> str:
    return ", ".join(f"`{c}` STRING" for c in DOJ_COLUMNS)


def _file_index_lookup(values: dict, key: Column, default) -> Column:
    if not values:
        return F.lit(default)
    mapping = F.create_map(*[x for k, v in values.items() for x in (F.lit(k), F.lit(v))])
    return F.coalesce(mapping[key], F.lit(default)) if default is not None else mapping[key]


def _first_line(path: str) -> str:
    with open(path, "rb") as f:
        return f.readline().decode("utf-8", errors="replace").rstrip("\r\n")


def _header_layouts(files: list[InputFile], extract: Extract) -> dict[int, int]:
    """Field count each file's data lines must have, from its header line when it has one."""
    layouts: dict[int, int] = {}
    for f in files:
        first = _first_line(f.path)
        if not first.startswith(HEADER_PREFIX):
            continue
        extract.header_lines[f.path] = 1
        names = [n.strip().strip('"') for n in first.split(",")]
        if names and names[-1] == "":
            names = names[:-1]  # a header with a trailing comma exists in the wild
        if tuple(names) == DOJ_COLUMNS:
            layouts[f.index] = N_COLUMNS
        elif tuple(names) == DOJ_COLUMNS[:-1]:
            # END_OF_REC is only a record terminator: such a file's lines are read without it.
            layouts[f.index] = N_COLUMNS - 1
            extract.header_notes[f.path] = "line 1: header has 94 fields, END_OF_REC missing; data lines read with 94 fields"
        else:
            missing = [c for c in DOJ_COLUMNS if c not in names][:5]
            extra = [c for c in names if c not in DOJ_COLUMNS][:5]
            raise UserError(
                f"{f.path}: line 1 is a header that does not match schemas/doj_research_file.yaml "
                f"({len(names)} names; missing {missing}; unexpected {extra})"
            )
    return layouts


def _problem(code: str, reason) -> Column:
    return F.struct(F.lit(code).alias("code"), (reason if isinstance(reason, Column) else F.lit(reason)).alias("reason"))


def _line_problem(expected_fields: Column) -> Column:
    """struct(code, reason) of a line that cannot be read, or null. A header line is never
    data; one without END_OF_REC (94 fields) is reported as the file's bad line."""
    short_header = F.col("is_header") & (expected_fields == N_COLUMNS - 1)
    return (
        F.when(short_header, _problem("header", "header has 94 fields (expected 95): END_OF_REC missing"))
        .when(F.col("is_header"), F.lit(None))
        .when(~F.col("quoting_ok"), _problem("quoting", "unparseable quoting (unbalanced or stray double quote)"))
        .when(F.col("line") == "", _problem("field_count", "blank line"))
        .when(F.col("n_fields") != expected_fields,
              _problem("field_count", F.format_string("%d fields, expected %d", F.col("n_fields"), expected_fields)))
    )


def _bad_value_reason() -> Column:
    subject = F.trim(F.col("SUBJECT_ID"))
    cnt = F.trim(F.col("CNT_ORDER"))
    return (
        F.when(F.coalesce(subject, F.lit("")) == "", F.lit("SUBJECT_ID is blank"))
        .when(~F.coalesce(cnt, F.lit("")).rlike(r"^[0-9]{12}$"), F.lit("CNT_ORDER is not 12 digits"))
    )


def _rebuilt_line() -> Column:
    return F.concat_ws(",", *[F.coalesce(F.col(c), F.lit("")) for c in DOJ_COLUMNS])


# ---------------------------------------------------------------- Parquet


def _read_parquet_files(spark: SparkSession, files: list[InputFile], extract: Extract) -> DataFrame:
    frames = []
    for f in files:
        df = spark.read.parquet(f.path)
        extract.physical_lines[f.path] = df.count()  # from the Parquet footers
        missing = [c for c in DOJ_COLUMNS if c not in df.columns]
        if missing:
            raise UserError(f"{f.path}: Parquet file lacks DOJ columns {missing[:5]}")
        frames.append(
            df.select(
                *[F.col(c).cast(StringType()).alias(c) for c in DOJ_COLUMNS],
                F.lit(f.path).alias("source_file"),
                F.lit(f.index).alias("file_index"),
                (F.col("_metadata.row_index") + 1).cast(LongType()).alias("line_no"),
                F.lit(N_COLUMNS).alias("n_fields"),
                F.lit(None).cast(StringType()).alias("line"),
            )
        )
    parsed = frames[0]
    for more in frames[1:]:
        parsed = parsed.unionByName(more)
    return _with_status(parsed, F.lit(None).cast(StringType()), F.lit(None).cast(StringType()))
