"""Ingest: every physical line is accepted or quarantined with its reason; counts reconcile."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from clearsweep.cli import main as cli
from clearsweep.errors import ReconciliationError, UserError
from clearsweep.extract import read_extract, resolve_inputs
from clearsweep.reconcile import reconcile
from clearsweep.schema import DOJ_COLUMNS
from jobs.ingest import ingest


def _table(spark, warehouse, name):
    return spark.read.format("delta").load(f"{warehouse}/{name}")


def test_fixture_variants_are_accepted_and_the_bad_line_reported(spark, fixtures_dir, tmp_path):
    variants = fixtures_dir / "peer-input-variants"
    files = [variants / n for n in ("bad.csv", "extra_comma.csv", "no_headers.csv")]
    manifest = ingest(spark, [str(f) for f in files], str(tmp_path))
    by_name = {p["file"].rsplit("/", 1)[1]: p for p in manifest["files"]}
    extra = by_name["extra_comma.csv"]
    assert (extra["physical_lines"], extra["header_lines"], extra["accepted"], extra["quarantined"]) == (39, 1, 38, 0)
    assert (by_name["no_headers.csv"]["accepted"], by_name["no_headers.csv"]["header_lines"]) == (38, 0)
    # bad.csv: its header line (94 fields, END_OF_REC missing) is the bad line; every other line is kept
    assert (by_name["bad.csv"]["physical_lines"], by_name["bad.csv"]["accepted"], by_name["bad.csv"]["quarantined"]) == (38, 37, 1)
    q = _table(spark, tmp_path, "quarantine").select("line_no", "reason_code").collect()
    assert [(r["line_no"], r["reason_code"]) for r in q] == [(1, "header")]
    raw = _table(spark, tmp_path, "raw")
    assert raw.count() == 37 + 38 + 38
    assert raw.where(F.col("source_file").endswith("bad.csv") & F.col("END_OF_REC").isNotNull()).count() == 0


def test_headerless_and_headed_files_give_the_same_rows(spark, fixtures_dir, tmp_path):
    variants = fixtures_dir / "peer-input-variants"
    headed = read_extract(spark, resolve_inputs([str(variants / "extra_comma.csv")])).rows
    bare = read_extract(spark, resolve_inputs([str(variants / "no_headers.csv")])).rows
    cols = list(DOJ_COLUMNS[:-1])  # END_OF_REC differs between the two files as delivered
    assert_df_equality(headed.select(*cols).orderBy("SUBJECT_ID", "CNT_ORDER", "STP_EVENT_DATE"),
                       bare.select(*cols).orderBy("SUBJECT_ID", "CNT_ORDER", "STP_EVENT_DATE"))
    # line numbers are physical: the header is line 1
    assert headed.agg(F.min("line_no")).first()[0] == 2 and bare.agg(F.min("line_no")).first()[0] == 1


def test_generated_bad_rows_land_in_quarantine_with_their_line_numbers(spark, tmp_path):
    out = tmp_path / "gen"
    out.mkdir()
    assert cli(["generate", "--rows", "4000", "--seed", "7", "--files", "2", "--bad-rows", "3", "--out", str(out)]) == 0
    injected = json.loads((out / "bad_rows.json").read_text())["bad_rows"]
    warehouse = tmp_path / "wh"
    manifest = ingest(spark, [str(out)], str(warehouse))
    assert manifest["totals"]["accepted"] == 4000
    assert manifest["totals"]["quarantined"] == 9
    assert manifest["totals"]["physical_lines"] == 4000 + 9 + 2  # + one header per file
    q = _table(spark, warehouse, "quarantine")
    got = sorted((r["source_file"].rsplit("/", 1)[1], r["line_no"], r["reason_code"]) for r in q.collect())
    want = sorted((b["file"], b["line"], b["kind"]) for b in injected)
    assert got == want
    assert q.where("reason IS NULL OR reason = ''").count() == 0


def test_line_numbers_survive_small_file_splits(spark, tmp_path):
    """Line numbers come from the file, not from how Spark splits it."""
    path = tmp_path / "many_lines.csv"
    row = ["x"] * len(DOJ_COLUMNS)
    with open(path, "w") as f:
        for i in range(3000):
            row[2], row[50] = str(1000 + i), f"{i:09d}000"
            f.write(",".join(row) + "\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")
    try:
        rows = read_extract(spark, resolve_inputs([str(path)])).rows
        got = {r["SUBJECT_ID"]: r["line_no"] for r in rows.select("SUBJECT_ID", "line_no").collect()}
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert got == {str(1000 + i): i + 1 for i in range(3000)}


def test_reconciliation_failure_stops_before_anything_is_committed(spark, fixtures_dir, tmp_path):
    extract = read_extract(spark, resolve_inputs([str(fixtures_dir / "peer-input-variants" / "no_headers.csv")]))
    with pytest.raises(ReconciliationError, match="38 lines != 0 header \\+ 37 accepted"):
        reconcile(extract, extract.lines.limit(37), {})


def test_missing_input_is_a_clear_error_naming_the_file(tmp_path):
    with pytest.raises(UserError, match="input file not found: .*nope.csv"):
        resolve_inputs([str(tmp_path / "nope.csv")])


def test_header_that_is_not_the_doj_layout_is_refused(spark, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("RECORD_ID,NAME,SOMETHING\n1,2,3\n")
    with pytest.raises(UserError, match="other.csv: line 1 is a header that does not match"):
        read_extract(spark, resolve_inputs([str(path)]))


def test_cli_reports_the_bad_line_without_personal_data(fixtures_dir, tmp_path, capsys, spark):
    code = cli(["ingest", "--input", str(fixtures_dir / "peer-input-variants" / "bad.csv"), "--warehouse", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "bad.csv line 1:" in printed and "37 accepted" in printed
    for personal in ("SKYWALKER", "19600314", "1008675309"):
        assert personal not in printed


def _regex_field_count_and_quoting(line: str) -> tuple[int, bool]:
    """The line checks as first written: strip well-formed quoted fields with a regex."""
    import re

    from clearsweep.extract import QUOTED_FIELD

    unquoted = re.sub(QUOTED_FIELD, "", line)
    return unquoted.count(",") + 1, '"' not in unquoted


def test_cheap_line_checks_agree_with_the_quoted_field_regex(spark):
    """Field counts and quoting verdicts from splitting on quotes equal the regex reading on
    many random lines made of commas, quotes and text (odd quote counts included)."""
    import random

    from clearsweep.extract import _field_count, _quoting_ok

    rng = random.Random(64)
    alphabet = ['"', '"', ",", ",", "a", "b", " ", '""']
    lines = ["", '"', '""', ",", 'a"b', '"a,b",c', '"a""b,c",d,"e"', 'a,"b,c', '"x"y,"z"']
    lines += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(3000)]
    df = spark.createDataFrame([(i, s) for i, s in enumerate(lines)], "i int, line string")
    got = {r["i"]: (r["n"], r["ok"]) for r in df.select("i", _field_count(F.col("line")).alias("n"), _quoting_ok(F.col("line")).alias("ok")).collect()}
    expected = {i: _regex_field_count_and_quoting(s) for i, s in enumerate(lines)}
    assert got == expected
