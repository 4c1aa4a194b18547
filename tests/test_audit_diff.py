"""`clearsweep diff` and `clearsweep run --reproduce`, and the determinations checksum, on one
warehouse of real runs over generated people: two runs of the same rows that differ in as-of date
and (for YOLO) policy, and a run from the ingested raw table after one person's row was edited
(raw is re-ingested afterwards, so the version that run recorded is no longer the latest)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import people_gen as pg  # noqa: E402
from harness import _write_csv_files
from clearsweep.audit.diff import AS_OF, POLICY, ROWS, diff_runs
from clearsweep.audit.reproduce import compare_counties
from clearsweep.errors import UserError
from clearsweep.ingest.load import ingest
from clearsweep.outputs.checksum import EMPTY, county_checksums
from clearsweep.outputs.layout import COUNTY_TABLES
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.sweep import run_job
from jobs import cli

AS_OF_1, AS_OF_2 = dt.date(2019, 11, 11), dt.date(2023, 6, 30)
COUNTIES = ["LOS ANGELES", "SACRAMENTO", "SAN JOAQUIN", "YOLO"]
KEY = ("county", "subject_id", "cnt_order")
POLICY_MAP = """default:
  policy: statutory
counties:
  LOS ANGELES:
    policy: la-2020
  YOLO:
    policy: dismiss-all-related
"""


def _write(rows: list[dict], folder: Path) -> Path:
    folder.mkdir()
    _write_csv_files(rows, folder, 1)
    return folder / "part-000.csv"


def _edited(rows: list[dict], decided: set[tuple]) -> tuple[list[dict], tuple]:
    """The rows with one decided SACRAMENTO conviction's charge rewritten to a burglary (its only
    row, no Prop 64 text in its comment): that conviction leaves scope."""
    per_key = Counter((r["SUBJECT_ID"], r["CNT_ORDER"]) for r in rows)
    for i, r in enumerate(rows):
        key = ("SACRAMENTO", r["SUBJECT_ID"], r["CNT_ORDER"])
        if key in decided and per_key[key[1:]] == 1 and r["STP_ORI_CNTY_NAME"] == "SACRAMENTO":
            out = [dict(x) for x in rows]
            out[i].update(OFFENSE_DESCR="459 PC-BURGLARY", COMMENT_TEXT="")
            return out, key
    raise AssertionError("no single-row SACRAMENTO conviction to edit")


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    wh = str(tmp / "wh")
    rows = pg.generate(200, seed=64)
    extract = _write(rows, tmp / "a")
    copy = _write(rows, tmp / "a2")  # the same rows in another file: `moved` reads it (a test edits it)
    policy_map = tmp / "policy_map.yaml"
    policy_map.write_text(POLICY_MAP, encoding="utf-8")
    first = run_job(spark, [str(extract)], wh, AS_OF_1, COUNTIES, None)
    moved = run_job(spark, [str(copy)], wh, AS_OF_2, COUNTIES, str(policy_map))
    decided = {tuple(r) for r in _dets(spark, wh, first["run_id"]).where(F.col("county") == "SACRAMENTO").select(*KEY).collect()}
    edited_rows, edited_key = _edited(rows, decided)
    ingest(spark, [str(_write(edited_rows, tmp / "b"))], wh)
    edit = run_job(spark, [str(Path(wh) / "raw")], wh, AS_OF_1, ["SACRAMENTO", "YOLO"], None)
    ingest(spark, [str(extract)], wh)  # raw replaced: the version `edit` read is no longer the latest
    return {"wh": wh, "first": first, "moved": moved, "edit": edit, "moved_file": copy, "edited_key": edited_key}


def _dets(spark, wh: str, run_id: str):
    w = Warehouse(wh)
    run = w.run_record(spark, run_id=run_id)
    return w.read(spark, "determinations", run["versions"]["determinations"]).where(F.col("county").isin(*run["counties"]))


def _outcomes(spark, wh: str, run_id: str, counties: list[str]) -> dict:
    """Each conviction's outcome as diff compares it (the exhibit's columns do not move in these runs)."""
    compared = ("determination", "reason", "rule", "statute", "policy")
    rows = _dets(spark, wh, run_id).where(F.col("county").isin(*counties)).select(*KEY, *compared).collect()
    return {tuple(r[k] for k in KEY): tuple(r[c] for c in compared) for r in rows}


def _expected(before: dict, after: dict, counties: list[str]) -> dict:
    """Counts per county computed from the two runs' rows, apart from the diff's join."""
    out = {c: {"added": 0, "removed": 0, "changed": 0, "unchanged": 0} for c in counties}
    for key in before.keys() | after.keys():
        kind = ("added" if key not in before else "removed" if key not in after
                else "changed" if before[key] != after[key] else "unchanged")
        out[key[0]][kind] += 1
    return out


def _counts_only(report_counties: dict) -> dict:
    return {c: {k: v for k, v in t.items() if k != "by_cause"} for c, t in report_counties.items()}


def _run_cli(spark, monkeypatch, capsys, argv: list[str]) -> tuple[int, str, str]:
    import jobs.diff
    import jobs.run

    for module in (jobs.diff, jobs.run):
        monkeypatch.setattr(module, "get_spark", lambda *a, **k: spark)
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------- checksum


def test_checksum_ignores_order_and_partitioning_and_sees_one_changed_field(spark, world):
    dets = _dets(spark, world["wh"], world["first"]["run_id"]).persist()
    base = county_checksums(dets, COUNTIES)
    assert set(base) == set(COUNTIES) and EMPTY not in base.values()
    shuffled = dets.repartition(7, "subject_id").orderBy(F.rand(3)).select(*reversed(dets.columns))
    assert county_checksums(shuffled.withColumn("run_id", F.lit("another-run")), COUNTIES) == base
    assert county_checksums(dets.coalesce(1).sortWithinPartitions(F.col("cnt_order").desc())) == base
    n_rows = {r["county"]: r["count"] for r in dets.groupBy("county").count().collect()}
    assert {c: int(v.split("-")[0], 16) for c, v in base.items()} == n_rows

    complete = F.col("disposition_date").isNotNull() & F.col("felony").isNotNull() & F.col("reason").isNotNull()
    one = dets.where((F.col("county") == "YOLO") & complete).orderBy(*KEY).first()
    is_one = (F.col("county") == "YOLO") & (F.col("subject_id") == one["subject_id"]) & (F.col("cnt_order") == one["cnt_order"])
    for column, value in (("reason", F.concat(F.col("reason"), F.lit("."))), ("felony", F.coalesce(~F.col("felony"), F.lit(True))),
                          ("disposition_date", F.date_add(F.col("disposition_date"), 1))):
        changed = county_checksums(dets.withColumn(column, F.when(is_one, value).otherwise(F.col(column))), COUNTIES)
        assert changed["YOLO"] != base["YOLO"], column
        assert {c: v for c, v in changed.items() if c != "YOLO"} == {c: v for c, v in base.items() if c != "YOLO"}
    as_null = county_checksums(dets.withColumn("reason", F.when(is_one, F.lit(None)).otherwise(F.col("reason"))))
    as_blank = county_checksums(dets.withColumn("reason", F.when(is_one, F.lit("")).otherwise(F.col("reason"))))
    assert len({as_null["YOLO"], as_blank["YOLO"], base["YOLO"]}) == 3, "null, blank and the reason all differ"
    assert county_checksums(dets.where(~is_one))["YOLO"] != base["YOLO"]
    dets.unpersist()


# ---------------------------------------------------------------- diff


@pytest.fixture(scope="module")
def as_of_diff(spark, world):
    return diff_runs(spark, world["wh"], world["first"]["run_id"], world["moved"]["run_id"], limit=7)


def test_diff_of_an_as_of_and_policy_change(spark, world, as_of_diff):
    wh, a, b = world["wh"], world["first"]["run_id"], world["moved"]["run_id"]
    report = as_of_diff
    expected = _expected(_outcomes(spark, wh, a, COUNTIES), _outcomes(spark, wh, b, COUNTIES), COUNTIES)
    assert _counts_only(report["counties"]) == expected
    assert report["policy_changed"] == ["YOLO"]
    yolo = report["counties"]["YOLO"]
    assert yolo["added"] > 0, "dismiss-all-related decides related charges"
    assert yolo["by_cause"] == {POLICY: yolo["added"] + yolo["removed"] + yolo["changed"]}
    for county in ("LOS ANGELES", "SACRAMENTO", "SAN JOAQUIN"):
        t = report["counties"][county]
        assert t["added"] == t["removed"] == 0, "the as-of date never changes which convictions are in scope"
        assert t["by_cause"] == ({AS_OF: t["changed"]} if t["changed"] else {})
    assert report["counties"]["LOS ANGELES"]["changed"] > 0, "la-2020's 10-year rule moves with the as-of date"
    totals = report["totals"]
    for kind in ("added", "removed", "changed", "unchanged"):
        assert totals[kind] == sum(t[kind] for t in expected.values())
    n = totals["added"] + totals["removed"] + totals["changed"]
    assert len(report["changes"]) == 7 and report["more"] == n - 7
    listed = [tuple(c[k] for k in KEY) for c in report["changes"]]
    assert listed == sorted(listed)
    for c in report["changes"]:
        assert (c["cause"] == POLICY) == (c["county"] == "YOLO")
    assert report["from"]["versions_read"] == {t: world["first"]["versions"][t] for t in ("determinations", "history")}
    assert report["to"]["as_of"] == AS_OF_2.isoformat() and report["from"]["policy_hash"] == world["first"]["policy_hash"]


def test_diff_names_changed_input_rows_as_the_cause(spark, world):
    wh, a, b = world["wh"], world["first"]["run_id"], world["edit"]["run_id"]
    common = ["SACRAMENTO", "YOLO"]
    report = diff_runs(spark, wh, a, b, limit=1000)
    before, after = _outcomes(spark, wh, a, common), _outcomes(spark, wh, b, common)
    assert _counts_only(report["counties"]) == _expected(before, after, common)
    changes = report["changes"]
    assert report["more"] == 0 and changes
    assert {c["subject_id"] for c in changes} == {world["edited_key"][1]}, "only the edited person changed"
    assert {c["cause"] for c in changes} == {ROWS}
    removed = [c for c in changes if (c["county"], c["subject_id"], c["cnt_order"]) == world["edited_key"]]
    assert [c["change"] for c in removed] == ["removed"] and removed[0]["after"] is None
    assert removed[0]["before"] == dict(zip(("determination", "reason"), before[world["edited_key"]]))


def test_diff_of_one_county_and_refusals(spark, world, as_of_diff):
    wh, a, b = world["wh"], world["first"]["run_id"], world["moved"]["run_id"]
    whole = as_of_diff
    one = diff_runs(spark, wh, a, b, county="YOLO", limit=0)
    assert list(one["counties"]) == ["YOLO"] and one["counties"]["YOLO"] == whole["counties"]["YOLO"]
    assert one["totals"] == whole["counties"]["YOLO"]
    assert one["changes"] == [] and one["more"] == sum(one["totals"][k] for k in ("added", "removed", "changed"))
    with pytest.raises(UserError, match=f"run {world['edit']['run_id']} did not decide LOS ANGELES"):
        diff_runs(spark, wh, a, world["edit"]["run_id"], county="LOS ANGELES")
    with pytest.raises(UserError, match="no run run-nope is recorded"):
        diff_runs(spark, wh, "run-nope", b)


def test_diff_command_json_and_text(spark, world, monkeypatch, capsys):
    wh, a, b = world["wh"], world["first"]["run_id"], world["moved"]["run_id"]
    code, out, _ = _run_cli(spark, monkeypatch, capsys, ["diff", "--warehouse", wh, "--from", a, "--to", b, "--json", "--limit", "4"])
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"from", "to", "counties", "totals", "changes", "more"}
    assert set(doc["from"]) >= {"run_id", "as_of", "policy_hash", "versions_read"} and doc["to"]["run_id"] == b
    assert set(doc["counties"]) == set(COUNTIES)
    for t in (*doc["counties"].values(), doc["totals"]):
        assert set(t) == {"added", "removed", "changed", "unchanged", "by_cause"}
    assert len(doc["changes"]) == 4
    assert set(doc["changes"][0]) == {"county", "subject_id", "cnt_order", "section", "disposition_date", "change", "cause", "before", "after"}
    assert doc["more"] == sum(doc["totals"][k] for k in ("added", "removed", "changed")) - 4

    code, text, _ = _run_cli(spark, monkeypatch, capsys, ["diff", "--warehouse", wh, "--from", a, "--to", b, "--limit", "2"])
    assert code == 0
    assert f"determinations v{world['first']['versions']['determinations']}" in text
    assert f"  and {doc['more'] + 2} more" in text
    assert f"changed {doc['totals']['changed']}" in text
    for shown in (out, text):  # keys, sections and dates only: no names, CII numbers or dates of birth
        assert "PERSON " not in shown and not any(f"A{c['subject_id']}" in shown for c in doc["changes"])

    code, _, err = _run_cli(spark, monkeypatch, capsys, ["diff", "--warehouse", wh, "--from", a, "--to", world["edit"]["run_id"],
                                                         "--county", "Los Angeles"])
    assert code == 2 and err.count("\n") == 1 and "did not decide LOS ANGELES" in err and "Traceback" not in err


# ---------------------------------------------------------------- reproduce


def _table_versions(wh: str) -> dict:
    w = Warehouse(wh)
    return {t: w.latest_version(t) for t in (*COUNTY_TABLES, "figures", "quarantine", "runs", "raw", "ingests")}


def test_reproduce_of_an_unchanged_input_is_identical(spark, world, monkeypatch, capsys):
    wh, run = world["wh"], world["first"]
    before = _table_versions(wh)
    code, out, err = _run_cli(spark, monkeypatch, capsys, ["run", "--reproduce", run["run_id"], "--warehouse", wh, "--quiet"])
    assert code == 0, err
    assert out.startswith(f"reproduce {run['run_id']}: identical")
    for county, checksum in county_checksums(_dets(spark, wh, run["run_id"]), COUNTIES).items():
        assert f"{county}: identical, checksum {checksum}" in out
    assert _table_versions(wh) == before, "the warehouse's tables are only read"
    assert not (Path(wh) / "_work").exists() or not any((Path(wh) / "_work").iterdir())


def test_reproduce_refuses_a_changed_or_missing_input(spark, world, monkeypatch, capsys):
    wh, run_id, path = world["wh"], world["moved"]["run_id"], world["moved_file"]
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n")
    code, out, err = _run_cli(spark, monkeypatch, capsys, ["run", "--reproduce", run_id, "--warehouse", wh])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err and "has changed" in err and "Traceback" not in err
    path.rename(path.with_suffix(".moved"))
    code, _, err = _run_cli(spark, monkeypatch, capsys, ["run", "--reproduce", run_id, "--warehouse", wh])
    assert code == 2 and err.count("\n") == 1 and f"input file {path} is missing" in err
    code, _, err = _run_cli(spark, monkeypatch, capsys, ["run", "--reproduce", run_id, "--warehouse", wh, "--as-of", "2020-01-01"])
    assert code == 2 and "give only --warehouse" in err


def test_reproduce_of_a_run_from_the_raw_table(spark, world, monkeypatch, capsys):
    wh, run = world["wh"], world["edit"]
    recorded = json.loads(run["inputs"])[0]
    assert recorded["version"] < Warehouse(wh).latest_version("raw"), "raw was ingested again since"
    code, out, err = _run_cli(spark, monkeypatch, capsys, ["run", "--reproduce", run["run_id"], "--warehouse", wh, "--json", "--quiet"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["identical"] and doc["versions_read"]["raw"] == recorded["version"]
    assert doc["counties"]["YOLO"]["original"] == county_checksums(_dets(spark, wh, run["run_id"]))["YOLO"]


def test_reproduce_comparison_says_what_differs(spark, world):
    """The comparison a rerun is judged by, on two runs that do differ (one edited row)."""
    wh, common = world["wh"], ["SACRAMENTO", "YOLO"]
    first = _dets(spark, wh, world["first"]["run_id"]).where(F.col("county").isin(*common))
    edit = _dets(spark, wh, world["edit"]["run_id"])
    got = compare_counties(first, edit, common)

    def rows(df) -> dict:
        return {tuple(r[k] for k in KEY): {k: v for k, v in r.asDict().items() if k != "run_id"} for r in df.collect()}

    a, b = rows(first), rows(edit)
    for county in common:
        keys = {k for k in a.keys() | b.keys() if k[0] == county}
        added = sorted(k for k in keys if k not in a)
        removed = sorted(k for k in keys if k not in b)
        changed = sorted(k for k in keys if k in a and k in b and a[k] != b[k])
        assert got[county]["identical"] == (not added and not removed and not changed), county
        assert (got[county]["original"] == got[county]["rerun"]) == got[county]["identical"]
        if got[county]["identical"]:
            continue
        assert (got[county]["added"], got[county]["removed"], got[county]["changed"]) == (len(added), len(removed), len(changed))
        first_keys = [(county, k["subject_id"], k["cnt_order"]) for k in got[county]["first"]]
        assert first_keys == sorted(added + removed + changed)[:5]
        for k in got[county]["first"]:
            if k["change"] == "changed":
                key = (county, k["subject_id"], k["cnt_order"])
                assert k["columns"] == [c for c in a[key] if c not in KEY and a[key][c] != b[key][c]]
    assert not got["SACRAMENTO"]["identical"] and got["SACRAMENTO"]["removed"] >= 1, "the edited conviction left scope"


def test_reproduce_from_files_is_refused_after_a_purge(spark, world, tmp_path, monkeypatch, capsys):
    """The files still hold the people purged since the run: deciding them again would bring back
    sealed records (into scratch tables and onto the screen). Only the records matter here (purging
    itself is test_purge's): a real run's record, and a purge's after it, as `purge` records it."""
    wh, run = Warehouse(str(tmp_path / "wh")), world["first"]
    wh.record(spark, "runs", run)
    wh.record(spark, "purges", {
        "purge_id": "purge-test", "finished_at": run["finished_at"] + dt.timedelta(seconds=1), "reason": "sealed",
        "subjects": ["0" * 64], "removed": {"determinations": 1}, "versions": {}, "files_checked": 1, "code_version": "0.1.0"})
    code, out, err = _run_cli(spark, monkeypatch, capsys, ["run", "--reproduce", run["run_id"], "--warehouse", wh.location])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "purge purge-test has since removed" in err
