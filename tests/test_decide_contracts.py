"""Contracts of the decide layer: one "last 7 years", any session's case sensitivity, the policy
registry and its validated parameters, a run that leaves no cached data behind."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from harness import decide_rows
from people_gen import generate

from clearsweep import counties as county_list
from clearsweep.decide.policies import REGISTRY, Policy
from clearsweep.decide.policy_files import load_policy_map
from clearsweep.errors import UserError
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.sweep import run_job

REPO = Path(__file__).resolve().parent.parent
LEAP_DAY = dt.date(2020, 2, 29)


def conviction(subject: str, cnt: str, date: str, offense: str, county: str = "SACRAMENTO", felony: bool = False, **extra) -> dict:
    return {"SUBJECT_ID": subject, "CNT_ORDER": cnt, "STP_EVENT_DATE": date, "STP_TYPE_DESCR": "COURT ACTION",
            "STP_ORI_CNTY_NAME": county, "DISP_DESCR": "CONVICTED", "OFFENSE_DESCR": offense,
            "CONV_STAT_DESCR": "FELONY" if felony else "MISDEMEANOR", "PRI_DOB": "19700101", "OFN": f"CASE-{subject}", **extra}


def test_last_seven_years_is_one_calendar_definition(spark):
    """As of 2020-02-29 the window starts after 2013-03-01 (Feb 29 - 7 years = Mar 1) for the
    conviction's own flag and for the person's count alike."""
    rows = [
        {**conviction("10000001", "001001001000", "20130301", "11357(A) HS-POSSESS MARIJUANA"), "row_index": 0},
        {**conviction("10000002", "001001001000", "20130302", "11357(A) HS-POSSESS MARIJUANA"), "row_index": 1},
    ]
    decided = {r["subject_id"]: r for r in decide_rows(spark, rows, {"name": "statutory"}, LEAP_DAY, raw=True)}
    assert (decided["10000001"]["recent"], decided["10000001"]["person_recent_convictions"]) == (False, 0)
    assert (decided["10000002"]["recent"], decided["10000002"]["person_recent_convictions"]) == (True, 1)


def test_decides_alike_whatever_the_session_case_sensitivity(spark):
    rows = generate(60, seed=11)
    policy = {"name": "la-2020", "age": 50, "years": 10}
    previous = spark.conf.get("spark.sql.caseSensitive")
    try:
        spark.conf.set("spark.sql.caseSensitive", "true")
        sensitive = decide_rows(spark, rows, policy, dt.date(2019, 11, 11))
        spark.conf.set("spark.sql.caseSensitive", "false")
        insensitive = decide_rows(spark, rows, policy, dt.date(2019, 11, 11))
    finally:
        spark.conf.set("spark.sql.caseSensitive", previous)
    key = lambda r: (r["county"], r["SUBJECT_ID"], r["CNT_ORDER"])  # noqa: E731
    assert sensitive, "the sample decided nothing"
    assert sorted(insensitive, key=key) == sorted(sensitive, key=key)


def _write(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DOJ_COLUMNS)
        for r in rows:
            w.writerow([r.get(c, "") for c in DOJ_COLUMNS])
    return path


def test_a_run_leaves_nothing_cached(spark, tmp_path):
    extract = _write(generate(40, seed=3), tmp_path / "in" / "extract.csv")
    cached = lambda: spark.sparkContext._jsc.sc().getPersistentRDDs().size()  # noqa: E731
    before = cached()
    run_job(spark, [str(extract)], str(tmp_path / "wh"), dt.date(2019, 11, 11), ["SACRAMENTO", "YOLO"], "statutory")
    assert cached() == before


def test_configurable_felony_no_rule_covers_goes_to_review_and_is_counted(spark, tmp_path):
    """A departure from the reference (it left these blank): Hand Review, counted as such."""
    options = tmp_path / "options.json"
    options.write_text('{"baselineEligibility": {"dismiss": ["11357"], "reduce": []}, "additionalRelief": {}}')
    rows = [conviction("10000001", "001001001000", "20100105", "11359 HS-POSSESS MARIJUANA FOR SALE", felony=True),
            conviction("10000002", "001001001000", "20100105", "11357(A) HS-POSSESS MARIJUANA", felony=True)]
    extract = _write(rows, tmp_path / "in" / "extract.csv")
    result = run_job(spark, [str(extract)], str(tmp_path / "wh"), dt.date(2019, 11, 11), ["SACRAMENTO"], str(options))
    figures = result["figures"]["SACRAMENTO"]
    assert figures["extended"]["humanReviewCountByReason"] == {"No applicable eligibility criteria": 1}
    assert figures["summary"]["convictionDismissalCountByCodeSection"] == {"11357": 1}
    assert figures["summary"]["convictionDismissalCountByAdditionalRelief"] == {}


# ---------------------------------------------------------------- the policy registry


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_policy_builds_its_rules_from_an_explicit_as_of(spark, name):
    from pyspark.sql import functions as F

    params = {"options": {}} if name == "configurable" else {}
    policy = Policy.of(name, params)
    rules = policy.rules(F.lit(LEAP_DAY))
    assert rules and len({r.name for r in rules}) == len(rules)
    assert Policy.from_key(json.loads(policy.key())) == policy


def test_policy_names_are_spelled_only_in_the_registry():
    """Modules ask the registry (kind attributes) instead of matching policy names."""
    offenders = []
    for path in [*REPO.glob("clearsweep/**/*.py"), *REPO.glob("jobs/*.py")]:
        if path.name in ("policies.py",) or "synth" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for name in REGISTRY:
            if re.search(rf"[\"']{re.escape(name)}[\"']", text):
                offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == []


@pytest.mark.parametrize("yaml_text, named", [
    ("countys:\n  YOLO:\n    policy: statutory\n", "countys"),
    ("default:\n  policy: la-2020\n  yaers: 5\n", "yaers"),
    ("default:\n  policy: la-2020\n  age: 'fifty'\n", "age"),
    ("counties:\n  LOS ANGELAS:\n    policy: statutory\n", "LOS ANGELAS"),
    ("default:\n  policy: configurable\n  options:\n    baselineEligibility:\n      dismis: ['11357']\n", "dismis"),
    ("default:\n  policy: configurable\n  options:\n    additionalRelief:\n      subjectAgeThreshold: 30\n", "subjectAgeThreshold"),
    ("default:\n  policy: configurable\n  options:\n    baselineEligibility:\n      dismiss: ['11357']\n      reduce: ['11357']\n", "both"),
    ("- statutory\n", "mapping"),
    ("default:\n  policy: lenient\n", "lenient"),
    ("", "empty"),
    ("# only a comment\n", "empty"),
    ("counties:\n  YOLO:\n    policy: statutory\n  YOLO:\n    policy: la-2020\n", "'YOLO' is given twice"),
    ("counties:\n  Los Angeles:\n    policy: statutory\n  LOS ANGELES:\n    policy: la-2020\n", "LOS ANGELES is given twice"),
])
def test_policy_map_mistakes_are_one_line_errors_naming_the_key(tmp_path, yaml_text, named):
    path = tmp_path / "map.yaml"
    path.write_text(yaml_text)
    with pytest.raises(UserError) as caught:
        load_policy_map(str(path), county_list.resolve(None))
    message = str(caught.value)
    assert named in message and "\n" not in message


def test_options_json_accepts_numbers_for_sections(tmp_path):
    path = tmp_path / "options.json"
    path.write_text('{"baselineEligibility": {"dismiss": [11357, "11358"], "reduce": [11359]}, "additionalRelief": {"subjectAgeThreshold": 50}}')
    policy = load_policy_map(str(path), ["YOLO"]).by_county["YOLO"]
    assert policy.sections("dismiss") == ("11357", "11358") and policy.sections("reduce") == ("11359",)
    assert policy.as_dict()["additionalRelief"]["subjectAgeThreshold"] == 50


def test_padded_keys_are_one_person_and_one_conviction(spark):
    """' 10000001' is person 10000001: their prior super strike counts against the felony."""
    rows = [
        {**conviction("10000001", "002001001000", "20100105", "11359 HS-POSSESS MARIJUANA FOR SALE", felony=True), "row_index": 0},
        {**conviction(" 10000001 ", "001001001000", "20050105", "187 PC-MURDER", felony=True), "row_index": 1},
        {**conviction("10000001", " 002001001000", "20100105", "", felony=True, SENT_LENGTH="2", SENT_TIME_CODE="Y"), "row_index": 2},
    ]
    decided = decide_rows(spark, rows, {"name": "statutory"}, dt.date(2019, 11, 11), raw=True)
    assert [(r["subject_id"], r["convictions_on_record"], r["reason"]) for r in decided] == [
        ("10000001", "2", "Prior super strike: felony may stand")]
