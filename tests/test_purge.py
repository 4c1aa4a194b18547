"""Purge: a sealed person leaves every table and every retained version, and the warehouse says so."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from clearsweep.errors import UserError
from clearsweep.exports.county import export_county
from clearsweep.ingest.load import ingest
from clearsweep.outputs.purge import find_traces, purge
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.sweep import run_job

SEALED, OTHER = "10000001", "10000002"


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
