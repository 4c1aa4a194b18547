"""`clearsweep explain`: one person's decisions traced rule by rule from the run's own rule
definitions, checked against what the run stored, through the versions the run recorded."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil

import pytest
from delta.tables import DeltaTable
from people_gen import generate
from pyspark.sql import functions as F

from clearsweep.audit.explain import FIRED, NOT_REACHED, PASSED, explain
from clearsweep.decide.policies import REGISTRY, Policy
from clearsweep.decide.rules import FACTS, PROP64_IN_FORCE
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.sweep import run_job
from jobs.cli import main as cli

AS_OF = dt.date(2019, 11, 11)
LATER = dt.date(2032, 6, 1)  # a second run of Los Angeles: ages and years move past thresholds
COUNTIES = ["LOS ANGELES", "SACRAMENTO", "YOLO", "SAN JOAQUIN"]
OPTIONS = {
    "baselineEligibility": {"dismiss": ["11357"], "reduce": ["11358"]},
    "additionalRelief": {"subjectUnder21AtConviction": True, "subjectAgeThreshold": 50, "yearsSinceConvictionThreshold": 5,
                         "yearsCrimeFreeThreshold": 10, "subjectHasOnlyProp64Charges": True, "subjectIsDeceased": True},
}
POLICY_MAP = f"""default: {{policy: statutory}}
counties:
  LOS ANGELES: {{policy: la-2020, age: 50, years: 10}}
  YOLO: {{policy: configurable, options: {json.dumps(OPTIONS)}}}
"""
OUTCOME = ("determination", "reason", "statute", "rule")


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """Generated people decided under three policies as of 2019, then Los Angeles again later."""
    root = tmp_path_factory.mktemp("explain")
    rows = generate(70, seed=5)
    (root / "in").mkdir()
    with open(root / "in" / "extract.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DOJ_COLUMNS)
        for r in rows:
            w.writerow([r.get(c, "") for c in DOJ_COLUMNS])
    (root / "policy_map.yaml").write_text(POLICY_MAP)
    wh = str(root / "wh")
    first = run_job(spark, [str(root / "in")], wh, AS_OF, COUNTIES, str(root / "policy_map.yaml"))
    second = run_job(spark, [str(root / "in")], wh, LATER, ["LOS ANGELES"], str(root / "policy_map.yaml"))
    w = Warehouse(wh)
    # what each county's latest run stored, read straight from the tables (not through explain)
    latest = [r.asDict() for c in COUNTIES for r in w.read_county(spark, "determinations", c).collect()]
    then = [r.asDict() for r in w.read(spark, "determinations", first["versions"]["determinations"])
            .where(F.col("county") == "LOS ANGELES").collect()]
    return {"root": root, "wh": wh, "rows": rows, "first": first, "second": second, "latest": latest, "la_then": then}


def _sample(stored: list[dict], cap: int = 3) -> list[str]:
    """People whose determinations together cover the most (policy, rule) pairs, greedily."""
    by_person: dict[str, set] = {}
    for r in stored:
        by_person.setdefault(r["subject_id"], set()).add((r["policy"], r["rule"]))
    chosen, covered = [], set()
    for _ in range(cap):
        best = max(sorted(by_person), key=lambda s: len(by_person[s] - covered))
        if not by_person[best] - covered:
            break
        chosen.append(best)
        covered |= by_person.pop(best)
    return chosen


def _check_trace(conv: dict) -> None:
    statuses = [r["status"] for r in conv["rules"]]
    assert statuses.count(FIRED) == 1, statuses
    at = statuses.index(FIRED)
    assert statuses[:at] == [PASSED] * at and statuses[at + 1:] == [NOT_REACHED] * (len(statuses) - at - 1)
    assert [r["order"] for r in conv["rules"]] == list(range(1, len(statuses) + 1))
    fired = conv["rules"][at]
    assert fired["condition"] is True and all(r["condition"] is not True for r in conv["rules"][:at])
    assert (fired["rule"], fired["determination"], fired["reason"], fired["statute"]) == tuple(conv[k] for k in ("rule", *OUTCOME[:3]))
    # the facts shown agree with the conditions they explain
    for r in conv["rules"][:at + 1]:
        name, facts, held = r["rule"].split(".", 1)[1], r["facts"], bool(r["condition"])
        if name == "misdemeanor":
            assert held == (facts["felony"] is False)
        if name in ("undated", "under_21.undated", "years_since.undated"):
            assert held == (facts["disposition_date"] is None)
        if name.endswith("undated_dob"):
            assert held == (facts["dob_usable"] is False)
        if name == "after_prop64":
            assert held == (facts["disposition_date"] is not None and facts["disposition_date"] >= PROP64_IN_FORCE)
        if name == "age":
            assert held == (facts["age_at_as_of"] >= conv["policy"].get("age", OPTIONS["additionalRelief"]["subjectAgeThreshold"]))
        if name == "under_21" and "age_at_conviction" in facts:
            assert held == (facts["age_at_conviction"] < 21)
        if name == "two_priors":
            assert held == (facts["same_section_priors"] >= 2 and not facts["same_section_undated"])


def _cached(spark) -> list[str]:
    """Data cached in the session, less Delta's own snapshot states (Delta keeps those)."""
    rdds = spark.sparkContext._jsc.sc().getPersistentRDDs().values().iterator()
    names = []
    while rdds.hasNext():
        names.append(str(rdds.next().name()))
    return sorted(n for n in names if not n.startswith("Delta Table State"))


def test_every_decision_is_traced_to_the_rule_the_run_stored(spark, built):
    chosen = _sample(built["latest"])
    assert len(chosen) >= 3
    policies = set()
    before = _cached(spark)
    for subject in chosen:
        result = explain(spark, built["wh"], subject)
        assert _cached(spark) == before, "explain left data cached"
        stored = {(r["county"], r["cnt_order"]): r for r in built["latest"] if r["subject_id"] == subject}
        got = {(c["county"], c["cnt_order"]): c for c in result["convictions"]}
        assert set(got) == set(stored), subject
        for key, conv in got.items():
            _check_trace(conv)
            assert {k: conv[k] for k in OUTCOME} == {k: stored[key][k] for k in OUTCOME}
            assert conv["agrees"] and conv["run_id"] == stored[key]["run_id"] and conv["policy"]["name"] == stored[key]["policy"]
            assert all(set(r["facts"]) <= set(FACTS) for r in conv["rules"])
            policies.add(conv["policy"]["name"])
        assert result["mismatches"] == []
        # every run read is named with the versions it recorded
        for r in result["runs_read"]:
            run = built["second"] if r["run_id"] == built["second"]["run_id"] else built["first"]
            assert r["run_id"] == run["run_id"] and r["as_of"] == run["as_of"].isoformat()
            assert {t: r["versions"][t] for t in ("determinations", "history")} == {t: run["versions"][t] for t in ("determinations", "history")}
        # the history lists every conviction decided, marked so
        decided = {(c["county"], c["cnt_order"]) for c in result["history"]["convictions"] if c["decided"]}
        assert decided >= {k for k, c in got.items() if c["run_id"] == result["history"]["run_id"]}
    assert {"statutory", "la-2020", "configurable"} <= policies


def _personal_values(rows: list[dict], subject: str) -> set[str]:
    values = set()
    for r in rows:
        if r["SUBJECT_ID"].strip() != subject:
            continue
        for column in ("PRI_NAME", "CII_NUMBER", "PRI_DOB"):
            if r.get(column, "").strip():
                values.add(r[column].strip())
        dob = r.get("PRI_DOB", "").strip()
        if len(dob) == 8 and dob.isdigit() and dob[4:] != "0000":
            values.add(f"{dob[:4]}-{dob[4:6]}-{dob[6:]}")
    return values


def test_cli_prints_text_and_json_without_personal_data(spark, built, capsys):
    la = [r for r in built["latest"] if r["county"] == "LOS ANGELES"]
    subject = la[0]["subject_id"]
    assert cli(["explain", "--warehouse", built["wh"], "--subject", f"  {subject} "]) == 0
    text = capsys.readouterr()
    assert text.err == ""
    assert f"explain subject {subject}" in text.out and f"read run {built['second']['run_id']}" in text.out
    assert f"determinations v{built['second']['versions']['determinations']}" in text.out
    assert la[0]["rule"] in text.out and " fired " in text.out
    assert cli(["explain", "--warehouse", built["wh"], "--subject", subject, "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["subject_id"] == subject
    assert set(doc) == {"subject_id", "runs_read", "history", "convictions", "fact_labels", "mismatches"}
    assert {c["rule"] for c in doc["convictions"]} >= {la[0]["rule"]}
    assert set(doc["fact_labels"]) == {n for c in doc["convictions"] for r in c["rules"] for n in r["facts"]}
    personal = _personal_values(built["rows"], subject)
    assert personal, "the generated person has a name, a CII number and a date of birth"
    for value in personal:
        assert value not in text.out and value not in out, "personal data in the output"


def test_a_past_run_is_explained_with_its_own_as_of_and_versions(spark, built, capsys):
    """After a later run with another as-of date changed a Los Angeles answer, `--run` of the
    earlier run explains what that run decided, with its as-of date and the versions it recorded."""
    first, second = built["first"], built["second"]
    now = {(r["subject_id"], r["cnt_order"]): r for r in built["latest"] if r["county"] == "LOS ANGELES"}
    assert {r["run_id"] for r in now.values()} == {second["run_id"]}
    changed = sorted(r["subject_id"] for r in built["la_then"]
                     if now[(r["subject_id"], r["cnt_order"])]["determination"] != r["determination"])
    assert changed, "the later as-of date changed no Los Angeles determination"
    subject = changed[0]
    assert cli(["explain", "--warehouse", built["wh"], "--subject", subject, "--run", first["run_id"], "--json"]) == 0
    then = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in then["runs_read"]] == [first["run_id"]]
    read = then["runs_read"][0]
    assert read["as_of"] == AS_OF.isoformat() and read["counties"] == sorted({c["county"] for c in then["convictions"]})
    assert {t: read["versions"][t] for t in ("determinations", "history")} == {t: first["versions"][t] for t in ("determinations", "history")}
    stored_then = {r["cnt_order"]: r for r in built["la_then"] if r["subject_id"] == subject}
    la_then = {c["cnt_order"]: c for c in then["convictions"] if c["county"] == "LOS ANGELES"}
    assert set(la_then) == set(stored_then)
    for cnt, c in la_then.items():
        _check_trace(c)
        assert c["as_of"] == AS_OF.isoformat() and c["run_id"] == first["run_id"]
        assert {k: c[k] for k in OUTCOME} == {k: stored_then[cnt][k] for k in OUTCOME}
    assert any(c["determination"] != now[(subject, cnt)]["determination"] for cnt, c in la_then.items())


def test_unknown_subject_or_run_is_one_line(spark, built, capsys):
    run_id = built["first"]["run_id"]
    assert cli(["explain", "--warehouse", built["wh"], "--subject", "NO-SUCH-PERSON", "--run", run_id]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NO-SUCH-PERSON" in err and run_id in err
    assert cli(["explain", "--warehouse", built["wh"], "--subject", "NO-SUCH-PERSON"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NO-SUCH-PERSON" in err and built["second"]["run_id"] in err
    assert cli(["explain", "--warehouse", built["wh"], "--subject", "1", "--run", "run-missing"]) == 2
    assert "run-missing" in capsys.readouterr().err


def test_a_stored_row_the_rules_no_longer_give_exits_1(spark, built, tmp_path, capsys):
    """The run's record says one policy, its rows another: explain says so and fails."""
    copy = tmp_path / "wh"
    shutil.copytree(built["wh"], copy)
    first = built["first"]
    subject = next(r["subject_id"] for r in built["latest"]
                   if r["county"] == "SACRAMENTO" and r["determination"] != "Eligible for Dismissal")
    recorded = json.loads(first["policy_map"])
    recorded["SACRAMENTO"] = {"name": "dismiss-all"}
    DeltaTable.forPath(spark, str(copy / "runs")).update(
        F.col("run_id") == first["run_id"], {"policy_map": F.lit(json.dumps(recorded, sort_keys=True))})
    assert cli(["explain", "--warehouse", str(copy), "--subject", subject, "--run", first["run_id"]]) == 1
    out = capsys.readouterr()
    assert "DISAGREES with the stored row" in out.out and len(out.err.strip().splitlines()) == 1
    assert "disagrees with what the run stored" in out.err


def _policies() -> list[Policy]:
    every_option = {"options": OPTIONS}
    return [Policy.of(name, every_option if name == "configurable" else {}) for name in REGISTRY]


def test_every_rule_declares_the_known_facts_it_reads(spark):
    as_of = F.lit(AS_OF)
    used = set()
    for policy in _policies():
        for rule in policy.rules(as_of):
            catch_all = str(rule.when) == str(F.lit(True))
            assert rule.uses or catch_all, f"{rule.rule_id(policy.name)} declares no facts"
            unknown = [n for n in rule.uses if n not in FACTS]
            assert not unknown, f"{rule.rule_id(policy.name)} names unknown facts {unknown}"
            used |= set(rule.uses)
    assert set(FACTS) - used == set(), "facts no rule reads"
