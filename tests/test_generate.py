"""`clearsweep generate`: the seeded synthetic DOJ extract (no Spark needed)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.cli import main as clearsweep
from clearsweep.counties import POPULATION
from clearsweep.schema import DOJ_COLUMNS, N_COLUMNS
from clearsweep.synth.chunks import CHUNK_ROWS

HEADER = ",".join(DOJ_COLUMNS)
COL = {name: i for i, name in enumerate(DOJ_COLUMNS)}
PROP64 = re.compile(r"^(664[/.-]?)?(1135[789]|11360)")
UNUSABLE_DATE = re.compile(r"^$|^0{8}$|^\d{4}0000$|^\d{4}(02(3[01])|1[3-9]\d\d)$")


def run_generate(out: Path, *flags: str, rows: int = 3000, seed: int = 7) -> Path:
    argv = ["generate", "--rows", str(rows), "--seed", str(seed), "--out", str(out), *flags]
    assert clearsweep(argv) == 0
    return out


def output_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def physical_lines(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    return text[:-1].split("\n")


def extract_files(out: Path) -> list[Path]:
    return sorted(out.glob("extract-*.csv"))


def bad_kind(line: str) -> str | None:
    """How a reader that checks every physical line on its own would quarantine it."""
    try:
        fields = next(csv.reader([line], strict=True))
    except csv.Error:
        return "quoting"
    if len(fields) != N_COLUMNS:
        return "field_count"
    if not fields[COL["SUBJECT_ID"]].strip() or not re.fullmatch(r"\d{12}", fields[COL["CNT_ORDER"]]):
        return "bad_value"
    return None


def good_rows(out: Path, header: bool = True) -> list[list[str]]:
    rows = []
    for path in extract_files(out):
        lines = physical_lines(path)
        if header:
            assert lines[0] == HEADER
            lines = lines[1:]
        rows.extend(next(csv.reader([line])) for line in lines if bad_kind(line) is None)
    return rows


def charge_text(row: list[str]) -> str:
    """The code-section text as the spec reads it: OFFENSE_DESCR, else COMMENT_TEXT."""
    offense = row[COL["OFFENSE_DESCR"]]
    return row[COL["COMMENT_TEXT"]] if offense.strip() in ("", "SEE COMMENT FOR CHARGE") else offense


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    return run_generate(out, "--files", "2", "--bad-rows", "2", "--workers", "1", rows=30_000, seed=11)


@pytest.fixture(scope="module")
def sample_rows(sample) -> list[list[str]]:
    return good_rows(sample)


def test_same_seed_gives_byte_identical_output(tmp_path):
    first = output_bytes(run_generate(tmp_path / "a", "--bad-rows", "1", "--files", "2"))
    second = output_bytes(run_generate(tmp_path / "b", "--bad-rows", "1", "--files", "2"))
    assert first == second


def test_another_seed_gives_other_output(tmp_path):
    first = output_bytes(run_generate(tmp_path / "a", seed=7))
    other = output_bytes(run_generate(tmp_path / "b", seed=8))
    assert first["extract-00000.csv"] != other["extract-00000.csv"]


def test_exact_line_counts_with_and_without_header(tmp_path):
    with_header = physical_lines(run_generate(tmp_path / "h", rows=2345) / "extract-00000.csv")
    without = physical_lines(run_generate(tmp_path / "n", "--no-header", rows=2345) / "extract-00000.csv")
    assert len(with_header) == 2346 and with_header[0] == HEADER
    assert len(without) == 2345 and not without[0].startswith("RECORD_ID")
    assert with_header[1:] == without


def test_files_split_the_same_rows_and_histories_span_files(tmp_path):
    one = run_generate(tmp_path / "one")
    three = run_generate(tmp_path / "three", "--files", "3")
    assert len(extract_files(three)) == 3
    assert sorted(map(tuple, good_rows(one))) == sorted(map(tuple, good_rows(three)))
    files_of = defaultdict(set)
    for path in extract_files(three):
        for line in physical_lines(path)[1:]:
            files_of[next(csv.reader([line]))[COL["SUBJECT_ID"]]].add(path.name)
    assert sum(len(files) > 1 for files in files_of.values()) > 10


def test_worker_count_does_not_change_output(tmp_path):
    rows = 2 * CHUNK_ROWS + 7  # three chunks
    flags = ("--files", "2", "--bad-rows", "1")
    serial = output_bytes(run_generate(tmp_path / "w1", *flags, "--workers", "1", rows=rows))
    parallel = output_bytes(run_generate(tmp_path / "w2", *flags, "--workers", "2", rows=rows))
    assert serial == parallel


def test_bad_rows_json_lists_exactly_the_bad_lines(sample):
    listed = json.loads((sample / "bad_rows.json").read_text())
    assert listed["per_kind"] == 2
    expected = {(b["file"], b["line"], b["kind"]) for b in listed["bad_rows"]}
    found, good = set(), 0
    for path in extract_files(sample):
        lines = physical_lines(path)
        assert lines[0] == HEADER
        for number, line in enumerate(lines[1:], start=2):
            kind = bad_kind(line)
            if kind:
                found.add((path.name, number, kind))
            else:
                good += 1
    assert found == expected
    assert good == 30_000
    assert Counter(kind for _, _, kind in found) == {"field_count": 2, "quoting": 2, "bad_value": 2}
    details = {b["detail"] for b in listed["bad_rows"]}
    assert {"94 fields", "96 fields", "blank SUBJECT_ID", "CNT_ORDER not 12 digits"} <= details


def test_bad_field_count_lines_have_94_and_96_fields(sample):
    listed = json.loads((sample / "bad_rows.json").read_text())["bad_rows"]
    counts = set()
    for bad in listed:
        if bad["kind"] == "field_count":
            line = physical_lines(sample / bad["file"])[bad["line"] - 1]
            counts.add(len(next(csv.reader([line]))))
    assert counts == {94, 96}


def test_manifest_matches_the_files(sample, sample_rows):
    manifest = json.loads((sample / "manifest.json").read_text())
    assert (manifest["seed"], manifest["rows"], manifest["format"]) == (11, 30_000, "csv")
    assert [f["name"] for f in manifest["files"]] == ["extract-00000.csv", "extract-00001.csv"]
    assert sum(f["rows"] for f in manifest["files"]) == 30_000
    counties = Counter(row[COL["STP_ORI_CNTY_NAME"]] for row in sample_rows)
    assert {k: v for k, v in manifest["rows_per_county"].items() if v} == {
        k: v for k, v in counties.items() if k in manifest["rows_per_county"]}
    assert manifest["people"] == len({row[COL["SUBJECT_ID"]] for row in sample_rows})


def test_every_code_section_spelling_appears(sample_rows):
    offenses = [row[COL["OFFENSE_DESCR"]] for row in sample_rows]
    for spelling in ("11359(A) HS-", "11357(C)HS-", "11359HS-", "11357A HS-", "11357B2 HS-",
                     "664/11357", "664.11357", "664-11357", "66411357"):
        assert any(o.startswith(spelling) for o in offenses), spelling
    comment_only = [row for row in sample_rows if PROP64.match(row[COL["COMMENT_TEXT"]])
                    and row[COL["OFFENSE_DESCR"]] in ("", "SEE COMMENT FOR CHARGE")]
    assert {row[COL["OFFENSE_DESCR"]] for row in comment_only} == {"", "SEE COMMENT FOR CHARGE"}
    assert any(PROP64.match(row[COL["OFFENSE_DESCR"]]) and PROP64.match(row[COL["COMMENT_TEXT"]])
               for row in sample_rows), "a comment naming another Prop 64 section"


def test_steps_dispositions_and_offense_kinds_appear(sample_rows):
    def values(column):
        return {row[COL[column]] for row in sample_rows}

    assert {"ARREST/DETAINED/CITED", "COURT ACTION", "REGISTRATION", "DECEASED"} <= values("STP_TYPE_DESCR")
    assert {"CONVICTED-JAIL", "CONVICTED-PROBATION", "CONVICTED-PRISON", "DISMISSED/CHARGE",
            "REL/TOT OTHER JURIS/AUTH", ""} <= values("DISP_DESCR")
    assert {"FELONY", "MISDEMEANOR", "INFRACTION", ""} <= values("CONV_STAT_DESCR")
    assert {"F", "M", "I"} <= values("OFFENSE_TOC")
    texts = {charge_text(row) for row in sample_rows}
    for prefix in ("187 PC-MURDER", "245(D)(3) PC-", "288(A) PC-", "503 VC-", "459 PC-BURGLARY",
                   "11364 HS-", "647(F) PC-"):
        assert any(t.startswith(prefix) for t in texts), prefix
    registrations = [row for row in sample_rows if row[COL["STP_TYPE_DESCR"]] == "REGISTRATION"]
    assert registrations and all(row[COL["OFFENSE_DESCR"]].startswith("290 PC-") for row in registrations)
    assert {"WHITE", "BLACK", "HISPANIC", "ASIAN", "AMERICAN INDIAN", "OTHER", "UNKNOWN"} <= values("RACE_DESCR")


def test_dirty_values_appear(sample_rows):
    step_dates = Counter(row[COL["STP_EVENT_DATE"]] for row in sample_rows)
    assert {"", "00000000"} <= set(step_dates)
    assert any(re.fullmatch(r"\d{4}0000", d) for d in step_dates)
    assert any(re.fullmatch(r"\d{4}0231", d) for d in step_dates)
    assert any(UNUSABLE_DATE.match(row[COL["PRI_DOB"]]) for row in sample_rows)
    assert sum(map(step_dates.get, ("", "00000000"))) < 0.01 * len(sample_rows)  # a small share
    every_value = Counter(value for row in sample_rows for value in row)
    assert every_value["  -  "] and every_value["NULL"]
    assert any(value != value.rstrip() and value.strip() for value in every_value)
    counties = {row[COL["STP_ORI_CNTY_NAME"]] for row in sample_rows}
    assert {"NEVADA STATE", ""} <= counties


def test_record_structure_is_consistent(sample_rows):
    person = {}
    for row in sample_rows:
        order = row[COL["CNT_ORDER"]]
        assert re.fullmatch(r"\d{12}", order) and order.endswith("000")
        assert int(order[:3]) == int(row[COL["CYC_ORDER"]])
        assert int(order[3:6]) == int(row[COL["STP_ORDER"]])
        if row[COL["STP_TYPE_DESCR"]] == "COURT ACTION":
            assert row[COL["OFN"]].strip()
        identity = (row[COL["PRI_NAME"]], row[COL["PRI_DOB"]], row[COL["RACE_DESCR"]])
        assert person.setdefault(row[COL["SUBJECT_ID"]], identity) == identity
    assert all(re.fullmatch(r"[A-Z' ]+,[A-Z]+( [A-Z])?", name) for name, _, _ in person.values())


def test_convictions_have_sentence_continuation_rows(sample_rows):
    convictions = Counter((row[COL["SUBJECT_ID"]], row[COL["CNT_ORDER"]]) for row in sample_rows
                          if row[COL["DISP_DESCR"]].startswith("CONVICTED"))
    continued = [key for key, n in convictions.items() if n > 1]
    assert len(continued) > 0.1 * len(convictions)
    key = continued[0]
    parts = {(row[COL["SENT_LENGTH"]], row[COL["SENT_TIME_CODE"]], row[COL["SENT_ORDER"]])
             for row in sample_rows if (row[COL["SUBJECT_ID"]], row[COL["CNT_ORDER"]]) == key}
    assert len(parts) > 1


def test_prop64_convictions_mostly_before_november_2016(sample_rows):
    dates = [row[COL["STP_EVENT_DATE"]] for row in sample_rows
             if row[COL["DISP_DESCR"]].startswith("CONVICTED") and PROP64.match(charge_text(row))]
    usable = [d for d in dates if not UNUSABLE_DATE.match(d)]
    after = sum(d >= "20161109" for d in usable)
    assert len(usable) > 300
    assert 0 < after < 0.1 * len(usable)


def test_200k_rows_cover_40_counties_los_angeles_largest(tmp_path):
    out = run_generate(tmp_path / "big", rows=200_000, seed=3)
    counties = Counter()
    with open(out / "extract-00000.csv", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            counties[row[COL["STP_ORI_CNTY_NAME"]]] += 1
    california = {k: v for k, v in counties.items() if k in POPULATION}
    assert len(california) >= 40
    assert counties.most_common(1)[0][0] == "LOS ANGELES"
    assert 0.2 < counties["LOS ANGELES"] / 200_000 < 0.3
    manifest = json.loads((out / "manifest.json").read_text())
    assert {k: v for k, v in manifest["rows_per_county"].items() if v} == california


def test_parquet_holds_the_same_rows_as_strings(tmp_path):
    csv_rows = good_rows(run_generate(tmp_path / "csv", rows=4000))
    out = run_generate(tmp_path / "pq", "--format", "parquet", "--files", "2", rows=4000)
    tables = [pq.read_table(p) for p in sorted(out.glob("extract-*.parquet"))]
    assert len(tables) == 2
    for table in tables:
        assert table.column_names == list(DOJ_COLUMNS)
        assert {str(field.type) for field in table.schema} == {"string"}
    parquet_rows = [list(r) for t in tables for r in zip(*(c.to_pylist() for c in t.columns))]
    assert sorted(parquet_rows) == sorted(csv_rows)


def test_summary_line_holds_counts_only(tmp_path, capsys):
    out = run_generate(tmp_path / "s", rows=500)
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and "500 rows" in printed and "people" in printed
    names = {row[COL["PRI_NAME"]] for row in good_rows(out)}
    assert not any(name.split(",")[0] in printed for name in names)


@pytest.mark.parametrize("flags", [
    ("--format", "parquet", "--bad-rows", "1"),
    ("--format", "parquet", "--no-header"),
    ("--files", "0"),
    ("--workers", "0"),
    ("--bad-rows", "-1"),
])
def test_user_mistakes_are_reported_not_raised(tmp_path, capsys, flags):
    assert clearsweep(["generate", "--rows", "10", "--out", str(tmp_path / "x"), *flags]) == 2
    assert "clearsweep generate: error:" in capsys.readouterr().err


def test_refuses_to_mix_with_an_earlier_extract(tmp_path, capsys):
    run_generate(tmp_path / "x", rows=10)
    assert clearsweep(["generate", "--rows", "10", "--out", str(tmp_path / "x")]) == 2
    assert "already holds" in capsys.readouterr().err
