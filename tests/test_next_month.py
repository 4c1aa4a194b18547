"""`clearsweep generate --next-month-of`: next month's extract of a generated one. Unchanged
people keep their bytes, file and line; every kind of change happens; changes.json is the
truth; the same seed gives the same bytes; ingest reconciles it as it does the base."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from jobs.cli import main as clearsweep
from clearsweep.schema import DOJ_COLUMNS

COL = {name: i for i, name in enumerate(DOJ_COLUMNS)}
KINDS = ("new_person", "new_conviction_same_county", "new_conviction_other_county",
         "altered_disposition", "removed_rows", "purged")
CHANGED = 0.06


def lines_of(folder: Path) -> dict:
    """(file, line) -> raw line bytes, for every physical line of every extract file."""
    out = {}
    for path in sorted(folder.glob("extract-*.csv")):
        for number, line in enumerate(path.read_bytes().splitlines(keepends=True), 1):
            out[(path.name, number)] = line
    return out


def rows_by_person(folder: Path, lines: dict) -> dict:
    """subject id -> sorted rows (field lists), good data lines only."""
    bad = {(b["file"], b["line"]) for b in json.loads((folder / "bad_rows.json").read_text())["bad_rows"]}
    people = defaultdict(list)
    for (name, number), line in lines.items():
        if number == 1 or (name, number) in bad:  # the header, a bad line
            continue
        row = next(csv.reader([line.decode()]))
        people[row[COL["SUBJECT_ID"]]].append(row)
    return {k: sorted(v) for k, v in people.items()}


def is_prop64_conviction(row: list) -> bool:
    text = row[COL["OFFENSE_DESCR"]].strip()
    if text in ("", "SEE COMMENT FOR CHARGE"):
        text = row[COL["COMMENT_TEXT"]]
    text = text[3:].lstrip("/.-") if text.startswith("664") else text
    return row[COL["DISP_DESCR"]].startswith("CONVICTED") and text[:5] in ("11357", "11358", "11359", "11360")


@pytest.fixture(scope="module")
def months(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("next_month")
    base = root / "base"
    assert clearsweep(["generate", "--rows", "4000", "--seed", "5", "--files", "2", "--bad-rows", "1",
                       "--workers", "1", "--out", str(base)]) == 0
    month = root / "month"
    assert clearsweep(["generate", "--next-month-of", str(base), "--changed", str(CHANGED), "--seed", "21",
                       "--out", str(month)]) == 0
    base_lines, month_lines = lines_of(base), lines_of(month)
    return {"root": root, "base": base, "month": month, "base_lines": base_lines, "month_lines": month_lines,
            "base_people": rows_by_person(base, base_lines), "month_people": rows_by_person(month, month_lines),
            "changes": json.loads((month / "changes.json").read_text())}


def test_unchanged_people_keep_their_bytes_file_and_line(months):
    changed = {p["subject_id"] for p in months["changes"]["changed_people"]}
    base, month = months["base_lines"], months["month_lines"]
    kept = 0
    for position, line in base.items():
        subject = line.split(b",", 3)[2].decode() if position[1] > 1 else None
        if subject not in changed:  # headers, bad lines and unchanged people's rows
            assert month[position] == line, position
            kept += 1
    assert kept > 0.8 * len(base)
    # extra lines only at the end of the last file
    last = max(name for name, _ in base)
    assert {p for p in month if p not in base} <= {(last, n) for n in range(1, len(month) + 1)}


def test_changes_json_is_the_true_list_and_every_kind_happens(months):
    before, after, changes = months["base_people"], months["month_people"], months["changes"]
    kinds = {p["subject_id"]: p["change"] for p in changes["changed_people"]}
    really = {s for s in before.keys() | after.keys() if before.get(s) != after.get(s)}
    assert really == set(kinds)
    counts = Counter(kinds.values())
    assert all(counts[k] >= 1 for k in KINDS), counts
    assert counts == Counter(changes["kinds"]) - Counter()
    assert abs(len(kinds) - CHANGED * len(before)) <= 0.01 * len(before) + 6  # extra new people top up added rows
    assert sorted(changes["purge"]) == sorted(s for s, k in kinds.items() if k == "purged")
    for subject, kind in kinds.items():
        old, new = before.get(subject, []), after.get(subject, [])
        if kind == "new_person":
            assert not old and any(map(is_prop64_conviction, new))
        elif kind == "purged":
            assert old and not new
        elif kind == "removed_rows":
            assert new and len(new) < len(old) and all(r in old for r in new)
        elif kind == "altered_disposition":
            diffs = [(a, b) for a, b in zip(old, new) if a != b]
            assert len(old) == len(new) and diffs
            for a, b in diffs:
                assert {i for i in range(len(a)) if a[i] != b[i]} <= {COL[c] for c in (
                    "DISP_DATE", "DISP_DESCR", "SENT_ORDER", "SENT_LOC_CODE", "SENT_LOC_DESCR",
                    "SENT_LENGTH", "SENT_TIME_CODE", "SENT_TIME_DESCR")}
        else:  # a new conviction: the old rows kept, a convicted cycle added
            assert all(r in new for r in old) and len(new) > len(old)
            added = [r for r in new if r not in old]
            assert any(map(is_prop64_conviction, added))
            home = Counter(r[COL["STP_ORI_CNTY_NAME"]] for r in old).most_common(1)[0][0]
            in_home = {r[COL["STP_ORI_CNTY_NAME"]] == home for r in added}
            assert in_home == {kind.endswith("same_county")}, (kind, home)
    several = [s for s, k in kinds.items() if k == "new_person"
               and len({r[COL["STP_ORI_CNTY_NAME"]] for r in after[s]}) > 1]
    assert several, "some new people have convictions in several counties"


def test_manifest_counts_match_the_files(months):
    manifest = json.loads((months["month"] / "manifest.json").read_text())
    people = months["month_people"]
    assert manifest["rows"] == sum(len(v) for v in people.values())
    assert manifest["people"] == len(people)
    assert manifest["seed"] == 21 and manifest["changed"] == CHANGED and manifest["next_month_of"]
    counties = Counter(r[COL["STP_ORI_CNTY_NAME"]] for rows in people.values() for r in rows)
    assert {k: v for k, v in manifest["rows_per_county"].items() if v} == \
           {k: v for k, v in counties.items() if k in manifest["rows_per_county"]}
    for entry in manifest["files"]:
        assert entry["physical_lines"] == sum(1 for name, _ in months["month_lines"] if name == entry["name"])


def test_the_same_seed_gives_the_same_bytes_and_months_chain(months):
    root, base, month = months["root"], months["base"], months["month"]
    again, other = root / "again", root / "other"
    assert clearsweep(["generate", "--next-month-of", str(base), "--changed", str(CHANGED), "--seed", "21",
                       "--out", str(again)]) == 0
    assert {p.name: p.read_bytes() for p in month.iterdir()} == {p.name: p.read_bytes() for p in again.iterdir()}
    assert clearsweep(["generate", "--next-month-of", str(base), "--changed", str(CHANGED), "--seed", "22",
                       "--out", str(other)]) == 0
    assert (other / "changes.json").read_bytes() != (month / "changes.json").read_bytes()
    # the month after next: new people get ids no one had
    third = root / "third"
    assert clearsweep(["generate", "--next-month-of", str(month), "--changed", "0.02", "--seed", "1",
                       "--out", str(third)]) == 0
    changes = json.loads((third / "changes.json").read_text())
    new = {p["subject_id"] for p in changes["changed_people"] if p["change"] == "new_person"}
    assert new and not new & (months["base_people"].keys() | months["month_people"].keys())


def test_ingest_reconciles_next_month_like_the_base(spark, months, tmp_path):
    from clearsweep.ingest.load import ingest
    from clearsweep.outputs.warehouse import Warehouse

    month = months["month"]
    manifest = json.loads((month / "manifest.json").read_text())
    result = ingest(spark, [str(month)], str(tmp_path / "wh"))
    totals = result["totals"]
    assert totals["accepted"] == manifest["rows"]
    assert totals["quarantined"] == manifest["bad_lines"] == 3
    assert totals["physical_lines"] == manifest["rows"] + manifest["bad_lines"] + len(manifest["files"])
    quarantine = Warehouse(str(tmp_path / "wh")).read(spark, "quarantine").collect()
    got = sorted((r["source_file"].rsplit("/", 1)[1], r["line_no"], r["reason_code"]) for r in quarantine)
    want = sorted((b["file"], b["line"], b["kind"])
                  for b in json.loads((months["base"] / "bad_rows.json").read_text())["bad_rows"])
    assert got == want


@pytest.mark.parametrize("setup, flags, message", [
    ("empty", [], "not an extract made by clearsweep generate (no manifest.json)"),
    ("other", [], "not an extract made by clearsweep generate (its manifest.json is not a generate manifest)"),
    ("missing", [], "--next-month-of"),
    ("empty", ["--rows", "10"], "leave out --rows"),
    ("empty", ["--changed", "2"], "--changed must be a fraction"),
])
def test_not_a_generated_extract_is_a_one_line_error(tmp_path, capsys, setup, flags, message):
    folder = tmp_path / "dir"
    if setup != "missing":
        folder.mkdir()
        (folder / "extract-00000.csv").write_text("a,b\n")
    if setup == "other":
        (folder / "manifest.json").write_text(json.dumps({"tool": "something else"}))
    code = clearsweep(["generate", "--next-month-of", str(folder), "--out", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err
