"""Property test: the Spark engine decides exactly like the pure-Python reference classifier.

Thousands of seeded random people (tests/people_gen.py) across several counties; for every policy
the classifier runs per county and the engine runs once over all counties, and the maps
(county, SUBJECT_ID, CNT_ORDER) -> (row_index, determination, reason, the 18 facts) must be
identical. The engine's output must also not depend on the list order of the rows (row_index
kept), on spark.sql.shuffle.partitions, or on how many input files the rows are split into.

One engine call per policy plus one for the invariance check (two more only to diagnose a
failure); results are cached per module.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from pathlib import Path

import pytest

import people_gen as pg  # noqa: E402
import reference_classifier as rc  # noqa: E402

AS_OF = dt.date(2019, 11, 11)
N_PEOPLE = int(os.environ.get("CLEARSWEEP_PROPERTY_PEOPLE", "2000"))
SEED = 64_2016
SHUFFLE_SEED = 1109

OPTIONS_FILE = (Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
                / "peer-configurable-sacramento" / "eligibility_options.json")


def _fixture_options() -> dict:
    if OPTIONS_FILE.is_file():
        with open(OPTIONS_FILE) as fh:
            return json.load(fh)
    return {  # the same content, should the shared fixtures be absent
        "baselineEligibility": {"dismiss": ["11357", "11358"], "reduce": ["11359", "11360"]},
        "additionalRelief": {"subjectUnder21AtConviction": True, "subjectAgeThreshold": 57,
                             "yearsSinceConvictionThreshold": 10, "subjectIsDeceased": True,
                             "subjectHasOnlyProp64Charges": True},
    }


def _crime_free_variant() -> dict:
    options = copy.deepcopy(_fixture_options())
    options["additionalRelief"]["yearsCrimeFreeThreshold"] = 5
    options["additionalRelief"]["subjectAgeThreshold"] = 0
    return options


def _sparse_variant() -> dict:
    """Leaves some felonies without any matching rule ("No applicable eligibility criteria")."""
    return {"baselineEligibility": {"dismiss": ["11357"], "reduce": ["11360"]},
            "additionalRelief": {"subjectUnder21AtConviction": True, "subjectAgeThreshold": 65,
                                 "yearsSinceConvictionThreshold": 0, "yearsCrimeFreeThreshold": 7,
                                 "subjectHasOnlyProp64Charges": False, "subjectIsDeceased": True}}


POLICIES = {
    "configurable": _fixture_options(),
    "configurable-crime-free-5": _crime_free_variant(),
    "configurable-sparse": _sparse_variant(),
    "la-2020": {"name": "la-2020", "age": 50, "years": 10},
    "statutory": {"name": "statutory"},
    "dismiss-all": {"name": "dismiss-all"},
    "dismiss-all-related": {"name": "dismiss-all-related"},
}
INVARIANCE_POLICY = "la-2020"  # uses sentences, continuations, dates of other convictions

FIELDS = ["row_index"] + rc.FACT_COLUMNS


# ------------------------------------------------------------------ data and runs


@pytest.fixture(scope="module")
def people_rows():
    return pg.generate(N_PEOPLE, SEED, as_of=AS_OF)


@pytest.fixture(scope="module")
def expected(people_rows):
    """policy name -> {(county, SUBJECT_ID, CNT_ORDER): {field: value}} from the classifier."""
    subjects = rc.build_subjects(people_rows)
    counties = sorted({(r["STP_ORI_CNTY_NAME"] or "").strip().upper() for r in people_rows} - {""})
    out = {}
    for name, policy in POLICIES.items():
        decided = {}
        for county in counties:
            for (sid, cnt), r in rc.classify(people_rows, county, policy, AS_OF,
                                             _subjects=subjects).items():
                decided[(county, sid, cnt)] = {f: _norm(r[f]) for f in FIELDS}
        out[name] = decided
    return out


@pytest.fixture(scope="module")
def engine(spark):
    from harness import decide_rows  # the engine under test, through the real read path

    cache = {}

    def run(name, rows, variant="base", **kwargs):
        key = (name, variant)
        if key not in cache:
            out = decide_rows(spark, rows, POLICIES[name], AS_OF, **kwargs)
            cache[key] = _engine_map(out)
        return cache[key]

    return run


def _norm(value) -> str:
    """Values as the CSV export would write them."""
    return "" if value is None else str(value)


def _engine_map(out):
    result, duplicates = {}, []
    for r in out:
        key = ((r["county"] or "").strip().upper(), r["SUBJECT_ID"], r["CNT_ORDER"])
        if key in result:
            duplicates.append(key)
        result[key] = {f: _norm(r.get(f, "<missing>")) for f in FIELDS}
    assert not duplicates, f"engine decided {len(duplicates)} convictions twice: {duplicates[:5]}"
    return result


# ------------------------------------------------------------------ comparison


def _person_rows(rows, subject_id):
    """The person's input rows, non-empty columns only (for a minimal failing example)."""
    keep = ("row_index", "SUBJECT_ID", "PRI_DOB", "STP_EVENT_DATE", "STP_TYPE_DESCR",
            "STP_ORI_CNTY_NAME", "CNT_ORDER", "OFN", "OFFENSE_DESCR", "OFFENSE_TOC",
            "DISP_DESCR", "CONV_STAT_DESCR", "SENT_LENGTH", "SENT_TIME_CODE", "COMMENT_TEXT")
    return [{k: r[k] for k in keep if r.get(k) not in ("", None)}
            for r in sorted(rows, key=lambda r: r["row_index"]) if r["SUBJECT_ID"] == subject_id]


def _differences(expected, got, limit=8):
    diffs = []
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    for key in missing[:limit]:
        diffs.append((key, "missing from engine", expected[key]["Eligibility Determination"],
                      expected[key]["Eligibility Reason"]))
    for key in extra[:limit]:
        diffs.append((key, "not decided by classifier", got[key]["Eligibility Determination"],
                      got[key]["Eligibility Reason"]))
    n_value = 0
    for key in sorted(set(expected) & set(got)):
        e, g = expected[key], got[key]
        fields = [f for f in FIELDS if e[f] != g[f]]
        if fields:
            n_value += 1
            if n_value <= limit:
                diffs.append((key, {f: {"classifier": e[f], "engine": g[f]} for f in fields}))
    return diffs, len(missing), len(extra), n_value


def _assert_same(expected, got, rows, what):
    diffs, n_missing, n_extra, n_value = _differences(expected, got)
    if not diffs:
        return
    first_key = diffs[0][0]
    lines = [f"{what}: {n_missing} missing, {n_extra} extra, {n_value} with different values "
             f"(of {len(expected)} expected)"]
    lines += [repr(d) for d in diffs]
    if rows is not None:
        lines.append(f"input rows of subject {first_key[1]}:")
        lines += [repr(r) for r in _person_rows(rows, first_key[1])]
    pytest.fail("\n".join(lines), pytrace=False)


# The run compared with the classifier; the invariance policy's run is the 1-partition, 1-file
# baseline of the invariance check (saves an engine call).
BASE_RUN = {"shuffle_partitions": 1, "n_files": 1}


@pytest.mark.parametrize("name", list(POLICIES))
def test_engine_matches_classifier(name, people_rows, expected, engine):
    assert expected[name], "the generator should produce decisions for every policy"
    got = engine(name, people_rows, "base", **(BASE_RUN if name == INVARIANCE_POLICY else {}))
    _assert_same(expected[name], got, people_rows, f"policy {name}")


def test_generated_people_cover_the_rules(expected):
    """Guard against a generator that silently stops exercising the interesting rules."""
    reasons = {name: {v["Eligibility Reason"] for v in decided.values()}
               for name, decided in expected.items()}
    for reason in ("Prior super strike: felony may stand", "Prior PC 290 offense: felony may stand",
                   "Two or more priors of the same section: felony may stand",
                   "Unusable date on another conviction", "Unusable disposition date",
                   "Unusable date of birth", "Reduce felony to misdemeanor", "Felony HS 11357"):
        assert reason in reasons["statutory"], reason
    for reason in ("PC 667(e)(2)(c)(iv)", "PC 290", "Two priors", "Currently serving sentence",
                   "Only has 11357-60 charges and completed sentence", "Deceased",
                   "No convictions in past 10 years", "21 years or younger", "50 years or older"):
        assert reason in reasons["la-2020"], reason
    assert "No convictions in the past 5 years" in reasons["configurable-crime-free-5"]
    assert "No applicable eligibility criteria" in reasons["configurable-sparse"]
    assert "Dismiss all Prop 64 and related charges" in reasons["dismiss-all-related"]
    supers = {v["Superstrike Code Section(s)"] for v in expected["statutory"].values()}
    assert any(" + 186.22(B)(4) PC" in s for s in supers)
    assert any(v["Possible Other P64 Charges"] for v in expected["statutory"].values())


# ------------------------------------------------------------------ invariance


def test_engine_invariant_to_row_order_partitions_and_files(people_rows, engine):
    """Shuffled list order (row_index kept) + 7 shuffle partitions + 3 input files gives the same
    output as in order + 1 partition + 1 file. On a difference, two more runs say which of the
    three changes causes it."""
    name = INVARIANCE_POLICY
    base = engine(name, people_rows, "base", **BASE_RUN)
    assert base
    rows_shuffled = pg.shuffled(people_rows, SHUFFLE_SEED)
    other = engine(name, rows_shuffled, "shuffled-sp7-files3", shuffle_partitions=7, n_files=3)
    if _differences(base, other)[0]:
        in_order = engine(name, people_rows, "sp7-files3", shuffle_partitions=7, n_files=3)
        shuffled_only = engine(name, rows_shuffled, "shuffled", **BASE_RUN)
        causes = []
        if _differences(base, in_order)[0]:
            causes.append("7 shuffle partitions / 3 files (rows in order)")
        if _differences(base, shuffled_only)[0]:
            causes.append("row list order (row_index kept; 1 partition, 1 file)")
        _assert_same(base, other, people_rows,
                     "shuffled rows, 7 shuffle partitions, 3 files vs in order, 1 partition, 1 file "
                     f"[differs with: {'; '.join(causes) or 'only the combination'}]")
