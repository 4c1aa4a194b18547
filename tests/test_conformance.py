"""Conformance with the reference tool: `run` reproduces every fixture determination, reason and
summary figure (except the two keys shared/fixtures/README.md names)."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest

from clearsweep.outputs.warehouse import Warehouse
from clearsweep.sweep import run_job
from summary_keys import assert_summary_matches, without_excluded_relief


CASES = {
    "peer-configurable-sacramento": ("SACRAMENTO", "eligibility_options.json", dt.date(2019, 11, 11)),
    "peer-los-angeles-2020": ("LOS ANGELES", "la-2020", dt.date(2019, 11, 11)),
    "peer-generated-san-joaquin": ("SAN JOAQUIN", "eligibility_options.json", dt.date(2020, 7, 1)),
}


def _expected_by_conviction(case_dir) -> dict[tuple[str, str], tuple[str, str]]:
    """(SUBJECT_ID, CNT_ORDER) -> (determination, reason) of every decided conviction."""
    if (case_dir / "expected_all_results.csv").exists():
        with open(case_dir / "expected_all_results.csv", newline="") as f:
            return {
                (r["SUBJECT_ID"], r["CNT_ORDER"]): (r["Eligibility Determination"], r["Eligibility Reason"])
                for r in csv.DictReader(f) if r["Eligibility Determination"]
            }
    with open(case_dir / "input.csv", newline="") as f:
        inputs = list(csv.DictReader(f))
    expected = {}
    with open(case_dir / "expected_determinations.csv", newline="") as f:
        for r in csv.DictReader(f):
            row = inputs[int(r["row_index"])]  # row_index: 0-based data row, header excluded
            assert (row["SUBJECT_ID"], row["CNT_ORDER"]) == (r["SUBJECT_ID"], r["CNT_ORDER"])
            expected[(r["SUBJECT_ID"], r["CNT_ORDER"])] = (r["Eligibility Determination"], r["Eligibility Reason"])
    return expected


@pytest.fixture(scope="module")
def runs(spark, fixtures_dir, tmp_path_factory):
    """Each fixture run once into its own warehouse."""
    out = {}
    for case, (county, policy, as_of) in CASES.items():
        case_dir = fixtures_dir / case
        warehouse = str(tmp_path_factory.mktemp(case))
        policy_arg = str(case_dir / policy) if policy.endswith(".json") else policy
        result = run_job(spark, [str(case_dir / "input.csv")], warehouse, as_of, [county], policy_arg)
        out[case] = (case_dir, county, warehouse, result)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_determination_and_reason_matches_the_reference(spark, runs, case):
    case_dir, county, warehouse, _ = runs[case]
    expected = _expected_by_conviction(case_dir)
    dets = Warehouse(warehouse).read_county(spark, "determinations", county)
    got = {(r["subject_id"], r["cnt_order"]): (r["determination"], r["reason"]) for r in dets.collect()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    assert not missing and not extra and not wrong, (
        f"missing {missing[:5]}, not decided by the reference {extra[:5]}, "
        f"different {[(k, expected[k], got[k]) for k in wrong[:5]]}"
    )
    assert len(got) > 0


@pytest.mark.parametrize("case", ["peer-configurable-sacramento", "peer-generated-san-joaquin"])
def test_summary_figures_match_the_reference(spark, runs, case):
    case_dir, county, warehouse, result = runs[case]
    expected = json.loads((case_dir / "expected_summary.json").read_text())
    row = Warehouse(warehouse).read(spark, "figures").where(
        f"run_id = '{result['run_id']}' AND county = '{county}'").first()
    assert_summary_matches(json.loads(row["summary_json"]), expected)


def test_los_angeles_relief_figures_match_the_reference(spark, runs):
    case_dir, county, warehouse, result = runs["peer-los-angeles-2020"]
    expected = json.loads((case_dir / "expected_summary.json").read_text())
    row = Warehouse(warehouse).read(spark, "figures").where(f"county = '{county}'").first()
    got = json.loads(row["summary_json"])
    for key in ("reliefWithCurrentEligibilityChoices", "reliefWithDismissAllProp64"):
        assert without_excluded_relief(got[key]) == without_excluded_relief(expected[key]), key
    assert got["convictionDismissalCountByAdditionalRelief"] == expected["convictionDismissalCountByAdditionalRelief"]


def test_every_determination_explains_itself(spark, runs):
    for case_dir, county, warehouse, _ in runs.values():
        dets = Warehouse(warehouse).read_county(spark, "determinations", county)
        unexplained = dets.where("rule IS NULL OR statute IS NULL OR reason IS NULL OR reason = ''").count()
        assert unexplained == 0, county
