"""Purge: a sealed person leaves every table and every retained version, and the warehouse says so."""

from __future__ import annotations

import csv
import json
import datetime as dt
from pathlib import Path

import pytest

from clearsweep.errors import UserError
from clearsweep.exports.county import export_county
from clearsweep.ingest.load import ingest
from clearsweep.outputs.purge import STOP_AFTER_ENV, PurgeStopped, purge, warehouse_key
from clearsweep.outputs.traces import Subjects
from clearsweep.outputs.traces import find_traces as _find_traces
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.sweep import run_job

SEALED, OTHER = "10000001", "10000002"


def find_traces(wh: Path, subjects: list[str]):
    return _find_traces(wh, Subjects(warehouse_key(Warehouse(str(wh))), clear=subjects), skip=[wh / "_clearsweep.key"])


def _row(subject: str, cnt: str, offense: str) -> list[str]:
    row = {c: "" for c in DOJ_COLUMNS} | {
        "SUBJECT_ID": subject, "CNT_ORDER": cnt, "STP_EVENT_DATE": "20100105", "STP_TYPE_DESCR": "COURT ACTION",
        "STP_ORI_CNTY_NAME": "SACRAMENTO", "DISP_DESCR": "CONVICTED", "OFFENSE_DESCR": offense,
        "CONV_STAT_DESCR": "FELONY", "PRI_DOB": "19700101"}
    return [row[c] for c in DOJ_COLUMNS]


def _extract(path: Path) -> Path:
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DOJ_COLUMNS)
        w.writerow(_row(SEALED, "001001001000", "11359 HS-POSSESS MARIJUANA FOR SALE"))
        w.writerow(_row(f" {SEALED}", "002001001000", "11357(A) HS-POSSESS MARIJUANA"))
        w.writerow(_row(SEALED, "003001001000", "11360(A) HS-TRANSPORT")[:40])  # quarantined: too short
        w.writerow(_row(OTHER, "001001001000", "11359 HS-POSSESS MARIJUANA FOR SALE"))
    return path


def test_purge_removes_a_person_from_every_table_and_version(spark, tmp_path):
    extract = _extract(tmp_path / "in" / "extract.csv")
    wh = tmp_path / "wh"
    ingest(spark, [str(extract)], str(wh))
    first = run_job(spark, [str(extract)], str(wh), dt.date(2019, 11, 11), ["SACRAMENTO"], "statutory")
    run_job(spark, [str(wh / "raw")], str(wh), dt.date(2020, 1, 1), ["SACRAMENTO"], "statutory")
    before, _ = find_traces(wh, [SEALED])
    assert any("determinations" in t for t in before) and any("quarantine" in t for t in before)

    with Warehouse(str(wh)).lock("purge-test"):
        result = purge(spark, str(wh), [SEALED], "sealed under PC 851.91", purge_id="purge-test")

    assert result["traces"] == [] and result["files_checked"] > 20
    assert {t: n > 0 for t, n in result["removed"].items()} == {
        "raw": True, "quarantine": True, "determinations": True, "people": True, "history": True}
    w = Warehouse(str(wh))
    assert {r["subject_id"] for r in w.read_county(spark, "determinations", "SACRAMENTO").collect()} == {OTHER}
    recorded = w.read(spark, "purges").collect()
    assert len(recorded) == 1 and SEALED not in str(recorded[0].asDict()) and len(recorded[0]["subjects"][0]) == 64
    # the latest run's export reads the purge's version; an earlier run's rows are gone, said in one line
    exported = export_county(spark, str(wh), "SACRAMENTO", str(tmp_path / "out"))
    assert exported["decided"] == 1 and SEALED not in (tmp_path / "out" / "All_Results.csv").read_text()
    with pytest.raises(UserError):
        export_county(spark, str(wh), "SACRAMENTO", str(tmp_path / "out-first"), first["run_id"])
    # the warehouse goes on: a later run from raw decides the others, and never brings the person back
    again = run_job(spark, [str(wh / "raw")], str(wh), dt.date(2020, 2, 1), ["SACRAMENTO"], "statutory")
    assert again["input_rows"] >= 1
    assert find_traces(wh, [SEALED])[0] == []


# ---------------------------------------------------------------- no log names the person (issue 15, item 1)


def _logs_naming(wh: Path, subject: str) -> list[str]:
    """Delta log files holding the id as a token (not inside a longer number)."""
    import re

    token = re.compile(rb"(?<![0-9A-Za-z])" + re.escape(subject.encode()) + rb"(?![0-9A-Za-z])")
    return [str(p.relative_to(wh)) for p in sorted(wh.glob("*/_delta_log/*")) if p.is_file() and token.search(p.read_bytes())]


@pytest.fixture(scope="module")
def template(spark, tmp_path_factory):
    """A warehouse with an ingest and two runs deciding SEALED and OTHER (copied by each test)."""
    root = tmp_path_factory.mktemp("purge-template")
    extract = _extract(root / "in" / "extract.csv")
    wh = root / "wh"
    ingest(spark, [str(extract)], str(wh))
    run_job(spark, [str(wh / "raw")], str(wh), dt.date(2019, 11, 11), ["SACRAMENTO"], "statutory")
    return wh


def _copy(template: Path, tmp_path: Path) -> Path:
    import shutil

    wh = tmp_path / "wh"
    shutil.copytree(template, wh)
    return wh


def test_no_log_names_a_purged_person(spark, template, tmp_path):
    wh = _copy(template, tmp_path)
    with Warehouse(str(wh)).lock("purge-logs"):
        result = purge(spark, str(wh), [f" {SEALED} "], "", purge_id="purge-logs")
    assert result["traces"] == []
    assert _logs_naming(wh, SEALED) == []
    merges = [json.loads(line)["commitInfo"] for p in sorted(wh.glob("*/_delta_log/*.json"))
              for line in p.read_text().splitlines() if '"commitInfo"' in line and '"MERGE"' in line]
    # the condition names columns only (resolved as `id#12`, `pattern#13`), and the deletes left no deletion vector
    assert len(merges) >= 5 and all(
        "id#" in m["operationParameters"]["predicate"] or "pattern#" in m["operationParameters"]["predicate"] for m in merges)
    assert not [p for p in wh.rglob("*.bin") if "deletion_vector" in p.name]
    assert {r["subject_id"] for r in Warehouse(str(wh)).read(spark, "people").collect()} == {OTHER}


def test_verification_reads_every_byte_with_token_boundaries(template, tmp_path):
    wh = _copy(template, tmp_path)
    (wh / "determinations" / "_delta_log" / "00000000000000000099.json").write_text(
        '{"commitInfo":{"operationParameters":{"predicate":"[\\"(trim(subject_id) = 110000011)\\"]"}}}\n')
    assert find_traces(wh, ["10000011"])[0] == []  # inside a longer number: not the person
    for text in ("trim(subject_id) = 10000011", 'IN ("  10000011 ")', "x,10000011 ,y"):
        (wh / "history" / "_delta_log" / "00000000000000000098.json").write_text(text)
        assert find_traces(wh, ["10000011"])[0] == ["history/_delta_log/00000000000000000098.json"], text
    # and with the hashes only, as a resumed verification reads
    key = warehouse_key(Warehouse(str(wh)))
    hashed = Subjects(key, hashes=Subjects(key, clear=["10000011"]).hashes)
    assert _find_traces(wh, hashed, skip=[wh / "_clearsweep.key"])[0] == ["history/_delta_log/00000000000000000098.json"]


# ---------------------------------------------------------------- a purge cut short (issue 15, item 2)


def _cut_short(spark, wh: Path, step: str, monkeypatch) -> None:
    monkeypatch.setenv(STOP_AFTER_ENV, step)
    with Warehouse(str(wh)).lock("cut"), pytest.raises(PurgeStopped):
        purge(spark, str(wh), [SEALED], "", purge_id=f"purge-cut-{step}")
    monkeypatch.delenv(STOP_AFTER_ENV)


@pytest.mark.parametrize("step", ["recorded", "vacuumed"])
def test_a_recorded_purge_is_finished_by_the_next_writer(spark, template, tmp_path, monkeypatch, step):
    wh = _copy(template, tmp_path)
    _cut_short(spark, wh, step, monkeypatch)
    if step == "recorded":
        assert find_traces(wh, [SEALED])[0] != []  # old versions still on disk: the breach of issue 15
    assert [r["files_checked"] for r in Warehouse(str(wh)).read(spark, "purges").collect()] == [0]  # not verified
    again = run_job(spark, [str(wh / "raw")], str(wh), dt.date(2020, 1, 1), ["SACRAMENTO"], "statutory")
    assert [line for line in again["recovered"] if line.startswith(f"finished purge purge-cut-{step} (vacuumed, verified: ")]
    assert find_traces(wh, [SEALED])[0] == []
    assert [r["files_checked"] > 0 for r in Warehouse(str(wh)).read(spark, "purges").collect()] == [True]


def test_an_unrecorded_purge_is_rolled_back_and_a_rerun_completes_it(spark, template, tmp_path, monkeypatch):
    wh = _copy(template, tmp_path)
    _cut_short(spark, wh, "deleted", monkeypatch)
    with Warehouse(str(wh)).lock("again"):
        result = purge(spark, str(wh), [SEALED], "", purge_id="purge-again")
    assert any("rolled determinations back" in line for line in result["recovered"])
    assert result["traces"] == [] and find_traces(wh, [SEALED])[0] == []
    assert [r["purge_id"] for r in Warehouse(str(wh)).read(spark, "purges").collect()] == ["purge-again"]


def test_a_trace_left_fails_the_next_writer_naming_the_file(spark, template, tmp_path, monkeypatch):
    from clearsweep.errors import TraceLeft

    wh = _copy(template, tmp_path)
    _cut_short(spark, wh, "recorded", monkeypatch)
    (wh / "stray.txt").write_text(f"left by hand: {SEALED}\n")
    with pytest.raises(TraceLeft) as failed:
        Warehouse(str(wh)).recover(spark)
    assert "stray.txt" in str(failed.value) and SEALED not in str(failed.value)
