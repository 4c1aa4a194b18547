"""The figures a report needs and the impact report itself.

One generated statewide sample (plus a file of hand-made Los Angeles rows: a person carrying
canary personal values, a code section that cannot be read, unusable dates) is decided twice:
run A over all 58 counties under the default policy map, run B over three counties under
"dismiss all Prop 64 and related". The figures are checked against counts computed here, in
plain Python, from the determinations and the input files (run B's determinations give each
person's related convictions, so run A's what-if scenario is checked against a real run), and
the reports are rendered in headless Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import subprocess
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from clearsweep.counties import COUNTIES
from clearsweep.decide.rules import BAD_DISP_DATE, BAD_DOB, BAD_OTHER_DATE, DISMISSAL, HAND_REVIEW, REDUCTION
from clearsweep.errors import UserError
from clearsweep.outputs.figures import OTHER_RACE, RACES, STATEWIDE, TOTAL, coverage_label
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.reports import impact
from clearsweep.schema import DOJ_COLUMNS, personal_columns
from clearsweep.sweep import run_job
from jobs.cli import main as cli
from reference_classifier import code_section_text

AS_OF = dt.date(2019, 11, 11)
PARTIAL = ["FRESNO", "LOS ANGELES", "SAN DIEGO"]
CHROMIUM = "/usr/bin/chromium"
CANARIES = {"PRI_NAME": "QUILLFEATHER,ZENOBIA", "CII_NUMBER": "A90817263", "PRI_SSN": "579338214", "PRI_CDL": "N7719034",
            "PRI_DOB": "19580417", "FBI_NUMBER": "FBIQX0042", "REQ_NAME": "MARCHBANKS,OTTOLINE", "REQ_CII_NUMBER": "A55501234"}


def _row(subject: str, cnt: str, offense: str, **values) -> dict:
    return {c: "" for c in DOJ_COLUMNS} | {
        "SUBJECT_ID": subject, "CNT_ORDER": cnt, "STP_EVENT_DATE": "20100105", "STP_TYPE_DESCR": "COURT ACTION",
        "STP_ORI_CNTY_NAME": "LOS ANGELES", "DISP_DESCR": "CONVICTED", "OFFENSE_DESCR": offense, "CONV_STAT_DESCR": "FELONY",
        "OFN": "10CR0042", "PRI_NAME": "DOE,JANE", "PRI_DOB": "19700101", "RACE_DESCR": "WHITE", **values}


HAND_MADE = [
    # canary personal values on a person with a Prop 64 felony and a related misdemeanor in Los Angeles
    _row("99000001", "000000000001", "11359 HS-POSSESS MARIJUANA FOR SALE", **CANARIES),
    _row("99000001", "000000000002", "647(F) PC-DRUNK IN PUBLIC", CONV_STAT_DESCR="MISDEMEANOR", **CANARIES),
    # a conviction whose code section cannot be read, and one written with the code first
    _row("99000002", "000000000001", "POSSESS MARIJUANA"),
    _row("99000002", "000000000002", "HS 11357-POSSESS"),
    # unusable dates: a Prop 64 felony with no real disposition date; another with no real birth date
    _row("99000003", "000000000001", "11360(A) HS-TRANSPORT MARIJUANA", STP_EVENT_DATE="00000000"),
    _row("99000004", "000000000001", "11358 HS-CULTIVATE MARIJUANA", PRI_DOB="19991399"),
]
# a second file: a count the first file says is a conviction, said dismissed here (merged as one
# history: counted in data quality), and a conviction dated after the as-of date
HAND_MADE_2 = [
    _row("99000002", "000000000001", "POSSESS MARIJUANA", DISP_DESCR="DISMISSED"),
    _row("99000005", "000000000001", "11357(A) HS-POSSESS MARIJUANA", STP_EVENT_DATE="20200105", CONV_STAT_DESCR="MISDEMEANOR"),
]


# ---------------------------------------------------------------- the warehouse (built once)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_sample")
    assert cli(["generate", "--rows", "4000", "--seed", "64", "--bad-rows", "1", "--out", str(out)]) == 0
    for name, rows in (("hand_made.csv", HAND_MADE), ("hand_made_2.csv", HAND_MADE_2)):
        with open(out / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(DOJ_COLUMNS)
            for row in rows:
                w.writerow([row[c] for c in DOJ_COLUMNS])
    return out


@pytest.fixture(scope="module")
def runs(spark, sample, tmp_path_factory):
    wh = tmp_path_factory.mktemp("report_wh") / "wh"
    a = run_job(spark, [str(sample)], str(wh), AS_OF, None, None)
    b = run_job(spark, [str(sample)], str(wh), AS_OF, PARTIAL, "dismiss-all-related")
    return {"wh": str(wh), "A": a, "B": b}


def _table(spark, runs, table: str, run: str) -> list[dict]:
    w = Warehouse(runs["wh"])
    record = w.run_record(spark, run_id=runs[run]["run_id"])
    return [r.asDict() for r in w.read(spark, table, w.version_for(spark, table, record)).where(f"run_id = '{record['run_id']}'").collect()]


def _figures(spark, runs, run: str) -> dict:
    return {r["county"]: {"summary": json.loads(r["summary_json"]), "extended": json.loads(r["extended_json"])}
            for r in _table(spark, runs, "figures", run)}


@pytest.fixture(scope="module")
def tables(spark, runs):
    return {"detsA": _table(spark, runs, "determinations", "A"), "detsB": _table(spark, runs, "determinations", "B"),
            "figA": _figures(spark, runs, "A"), "figB": _figures(spark, runs, "B")}


# ---------------------------------------------------------------- counts computed here


def _people(dets: list[dict], related: dict) -> dict:
    """(county, subject) -> the person's counts, from determination rows; `related`: (county,
    subject) -> [(felony, recent)] of their related convictions there."""
    out: dict = {}
    for d in dets:
        p = out.get((d["county"], d["subject_id"]))
        if p is None:
            p = out[(d["county"], d["subject_id"])] = Counter()
            p.update(felonies=d["person_felonies"], convictions=d["person_convictions"], recent=d["person_recent_convictions"])
        p["race_text"] = d["race"]
        det, felony, recent, p64 = d["determination"], d["felony"], d["recent"], d["is_prop64"]
        p["dismissed"] += det == DISMISSAL
        p["reduced"] += det == REDUCTION
        p["felonies_relieved"] += det in (DISMISSAL, REDUCTION) and felony
        p["recent_dismissed"] += det == DISMISSAL and recent
        p["p64"] += bool(p64)
        p["p64_felonies"] += bool(p64 and felony)
        p["p64_recent"] += bool(p64 and recent)
    for key, p in out.items():
        rel = related.get(key, [])
        p["rel"], p["rel_felonies"], p["rel_recent"] = len(rel), sum(f for f, _ in rel), sum(r for _, r in rel)
    return out


def _merge_counties(people: dict) -> dict:
    """subject -> counts summed over the counties that decided them (statewide counts kept)."""
    out: dict = {}
    for (_, subject), p in people.items():
        m = out.setdefault(subject, {"felonies": p["felonies"], "convictions": p["convictions"], "recent": p["recent"],
                                     "race_text": p["race_text"]})
        for k in ("dismissed", "reduced", "felonies_relieved", "recent_dismissed", "p64", "p64_felonies", "p64_recent",
                  "rel", "rel_felonies", "rel_recent"):
            m[k] = m.get(k, 0) + p[k]
    return out


def _all(part: int, whole: int) -> bool:
    return whole > 0 and part == whole


def _expected_people(people) -> dict:
    ps = list(people)
    return {
        "chosenPolicy": {
            "peopleRelieved": sum(p["dismissed"] + p["reduced"] > 0 for p in ps),
            "peopleWithNoFelony": sum(_all(p["felonies_relieved"], p["felonies"]) for p in ps),
            "peopleWithNoConviction": sum(_all(p["dismissed"], p["convictions"]) for p in ps),
            "peopleWithNoConvictionLast7Years": sum(_all(p["recent_dismissed"], p["recent"]) for p in ps)},
        "dismissAllProp64": {
            "peopleRelieved": sum(p["p64"] > 0 for p in ps),
            "peopleWithNoFelony": sum(_all(p["p64_felonies"], p["felonies"]) for p in ps),
            "peopleWithNoConviction": sum(_all(p["p64"], p["convictions"]) for p in ps),
            "peopleWithNoConvictionLast7Years": sum(_all(p["p64_recent"], p["recent"]) for p in ps)},
        "dismissAllProp64AndRelated": {
            "peopleRelieved": sum(p["p64"] + p["rel"] > 0 for p in ps),
            "peopleWithNoFelony": sum(_all(p["p64_felonies"] + p["rel_felonies"], p["felonies"]) for p in ps),
            "peopleWithNoConviction": sum(_all(p["p64"] + p["rel"], p["convictions"]) for p in ps),
            "peopleWithNoConvictionLast7Years": sum(_all(p["p64_recent"] + p["rel_recent"], p["recent"]) for p in ps)},
    }


def _split(rows) -> dict:
    felony = sum(1 for r in rows if r["felony"])
    return {"felony": felony, "misdemeanor": len(rows) - felony, "total": len(rows)}


def _related(dets_b: list[dict]) -> dict:
    out: dict = defaultdict(list)
    for d in dets_b:
        if not d["is_prop64"]:
            out[(d["county"], d["subject_id"])].append((bool(d["felony"]), bool(d["recent"])))
    return out


def _race(text: str) -> str:
    t = (text or "").strip().upper()
    return t if t in RACES else OTHER_RACE


# ---------------------------------------------------------------- figures


def test_scenarios_match_counts_from_the_determinations_and_a_real_related_run(tables):
    dets, figures = tables["detsA"], tables["figA"]
    related = _related(tables["detsB"])
    checked = 0
    for county in PARTIAL:  # run B decided these: the related what-if of run A is checked against it
        rows = [d for d in dets if d["county"] == county]
        people = {k: p for k, p in _people(rows, related).items()}
        scen = figures[county]["extended"]["scenarios"]
        expected = _expected_people(people.values())
        for name in expected:
            assert {k: scen[name][k] for k in expected[name]} == expected[name], (county, name)
        assert scen["chosenPolicy"]["convictionsDismissed"] == _split([d for d in rows if d["determination"] == DISMISSAL])
        assert scen["chosenPolicy"]["convictionsReduced"] == _split([d for d in rows if d["determination"] == REDUCTION])
        assert scen["dismissAllProp64"]["convictionsDismissed"] == _split([d for d in rows if d["is_prop64"]])
        rel_rows = [{"felony": f} for k, p in related.items() if k[0] == county and k in people for f, _ in p]
        assert scen["dismissAllProp64AndRelated"]["convictionsDismissed"] == _split([d for d in rows if d["is_prop64"]] + rel_rows)
        checked += len(rows)
    assert checked > 50 and any(related), "the sample decides enough convictions, with related charges"
    # the canary person's related misdemeanor is dismissed only in the related scenario
    la = figures["LOS ANGELES"]["extended"]["scenarios"]
    assert la["dismissAllProp64AndRelated"]["convictionsDismissed"]["misdemeanor"] > la["dismissAllProp64"]["convictionsDismissed"]["misdemeanor"]


def test_every_county_and_the_total_count_people_as_computed_here(tables):
    dets, figures = tables["detsA"], tables["figA"]
    people = _people(dets, {})
    for county in COUNTIES:
        expected = _expected_people(p for (c, _), p in people.items() if c == county)
        got = figures[county]["extended"]["scenarios"]
        assert {k: got["chosenPolicy"][k] for k in expected["chosenPolicy"]} == expected["chosenPolicy"], county
        assert {k: got["dismissAllProp64"][k] for k in expected["dismissAllProp64"]} == expected["dismissAllProp64"], county
    # the total counts each person once, with the relief of all their counties together
    merged = _merge_counties(people)
    assert len(merged) < len(people), "someone is decided in two counties"
    total = figures[STATEWIDE]["extended"]
    expected = _expected_people(merged.values())
    for name in ("chosenPolicy", "dismissAllProp64"):
        assert {k: total["scenarios"][name][k] for k in expected[name]} == expected[name], name
    assert total["peopleWithProp64Conviction"] == sum(p["p64"] > 0 for p in merged.values())
    assert total["scenarios"]["chosenPolicy"]["convictionsDismissed"] == _split([d for d in dets if d["determination"] == DISMISSAL])
    # the reference summary of the total still adds up the counties, as before
    assert figures[STATEWIDE]["summary"]["subjectsWithSomeReliefCount"] == sum(
        figures[c]["summary"]["subjectsWithSomeReliefCount"] for c in COUNTIES)
    by_race: dict = defaultdict(lambda: {"withProp64Conviction": 0, "relieved": 0, "relievedWithProp64Conviction": 0})
    for p in merged.values():
        r = by_race[_race(p["race_text"])]
        r["withProp64Conviction"] += p["p64"] > 0
        r["relieved"] += p["dismissed"] + p["reduced"] > 0
        r["relievedWithProp64Conviction"] += p["p64"] > 0 and p["dismissed"] + p["reduced"] > 0
    assert total["peopleByRace"] == dict(sorted(by_race.items()))


def test_section_decade_race_and_review_figures(tables):
    dets, figures = tables["detsA"], tables["figA"]
    for key, rows in [("LOS ANGELES", [d for d in dets if d["county"] == "LOS ANGELES"]), (STATEWIDE, dets)]:
        x = figures[key]["extended"]
        by_section: dict = defaultdict(Counter)
        by_decade: dict = defaultdict(Counter)
        for d in rows:
            by_section[d["section"] if d["is_prop64"] else "related charges"][d["determination"]] += 1
            date = d["disposition_date"]
            by_decade[f"{date.year // 10 * 10}s" if date else "date unusable"][d["determination"]] += 1
        assert x["bySection"] == {k: dict(v) for k, v in by_section.items()}, key
        assert x["byDecade"] == {k: dict(v) for k, v in by_decade.items()}, key
        assert list(x["byDecade"])[-1] == "date unusable" or "date unusable" not in x["byDecade"]
        assert x["humanReviewCountByReason"] == dict(Counter(d["reason"] for d in rows if d["determination"] == HAND_REVIEW))
        assert x["prop64Convictions"] == _split([d for d in rows if d["is_prop64"]])
    la_people = _people([d for d in dets if d["county"] == "LOS ANGELES"], {})
    expected = defaultdict(lambda: {"withProp64Conviction": 0, "relieved": 0, "relievedWithProp64Conviction": 0})
    for p in la_people.values():
        expected[_race(p["race_text"])]["withProp64Conviction"] += p["p64"] > 0
        expected[_race(p["race_text"])]["relieved"] += p["dismissed"] + p["reduced"] > 0
        expected[_race(p["race_text"])]["relievedWithProp64Conviction"] += p["p64"] > 0 and p["dismissed"] + p["reduced"] > 0
    assert figures["LOS ANGELES"]["extended"]["peopleByRace"] == dict(sorted(expected.items()))


def _input_rows(sample: Path, with_file: bool = False) -> list:
    """The accepted rows of the input files (the generator lists the bad lines it wrote), in
    input order; with `with_file`, (file name, row) pairs."""
    bad = {(b["file"], b["line"]) for b in json.loads((sample / "bad_rows.json").read_text())["bad_rows"]}
    rows = []
    for path in sorted(sample.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):  # line by line: a bad line's quote must not swallow the next
                if line_no == 1 or (path.name, line_no) in bad:
                    continue
                row = dict(zip(DOJ_COLUMNS, next(csv.reader([line.rstrip("\n")]))))
                rows.append((path.name, row) if with_file else row)
    return rows


def _unusable(value: str) -> bool:
    try:
        dt.datetime.strptime(value.strip(), "%Y%m%d")
        return not re.fullmatch(r"[0-9]{8}", value.strip())
    except ValueError:
        return True


def test_data_quality_per_county_and_for_the_whole_input(tables, sample):
    figures = tables["figA"]
    expected: dict = defaultdict(Counter)
    by_count: dict = {}  # (subject, count) -> (county of its first row, files, dispositions)
    for file, row in _input_rows(sample, with_file=True):
        county = row["STP_ORI_CNTY_NAME"].strip().upper()
        _, files, disps = by_count.setdefault((row["SUBJECT_ID"].strip(), row["CNT_ORDER"].strip()), (county, set(), set()))
        files.add(file)
        disps.add(row["DISP_DESCR"].strip().upper())
        expected[county]["rowsDatedAfterAsOf"] += not _unusable(row["STP_EVENT_DATE"]) and row["STP_EVENT_DATE"].strip() > f"{AS_OF:%Y%m%d}"
        if not row["DISP_DESCR"].strip().startswith("CONVICTED"):
            continue
        text = code_section_text(row)
        blank = row["OFFENSE_DESCR"].strip() in ("", "SEE COMMENT FOR CHARGE") and not text.strip()
        counts = expected[county]
        counts["convictionsWithNoChargeWritten"] += blank
        # readable: a section number first (after an attempt prefix), as the charge-code spec writes them
        counts["convictionRowsWithUnrecognisedCodeSection"] += not blank and not re.match(r"\s*(?:(?:664|182)\s*[-/.+]?\s*)?[0-9]", text.upper())
        counts["convictionRowsWithUnusableDispositionDate"] += _unusable(row["STP_EVENT_DATE"])
        counts["convictionRowsWithUnusableDateOfBirth"] += _unusable(row["PRI_DOB"])
        counts["convictionRowsWithBirthAfterDisposition"] += (
            not _unusable(row["PRI_DOB"]) and not _unusable(row["STP_EVENT_DATE"]) and row["PRI_DOB"].strip() > row["STP_EVENT_DATE"].strip())
    conflicts = {key: county for key, (county, files, disps) in by_count.items() if len(files) > 1 and len(disps) > 1}
    for (subject, _), county in conflicts.items():
        expected[county]["countsWithConflictingDispositionsAcrossFiles"] += 1
        expected[county].setdefault("people", set()).add(subject)
    for counts in expected.values():
        counts["peopleWithConflictingDispositionsAcrossFiles"] = len(counts.pop("people", ()))
    keys = ("convictionsWithNoChargeWritten", "convictionRowsWithUnrecognisedCodeSection",
            "convictionRowsWithUnusableDispositionDate", "convictionRowsWithUnusableDateOfBirth",
            "convictionRowsWithBirthAfterDisposition", "rowsDatedAfterAsOf",
            "countsWithConflictingDispositionsAcrossFiles", "peopleWithConflictingDispositionsAcrossFiles")
    for county in COUNTIES:
        q = figures[county]["extended"]["dataQuality"]
        assert {k: q[k] for k in keys} == {k: expected[county][k] for k in keys}, county
    whole = figures[STATEWIDE]["extended"]["dataQuality"]
    assert {k: whole[k] for k in keys[:-1]} == {k: sum(c[k] for c in expected.values()) for k in keys[:-1]}
    assert whole["peopleWithConflictingDispositionsAcrossFiles"] == len({subject for subject, _ in conflicts})
    la = figures["LOS ANGELES"]["extended"]["dataQuality"]
    assert la["rowsDatedAfterAsOf"] >= 1 and la["countsWithConflictingDispositionsAcrossFiles"] >= 1  # the hand-made rows
    assert figures["LOS ANGELES"]["extended"]["dataQuality"]["convictionRowsWithUnrecognisedCodeSection"] >= 2  # the hand-made rows
    # quarantined lines by reason: the generator's own list of the bad lines it wrote
    bad = json.loads((sample / "bad_rows.json").read_text())["bad_rows"]
    assert whole["quarantinedLinesByReason"] == dict(Counter(b["kind"] for b in bad))
    assert whole["quarantinedLines"] == len(bad) and whole["quarantinedLinesAt"] == "run"
    # decided convictions sent to review for an unusable date, by reason
    dets = tables["detsA"]
    for key, rows in (("LOS ANGELES", [d for d in dets if d["county"] == "LOS ANGELES"]), (STATEWIDE, dets)):
        got = figures[key]["extended"]["dataQuality"]["determinationsWithUnusableDate"]
        assert got == {r: sum(1 for d in rows if d["reason"] == r) for r in (BAD_DISP_DATE, BAD_DOB, BAD_OTHER_DATE)}
    la = figures["LOS ANGELES"]["extended"]["dataQuality"]["determinationsWithUnusableDate"]
    assert la[BAD_DISP_DATE] >= 1 and la[BAD_DOB] >= 1  # the hand-made rows
    # decided convictions whose rows disagree on felony, and of people with a sentence row that has no conviction
    felony = lambda r: r["CONV_STAT_DESCR"].strip() == "FELONY" or (r["CONV_STAT_DESCR"].strip() == "" and r["OFFENSE_TOC"].strip() == "F")  # noqa: E731
    flags, sentences, convicted = defaultdict(set), defaultdict(set), defaultdict(set)
    for row in _input_rows(sample):
        key = (row["SUBJECT_ID"].strip(), row["CNT_ORDER"].strip())
        if row["DISP_DESCR"].strip().startswith("CONVICTED"):
            flags[key].add(felony(row))
            convicted[key[0]].add(key[1])
        elif row["SENT_LENGTH"].strip():
            sentences[key[0]].add(key[1])
    orphans = {p for p, counts in sentences.items() if counts - convicted[p]}
    for key, rows in (("LOS ANGELES", [d for d in dets if d["county"] == "LOS ANGELES"]), (STATEWIDE, dets)):
        q = figures[key]["extended"]["dataQuality"]
        assert q["decidedConvictionsWithConflictingFelonyFlags"] == sum(len(flags[(d["subject_id"], d["cnt_order"])]) > 1 for d in rows)
        assert q["decidedConvictionsOfPeopleWithSentenceRowsWithoutConviction"] == sum(d["subject_id"] in orphans for d in rows)


def test_an_unrecognised_code_section_is_one_normalize_cannot_read(spark, sample):
    """The data-quality count uses one regex over every conviction row; it must say exactly what
    the charge-code normaliser says, on the sample's texts and on hand-made edge cases."""
    from pyspark.sql import functions as F

    from clearsweep import codes

    texts = sorted({code_section_text(r) for r in _input_rows(sample) if r["DISP_DESCR"].strip().startswith("CONVICTED")})
    texts += ["664-HS 11357", "664 -X", "664-", "664", "664 X", "66411357", " 664/11357(A)", "182.5 PC", "HS11357", "11357HS",
              "\t11360 HS", "(A) 11357", "", "   ", "PC 647(F)", "664+ 11359", "18211357",
              "\t664", "\t664-11357", "\t66411357", "\t664 11357", " \t11357", "664\t11357", "664 - 11357 HS", "1823 PC"]
    df = spark.createDataFrame([(t,) for t in texts], "text string")
    got = df.select("text", (codes.normalize(F.col("text")).base != "").alias("normalised"),
                    codes.section_readable(F.col("text")).alias("readable")).collect()
    assert len(got) > 50
    assert [(r["text"], r["normalised"]) for r in got if r["normalised"] != r["readable"]] == []


def test_totals_say_what_they_cover(tables, runs):
    a, b = tables["figA"], tables["figB"]
    assert STATEWIDE in a and TOTAL not in a
    assert a[STATEWIDE]["extended"]["covers"] == sorted(COUNTIES)
    assert a[STATEWIDE]["extended"]["label"] == "California (all 58 counties)"
    assert set(b) == {*PARTIAL, TOTAL}, "a run of some counties stores no STATEWIDE row"
    assert b[TOTAL]["summary"]["county"] == TOTAL
    assert b[TOTAL]["extended"]["covers"] == PARTIAL
    assert b[TOTAL]["extended"]["label"] == "3 counties: FRESNO, LOS ANGELES, SAN DIEGO"
    assert b["LOS ANGELES"]["extended"]["label"] == "Los Angeles County"
    assert coverage_label(["LOS ANGELES"]) == "Los Angeles County"
    assert b[TOTAL]["extended"]["policies"] == {"dismiss-all-related": PARTIAL}
    # under "dismiss all and related" as the chosen policy, the related what-if is what it did
    scen = b[TOTAL]["extended"]["scenarios"]
    assert scen["chosenPolicy"] == scen["dismissAllProp64AndRelated"]
    assert runs["B"]["figures"][TOTAL] == b[TOTAL]


def test_run_summary_speaks_of_counties_and_people(runs, capsys):
    from jobs.run import print_summary

    print_summary(runs["B"])
    out = capsys.readouterr().out
    total = runs["B"]["figures"][TOTAL]["extended"]
    assert "covers 3 counties: FRESNO, LOS ANGELES, SAN DIEGO" in out
    assert f"for {total['peopleWithProp64Conviction']:,} people" in out
    assert f"{total['scenarios']['chosenPolicy']['peopleWithNoFelony']:,} people no longer have a felony" in out
    assert not re.search(r"\bv[0-9]+\b|version", out), "no Delta versions in the run summary"


def test_quarantine_of_a_raw_table_input_comes_from_its_ingests():
    from clearsweep.ingest.sources import Source

    files = [{"file": "a.csv", "quarantined_by_reason": {"field_count": 2}}, {"file": "b.csv", "quarantined_by_reason": {"quoting": 1, "field_count": 1}}]
    raw = Source([{"table": "wh/raw", "version": 3, "ingest_id": "ingest-1", "files": files}], 10, 0, None, None)
    assert raw.quarantined_by_reason() == {"byReason": {"field_count": 3, "quoting": 1}, "at": "ingest"}
    read = Source(files, 10, 4, None, None)
    assert read.quarantined_by_reason() == {"byReason": {"field_count": 3, "quoting": 1}, "at": "run"}


# ---------------------------------------------------------------- the report in a browser


class _Text(HTMLParser):
    """The text of a DOM, and the cards' number -> caption."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.cards: dict[str, str] = {}
        self._span = None
        self._n = None
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.attrs += [(k, v or "") for k, v in attrs]
        cls = dict(attrs).get("class", "")
        self._span = cls if tag == "span" and cls in ("n", "what") else None

    def handle_data(self, data):
        self.parts.append(data)
        if self._span == "n":
            self._n = data.strip()
        elif self._span == "what" and self._n is not None:
            self.cards[" ".join(data.split())] = self._n
            self._n = None

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package before the tests")
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _personal_values() -> list[str]:
    assert {c for c in CANARIES} <= set(personal_columns()), "the canaries are personal columns"
    return list(CANARIES.values())


@pytest.mark.parametrize("run, county", [("A", "LOS ANGELES"), ("B", None), ("A", None)])
def test_report_renders_in_chromium_with_the_headline_figures(spark, runs, tables, tmp_path, run, county):
    out = tmp_path / "report"
    args = ["report", "--warehouse", runs["wh"], "--out", str(out), "--run", runs[run]["run_id"]]
    assert cli(args + (["--county", county] if county else [])) == 0
    html_path = out / impact.REPORT_FILE
    html = html_path.read_text(encoding="utf-8")
    figures = tables["fig" + run]
    row = figures[county or (STATEWIDE if run == "A" else TOTAL)]["extended"]
    chosen = row["scenarios"]["chosenPolicy"]

    dom = _chromium(tmp_path, "--dump-dom", html_path.as_uri()).stdout
    page = _Text()
    page.feed(dom)
    text = page.text()
    assert row["label"] in text
    assert page.cards == {
        "convictions dismissed": f"{chosen['convictionsDismissed']['total']:,}",
        "convictions reduced": f"{chosen['convictionsReduced']['total']:,}",
        "people no longer have a felony": f"{chosen['peopleWithNoFelony']:,}",
        "people have no conviction left": f"{chosen['peopleWithNoConviction']:,}",
        "people have no conviction in the last 7 years": f"{chosen['peopleWithNoConvictionLast7Years']:,}",
    }
    assert f"{chosen['convictionsDismissed']['total']:,} conviction" in text and f"{chosen['convictionsReduced']['total']:,} reduced" in text
    assert runs[run]["run_id"] in text and "November 11, 2019" in text and runs[run]["policy_hash"] in text
    for scenario in row["scenarios"].values():  # the comparison table
        assert f"{scenario['convictionsDismissed']['total']:,}" in text and f"{scenario['peopleRelieved']:,}" in text
    for reason, n in row["humanReviewCountByReason"].items():
        assert reason in text
    # real charts, inline
    svgs = re.findall(r"<svg\b[^>]*>(.*?)</svg>", dom, flags=re.S)
    labels = re.findall(r'<svg\b[^>]*aria-label="([^"]+)"', dom)
    assert {"scenarios chart", "sections chart", "decades chart", "race chart"} <= set(labels)
    assert all(re.search(r"<path\b", s) for s in svgs)
    # offline: nothing refers to the network, no scripts
    for doc in (html, dom):
        assert not re.search(r"https?:", doc, flags=re.I)
        assert "<script" not in doc.lower() and "<link" not in doc.lower() and "<img" not in doc.lower()
    assert not [v for k, v in page.attrs if k in ("src", "href") and not v.startswith("#")]
    # no personal data
    assert [v for v in _personal_values() if v in html or v in dom] == []
    assert re.search(r"\bversion [0-9]+\b|\bv[0-9]+\b", text) is None, "no Delta versions in the body"

    pdf, png = tmp_path / "report.pdf", tmp_path / "report.png"
    _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html_path.as_uri())
    _chromium(tmp_path, "--hide-scrollbars", "--window-size=1200,2000", f"--screenshot={png}", html_path.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", data)) >= 3
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000


def test_write_impact_report_is_the_api_export_calls(spark, runs, tmp_path):
    path = impact.write_impact_report(spark, runs["wh"], tmp_path / "la", "LOS ANGELES")
    assert path == tmp_path / "la" / "impact_report.html" and path.is_file()
    # the latest run that decided the county is run B; the same figures make the same bytes
    first = path.read_bytes()
    assert runs["B"]["run_id"] in first.decode("utf-8")
    assert impact.write_impact_report(spark, runs["wh"], tmp_path / "la", "LOS ANGELES").read_bytes() == first
    assert f"{runs['A']['run_id']}" in impact.write_impact_report(spark, runs["wh"], tmp_path / "a", "LOS ANGELES",
                                                                  runs["A"]["run_id"]).read_text(encoding="utf-8")
    with pytest.raises(UserError, match="did not include YOLO"):
        impact.write_impact_report(spark, runs["wh"], tmp_path / "y", "YOLO", runs["B"]["run_id"])
    with pytest.raises(UserError, match="not recorded"):
        impact.write_impact_report(spark, runs["wh"], tmp_path / "n", None, "run-nope")


def test_a_personal_value_in_the_figures_is_refused_unnamed(spark, runs):
    data = impact.load(spark, runs["wh"], "LOS ANGELES", runs["A"]["run_id"])
    impact.check_no_personal_data(data)  # the figures as written pass
    for value in (CANARIES["PRI_NAME"], CANARIES["CII_NUMBER"], CANARIES["PRI_DOB"]):
        tampered = json.loads(json.dumps(data.row))
        tampered["extended"]["peopleByRace"][value] = {"withProp64Conviction": 1, "relieved": 1}
        with pytest.raises(ValueError) as err:
            impact.check_no_personal_data(impact.ReportData(data.run, data.key, tampered, data.total, data.versions))
        assert value not in str(err.value) and "peopleByRace" in str(err.value)
        tampered = json.loads(json.dumps(data.row))
        tampered["extended"]["humanReviewCountByReason"] = {"Unusable date of birth": 1, "x": value}
        with pytest.raises(ValueError):
            impact.check_no_personal_data(impact.ReportData(data.run, data.key, tampered, data.total, data.versions))


def test_the_share_of_a_race_relieved_is_of_its_people_with_a_prop64_conviction(spark, runs):
    """People relieved only of a related charge are relieved, but not among a race's people with
    a Prop 64 conviction: the share of a race relieved never passes 100%."""
    data = impact.load(spark, runs["wh"], None, runs["B"]["run_id"])
    race = data.row["extended"]["peopleByRace"]
    assert any(v["relieved"] > v["withProp64Conviction"] for v in race.values()), "the fixture relieves someone of a related charge only"
    rows = impact.context(data)["race"]["rows"]
    assert [r["race"] for r in rows] == list(race)
    for r, v in zip(rows, race.values()):
        assert v["relievedWithProp64Conviction"] <= min(v["relieved"], v["withProp64Conviction"])
        assert r["rate"] == "-" if not v["withProp64Conviction"] else float(r["rate"].rstrip("%")) <= 100, r
