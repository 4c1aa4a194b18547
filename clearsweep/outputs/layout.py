"""The warehouse's tables: names, partitioning, declared schemas, and which columns Delta keeps
statistics of. Every writer goes through `conform`, so a table's schema is this file's, not
whatever the last transform happened to produce."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (ArrayType, BooleanType, DataType, DateType, IntegerType, LongType, MapType, StringType,
                               StructField, StructType, TimestampType)

from clearsweep.schema import DOJ_COLUMNS, personal_columns

COUNTY_TABLES = ("determinations", "people", "history")  # partitioned by county
APPENDED_TABLES = ("figures", "quarantine")
LOAD_TABLES = ("raw",)
RECORD_TABLES = ("runs", "ingests", "purges")  # one row per finished run / ingest / purge: the commit points
RECORD_KEYS = {"runs": "run_id", "ingests": "ingest_id", "purges": "purge_id"}
TABLES = (*LOAD_TABLES, *COUNTY_TABLES, *APPENDED_TABLES, *RECORD_TABLES)


def _schema(*fields: tuple[str, DataType]) -> StructType:
    return StructType([StructField(name, kind) for name, kind in fields])


S, I, L, B, D = StringType(), IntegerType(), LongType(), BooleanType(), DateType()
POSITION = (("source_file", S), ("file_index", I), ("line_no", L))
QUARANTINE_FIELDS = (*POSITION, ("reason_code", S), ("reason", S), ("n_fields", I), ("line", S))

SCHEMAS: dict[str, StructType] = {
    "determinations": _schema(
        ("county", S), ("subject_id", S), ("cnt_order", S), ("file_index", I), ("line_no", L), ("seq", L),
        ("code_section", S), ("section", S), ("is_prop64", B), ("felony", B), ("disposition_date", D), ("recent", B),
        ("race", S), ("as_of", D),
        # the person's latest conviction date; the first date after as_of on which this row's outcome
        # or its person's figures could change with no new rows (null: never): `decide/timing.py`
        ("latest_conviction_date", D), ("stable_until", D),
        *[(name, S) for name in (
            "case_number", "convictions_on_record", "possible_other_p64", "occurred_after_prop64", "superstrike_sections",
            "pc290_sections", "pc290_registration", "date_of_conviction", "years_since_this", "years_since_any",
            "prop64_convictions", "hs11357_convictions", "hs11358_convictions", "hs11359_convictions", "hs11360_convictions",
            "deceased")],
        ("person_felonies", I), ("person_convictions", I), ("person_recent_convictions", I),
        ("person_related_convictions", I), ("person_related_felonies", I), ("person_related_recent", I),
        # data quality: the conviction's rows disagree on felony (its first row decides); the person
        # has sentence rows with no conviction of their count (they add to no sentence)
        ("felony_flags_conflict", B), ("person_orphan_sentences", I),
        ("policy", S), ("determination", S), ("reason", S), ("rule", S), ("statute", S), ("run_id", S),
    ),
    "people": _schema(
        ("county", S), ("subject_id", S), ("race", S), ("felonies", I), ("convictions", I), ("recent_convictions", I),
        ("related_convictions", I), ("related_felonies", I), ("related_recent", I),  # not Prop 64, in the county
        *[(name, L) for name in ("decided", "prop64_decided", "dismissed", "reduced", "felonies_relieved", "recent_dismissed",
                                 "prop64_felonies", "prop64_recent")],
        ("run_id", S),
        *[(name, B) for name in ("some_relief", "no_felony_after", "no_conviction_after", "no_conviction_last7_after",
                                 "no_felony_if_dismiss_all", "no_conviction_if_dismiss_all", "no_conviction_last7_if_dismiss_all",
                                 "no_felony_if_dismiss_related", "no_conviction_if_dismiss_related",
                                 "no_conviction_last7_if_dismiss_related")],
    ),
    # no source_file: next month's files sit in another folder, and a person whose rows did not
    # change must keep equal history rows (clearsweep.incremental compares them)
    "history": _schema(("county", S), *[(c, S) for c in DOJ_COLUMNS], *POSITION[1:], ("seq", L), ("possible_other_p64", S), ("run_id", S)),
    "quarantine": _schema(("load_id", S), *QUARANTINE_FIELDS),
    "raw": _schema(*[(c, S) for c in DOJ_COLUMNS], *QUARANTINE_FIELDS, ("ingest_id", S)),
    "figures": _schema(("run_id", S), ("as_of", D), ("county", S), ("summary_json", S), ("extended_json", S)),
    "runs": _schema(
        ("run_id", S), ("started_at", TimestampType()), ("finished_at", TimestampType()), ("as_of", D),
        ("policy_source", S), ("policy_map", S), ("policy_hash", S), ("counties", ArrayType(S)),
        ("versions", MapType(S, L)), ("inputs", S), ("input_rows", L), ("quarantined_rows", L),
        ("code_version", S), ("reference_version", S), ("seconds", S),
        # where it ran: Spark's master (local[*], spark://..., yarn) and the application id, by
        # which the cluster's own logs of the run are found (application_... on YARN)
        ("spark_master", S), ("application_id", S),
        # an incremental run (`run --since`): the run it builds on, and the people it decided
        # again, as JSON {"rows": n, "time": n, "policy": n, "removed": n}; a full run: null, "full", null
        ("base_run_id", S), ("kind", S), ("redecided", S),
    ),
    "ingests": _schema(
        ("ingest_id", S), ("started_at", TimestampType()), ("finished_at", TimestampType()), ("mode", S), ("inputs", S),
        ("physical_lines", L), ("accepted", L), ("quarantined", L),
        ("raw_accepted", L), ("raw_quarantined", L), ("raw_inputs", S), ("next_file_index", I),  # what raw holds after this ingest
        ("versions", MapType(S, L)), ("code_version", S),
    ),
    "purges": _schema(
        ("purge_id", S), ("finished_at", TimestampType()), ("reason", S),
        ("subjects", ArrayType(S)),  # HMAC-SHA256 of each SUBJECT_ID under the warehouse's key: never in clear
        ("removed", MapType(S, L)), ("versions", MapType(S, L)), ("files_checked", L), ("code_version", S),
    ),
}

# Table features set when a table is made. history: a monthly run (clearsweep.incremental) deletes
# the rows of about one person in a hundred with a MERGE, and deletion vectors mark them instead
# of rewriting nearly every file; a purge rewrites the files they mark (clearsweep.outputs.purge).
FEATURES = {"history": {"delta.enableDeletionVectors": "true"}}

# Delta keeps min/max statistics of these columns only: never of names, numbers, free text or
# person keys (the statistics are plain text in _delta_log, kept after a purge rewrites the data).
STATS_COLUMNS = {
    "raw": ("file_index", "line_no", "reason_code"),
    "quarantine": ("load_id", "file_index", "line_no", "reason_code"),
    "determinations": ("file_index", "line_no", "determination", "run_id"),
    "people": ("run_id",),
    "history": ("file_index", "line_no", "run_id"),
    "figures": ("run_id", "county"),
    "runs": ("run_id", "finished_at"),
    "ingests": ("ingest_id", "finished_at"),
    "purges": ("purge_id", "finished_at"),
}


def stats_columns(table: str) -> str:
    """The table's statistics columns, refusing any the DOJ layout marks personal."""
    personal = {c.lower() for c in personal_columns()}
    leaked = [c for c in STATS_COLUMNS[table] if c.lower() in personal]
    if leaked:
        raise ValueError(f"{table}: statistics would hold personal columns {leaked}")
    return ",".join(STATS_COLUMNS[table])


def conform(table: str, df: DataFrame) -> DataFrame:
    """`df` as the table's declared schema: its columns in order, each of the declared type.
    A missing column or a different type is a programming error, named here."""
    declared = SCHEMAS[table]
    have = {f.name: f.dataType for f in df.schema.fields}
    missing = [f.name for f in declared.fields if f.name not in have]
    wrong = [f"{f.name} is {have[f.name].simpleString()}, declared {f.dataType.simpleString()}"
             for f in declared.fields if f.name in have and have[f.name] != f.dataType]
    extra = sorted(set(have) - set(declared.fieldNames()))
    if missing or wrong or extra:
        raise ValueError(f"{table}: rows do not match the declared schema (missing {missing}; {'; '.join(wrong) or 'types ok'}; extra {extra})")
    return df.select(*[F.col(name) for name in declared.fieldNames()])
