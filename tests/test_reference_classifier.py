"""Conformance of the pure-Python reference classifier with the shared fixtures.

Compares by conviction (SUBJECT_ID, CNT_ORDER), never by line number: determination, reason,
the conviction's first row index, and (where the fixture has them) the 18 extra columns; plus the
summary figures except processingTimeInSeconds and CountSubjectsNoConvictionLast7Years.
"""

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

import reference_classifier as rc  # noqa: E402
from summary_keys import assert_summary_matches  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"

SAC = FIXTURES / "peer-configurable-sacramento"
LA = FIXTURES / "peer-los-angeles-2020"
SJ = FIXTURES / "peer-generated-san-joaquin"

LA_POLICY = {"name": "la-2020", "age": 50, "years": 10}

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")


def _options(folder: Path) -> dict:
    with open(folder / "eligibility_options.json") as fh:
        return json.load(fh)


def _expected_all_results(folder: Path):
    """(SUBJECT_ID, CNT_ORDER) -> (row_index, {extra column: value}) for decided rows."""
    with open(folder / "expected_all_results.csv", newline="") as fh:
        records = list(csv.reader(fh))
    header = records[0]
    extra = header[95:]
    decided, undecided_rows = {}, []
    for i, rec in enumerate(records[1:]):
        row = dict(zip(header, rec))
        if row["Eligibility Determination"] == "":
            undecided_rows.append(i)
            continue
        key = (row["SUBJECT_ID"], row["CNT_ORDER"])
        assert key not in decided, f"fixture decides {key} twice"
        decided[key] = (i, {c: row[c] for c in extra})
    return extra, decided, undecided_rows


def _assert_all_results(folder: Path, county: str, policy: dict, as_of: dt.date):
    rows = rc.read_rows(str(folder / "input.csv"))
    got = rc.classify(rows, county, policy, as_of)
    extra, expected, undecided = _expected_all_results(folder)
    assert set(got) == set(expected)
    mismatches = []
    for key, (row_index, cols) in expected.items():
        g = got[key]
        if g["row_index"] != row_index:
            mismatches.append((key, "row_index", g["row_index"], row_index))
        if (g["determination"], g["reason"]) != (cols["Eligibility Determination"],
                                                 cols["Eligibility Reason"]):
            mismatches.append((key, "decision", (g["determination"], g["reason"]),
                               (cols["Eligibility Determination"], cols["Eligibility Reason"])))
        for col in extra:
            if g[col] != cols[col]:
                mismatches.append((key, col, g[col], cols[col]))
    assert not mismatches, mismatches
    decided_rows = {g["row_index"] for g in got.values()}
    assert not decided_rows & set(undecided)
    return rows


def _assert_summary(folder: Path, rows, county: str, policy: dict, as_of: dt.date):
    with open(folder / "expected_summary.json") as fh:
        expected = json.load(fh)
    assert_summary_matches(rc.summarize(rows, county, policy, as_of), expected)


# ------------------------------------------------------------------ fixtures: Sacramento


def test_sacramento_determinations_and_facts():
    _assert_all_results(SAC, "SACRAMENTO", _options(SAC), dt.date(2019, 11, 11))


def test_sacramento_summary():
    rows = rc.read_rows(str(SAC / "input.csv"))
    _assert_summary(SAC, rows, "SACRAMENTO", _options(SAC), dt.date(2019, 11, 11))


# ------------------------------------------------------------------ fixtures: Los Angeles 2020


def test_los_angeles_2020_determinations_and_facts():
    _assert_all_results(LA, "LOS ANGELES", LA_POLICY, dt.date(2019, 11, 11))


# ------------------------------------------------------------------ fixtures: San Joaquin


def test_san_joaquin_determinations():
    rows = rc.read_rows(str(SJ / "input.csv"))
    got = rc.classify(rows, "SAN JOAQUIN", _options(SJ), dt.date(2020, 7, 1))
    with open(SJ / "expected_determinations.csv", newline="") as fh:
        expected = list(csv.DictReader(fh))
    exp = {(e["SUBJECT_ID"], e["CNT_ORDER"]): e for e in expected}
    assert len(exp) == len(expected)
    assert set(got) == set(exp)
    mismatches = [
        (k, got[k]["row_index"], got[k]["determination"], got[k]["reason"], e)
        for k, e in exp.items()
        if (got[k]["row_index"], got[k]["determination"], got[k]["reason"])
        != (int(e["row_index"]), e["Eligibility Determination"], e["Eligibility Reason"])
    ]
    assert not mismatches, mismatches[:10]


def test_san_joaquin_summary():
    rows = rc.read_rows(str(SJ / "input.csv"))
    _assert_summary(SJ, rows, "SAN JOAQUIN", _options(SJ), dt.date(2020, 7, 1))


# ------------------------------------------------------------------ project departures


def _row(index, subject="1", cnt="101001001000", offense="11358 HS-CULTIVATE", disp="CONVICTED",
         stat="FELONY", date="20100101", dob="19800101", county="SACRAMENTO",
         stp="COURT ACTION", sent_len="", sent_code="", comment="", ofn=""):
    r = {c: "" for c in rc.COLUMNS}
    r.update({
        "SUBJECT_ID": subject, "CNT_ORDER": cnt, "OFFENSE_DESCR": offense, "DISP_DESCR": disp,
        "CONV_STAT_DESCR": stat, "STP_EVENT_DATE": date, "PRI_DOB": dob,
        "STP_ORI_CNTY_NAME": county, "STP_TYPE_DESCR": stp, "SENT_LENGTH": sent_len,
        "SENT_TIME_CODE": sent_code, "COMMENT_TEXT": comment, "OFN": ofn, "row_index": index,
    })
    return r


def test_anchored_code_section_matching():
    assert rc.prop64_section("664-11357 HS") == "11357"
    assert rc.prop64_section("664/11359(A) HS") == "11359"
    assert rc.prop64_section("66411360 HS") == "11360"
    assert rc.prop64_section("111357 HS") is None
    assert rc.prop64_section("11357.5 HS") is None
    assert rc.is_superstrike("37 PC")
    assert not rc.is_superstrike("537 PC")
    assert not rc.is_superstrike("1187 PC")
    assert rc.is_superstrike("664/187 PC")
    assert rc.is_pc290("266 PC")
    assert not rc.is_pc290("1266 PC")


def test_11357_subsection_without_parentheses_is_a_or_b():
    rows = [_row(0, offense="11357A HS-POSSESS", county="LOS ANGELES"),
            _row(1, cnt="101001002000", offense="11357B2 HS-POSSESS", county="LOS ANGELES"),
            _row(2, cnt="101001003000", offense="11357(C) HS-POSSESS", county="LOS ANGELES")]
    got = rc.classify(rows, "LOS ANGELES", LA_POLICY, dt.date(2019, 11, 11))
    assert got[("1", "101001001000")]["reason"] == "11357(a) or 11357(b)"
    assert got[("1", "101001002000")]["reason"] == "11357(a) or 11357(b)"
    assert got[("1", "101001003000")]["reason"] == "Other 11357"


def test_unusable_date_goes_to_hand_review():
    rows = [_row(0, date="20100000")]
    got = rc.classify(rows, "SACRAMENTO", _options(SAC), dt.date(2019, 11, 11))
    # 11358 felony is dismissed by section before any date is needed.
    assert got[("1", "101001001000")]["determination"] == rc.DISMISSAL
    rows = [_row(0, offense="11359 HS-SALE", date="20100000")]
    got = rc.classify(rows, "SACRAMENTO", _options(SAC), dt.date(2019, 11, 11))
    r = got[("1", "101001001000")]
    assert (r["determination"], r["reason"]) == (rc.HAND_REVIEW, rc.REASON_BAD_DISP_DATE)
    assert r["Years Since This Conviction"] == "-1"
    rows = [_row(0, offense="11359 HS-SALE", dob="")]
    got = rc.classify(rows, "SACRAMENTO", _options(SAC), dt.date(2019, 11, 11))
    assert got[("1", "101001001000")]["reason"] == rc.REASON_BAD_DOB


def test_sentence_continuation_keyed_by_subject_and_count():
    # Continuation of conviction A comes after conviction B in the file: the reference would
    # extend B (the last conviction); the project extends A (same CNT_ORDER).
    a, b = "101001001000", "101001002000"
    rows = [
        _row(0, cnt=a, offense="11358 HS-CULTIVATE", date="20120101", dob="19700101",
             county="LOS ANGELES", sent_len="1", sent_code="Y"),
        _row(1, cnt=b, offense="11359 HS-SALE", date="20120101", county="LOS ANGELES",
             dob="19700101", sent_len="1", sent_code="Y"),
        _row(2, cnt=a, offense="11358 HS-CULTIVATE", date="20120101", county="LOS ANGELES",
             dob="19700101", sent_len="20", sent_code="Y"),
    ]
    subjects = rc.build_subjects(rows)
    conv = {c.cnt_order: c for c in subjects["1"].convictions}
    assert conv[a].sentence_days == 21 * 366.0
    assert conv[b].sentence_days == 366.0
    got = rc.classify(rows, "LOS ANGELES", LA_POLICY, dt.date(2019, 11, 11))
    assert set(got) == {("1", a), ("1", b)}
    assert got[("1", a)]["row_index"] == 0
    assert got[("1", a)]["reason"] == "Currently serving sentence"
    # Same result whatever the row order.
    got2 = rc.classify([dict(r, row_index=i) for i, r in enumerate(reversed(rows))],
                       "LOS ANGELES", LA_POLICY, dt.date(2019, 11, 11))
    assert {k: v["reason"] for k, v in got2.items()} == {k: v["reason"] for k, v in got.items()}


def test_calendar_year_arithmetic():
    assert rc.add_years(dt.date(2000, 2, 29), 1) == dt.date(2001, 3, 1)
    assert rc.add_years(dt.date(2000, 2, 29), 4) == dt.date(2004, 2, 29)
    assert rc.add_years(dt.date(2020, 7, 1), -10) == dt.date(2010, 7, 1)


def test_options_out_of_range_rejected():
    bad = {"baselineEligibility": {"dismiss": ["11357"], "reduce": []},
           "additionalRelief": {"subjectAgeThreshold": 30}}
    with pytest.raises(ValueError):
        rc.classify([], "SACRAMENTO", bad, dt.date(2019, 11, 11))


# ------------------------------------------------------------------ statutory and what-if policies

STATUTORY = {"name": "statutory"}
AS_OF = dt.date(2019, 11, 11)


def _decision(rows, policy, key=("1", "101001001000"), county="SACRAMENTO"):
    r = rc.classify(rows, county, policy, AS_OF)[key]
    return r["determination"], r["reason"]


def test_statutory_first_match():
    cnt = "101001001000"
    # 1. on or after 2016-11-09 (even a misdemeanor, even with a bad DOB)
    assert _decision([_row(0, date="20161109", stat="MISDEMEANOR", dob="")], STATUTORY) == (
        rc.NOT_ELIGIBLE, "Occurred after 11/09/2016")
    assert _decision([_row(0, date="20161108", stat="MISDEMEANOR")], STATUTORY) == (
        rc.DISMISSAL, "Misdemeanor or Infraction")
    # 2. unusable dates: disposition first, then DOB
    assert _decision([_row(0, date="00000000", dob="")], STATUTORY) == (
        rc.HAND_REVIEW, rc.REASON_BAD_DISP_DATE)
    assert _decision([_row(0, dob="19870000", stat="MISDEMEANOR")], STATUTORY) == (
        rc.HAND_REVIEW, rc.REASON_BAD_DOB)
    # a date of birth after the disposition date is unusable too (the statutory baseline only)
    assert _decision([_row(0, date="20100105", dob="20100106", stat="MISDEMEANOR")], STATUTORY) == (
        rc.HAND_REVIEW, rc.REASON_BAD_DOB)
    assert _decision([_row(0, date="20100105", dob="20100105", stat="MISDEMEANOR")], STATUTORY) == (
        rc.DISMISSAL, "Misdemeanor or Infraction")
    # 4. felony 11357
    assert _decision([_row(0, offense="11357(C) HS-X")], STATUTORY) == (rc.DISMISSAL, "Felony HS 11357")
    # 6. plain felony 11358
    assert _decision([_row(0)], STATUTORY) == (rc.REDUCTION, "Reduce felony to misdemeanor")
    # 5a. prior super strike (strictly before; same day is not prior)
    ss = _row(1, cnt="102001001000", offense="187 PC-MURDER", date="20000101")
    assert _decision([_row(0), ss], STATUTORY) == (
        rc.HAND_REVIEW, "Prior super strike: felony may stand")
    assert _decision([_row(0), dict(ss, STP_EVENT_DATE="20100101")], STATUTORY) == (
        rc.REDUCTION, "Reduce felony to misdemeanor")
    # gang combination dated by the enhanceable offense
    gang = [_row(1, cnt="102001001000", offense="136.1 PC-X", date="20000101"),
            _row(2, cnt="102001002000", offense="186.22(B)(4) PC-GANG", date="20120101")]
    assert _decision([_row(0)] + gang, STATUTORY) == (
        rc.HAND_REVIEW, "Prior super strike: felony may stand")
    # 5b. prior PC 290 offense or registration
    assert _decision([_row(0), _row(1, cnt="102001001000", offense="266 PC-X", date="20000101",
                                    stat="MISDEMEANOR")], STATUTORY) == (
        rc.HAND_REVIEW, "Prior PC 290 offense: felony may stand")
    reg = _row(1, cnt="102001001000", offense="290 PC-REG", date="20000101", disp="",
               stp="REGISTRATION")
    assert _decision([_row(0), reg], STATUTORY) == (
        rc.HAND_REVIEW, "Prior PC 290 offense: felony may stand")
    assert _decision([_row(0), dict(reg, STP_EVENT_DATE="")], STATUTORY) == (
        rc.HAND_REVIEW, rc.REASON_BAD_OTHER_DATE)
    # 5c. two or more priors of the same section (attempts count; other sections do not)
    priors = [_row(1, cnt="102001001000", offense="664/11358 HS-X", date="20000101"),
              _row(2, cnt="103001001000", offense="11358(C) HS-X", date="20050101")]
    assert _decision([_row(0)] + priors, STATUTORY) == (
        rc.HAND_REVIEW, "Two or more priors of the same section: felony may stand")
    assert _decision([_row(0)] + priors[:1], STATUTORY) == (
        rc.REDUCTION, "Reduce felony to misdemeanor")
    assert _decision([_row(0), priors[0], dict(priors[1], OFFENSE_DESCR="11359 HS-X")],
                     STATUTORY) == (rc.REDUCTION, "Reduce felony to misdemeanor")
    assert _decision([_row(0), priors[0], dict(priors[1], STP_EVENT_DATE="")], STATUTORY) == (
        rc.HAND_REVIEW, rc.REASON_BAD_OTHER_DATE)
    assert cnt == "101001001000"


def test_dismiss_all_and_related():
    rows = [
        _row(0, offense="11358 HS-CULTIVATE"),
        _row(1, cnt="101001002000", offense="11364 HS-PARAPHERNALIA", stat="MISDEMEANOR"),
        _row(2, cnt="101001003000", offense="647(F) PC-DRUNK", stat="MISDEMEANOR"),
        _row(3, cnt="101001004000", offense="459 PC-BURGLARY"),
        _row(4, cnt="101001005000", offense="11364 HS-PARAPHERNALIA", county="YOLO"),
        _row(5, cnt="101001006000", offense="148.5 PC-X"),
        _row(6, cnt="101001002000", offense="11364 HS-PARAPHERNALIA", sent_len="3",
             sent_code="M"),  # continuation: not a second conviction
    ]
    got = rc.classify(rows, "SACRAMENTO", {"name": "dismiss-all"}, AS_OF)
    assert {k: (v["determination"], v["reason"]) for k, v in got.items()} == {
        ("1", "101001001000"): (rc.DISMISSAL, "Dismiss all Prop 64 charges")}
    got = rc.classify(rows, "SACRAMENTO", {"name": "dismiss-all-related"}, AS_OF)
    related = (rc.DISMISSAL, "Dismiss all Prop 64 and related charges")
    assert {k: (v["determination"], v["reason"]) for k, v in got.items()} == {
        ("1", "101001001000"): (rc.DISMISSAL, "Dismiss all Prop 64 charges"),
        ("1", "101001002000"): related,
        ("1", "101001003000"): related,
    }
    assert got[("1", "101001002000")]["# of convictions on record"] == "6"
    assert got[("1", "101001002000")]["row_index"] == 1
    summary = rc.summarize(rows, "SACRAMENTO", {"name": "dismiss-all-related"}, AS_OF)
    assert summary["convictionDismissalCountByCodeSection"] == {}
    assert summary["convictionDismissalCountByAdditionalRelief"] == {
        "Dismiss all Prop 64 and related charges": 2, "Dismiss all Prop 64 charges": 1}


def test_related_charge_matching_is_anchored():
    for text in ("11364 HS", "11364HS", "647(F) PC", "647(F)(2) PC", "148.9 PC", "148 PC",
                 "1320(B) PC", "664/602 PC", "40508(A) VC", "4140 BP", "11550(A) HS"):
        assert rc.is_related(text), text
    for text in ("647 PC", "647(B) PC", "148.5 PC", "11364.1 HS", "6020 PC", "602 HS",
                 "1602 PC", "11357 HS"):
        assert not rc.is_related(text), text


def test_configurable_no_rule_goes_to_hand_review():
    options = {"baselineEligibility": {"dismiss": ["11357"], "reduce": ["11360"]},
               "additionalRelief": {}}
    assert _decision([_row(0, offense="11359 HS-SALE")], options) == (
        rc.HAND_REVIEW, "No applicable eligibility criteria")


def test_unknown_policy_name_rejected():
    with pytest.raises(ValueError):
        rc.classify([_row(0)], "SACRAMENTO", {"name": "nope"}, AS_OF)


def test_attempt_written_with_dash_keeps_its_section():
    assert rc.code_section_text({"OFFENSE_DESCR": "664-11359 HS-SALE"}) == "664-11359 HS"
    assert rc.code_section_text({"OFFENSE_DESCR": "664 PC-ATTEMPT"}) == "664 PC"
    assert rc.code_section_text({"OFFENSE_DESCR": " ", "COMMENT_TEXT": "182-11360 HS-X"}) == "182-11360 HS"
    got = rc.classify([_row(0, offense="664-11359 HS-SALE")], "SACRAMENTO", STATUTORY, AS_OF)
    assert got[("1", "101001001000")]["# of HS 11359 convictions"] == "1"
