"""Ingest and the read path: every physical line is accepted or quarantined with its reason, keeps
its exact line number however Spark splits the file, and counts reconcile before anything is
recorded."""

from __future__ import annotations

import gzip
import json
import random
from concurrent.futures import Future

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs.cli import main as cli
from clearsweep.errors import ReconciliationError, UserError
from clearsweep.ingest.extract import accepted, reading_splits, resolve_inputs
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.ingest.sources import csv_scans, read_csv_lines
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.ingest.load import ingest


def _table(spark, warehouse, name):
    return Warehouse(str(warehouse)).read(spark, name)


def read_lines(spark, paths, columns=DOJ_COLUMNS, split=None):
    """The numbered, checked lines of CSV files, collected (in split-size `split` when given)."""
    files, _ = resolve_inputs([str(p) for p in paths])
    if split is not None:
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(split))
    try:
        scans, size = csv_scans(spark, files, None)
        lines, _ = read_csv_lines(spark, files, scans, columns, keep_line=False)
        with reading_splits(spark, size):
            return lines.collect(), size
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", "32m")


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
    assert all(p["checksum"].startswith("sha256:") for p in manifest["files"])
    q = _table(spark, tmp_path, "quarantine").select("line_no", "reason_code", "load_id").collect()
    assert [(r["line_no"], r["reason_code"], r["load_id"]) for r in q] == [(1, "header", manifest["ingest_id"])]
    raw = accepted(_table(spark, tmp_path, "raw"))
    assert raw.count() == 37 + 38 + 38
    assert raw.where(F.col("source_file").endswith("bad.csv") & F.col("END_OF_REC").isNotNull()).count() == 0
    recorded = _table(spark, tmp_path, "ingests").collect()
    assert [(r["ingest_id"], r["accepted"], r["quarantined"]) for r in recorded] == [(manifest["ingest_id"], 113, 1)]


def test_headerless_and_headed_files_give_the_same_rows(spark, fixtures_dir):
    variants = fixtures_dir / "peer-input-variants"
    headed, _ = read_lines(spark, [variants / "extra_comma.csv"])
    bare, _ = read_lines(spark, [variants / "no_headers.csv"])
    cols = list(DOJ_COLUMNS[:-1])  # END_OF_REC differs between the two files as delivered
    key = lambda r: (r["SUBJECT_ID"], r["CNT_ORDER"], r["STP_EVENT_DATE"])  # noqa: E731
    assert [[r[c] for c in cols] for r in sorted(headed, key=key)] == [[r[c] for c in cols] for r in sorted(bare, key=key)]
    # line numbers are physical: the header is line 1
    assert min(r["line_no"] for r in headed) == 2 and min(r["line_no"] for r in bare) == 1


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


def _numbered_file(path, n, rng, crlf=False):
    """n DOJ lines of random length; SUBJECT_ID is the line number as written."""
    row = ["x"] * len(DOJ_COLUMNS)
    end = "\r\n" if crlf else "\n"
    with open(path, "w", newline="") as f:
        for i in range(1, n + 1):
            row[2], row[50] = str(i), f"{i:09d}000"
            row[94] = "y" * rng.randint(0, 300)  # lines of every length, so splits fall anywhere in them
            f.write(",".join(row) + end)


@pytest.mark.parametrize("crlf", [False, True])
def test_line_numbers_survive_small_file_splits(spark, tmp_path, crlf):
    """Line numbers come from the file, not from how Spark splits it: 4,000 lines of random
    length read in 64 KiB splits (about 30 of them), some starting exactly at a line start."""
    path = tmp_path / "many_lines.csv"
    _numbered_file(path, 4000, random.Random(7), crlf)
    lines, size = read_lines(spark, [path], columns=("SUBJECT_ID",), split=65536)
    assert size == 65536
    assert {r["SUBJECT_ID"]: r["line_no"] for r in lines} == {str(i): i for i in range(1, 4001)}
    assert {r["reason_code"] for r in lines} == {None}


def test_split_starting_exactly_at_a_line_start(spark, tmp_path):
    """A file whose lines are exactly as long as the split: every split starts at a line start."""
    path = tmp_path / "aligned.csv"
    row = ["x"] * len(DOJ_COLUMNS)
    with open(path, "w", newline="") as f:
        for i in range(1, 201):
            row[2], row[50] = str(i), f"{i:09d}000"
            line = ",".join(row)
            f.write(line + "z" * (1024 - len(line) - 1) + "\n")  # 1 KiB per line
    lines, _ = read_lines(spark, [path], columns=("SUBJECT_ID",), split=65536)
    assert {r["SUBJECT_ID"]: r["line_no"] for r in lines} == {str(i): i for i in range(1, 201)}


def test_gzip_input_is_read_and_numbered(spark, fixtures_dir, tmp_path):
    source = fixtures_dir / "peer-input-variants" / "extra_comma.csv"
    packed = tmp_path / "extract.csv.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    plain, _ = read_lines(spark, [source])
    unpacked, _ = read_lines(spark, [packed])
    assert sorted((r["line_no"], r["SUBJECT_ID"]) for r in plain) == sorted((r["line_no"], r["SUBJECT_ID"]) for r in unpacked)


def test_reconciliation_failure_records_nothing(spark, fixtures_dir, tmp_path):
    """The driver counts one line more than Spark read: the ingest stops, raw goes back to what
    the last recorded ingest wrote, and no ingest is recorded."""
    good = fixtures_dir / "peer-input-variants" / "no_headers.csv"
    wh = Warehouse(str(tmp_path / "wh"))
    first = ingest(spark, [str(good)], wh.location)
    files, _ = resolve_inputs([str(good)])
    scans, _ = csv_scans(spark, files, None)
    scans[files[0].path].lines += 1
    lying = Future()
    lying.set_result(scans)
    with pytest.raises(ReconciliationError, match="39 lines != 0 header \\+ 38 accepted"):
        ingest(spark, [str(good)], wh.location, scans=lying)
    assert [r["ingest_id"] for r in _table(spark, wh.location, "ingests").collect()] == [first["ingest_id"]]
    assert_df_equality(_table(spark, wh.location, "raw"), wh.read(spark, "raw", first["versions"]["raw"]), ignore_row_order=True)
    latest = wh.commit("raw", wh.latest_version("raw"))
    assert latest.owner.startswith("recover:")


def test_missing_input_is_a_clear_error_naming_the_file(tmp_path):
    with pytest.raises(UserError, match="input file not found: .*nope.csv"):
        resolve_inputs([str(tmp_path / "nope.csv")])


def test_header_that_is_not_the_doj_layout_is_refused(spark, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("RECORD_ID,NAME,SOMETHING\n1,2,3\n")
    with pytest.raises(UserError, match="other.csv: line 1 is a header that does not match"):
        read_lines(spark, [path])


def test_cli_reports_the_bad_line_without_personal_data(fixtures_dir, tmp_path, capsys, spark):
    code = cli(["ingest", "--input", str(fixtures_dir / "peer-input-variants" / "bad.csv"), "--warehouse", str(tmp_path), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "bad.csv line 1:" in printed and "37 accepted" in printed
    for personal in ("SKYWALKER", "19600314", "1008675309"):
        assert personal not in printed


def _regex_field_count_and_quoting(line: str) -> tuple[int, bool]:
    """The line checks as first written: strip well-formed quoted fields with a regex."""
    import re

    from clearsweep.ingest.extract import QUOTED_FIELD

    unquoted = re.sub(QUOTED_FIELD, "", line)
    return unquoted.count(",") + 1, '"' not in unquoted


def test_cheap_line_checks_agree_with_the_quoted_field_regex(spark):
    """Field counts and quoting verdicts from splitting on quotes equal the regex reading on
    many random lines made of commas, quotes and text (odd quote counts included)."""
    from clearsweep.ingest.extract import _field_count, _quoting_ok

    rng = random.Random(64)
    alphabet = ['"', '"', ",", ",", "a", "b", " ", '""']
    lines = ["", '"', '""', ",", 'a"b', '"a,b",c', '"a""b,c",d,"e"', 'a,"b,c', '"x"y,"z"']
    lines += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(3000)]
    df = spark.createDataFrame([(i, s) for i, s in enumerate(lines)], "i int, line string")
    got = {r["i"]: (r["n"], r["ok"]) for r in df.select("i", _field_count(F.col("line")).alias("n"), _quoting_ok(F.col("line")).alias("ok")).collect()}
    expected = {i: _regex_field_count_and_quoting(s) for i, s in enumerate(lines)}
    assert got == expected


def test_append_adds_files_after_those_raw_holds_and_refuses_one_it_holds(spark, tmp_path):
    """Ingesting file 1, then appending file 2, decides exactly as reading both files at once."""
    import datetime as dt

    from clearsweep.outputs.layout import COUNTY_TABLES
    from clearsweep.sweep import run_job

    out = tmp_path / "gen"
    out.mkdir()
    assert cli(["generate", "--rows", "3000", "--seed", "5", "--files", "2", "--bad-rows", "2", "--out", str(out)]) == 0
    first, second = sorted(out.glob("*.csv"))
    wh = tmp_path / "wh"
    replaced = ingest(spark, [str(first)], str(wh))
    appended = ingest(spark, [str(second)], str(wh), append=True)
    assert (replaced["mode"], appended["mode"]) == ("replace", "append")
    assert appended["raw_accepted"] == 3000 and appended["raw_quarantined"] == 6
    with pytest.raises(UserError, match="already in raw"):
        ingest(spark, [str(first)], str(wh), append=True)
    latest = Warehouse(str(wh)).latest_ingest(spark)
    assert latest["ingest_id"] == appended["ingest_id"]
    assert _table(spark, wh, "raw").count() == 3000 + 6  # the refused append was rolled back

    as_of, counties = dt.date(2019, 11, 11), ["LOS ANGELES", "SAN DIEGO"]
    from_raw = run_job(spark, [str(wh / "raw")], str(wh), as_of, counties, "statutory")
    both = run_job(spark, [str(out)], str(tmp_path / "wh2"), as_of, counties, "statutory")
    assert from_raw["input_rows"] == both["input_rows"] == 3000
    for table in COUNTY_TABLES[:1]:
        for county in counties:
            got = Warehouse(str(wh)).read_county(spark, table, county).drop("run_id")
            want = Warehouse(str(tmp_path / "wh2")).read_county(spark, table, county).drop("run_id")
            assert_df_equality(got, want, ignore_row_order=True)
