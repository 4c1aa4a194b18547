"""Pure-Python reference classifier for Prop 64 eligibility (stdlib only).

Written from spec/eligibility.md, spec/charge-codes.md and docs/reference-semantics.md, to serve
as an independent oracle for the Spark engine. It reproduces the decisions of Code for
America's reference tool on the conformance fixtures, with the project's deliberate departures:

* code-section matching is anchored (``537 PC`` is not ``37 PC``); an attempt written
  ``664-11357 HS-...`` keeps its section (the text is cut at the first '-' after the prefix);
* an unusable date sends the conviction to "Hand Review" with a reason (never year 0001);
* a sentence-continuation row extends the conviction with the same (SUBJECT_ID, CNT_ORDER);
* ``11357A`` / ``11357B2`` are the same subsections as ``11357(A)`` / ``11357(B)``;
* everything is judged against the as-of date, never the wall clock;
* configurable policy: a conviction that matches no rule gets ``Hand Review`` /
  ``No applicable eligibility criteria`` (the reference left determination and reason empty;
  unreachable when dismiss + reduce cover all four sections, as in the fixtures).

Policies (``policy`` dict)
--------------------------
* configurable options (``eligibility_options.json``): spec/eligibility.md section A;
* ``{"name": "la-2020", "age": 50, "years": 10}``: section B;
* ``{"name": "statutory"}``: section D (statewide baseline), first match wins:
  disposition on/after 2016-11-09 -> ``Not eligible`` / ``Occurred after 11/09/2016``;
  unusable disposition date / DOB -> ``Hand Review``; misdemeanor or infraction ->
  ``Eligible for Dismissal`` / ``Misdemeanor or Infraction``; felony 11357 -> Dismissal /
  ``Felony HS 11357``; felony 11358-60 with a prior super strike / prior PC 290 offense or
  registration / two or more prior convictions of the same section -> ``Hand Review``
  (``Prior super strike: felony may stand``, ``Prior PC 290 offense: felony may stand``,
  ``Two or more priors of the same section: felony may stand``); otherwise ->
  ``Eligible for Reduction`` / ``Reduce felony to misdemeanor``;
* ``{"name": "dismiss-all"}``: section C, every in-scope conviction -> Dismissal /
  ``Dismiss all Prop 64 charges``;
* ``{"name": "dismiss-all-related"}``: as ``dismiss-all``, and every deduplicated in-county
  conviction of a related charge (spec/charge-codes.md) is also decided -> Dismissal /
  ``Dismiss all Prop 64 and related charges`` (same 18 facts).
Where a prior-conviction comparison needs another conviction's (or registration's) date and it
is unusable, the conviction goes to ``Hand Review`` / ``Unusable date on another conviction``.

Public API
----------
``classify(rows, county, policy, as_of)`` -> ``{(SUBJECT_ID, CNT_ORDER): result}``
``summarize(rows, county, policy, as_of)`` -> summary-figures dict (reference JSON keys)
``read_rows(path)`` -> list of row dicts (95 DOJ columns + ``row_index``)

``rows``: dicts keyed by the 95 DOJ column names (values as read by the csv module) plus a 0-based
``row_index``. ``policy``: see "Policies" above.
"""

from __future__ import annotations

import calendar
import csv
import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

COLUMNS = (
    "RECORD_ID SUBJECT_STATUS SUBJECT_ID REQ_SEG_SEP REQ_CII_NUMBER REQ_NAME REQ_GENDER REQ_DOB "
    "REQ_CDL REQ_SSN PII_SEG_SEP CII_NUMBER PRI_NAME GENDER PRI_DOB PRI_SSN PRI_CDL PRI_IDN "
    "PRI_INN FBI_NUMBER PDR_SEG_SEP RACE_CODE RACE_DESCR EYE_COLOR_CODE EYE_COLOR_DESCR "
    "HAIR_COLOR_CODE HAIR_COLOR_DESCR HEIGHT WEIGHT SINGLE_SOURCE MULTI_SOURCE POB_CODE POB_NAME "
    "POB_TYPE CITIZENSHIP_LIST CYC_SEG_SEP CYC_ORDER CYC_DATE STP_SEG_SEP STP_ORDER STP_EVENT_DATE "
    "STP_TYPE_CODE STP_TYPE_DESCR STP_ORI_TYPE STP_ORI_TYPE_DESCR STP_ORI_CODE STP_ORI_DESCR "
    "STP_ORI_CNTY_CODE STP_ORI_CNTY_NAME CNT_SEG_SEP CNT_ORDER DISP_DATE OFN OFFENSE_CODE "
    "OFFENSE_DESCR OFFENSE_TOC OFFENSE_QUAL_LST DISP_OFFENSE_CODE DISP_OFFENSE_DESCR "
    "DISP_OFFENSE_TOC DISP_OFFENSE_QUAL_LST CONV_OFFENSE_ORDER CONV_OFFENSE_CODE "
    "CONV_OFFENSE_DESCR CONV_OFFENSE_TOC CONV_OFFENSE_QUAL_LST FE_NUM_ORDER FE_NUM_ARR_AGY "
    "FE_NUM_BNCH_WARR FE_NUM_CITE FE_NUM_DOCKET FE_NUM_INCIDENT FE_NUM_BOOKING FE_NUM_NUMBER "
    "FE_NUM_REMAND FE_NUM_OOS_INN FE_NUM_CRT_CASE FE_NUM_WARRANT DISP_ORDER DISP_CODE DISP_DESCR "
    "CONV_STAT_CODE CONV_STAT_DESCR SENT_SEG_SEP SENT_ORDER SENT_LOC_CODE SENT_LOC_DESCR "
    "SENT_LENGTH SENT_TIME_CODE SENT_TIME_DESCR CYC_AGE CII_TYPE CII_TYPE_ALPHA COMMENT_TEXT "
    "END_OF_REC"
).split()
assert len(COLUMNS) == 95

FACT_COLUMNS = [
    "Case Number",
    "# of convictions on record",
    "Possible Other P64 Charges",
    "Occurred after 11/9/2016",
    "Superstrike Code Section(s)",
    "PC290 Code Section(s)",
    "PC290 Registration",
    "Date of Conviction",
    "Years Since This Conviction",
    "Years Since Any Conviction",
    "# of Prop 64 convictions",
    "# of HS 11357 convictions",
    "# of HS 11358 convictions",
    "# of HS 11359 convictions",
    "# of HS 11360 convictions",
    "Deceased",
    "Eligibility Determination",
    "Eligibility Reason",
]

PROP64_SECTIONS = ("11357", "11358", "11359", "11360")
PROP64_EFFECTIVE = _dt.date(2016, 11, 9)

DISMISSAL = "Eligible for Dismissal"
REDUCTION = "Eligible for Reduction"
NOT_ELIGIBLE = "Not eligible"
HAND_REVIEW = "Hand Review"
CITY_ATTORNEYS = "To be reviewed by City Attorneys"

# Reasons used by this project's departure "unusable date -> Hand Review".
REASON_BAD_DISP_DATE = "Unusable disposition date"
REASON_BAD_DOB = "Unusable date of birth"
REASON_BAD_OTHER_DATE = "Unusable date on another conviction"


# --------------------------------------------------------------------------------------------
# Input helpers
# --------------------------------------------------------------------------------------------


def read_rows(path: str) -> List[dict]:
    """Read a DOJ research file (header optional, trailing header comma tolerated)."""
    out: List[dict] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        index = 0
        for line_no, rec in enumerate(reader):
            if line_no == 0 and rec and rec[0].startswith("RECORD_ID"):
                continue
            if len(rec) != 95:
                raise ValueError(f"{path}: line {line_no + 1} has {len(rec)} fields, expected 95")
            d = dict(zip(COLUMNS, rec))
            d["row_index"] = index
            out.append(d)
            index += 1
    return out


def parse_date(value: str) -> Optional[_dt.date]:
    """YYYYMMDD -> date; None when unusable (blank, 00000000, YYYY0000, impossible)."""
    s = (value or "").strip()
    if not re.fullmatch(r"\d{8}", s):
        return None
    try:
        return _dt.date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return None


def add_years(d: _dt.date, years: int) -> _dt.date:
    """Go's time.AddDate(years, 0, 0): Feb 29 in a non-leap target year normalises to Mar 1."""
    y = d.year + years
    if d.month == 2 and d.day == 29 and not calendar.isleap(y):
        return _dt.date(y, 3, 1)
    return d.replace(year=y)


def years_between(as_of: _dt.date, d: _dt.date) -> float:
    """(as_of - d) in hours / (24 * 365.25), computed like the reference (float hours)."""
    hours = float((as_of - d).days * 24)
    return hours / (24 * 365.25)


def fmt_years(v: float) -> str:
    return "%.1f" % v


# --------------------------------------------------------------------------------------------
# Code-section text and anchored matchers
# --------------------------------------------------------------------------------------------


# An attempt / conspiracy written `664-11357 HS-...` keeps its section: the cut is at the first
# '-' after that prefix (project departure; the reference cut at the first '-' and lost it).
_TEXT_RE = re.compile(r"^(?:\s*(?:664|182)\s*-)?[^-]*")


def code_section_text(row: dict) -> str:
    """OFFENSE_DESCR (or COMMENT_TEXT when OFFENSE_DESCR is blank / SEE COMMENT) up to the first
    '-' (after an optional `664-` / `182-` prefix)."""
    offense = row.get("OFFENSE_DESCR", "") or ""
    if offense.strip() in ("", "SEE COMMENT FOR CHARGE"):
        offense = row.get("COMMENT_TEXT", "") or ""
    return _TEXT_RE.match(offense).group(0)


# Attempt (PC 664) / conspiracy (PC 182) prefixes: 664/11357, 664.11357, 664-11357, 66411357.
_ATTEMPT_PREFIX = r"(?:(?:664|182)\s*[-/.+]?\s*)?"
_PROP64_RE = re.compile(r"^\s*" + _ATTEMPT_PREFIX + r"(11357|11358|11359|11360)(?![\d.])")
# 11357 subsection: "(A)" or a bare letter that is not the start of the code ("11357A HS",
# "11357B2 HS"; "11357HS" has none).
_SUBSECTION_RE = re.compile(r"^\s*(?:\(\s*([A-Z])\s*\)|([A-Z])(?![A-Z]))")


def prop64_section(text: str) -> Optional[str]:
    m = _PROP64_RE.match(text or "")
    return m.group(1) if m else None


def prop64_subsection(text: str) -> Optional[str]:
    """Subsection letter right after the Prop 64 section number (11357(A), 11357A, 11357B2)."""
    m = _PROP64_RE.match(text or "")
    if not m:
        return None
    s = _SUBSECTION_RE.match(text[m.end():])
    if not s:
        return None
    return s.group(1) or s.group(2)


def _compile_anchored(patterns: Iterable[str]) -> List[re.Pattern]:
    return [re.compile(r"^\s*" + _ATTEMPT_PREFIX + p) for p in patterns]


_GANG = r"186\.22\(B\)\(4\)"
_ENHANCEABLE = r"(?:136\.1|215|213\(A\)\(1\)\(A\)|246|519|12022\.55)"

# Super strikes (PC 667(e)(2)(C)(iv)); reference regex bodies, anchored at the start of the text.
_SUPERSTRIKE_RES = _compile_anchored([
    r"37 PC", r"128 PC",
    _ENHANCEABLE + r"(?![\d.]).*" + _GANG + r" PC",
    _GANG + r".*" + _ENHANCEABLE + r" PC",
    r"187 PC", r"188 PC", r"189(\.[15])? PC", r"190(\.\d{1,2})?(\(.*\))? PC",
    r"191(\.5)? PC", r"205 PC", r"207 PC", r"209(\.5)? PC", r"217\.1 PC", r"218 PC", r"219 PC",
    r"220 PC", r"245\(D\)\(3\) PC", r"261(\(.*\))? PC", r"262(\(.*\))? PC", r"264\.1 PC",
    r"269 PC", r"273AB(\(.*\))? PC",
    r"286((\(C\)\([123]\)(\([ABC]\))?)|(\(D\)\([123]\)))? PC", r"287 PC",
    r"288((\(A\))|(\(B\)\([12]\)))? PC",
    r"288A((\(D\))|(\(C\)\(1\))|(\(C\)\(2\)\([ABC]\)))? PC", r"288\.5(\(A\))? PC",
    r"289((\(J\))|(\(A\)\(1\)\([ABC]\))|(\(A\)\(2\)\(C\)))? PC", r"451\.5 PC", r"653F PC",
    r"667\.(61|7|71) PC", r"4500 PC", r"11418((\(A\)\(1\))|(\(B\)\([12]\))) PC", r"12308 PC",
    r"12310 PC", r"18745 PC", r"18755 PC", r"1672\(A\) MV",
])
# Offenses that are super strikes only together with the gang enhancement in the same case.
_ENHANCEABLE_RE = _compile_anchored([_ENHANCEABLE + r"(?![\d.])[^-]*PC"])
_GANG_RE = _compile_anchored([_GANG + r"\s*PC"])

_PC290_RES = _compile_anchored([
    r"236\.1\([BC]\)(.*) PC", r"243\.4(.*) PC", r"261 PC", r"261(\(|\.|[a-zA-Z])+(.*) PC",
    r"262\(A\)(\(1\))? PC", r"264\.1(\((.*))? PC", r"266 PC", r"266C PC", r"266H\(B\)(.*) PC",
    r"266I\(B\)(.*) PC", r"266J PC", r"267 PC", r"269 PC", r"269(\(|\.|[a-zA-Z])+(.*) PC",
    r"272 PC", r"285 PC", r"287 PC", r"286([^\.]*) PC", r"288 PC", r"288A(.*) PC",
    r"288\.[23457](.*) PC", r"289([^\.]*) PC", r"311\.1(.*) PC", r"311\.2\([BCD]\) PC",
    r"311\.([34]|10|11)(.*) PC", r"314\([12]\) PC", r"451\.5 PC", r"647\.6(.*) PC",
    r"647A(.*) PC", r"653F\([BC]\) PC",
])


def is_superstrike(text: str) -> bool:
    return any(p.match(text or "") for p in _SUPERSTRIKE_RES)


def is_pc290(text: str) -> bool:
    return any(p.match(text or "") for p in _PC290_RES)


# Related charges (what-if "dismiss all Prop 64 and related"; spec/charge-codes.md), any
# subsection: the section (anchored, optional attempt prefix, not followed by a digit or '.'),
# then optional parenthesised subsections, optional spaces and the code.
_RELATED = [
    ("PC", r"647\(F\)"), ("PC", r"602"), ("PC", r"466"), ("PC", r"148\.9"), ("PC", r"148"),
    ("PC", r"1320"), ("HS", r"11364"), ("HS", r"11550"), ("BP", r"4140"), ("BP", r"4149"),
    ("BP", r"4060"), ("VC", r"40508"),
]
_RELATED_RES = _compile_anchored([
    sec + r"(?![\d.])(?:\([0-9A-Z]+\))*\s*" + code + r"(?![A-Z])" for code, sec in _RELATED
])


def is_related(text: str) -> bool:
    return any(p.match(text or "") for p in _RELATED_RES)


def possible_other_p64(offense_descr: str, comment_text: str) -> str:
    """'Possible Other P64 Charges' for one input row (reference rule, anchored matching)."""
    offense_descr = offense_descr or ""
    comment_text = comment_text or ""
    if offense_descr.strip() in ("", "SEE COMMENT FOR CHARGE"):
        return ""
    c_sec = prop64_section(comment_text)
    if not c_sec:
        return ""
    o_sec = prop64_section(offense_descr)
    if not o_sec or o_sec != c_sec:
        return comment_text
    if o_sec == "11357":
        o_sub = prop64_subsection(offense_descr)
        c_sub = prop64_subsection(comment_text)
        o_sub = o_sub if o_sub in ("A", "B", "C", "D") else None
        c_sub = c_sub if c_sub in ("A", "B", "C", "D") else None
        if o_sub and c_sub:
            if (o_sub in "AB") != (c_sub in "AB"):
                return comment_text
            return ""
        if c_sub:
            return comment_text
    return ""


# --------------------------------------------------------------------------------------------
# Subjects and convictions
# --------------------------------------------------------------------------------------------

_DAY = 1.0
_MONTH = 30.5  # the reference's month: 366 days / 12
_YEAR = 366.0  # the reference's year: 2011-03-04 .. 2012-03-04


def sentence_days(row: dict) -> float:
    try:
        length = int((row.get("SENT_LENGTH", "") or "").strip())
    except ValueError:
        length = 0
    unit = {"D": _DAY, "M": _MONTH, "Y": _YEAR}.get((row.get("SENT_TIME_CODE", "") or "").strip(), 0.0)
    return length * unit


@dataclass
class Conviction:
    row: dict
    row_index: int
    subject_id: str
    cnt_order: str
    text: str
    section: Optional[str]
    county: str
    felony: bool
    date: Optional[_dt.date]
    sentence_days: float
    superstrike_text: Optional[str] = None  # text shown in the super-strike list, if any

    @property
    def case_key(self) -> str:
        return self.cnt_order[0:6]

    def sentence_end(self) -> Optional[_dt.datetime]:
        if self.date is None:
            return None
        return _dt.datetime.combine(self.date, _dt.time()) + _dt.timedelta(days=self.sentence_days)


@dataclass
class Subject:
    subject_id: str
    first_row_index: int
    dob: Optional[_dt.date]
    convictions: List[Conviction] = field(default_factory=list)
    deceased: bool = False
    registrations: List[Optional[_dt.date]] = field(default_factory=list)
    case_numbers: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def pc290_registrant(self) -> bool:
        return bool(self.registrations)


def _is_felony(row: dict) -> bool:
    stat = (row.get("CONV_STAT_DESCR", "") or "").strip()
    return stat == "FELONY" or (stat == "" and (row.get("OFFENSE_TOC", "") or "").strip() == "F")


def build_subjects(rows: List[dict]) -> Dict[str, Subject]:
    subjects: Dict[str, Subject] = {}
    by_key: Dict[Tuple[str, str], Conviction] = {}
    for row in sorted(rows, key=lambda r: r["row_index"]):
        sid = row["SUBJECT_ID"]
        subj = subjects.get(sid)
        if subj is None:
            subj = Subject(sid, row["row_index"], parse_date(row.get("PRI_DOB", "")))
            subjects[sid] = subj
        stp_type = (row.get("STP_TYPE_DESCR", "") or "").strip()
        cnt = row.get("CNT_ORDER", "") or ""
        if stp_type == "DECEASED":
            subj.deceased = True
        if stp_type == "REGISTRATION" and (row.get("OFFENSE_DESCR", "") or "").startswith("290"):
            subj.registrations.append(parse_date(row.get("STP_EVENT_DATE", "")))
        ofn = row.get("OFN", "") or ""
        if stp_type == "COURT ACTION" and ofn != "":
            lst = subj.case_numbers.setdefault(cnt[0:6], [])
            if ofn not in lst:
                lst.append(ofn)
        if (row.get("DISP_DESCR", "") or "").strip().startswith("CONVICTED"):
            key = (sid, cnt)
            if key in by_key:  # sentence continuation of the same (SUBJECT_ID, CNT_ORDER)
                by_key[key].sentence_days += sentence_days(row)
                continue
            text = code_section_text(row)
            conv = Conviction(
                row=row,
                row_index=row["row_index"],
                subject_id=sid,
                cnt_order=cnt,
                text=text,
                section=prop64_section(text),
                county=(row.get("STP_ORI_CNTY_NAME", "") or "").strip().upper(),
                felony=_is_felony(row),
                date=parse_date(row.get("STP_EVENT_DATE", "")),
                sentence_days=sentence_days(row),
            )
            by_key[key] = conv
            subj.convictions.append(conv)
    for subj in subjects.values():
        _mark_superstrikes(subj)
    return subjects


def _mark_superstrikes(subj: Subject) -> None:
    """Super strikes, including enhanceable offenses with a gang enhancement in the same case."""
    gang_by_case: Dict[str, Conviction] = {}
    for c in subj.convictions:
        if any(p.match(c.text) for p in _GANG_RE) and c.case_key not in gang_by_case:
            gang_by_case[c.case_key] = c
    for c in subj.convictions:
        if is_superstrike(c.text):
            c.superstrike_text = c.text
        elif any(p.match(c.text) for p in _ENHANCEABLE_RE) and c.case_key in gang_by_case:
            c.superstrike_text = c.text.rstrip() + " + " + gang_by_case[c.case_key].text.rstrip()


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------


def _facts(conv: Conviction, subj: Subject, as_of: _dt.date) -> dict:
    convs = subj.convictions
    counts = {s: 0 for s in PROP64_SECTIONS}
    for c in convs:
        if c.section:
            counts[c.section] += 1
    dates = [c.date for c in convs if c.date is not None]
    latest = max(dates) if dates else None
    supers = [c.superstrike_text for c in convs if c.superstrike_text]
    pc290 = [c.text for c in convs if is_pc290(c.text)]
    return {
        "Case Number": "; ".join(subj.case_numbers.get(conv.case_key, [])),
        "# of convictions on record": str(len(convs)),
        "Possible Other P64 Charges": possible_other_p64(
            conv.row.get("OFFENSE_DESCR", ""), conv.row.get("COMMENT_TEXT", "")),
        "Occurred after 11/9/2016": (
            "" if conv.date is None else ("Y" if conv.date > PROP64_EFFECTIVE else "N")),
        "Superstrike Code Section(s)": ";".join(supers) if supers else "-",
        "PC290 Code Section(s)": ";".join(pc290) if pc290 else "-",
        "PC290 Registration": "Yes" if subj.pc290_registrant else "-",
        "Date of Conviction": conv.date.strftime("%m/%d/%Y") if conv.date else "",
        "Years Since This Conviction": (
            fmt_years(years_between(as_of, conv.date)) if conv.date else "-1"),
        "Years Since Any Conviction": fmt_years(years_between(as_of, latest)) if latest else "-1",
        "# of Prop 64 convictions": str(sum(counts.values())),
        "# of HS 11357 convictions": str(counts["11357"]),
        "# of HS 11358 convictions": str(counts["11358"]),
        "# of HS 11359 convictions": str(counts["11359"]),
        "# of HS 11360 convictions": str(counts["11360"]),
        "Deceased": "Deceased" if subj.deceased else "-",
    }


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------


class _NeedsReview(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _need(d: Optional[_dt.date], reason: str) -> _dt.date:
    if d is None:
        raise _NeedsReview(reason)
    return d


def validate_options(options: dict) -> None:
    rel = options.get("additionalRelief", {}) or {}
    base = options.get("baselineEligibility", {}) or {}
    for key in ("dismiss", "reduce"):
        for s in base.get(key, []) or []:
            if s not in PROP64_SECTIONS:
                raise ValueError(f"baselineEligibility.{key}: unknown section {s!r}")
    age = int(rel.get("subjectAgeThreshold", 0) or 0)
    if age != 0 and not 40 <= age <= 65:
        raise ValueError("subjectAgeThreshold should be between 40 and 65, or 0")
    for key in ("yearsSinceConvictionThreshold", "yearsCrimeFreeThreshold"):
        v = int(rel.get(key, 0) or 0)
        if v != 0 and not 1 <= v <= 15:
            raise ValueError(f"{key} should be between 1 and 15, or 0")


def _configurable(conv: Conviction, subj: Subject, options: dict, as_of: _dt.date) -> Tuple[str, str]:
    base = options.get("baselineEligibility", {}) or {}
    rel = options.get("additionalRelief", {}) or {}
    if not conv.felony:
        return DISMISSAL, "Misdemeanor or Infraction"
    for s in base.get("dismiss", []) or []:
        if conv.section == s:
            return DISMISSAL, f"Dismiss all HS {s} convictions"
    if rel.get("subjectUnder21AtConviction"):
        dob = _need(subj.dob, REASON_BAD_DOB)
        date = _need(conv.date, REASON_BAD_DISP_DATE)
        if add_years(dob, 21) > date:
            return DISMISSAL, "21 years or younger"
    age = int(rel.get("subjectAgeThreshold", 0) or 0)
    if age:
        dob = _need(subj.dob, REASON_BAD_DOB)
        if add_years(dob, age) <= as_of:
            return DISMISSAL, f"{age} years or older"
    years_since = int(rel.get("yearsSinceConvictionThreshold", 0) or 0)
    if years_since:
        date = _need(conv.date, REASON_BAD_DISP_DATE)
        if date <= add_years(as_of, -years_since):
            return DISMISSAL, f"Conviction occurred {years_since} or more years ago"
    crime_free = int(rel.get("yearsCrimeFreeThreshold", 0) or 0)
    if crime_free:
        dates = [_need(c.date, REASON_BAD_DISP_DATE if c is conv else REASON_BAD_OTHER_DATE)
                 for c in subj.convictions]
        if max(dates) < add_years(as_of, -crime_free):
            return DISMISSAL, f"No convictions in the past {crime_free} years"
    if rel.get("subjectHasOnlyProp64Charges") and all(c.section for c in subj.convictions):
        return DISMISSAL, "Only has 11357-60 charges"
    if rel.get("subjectIsDeceased") and subj.deceased:
        return DISMISSAL, "Individual is deceased"
    for s in base.get("reduce", []) or []:
        if conv.section == s:
            return REDUCTION, f"Reduce all HS {s} convictions"
    # Project departure: the reference left determination and reason empty here.
    return HAND_REVIEW, "No applicable eligibility criteria"


def _prior_blocker(conv: Conviction, subj: Subject, date: _dt.date) -> Optional[str]:
    """The first kind of prior (before `date`) that stands in the way of relief, checked in the
    spec's order: a super strike, a PC 290 offense or registration, two priors of the section."""
    others = [c for c in subj.convictions if c is not conv]

    def prior(d: Optional[_dt.date]) -> bool:
        return _need(d, REASON_BAD_OTHER_DATE) < date

    if any(c.superstrike_text and prior(c.date) for c in others):
        return "super_strike"
    if any(is_pc290(c.text) and prior(c.date) for c in others) or any(prior(d) for d in subj.registrations):
        return "pc290"
    if sum(1 for c in others if c.section == conv.section and prior(c.date)) >= 2:
        return "two_priors"
    return None


def _la_2020(conv: Conviction, subj: Subject, age: int, years: int, as_of: _dt.date) -> Tuple[str, str]:
    if not conv.felony:
        return CITY_ATTORNEYS, "Misdemeanor or Infraction"
    date = _need(conv.date, REASON_BAD_DISP_DATE)
    if not date < PROP64_EFFECTIVE:
        return NOT_ELIGIBLE, "Occurred after 11/09/2016"
    if conv.section == "11357":
        if prop64_subsection(conv.text) in ("A", "B"):
            return DISMISSAL, "11357(a) or 11357(b)"
        return HAND_REVIEW, "Other 11357"
    blocker = _prior_blocker(conv, subj, date)
    if blocker:
        return NOT_ELIGIBLE, {"super_strike": "PC 667(e)(2)(c)(iv)", "pc290": "PC 290", "two_priors": "Two priors"}[blocker]
    dob = _need(subj.dob, REASON_BAD_DOB)
    if add_years(dob, age) <= as_of:
        return DISMISSAL, f"{age} years or older"
    if years_between(as_of, dob) <= 21:
        return DISMISSAL, "21 years or younger"
    ends = [c.sentence_end() for c in subj.convictions]
    if any(e is None for e in ends):
        raise _NeedsReview(REASON_BAD_OTHER_DATE)
    as_of_dt = _dt.datetime.combine(as_of, _dt.time())
    completed = all(e <= as_of_dt for e in ends)
    if all(c.section for c in subj.convictions) and completed:
        return DISMISSAL, "Only has 11357-60 charges and completed sentence"
    cutoff = add_years(as_of, -years)
    if all(c.date <= cutoff for c in subj.convictions):
        return DISMISSAL, f"No convictions in past {years} years"
    if not completed:
        return HAND_REVIEW, "Currently serving sentence"
    if subj.deceased:
        return DISMISSAL, "Deceased"
    return HAND_REVIEW, "No applicable eligibility criteria"


def _statutory(conv: Conviction, subj: Subject) -> Tuple[str, str]:
    """Spec section D (statewide baseline, HS 11361.8 / AB 1793)."""
    if conv.date is not None and conv.date >= PROP64_EFFECTIVE:
        return NOT_ELIGIBLE, "Occurred after 11/09/2016"
    date = _need(conv.date, REASON_BAD_DISP_DATE)
    dob = _need(subj.dob, REASON_BAD_DOB)
    if dob > date:  # born after the conviction: one of the two dates is wrong (the project's rule, not the reference's)
        raise _NeedsReview(REASON_BAD_DOB)
    if not conv.felony:
        return DISMISSAL, "Misdemeanor or Infraction"
    if conv.section == "11357":
        return DISMISSAL, "Felony HS 11357"
    blocker = _prior_blocker(conv, subj, date)
    if blocker:
        return HAND_REVIEW, {"super_strike": "Prior super strike: felony may stand",
                             "pc290": "Prior PC 290 offense: felony may stand",
                             "two_priors": "Two or more priors of the same section: felony may stand"}[blocker]
    return REDUCTION, "Reduce felony to misdemeanor"


def _policy_name(policy: dict) -> str:
    return str(policy.get("name", "") or "").lower()


def _is_la(policy: dict) -> bool:
    return _policy_name(policy) in ("la-2020", "los-angeles-2020", "los_angeles_2020")


NAMED_POLICIES = ("statutory", "dismiss-all", "dismiss-all-related")


def _is_named(policy: dict) -> bool:
    """A named (non-configurable) policy."""
    return _is_la(policy) or _policy_name(policy) in NAMED_POLICIES


def _decide(conv: Conviction, subj: Subject, policy: dict, as_of: _dt.date) -> Tuple[str, str]:
    name = _policy_name(policy)
    try:
        if _is_la(policy):
            return _la_2020(conv, subj, int(policy.get("age", 50)), int(policy.get("years", 10)), as_of)
        if name == "statutory":
            return _statutory(conv, subj)
        if name == "dismiss-all":
            return DISMISSAL, "Dismiss all Prop 64 charges"
        if name == "dismiss-all-related":
            if conv.section is None:  # a related charge
                return DISMISSAL, "Dismiss all Prop 64 and related charges"
            return DISMISSAL, "Dismiss all Prop 64 charges"
        if name:
            raise ValueError(f"unknown policy name {policy.get('name')!r}")
        return _configurable(conv, subj, policy, as_of)
    except _NeedsReview as exc:
        return HAND_REVIEW, exc.reason


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _in_scope(conv: Conviction, county: str) -> bool:
    return conv.county == county.strip().upper() and conv.section is not None


def _decided(conv: Conviction, county: str, policy: dict) -> bool:
    """In scope, or (dismiss-all-related) an in-county related-charge conviction."""
    if _in_scope(conv, county):
        return True
    return (_policy_name(policy) == "dismiss-all-related"
            and conv.county == county.strip().upper() and is_related(conv.text))


def classify(rows: List[dict], county: str, policy: dict, as_of: _dt.date,
             _subjects: Optional[Dict[str, Subject]] = None) -> Dict[Tuple[str, str], dict]:
    """Decide every in-county Prop 64 conviction (and, for dismiss-all-related, every in-county
    related-charge conviction). Keyed by (SUBJECT_ID, CNT_ORDER)."""
    if not _is_named(policy):
        if "name" in policy:
            raise ValueError(f"unknown policy name {policy.get('name')!r}")
        validate_options(policy)
    subjects = _subjects if _subjects is not None else build_subjects(rows)
    out: Dict[Tuple[str, str], dict] = {}
    for subj in subjects.values():
        for conv in subj.convictions:
            if not _decided(conv, county, policy):
                continue
            determination, reason = _decide(conv, subj, policy, as_of)
            result = {"row_index": conv.row_index}
            result.update(_facts(conv, subj, as_of))
            result["Eligibility Determination"] = determination
            result["Eligibility Reason"] = reason
            result["determination"] = determination
            result["reason"] = reason
            out[(conv.subject_id, conv.cnt_order)] = result
    return out


def _relief_counts(subjects: Dict[str, Subject], decided: Dict[Tuple[str, str], dict],
                   as_of: _dt.date) -> dict:
    seven_years_ago = add_years(as_of, -7)

    def det(c: Conviction) -> Optional[str]:
        r = decided.get((c.subject_id, c.cnt_order))
        return r["determination"] if r else None

    no_felony = no_conviction = no_conviction_7 = 0
    for subj in subjects.values():
        felonies = [c for c in subj.convictions if c.felony]
        if felonies and all(det(c) in (DISMISSAL, REDUCTION) for c in felonies):
            no_felony += 1
        if subj.convictions and all(det(c) == DISMISSAL for c in subj.convictions):
            no_conviction += 1
        recent = [c for c in subj.convictions if c.date is not None and seven_years_ago < c.date <= as_of]  # (as-of - 7y, as-of]
        if recent and all(det(c) == DISMISSAL for c in recent):
            no_conviction_7 += 1
    return {
        "CountSubjectsNoConviction": no_conviction,
        "CountSubjectsNoConvictionLast7Years": no_conviction_7,
        "CountSubjectsNoFelony": no_felony,
    }


def summarize(rows: List[dict], county: str, policy: dict, as_of: _dt.date) -> dict:
    """Summary figures with the reference tool's JSON keys (no processingTimeInSeconds)."""
    subjects = build_subjects(rows)
    decided = classify(rows, county, policy, as_of, _subjects=subjects)
    in_county = [c for s in subjects.values() for c in s.convictions if _in_scope(c, county)]
    dismiss_all = {(c.subject_id, c.cnt_order): {"determination": DISMISSAL,
                                                 "reason": "Dismiss all Prop 64 charges"}
                   for c in in_county}

    by_section: Dict[str, int] = {}
    for c in in_county:
        by_section[c.section] = by_section.get(c.section, 0) + 1
    dated = [c.date for c in in_county if c.date is not None]
    earliest = min(dated) if dated else None

    reasons: Dict[Tuple[str, str], int] = {}
    for r in decided.values():
        k = (r["determination"], r["reason"])
        reasons[k] = reasons.get(k, 0) + 1

    some_relief = {sid for (sid, _), r in decided.items()
                   if r["determination"] in (DISMISSAL, REDUCTION)}

    if _is_named(policy):
        dismiss_list: List[str] = []
        reduce_list: List[str] = []
    else:
        base = policy.get("baselineEligibility", {}) or {}
        dismiss_list = list(base.get("dismiss", []) or [])
        reduce_list = list(base.get("reduce", []) or [])

    additional = {}
    for (det, reason), n in reasons.items():
        if det == DISMISSAL and not reason.startswith("Dismiss all HS") \
                and not reason.startswith("Misdemeanor or Infraction"):
            additional[reason] = n

    return {
        "county": county,
        "earliestConviction": (earliest.strftime("%Y-%m-%dT00:00:00Z") if earliest else None),
        "lineCount": len(rows),
        "reliefWithCurrentEligibilityChoices": _relief_counts(subjects, decided, as_of),
        "reliefWithDismissAllProp64": _relief_counts(subjects, dismiss_all, as_of),
        "prop64ConvictionsCountInCountyByCodeSection": dict(sorted(by_section.items())),
        "subjectsWithProp64ConvictionCountInCounty": len({c.subject_id for c in in_county}),
        "prop64FelonyConvictionsCountInCounty": sum(1 for c in in_county if c.felony),
        "prop64NonFelonyConvictionsCountInCounty": sum(1 for c in in_county if not c.felony),
        "subjectsWithSomeReliefCount": len(some_relief),
        "convictionDismissalCountByCodeSection": {
            s: reasons.get((DISMISSAL, f"Dismiss all HS {s} convictions"), 0) for s in dismiss_list},
        "convictionReductionCountByCodeSection": {
            s: reasons.get((REDUCTION, f"Reduce all HS {s} convictions"), 0) for s in reduce_list},
        "convictionDismissalCountByAdditionalRelief": dict(sorted(additional.items())),
    }
