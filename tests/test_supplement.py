"""The monthly supplement (`export --since RUN_ID`): only the convictions whose outcome is new or
changed between two runs, with the motion exhibit's columns and the cause `diff` names, tied out
to `diff`, removed ones counted, a purged person nowhere, each county's file its own people only.

One small hand-written warehouse for the module: an extract of seven people in Sacramento and
Fresno, run at one as-of date; one person sealed (purged, and gone from the next extract); next
month's extract (one person new, one renamed, one charge no longer Prop 64, one felony now a
misdemeanor) run a month later."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from clearsweep.audit.diff import AS_OF, ROWS, diff_runs
from clearsweep.errors import UserError
from clearsweep.exports.staging import DELIVERY_FILE
from clearsweep.exports.supplement import HEADERS, SUPPLEMENT_CSV, deliver_supplement, tie_out
from clearsweep.outputs.purge import purge
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.sweep import run_job

AS_OF_1, AS_OF_2 = dt.date(2019, 11, 11), dt.date(2019, 12, 11)
COUNTIES = ["FRESNO", "SACRAMENTO"]
POT, SALE, TRANSPORT = "11357(A) HS-POSSESS MARIJUANA", "11359 HS-POSSESS MARIJUANA FOR SALE", "11360(A) HS-TRANSPORT"
# subject -> (county, name, CII number, offense, level): last month's extract
PEOPLE = {
    "20000001": ("SACRAMENTO", "ALDERWICK,PERPETUA", "A71000001", POT, "MISDEMEANOR"),  # unchanged
    "20000002": ("SACRAMENTO", "BRACKENHOLT,CASIMIR", "A71000002", SALE, "FELONY"),  # renamed: changed
    "20000004": ("SACRAMENTO", "DUNWITHY,OSRIC", "A71000004", TRANSPORT, "FELONY"),  # burglary now: removed
    "20000005": ("SACRAMENTO", "EVERSHADE,MORWENNA", "A71000005", SALE, "FELONY"),  # purged between the runs
    "20000006": ("FRESNO", "FALLOWMERE,TOBIAS", "A71000006", POT, "MISDEMEANOR"),  # unchanged
    "20000007": ("FRESNO", "GLIMMERDALE,ROWAN", "A71000007", SALE, "FELONY"),  # a misdemeanor now: changed
}
NEXT = {**PEOPLE,
        "20000002": ("SACRAMENTO", "BRACKENHOLT,CASIMIR JUDE", "A71000002", SALE, "FELONY"),
        "20000003": ("SACRAMENTO", "CINDERMOOR,LUCASTA", "A71000003", POT, "MISDEMEANOR"),  # new
        "20000004": ("SACRAMENTO", "DUNWITHY,OSRIC", "A71000004", "459 PC-BURGLARY", "FELONY"),
        "20000007": ("FRESNO", "GLIMMERDALE,ROWAN", "A71000007", SALE, "MISDEMEANOR")}
PURGED = "20000005"
del NEXT[PURGED]  # sealed: purged from the warehouse, and no longer in the DOJ's extract


def _extract(path: Path, people: dict) -> Path:
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DOJ_COLUMNS)
        for subject, (county, name, cii, offense, level) in people.items():
            row = {c: "" for c in DOJ_COLUMNS} | {
                "SUBJECT_ID": subject, "CNT_ORDER": "001001001000", "STP_EVENT_DATE": "20100105",
                "STP_TYPE_DESCR": "COURT ACTION", "STP_ORI_CNTY_NAME": county, "STP_ORI_DESCR": f"CASC {county}",
                "DISP_DESCR": "CONVICTED", "OFFENSE_DESCR": offense, "CONV_STAT_DESCR": level,
                "OFN": f"10CR{subject[-3:]}", "PRI_NAME": name, "CII_NUMBER": cii, "PRI_DOB": "19700101", "RACE_DESCR": "WHITE"}
            w.writerow([row[c] for c in DOJ_COLUMNS])
    return path


@pytest.fixture(scope="module")
def months(spark, tmp_path_factory):
    """Last month's run; the sealed person purged (and gone from next month's extract); next
    month's run; the supplement between them by the command, as a user types it."""
    import jobs.export
    from jobs import cli

    tmp = tmp_path_factory.mktemp("supplement")
    wh = str(tmp / "wh")
    first = run_job(spark, [str(_extract(tmp / "m1" / "extract.csv", PEOPLE))], wh, AS_OF_1, COUNTIES, "statutory")
    with Warehouse(wh).lock("supplement-test"):
        purge(spark, wh, [PURGED], "sealed under PC 851.91")
    second = run_job(spark, [str(_extract(tmp / "m2" / "extract.csv", NEXT))], wh, AS_OF_2, COUNTIES, "statutory")
    out = tmp / "out"
    seen = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jobs.export, "get_spark", lambda *a, **k: spark)
        mp.setattr(jobs.export, "deliver_supplement", lambda *a, **k: seen.setdefault("result", deliver_supplement(*a, **k)))
        code = cli.main(["export", "--warehouse", wh, "--out", str(out), "--since", first["run_id"], "--quiet"])
    assert code == 0
    return {"wh": wh, "first": first, "second": second, "out": out, "result": seen["result"]}


def _lines(folder: Path) -> list[dict]:
    with open(folder / SUPPLEMENT_CSV, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_lists_the_new_and_changed_convictions_and_only_them_with_their_causes(months):
    out, result = months["out"], months["result"]
    assert result["run_id"] == months["second"]["run_id"] and result["since"] == months["first"]["run_id"]
    assert not result["refused"] and sorted(result["counties"]) == COUNTIES
    sac, fresno = _lines(out / "SACRAMENTO"), _lines(out / "FRESNO")
    assert list(sac[0]) == list(HEADERS)
    by_cii = {r["CII Number"]: r for r in sac + fresno}
    # the unchanged people are not listed, though their years since conviction moved a month
    assert sorted(by_cii) == ["A71000002", "A71000003", "A71000007"]
    new, renamed, lowered = by_cii["A71000003"], by_cii["A71000002"], by_cii["A71000007"]
    assert new["Change"] == "new" and new["Previous Determination"] == new["Previous Reason"] == ""
    assert new["Name"] == "CINDERMOOR,LUCASTA" and new["Court"] == "CASC SACRAMENTO" and new["Date of Birth"] == "01/01/1970"
    assert renamed["Change"] == "changed" and renamed["Name"] == "BRACKENHOLT,CASIMIR JUDE"
    assert renamed["Previous Determination"] == renamed["Determination"], "only the exhibit's name changed"
    assert lowered["Change"] == "changed" and lowered["Felony or Misdemeanor"] == "Misdemeanor"
    assert (lowered["Previous Determination"], lowered["Previous Reason"]) != (lowered["Determination"], lowered["Reason"])
    assert {r["Cause of Change"] for r in by_cii.values()} == {ROWS}
    for r in by_cii.values():
        assert r["Relief"] in ("", "dismiss and seal", "reduce to misdemeanor", "reduce to infraction")
        assert (r["Relief"] == "") == (r["Determination"] not in ("Eligible for Dismissal", "Eligible for Reduction"))
    counts = {c: r["counts"] for c, r in result["counties"].items()}
    assert counts == {"SACRAMENTO": {"new": 1, "changed": 1, "removed": 1}, "FRESNO": {"new": 0, "changed": 1, "removed": 0}}


def test_counts_tie_out_to_diff_of_the_county(spark, months):
    """`diff --county SACRAMENTO` (new, changed and removed convictions there): the same counts
    and causes as the county's supplement (diff counts a county alike alone or with others:
    tests/test_audit_diff.py)."""
    county = "SACRAMENTO"
    report = diff_runs(spark, months["wh"], months["first"]["run_id"], months["second"]["run_id"], county=county, limit=0)
    d, r = report["counties"][county], months["result"]["counties"][county]
    assert r["counts"] == {"new": d["added"], "changed": d["changed"], "removed": d["removed"]}
    assert r["by_cause"] == d["by_cause"] and AS_OF not in d["by_cause"]


def test_an_altered_count_is_refused():
    diff = {"added": 1, "changed": 1, "removed": 1, "unchanged": 1}
    assert tie_out("SACRAMENTO", {"new": 1, "changed": 1, "removed": 1}, diff) == []
    problems = tie_out("SACRAMENTO", {"new": 1, "changed": 2, "removed": 0}, diff)
    assert problems == ["changed: 2 in the supplement, 1 changed by diff", "removed: 0 in the supplement, 1 removed by diff"]


def test_a_purged_person_is_nowhere_and_each_file_holds_its_countys_people(months):
    out = months["out"]
    everything = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for needle in (PURGED, "EVERSHADE", "A71000005"):
        assert needle.encode() not in everything
    for county in COUNTIES:
        text = (out / county / SUPPLEMENT_CSV).read_text(encoding="utf-8")
        others = [cii for s, (c, _, cii, *_) in NEXT.items() if c != county]
        assert text.count("\n") > 1 and not [cii for cii in others if cii in text], county
    for name in ("DELIVERY.json", "SACRAMENTO/manifest.json", "FRESNO/manifest.json"):  # counts only: no one named
        assert not [cii for *_, cii, _, _ in NEXT.values() if cii in (out / name).read_text()]
    modes = {oct(p.stat().st_mode & 0o077) for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert modes == {"0o0"}, "owner-only"


def test_manifest_and_delivery_json(months):
    out, result = months["out"], months["result"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [DELIVERY_FILE, *COUNTIES]
    delivery = json.loads((out / DELIVERY_FILE).read_text())
    assert delivery["since"] == result["since"] and delivery["run_id"] == result["run_id"] and delivery["kind"] == "monthly supplement"
    for county in COUNTIES:
        path = out / county / "manifest.json"
        manifest = json.loads(path.read_text())
        assert manifest["county"] == county and manifest["since"] == result["since"] and manifest["run_id"] == result["run_id"]
        assert manifest["as_of"] == {"since": AS_OF_1.isoformat(), "run": AS_OF_2.isoformat()}
        f = manifest["files"][SUPPLEMENT_CSV]
        csv_path = out / county / SUPPLEMENT_CSV
        assert f["sha256"] == hashlib.sha256(csv_path.read_bytes()).hexdigest() and f["rows"] == len(_lines(out / county))
        assert delivery["counties"][county] == {"manifest_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                                "counts": manifest["counts"]}
    assert (out / DELIVERY_FILE).stat().st_mtime_ns >= max((out / c / "manifest.json").stat().st_mtime_ns for c in COUNTIES)


def test_command_errors_are_one_plain_line(spark, months, monkeypatch, capsys, tmp_path):
    import jobs.export
    from jobs import cli

    monkeypatch.setattr(jobs.export, "get_spark", lambda *a, **k: spark)
    code = cli.main(["export", "--warehouse", months["wh"], "--out", str(tmp_path), "--since", "run-nope", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "run-nope" in err and "Traceback" not in err
    with pytest.raises(UserError, match="give an earlier run"):
        deliver_supplement(spark, months["wh"], str(tmp_path / "x"), since=months["second"]["run_id"])
    with pytest.raises(UserError, match="YOLO"):
        deliver_supplement(spark, months["wh"], str(tmp_path / "x"), since=months["first"]["run_id"], counties=["yolo"])
