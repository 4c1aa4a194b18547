"""Every kind of odd input has a stated outcome: accepted as is, accepted and normalised,
quarantined with a reason, or refused with a one-line error naming the file. Counts reconcile in
every case (ingest checks them per file before it records anything)."""

from __future__ import annotations

import gzip

import pytest
from pyspark.sql import functions as F

from clearsweep.errors import UserError
from clearsweep.ingest.load import ingest
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.schema import DOJ_COLUMNS

HEADER = ",".join(DOJ_COLUMNS)


def line(subject: str = "10000001", cnt: str = "001001001000", **fields) -> str:
    values = {c: "" for c in DOJ_COLUMNS} | {"SUBJECT_ID": subject, "CNT_ORDER": cnt, "PRI_NAME": "DOE,JANE", **fields}
    return ",".join(f'"{v}"' if "," in v or '"' in v or "\n" in v else v for v in (values[c] for c in DOJ_COLUMNS))


GOOD = line() + "\n" + line("10000002") + "\n"

# kind -> (file name, bytes, accepted, {line number: reason code} quarantined)
# lines read as part of the record above them (a quoted field holding a line break)
CONTINUED = {"q.csv": 1, "q2.csv": 1, "q3.csv": 2, "q4.csv": 1, "x.csv.gz": 1}

KINDS = {
    "header and two lines": ("a.csv", HEADER + "\n" + GOOD, 2, {}),
    "no header": ("b.csv", GOOD, 2, {}),
    "UTF-8 byte order mark": ("c.csv", "\ufeff" + HEADER + "\n" + GOOD, 2, {}),
    "quoted header names": ("d.csv", ",".join(f'"{c}"' for c in DOJ_COLUMNS) + "\n" + GOOD, 2, {}),
    "lower-case header names": ("e.csv", HEADER.lower() + "\n" + GOOD, 2, {}),
    "CRLF line ends": ("f.csv", (HEADER + "\n" + GOOD).replace("\n", "\r\n"), 2, {}),
    "no line end after the last line": ("g.csv", HEADER + "\n" + GOOD.rstrip("\n"), 2, {}),
    "a blank line": ("h.csv", HEADER + "\n" + line() + "\n\n" + line("10000002") + "\n", 2, {3: "field_count"}),
    "a field too many": ("i.csv", HEADER + "\n" + line() + ",x\n" + line("10000002") + "\n", 1, {2: "field_count"}),
    "a field too few": ("j.csv", HEADER + "\n" + line().rsplit(",", 1)[0] + "\n" + line("10000002") + "\n", 1, {2: "field_count"}),
    "an unbalanced quote": ("k.csv", HEADER + "\n" + line(PRI_NAME='DOE "JANE').replace('""', '"', 1) + "\n" + line("10000002") + "\n", 1, {2: "quoting"}),
    "a byte that is not UTF-8": ("l.csv", (HEADER + "\n").encode() + line(PRI_NAME="JOS\x00").encode().replace(b"\x00", b"\xe9") + b"\n"
                                 + (line("10000002") + "\n").encode(), 1, {2: "encoding"}),
    "blank SUBJECT_ID": ("m.csv", HEADER + "\n" + line("") + "\n" + line("10000002") + "\n", 1, {2: "bad_value"}),
    "CNT_ORDER not 12 digits": ("n.csv", HEADER + "\n" + line(cnt="1234") + "\n" + line("10000002") + "\n", 1, {2: "bad_value"}),
    "padded keys (trimmed)": ("o.csv", HEADER + "\n" + line(" 10000001 ", " 001001001000") + "\n", 1, {}),
    "a quoted comma": ("p.csv", HEADER + "\n" + line(COMMENT_TEXT="SEE, ALSO") + "\n", 1, {}),
    "a quoted line break (one record, valid CSV)": ("q.csv", HEADER + "\n" + line(COMMENT_TEXT="TWO\nLINES") + "\n" + line("10000002") + "\n",
                                                    2, {}),
    "a quoted line break in a CRLF file": ("q2.csv", (HEADER + "\n" + line(COMMENT_TEXT="TWO\nLINES") + "\n" + line("10000002") + "\n").replace("\n", "\r\n"),
                                           2, {}),
    "a quoted field over three lines": ("q3.csv", HEADER + "\n" + line(COMMENT_TEXT="ONE\nTWO\nTHREE") + "\n" + line("10000002") + "\n", 2, {}),
    "an unbalanced quote, then a quoted line break": ("q4.csv", HEADER + "\n" + line(PRI_NAME='DOE "JANE').replace('""', '"', 1) + "\n"
                                                      + line("10000002") + "\n" + line("10000003", COMMENT_TEXT="A\nB") + "\n", 2, {2: "quoting"}),
    "a quoted line break with a field too few": ("q5.csv", HEADER + "\n" + line(COMMENT_TEXT="A\nB").rsplit(",", 1)[0] + "\n" + line("10000002") + "\n",
                                                 1, {2: "quoting", 3: "quoting"}),
    "a lone CR inside a field": ("r.csv", HEADER + "\n" + line(COMMENT_TEXT="A\rB") + "\n" + line("10000002") + "\n", 2, {}),
    "header only": ("s.csv", HEADER + "\n", 0, {}),
    "an empty file": ("t.csv", "", 0, {}),
    "a .dat name": ("u.dat", GOOD, 2, {}),
    "94-field header (END_OF_REC missing)": ("v.csv", ",".join(DOJ_COLUMNS[:-1]) + "\n" + ",".join(line().split(",")[:-1]) + "\n", 1, {1: "header"}),
}


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    folder = root / "in"
    folder.mkdir()
    for name, content, _, _ in KINDS.values():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with gzip.open(folder / "w.csv.gz", "wb") as f:
        f.write((HEADER + "\n" + GOOD).encode())
    with gzip.open(folder / "x.csv.gz", "wb") as f:
        f.write((HEADER + "\n" + line(COMMENT_TEXT="TWO\nLINES") + "\n" + line("10000002") + "\n").encode())
    (folder / "README.txt").write_text("not data")
    (folder / "sub").mkdir()
    (folder / "sub" / "x.csv").write_text(GOOD)
    manifest = ingest(spark, [str(folder)], str(root / "wh"))
    q = Warehouse(str(root / "wh")).read(spark, "quarantine").select(F.col("source_file"), "line_no", "reason_code").collect()
    raw = Warehouse(str(root / "wh")).read(spark, "raw").select("source_file", "line_no", "reason_code", "COMMENT_TEXT").collect()
    return manifest, q, raw


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_has_its_outcome(ingested, kind):
    manifest, quarantined, _ = ingested
    name, _, accepted, bad = KINDS[kind]
    counts = next(f for f in manifest["files"] if f["file"].endswith("/" + name))
    got = {r["line_no"]: r["reason_code"] for r in quarantined if r["source_file"].endswith("/" + name)}
    assert (counts["accepted"], got, counts["continued"]) == (accepted, bad, CONTINUED.get(name, 0))
    assert counts["physical_lines"] == counts["header_lines"] + counts["accepted"] + counts["quarantined"] + counts["continued"]


@pytest.mark.parametrize("name, first, field", [("q.csv", 2, "TWO\nLINES"), ("q2.csv", 2, "TWO\nLINES"), ("q3.csv", 2, "ONE\nTWO\nTHREE"),
                                                 ("q4.csv", 4, "A\nB"), ("x.csv.gz", 2, "TWO\nLINES")])
def test_a_quoted_line_break_is_read_as_one_record(ingested, name, first, field):
    """The record keeps the line number an editor shows for its start; its further lines are in
    raw as `continued`, so every physical line is still there once."""
    _, _, raw = ingested
    rows = sorted((r["line_no"], r["reason_code"], r["COMMENT_TEXT"]) for r in raw if r["source_file"].endswith("/" + name))
    record = next(r for r in rows if r[0] == first)
    assert record[1:] == (None, field)
    assert [r[1] for r in rows if first < r[0] <= first + field.count("\n")] == ["continued"] * field.count("\n")


def test_gzip_non_data_names_and_subfolders(ingested):
    manifest, _, _ = ingested
    gz = next(f for f in manifest["files"] if f["file"].endswith("w.csv.gz"))
    assert gz["accepted"] == 2
    notes = " ".join(manifest["notes"])
    assert "README.txt" in notes and "sub" in notes and "not read" in notes


def test_empty_files_are_said(ingested):
    notes = " ".join(ingested[0]["notes"])
    assert "s.csv" in notes and "t.csv" in notes and "no data lines" in notes


@pytest.mark.parametrize("kind, content, message", [
    ("UTF-16", (HEADER + "\n" + GOOD).encode("utf-16"), "not UTF-8"),
    ("a header that is not the DOJ layout", b"RECORD_ID,NAME,OTHER\n1,2,3\n", "does not match"),
])
def test_refused_with_one_line_naming_the_file(spark, tmp_path, kind, content, message):
    path = tmp_path / "in" / "x.csv"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(UserError, match=message) as caught:
        ingest(spark, [str(path)], str(tmp_path / "wh"))
    assert "x.csv" in str(caught.value) and "\n" not in str(caught.value)


def test_missing_and_repeated_inputs_are_refused(spark, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "\n" + GOOD)
    with pytest.raises(UserError, match="given twice"):
        ingest(spark, [str(path), str(path)], str(tmp_path / "wh"))
    with pytest.raises(UserError, match="not found: .*nope.csv"):
        ingest(spark, [str(tmp_path / "nope.csv")], str(tmp_path / "wh"))


def test_an_empty_input_folder_is_refused(spark, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="no data files"):
        ingest(spark, [str(tmp_path / "in")], str(tmp_path / "wh"))


def test_an_impossible_as_of_date_is_one_line(capsys, tmp_path):
    from jobs.cli import main as cli

    assert cli(["run", "--input", str(tmp_path), "--warehouse", str(tmp_path / "wh"), "--as-of", "2020-13-45"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--as-of must be YYYY-MM-DD" in err and "\n" not in err


@pytest.mark.parametrize("text, said", [
    ("", "the policy map is empty"),
    ("counties:\n  Los Angeles:\n    policy: statutory\n  LOS ANGELES:\n    policy: la-2020\n", "county LOS ANGELES is given twice"),
])
def test_a_policy_map_that_is_empty_or_names_a_county_twice_is_one_line(capsys, tmp_path, text, said):
    """An empty map ran as the statutory baseline; a county given twice kept the last entry."""
    from jobs.cli import main as cli

    (tmp_path / "map.yaml").write_text(text)
    assert cli(["run", "--input", str(tmp_path), "--warehouse", str(tmp_path / "wh"), "--as-of", "2019-11-11",
                "--policy", str(tmp_path / "map.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and "map.yaml" in err and "\n" not in err


def test_relative_paths_are_taken_from_where_the_command_runs(spark, tmp_path, monkeypatch, capsys):
    from jobs.cli import main as cli

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(HEADER + "\n" + line(STP_ORI_CNTY_NAME="YOLO", DISP_DESCR="CONVICTED",
                                                              OFFENSE_DESCR="11357(A) HS", STP_EVENT_DATE="20100105") + "\n")
    monkeypatch.chdir(tmp_path)
    assert cli(["ingest", "--input", "in", "--warehouse", "wh", "--quiet"]) == 0
    assert cli(["run", "--input", "wh/raw", "--warehouse", "wh", "--as-of", "2019-11-11", "--county", "YOLO", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Prop 64 convictions decided: 1 for 1 person" in out and "covers Yolo County" in out
    assert "0 rows dated after the as-of date; 0 counts given different dispositions by two files (0 people)" in out


def test_decision_relevant_oddities_are_counted_in_the_figures(spark, tmp_path):
    from clearsweep.outputs.figures import TOTAL
    from clearsweep.sweep import run_job
    import datetime as dt

    rows = [line("10000001", STP_ORI_CNTY_NAME="LOS ANGELAS", DISP_DESCR="CONVICTED", OFFENSE_DESCR="11357(A) HS"),
            line("10000002", STP_ORI_CNTY_NAME="", DISP_DESCR="CONVICTED", OFFENSE_DESCR="11357(A) HS"),
            line("10000003", STP_ORI_CNTY_NAME="YOLO", DISP_DESCR="CONVICTED", OFFENSE_DESCR="SEE COMMENT FOR CHARGE", COMMENT_TEXT=""),
            line("10000004", STP_ORI_CNTY_NAME="YOLO", DISP_DESCR="CONVICTED", OFFENSE_DESCR="SEE COMMENT FOR CHARGE", COMMENT_TEXT="11357(A) HS")]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    result = run_job(spark, [str(tmp_path / "in")], str(tmp_path / "wh"), dt.date(2019, 11, 11), ["YOLO"], "statutory")
    quality = result["figures"][TOTAL]["extended"]["dataQuality"]  # a run of one county: its total is no STATEWIDE
    assert {k: quality[k] for k in ("rowsWithCountyNotInCalifornia", "rowsWithoutCounty", "convictionsWithNoChargeWritten")} == {
        "rowsWithCountyNotInCalifornia": 1, "rowsWithoutCounty": 1, "convictionsWithNoChargeWritten": 1}
    assert result["figures"]["YOLO"]["extended"]["dataQuality"]["convictionsWithNoChargeWritten"] == 1


def test_odd_quote_lines_are_found_whatever_the_block_boundaries():
    """The driver's scan finds every line with an odd number of quotes, and where it starts,
    however the file is cut into blocks (a line may span several)."""
    import random

    from clearsweep.ingest.extract import _OddQuoteLines

    def by_hand(text: bytes) -> list[tuple[int, int]]:
        out, offset = [], 0
        pieces = text.split(b"\n")
        for number, piece in enumerate(pieces, 1):
            if piece.count(b'"') % 2 and not (number == len(pieces) and piece == b""):
                out.append((number, offset))
            offset += len(piece) + 1
        return out

    rng = random.Random(7)
    for _ in range(300):
        text = bytes(rng.choice(b'ab,"\n') for _ in range(rng.randint(0, 80)))
        for size in (1, 2, 3, 7, 64):
            found, pos, breaks = _OddQuoteLines(), 0, 0
            for i in range(0, len(text), size):
                block = text[i:i + size]
                found.feed(block, pos, breaks)
                breaks += block.count(b"\n")
                pos += len(block)
            assert found.result(breaks) == by_hand(text), (text, size)


def test_records_beyond_what_a_read_joins_are_read_line_by_line_and_said(spark, tmp_path, monkeypatch):
    """Past the limit of joined records (a literal map in the plan), each line is read on its own:
    an unbalanced one is quarantined with its reason, and the file's note says why."""
    import clearsweep.ingest.sources as sources

    monkeypatch.setattr(sources, "MAX_JOINED_RECORDS", 0)
    path = tmp_path / "in" / "q.csv"
    path.parent.mkdir()
    path.write_text(HEADER + "\n" + line(COMMENT_TEXT="TWO\nLINES") + "\n" + line("10000002") + "\n")
    manifest = ingest(spark, [str(path)], str(tmp_path / "wh"))
    counts = manifest["files"][0]
    assert (counts["accepted"], counts["quarantined_by_reason"], counts["continued"]) == (1, {"quoting": 2}, 0)
    assert any("beyond the 0 a read joins" in n for n in manifest["notes"])


def test_a_cr_only_file_is_refused_by_name_and_the_others_go_in(spark, tmp_path, capsys):
    """Old Mac text (lines ended by CR alone) crashed the header read and lost every file of the
    ingest; now that file is refused in one line (exit 2) and the other files are ingested."""
    from jobs.cli import main as cli

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "\n" + GOOD)
    (folder / "mac.csv").write_bytes((HEADER + "\n" + GOOD).replace("\n", "\r").encode())
    with gzip.open(folder / "mac2.csv.gz", "wb") as f:
        f.write(GOOD.replace("\n", "\r").encode())  # no header: its line 1 would be the whole file
    assert cli(["ingest", "--input", str(folder), "--warehouse", str(tmp_path / "wh"), "--quiet"]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "mac.csv: its lines end with CR alone" in lines[0] and "mac2.csv.gz" in lines[1]
    assert "2 accepted" in out and "a.csv" in out
    assert Warehouse(str(tmp_path / "wh")).read(spark, "raw").where(F.col("reason_code").isNull()).count() == 2
    # a run decides nothing without all its files
    with pytest.raises(UserError, match="mac.csv: its lines end with CR alone"):
        from clearsweep.sweep import run_job
        import datetime as dt
        run_job(spark, [str(folder / "mac.csv"), str(folder / "a.csv")], str(tmp_path / "wh2"), dt.date(2019, 11, 11), ["YOLO"], None)


def test_a_header_the_csv_reader_cannot_split_is_named(spark, tmp_path):
    from clearsweep.ingest.extract import layout_of

    with pytest.raises(UserError, match=r"x.csv: line 1 cannot be read as a header") as caught:
        layout_of("x.csv", "RECORD_ID,A\rB,C")  # a lone CR in line 1 of a file that has LF line ends
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("command", ["ingest", "run"])
@pytest.mark.parametrize("inside_folder", [False, True])
def test_a_fifo_input_is_refused_by_name_before_the_lock(tmp_path, command, inside_folder):
    """A FIFO blocked the driver's read for ever, holding the warehouse lock."""
    import os
    import subprocess

    from clearsweep.paths import REPO_ROOT

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "\n" + GOOD)
    os.mkfifo(folder / "pipe.csv")
    given = str(folder) if inside_folder else str(folder / "pipe.csv")
    extra = ["--as-of", "2019-11-11"] if command == "run" else []
    proc = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "clearsweep"), command, "--input", given, "--warehouse", str(tmp_path / "wh"), *extra],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("not a regular file (a pipe, socket or device): " + str(folder / "pipe.csv"))
    assert "\n" not in proc.stderr.strip() and not (tmp_path / "wh").exists()
