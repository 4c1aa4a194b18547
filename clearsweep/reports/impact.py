"""The impact report: one self-contained HTML file (inline CSS, charts as inline SVG written by
`charts`, no scripts, no external resources; prints cleanly to PDF) for a county or for a
run's total, made only from the figures the run recorded (counts), never from people's rows.

Before rendering, every text in the figures is checked against the vocabularies they are made
of (counties, race categories, the run's policies' determinations and reasons, code sections,
decades, reason codes): no value of a DOJ personal column can reach the page."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__
from clearsweep import counties as county_list
from clearsweep.decide import rules
from clearsweep.decide.policies import OPTIONS_POLICY, REGISTRY, SECTIONS, PolicyMap
from clearsweep.errors import UserError
from clearsweep.outputs import figures as fig
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.reports import charts
from clearsweep.reports.wording import convictions, count_of, have, number, people, share

REPORT_FILE = "impact_report.html"
TEMPLATES = Path(__file__).parent / "templates"
DETERMINATIONS = (rules.DISMISSAL, rules.REDUCTION, rules.CITY_ATTORNEYS, rules.HAND_REVIEW, rules.NOT_ELIGIBLE)
SCENARIO_TITLES = {"chosenPolicy": "Chosen policy", "dismissAllProp64": "Dismiss all Prop 64",
                   "dismissAllProp64AndRelated": "Dismiss all Prop 64 and related"}
QUARANTINE_LABELS = {  # the reason codes of clearsweep.ingest.extract
    "field_count": "wrong number of fields (or a blank line)", "quoting": "unparseable quoting",
    "encoding": "not valid UTF-8", "bad_value": "blank SUBJECT_ID or CNT_ORDER not 12 digits",
    "header": "header missing its last column",
}


@dataclass(frozen=True)
class ReportData:
    run: dict  # run_id, as_of, finished_at, policy_source, policy_hash, counties, policy_map
    key: str  # the figures row reported: a county, STATEWIDE or TOTAL
    row: dict  # {"summary", "extended"} of that row
    total: dict  # the run's total row (its whole-input data quality, for a county's report too)
    versions: dict  # table -> Delta version read (said by the command, never in the report)


@dataclass(frozen=True)
class Written:
    path: Path
    run_id: str
    label: str
    versions: dict


# ---------------------------------------------------------------- reading


def load(spark: SparkSession, warehouse: str, county: str | None, run_id: str | None = None) -> ReportData:
    """The figures of a recorded run: the run given, or the latest that decided the county (any
    run for the total)."""
    wh = Warehouse(warehouse)
    if wh.local is not None and not wh.local.is_dir():
        raise UserError(f"warehouse folder not found: {warehouse}")
    county = county_list.normalize(county) if county else None
    run = wh.run_record(spark, run_id=run_id, county=None if run_id else county)
    if run is None:
        if run_id is not None:
            raise UserError(f"run {run_id!r} is not recorded in {warehouse}")
        raise UserError(f"no run has decided {county} in {warehouse}" if county else f"no run is recorded in {warehouse}")
    counties = list(run["counties"] or [])
    if county is not None and county not in counties:
        raise UserError(f"run {run['run_id']} did not include {county} (it decided {len(counties)} counties)")
    if not wh.has_table("figures", spark) or "figures" not in (run["versions"] or {}):
        raise UserError(f"run {run['run_id']} recorded no figures")
    version = wh.version_for(spark, "figures", run)
    total_key = fig.total_key(counties)
    wanted = [total_key] + ([county] if county else [])
    rows = {r["county"]: r for r in wh.read(spark, "figures", version)
            .where((F.col("run_id") == run["run_id"]) & F.col("county").isin(*wanted))
            .select("county", "summary_json", "extended_json").collect()}
    return from_figures(run, county, rows, {"figures": version})


def from_figures(run, county: str | None, rows: dict, versions: dict) -> ReportData:
    """The report's data from figures rows already read (county key -> row with summary_json and
    extended_json; the run's total row among them): a delivery reads them once for every county."""
    counties = list(run["counties"] or [])
    total_key = fig.total_key(counties)
    wanted = [total_key] + ([county] if county else [])
    missing = [k for k in wanted if k not in rows]
    if missing:
        raise UserError(f"run {run['run_id']} recorded no figures for {missing[0]}")
    parsed = {k: {"summary": json.loads(rows[k]["summary_json"]), "extended": json.loads(rows[k]["extended_json"])} for k in wanted}
    if any("scenarios" not in p["extended"] for p in parsed.values()):
        raise UserError(f"run {run['run_id']} was recorded before the impact figures existed: run it again to report on it")
    record = {k: run[k] for k in ("run_id", "as_of", "finished_at", "policy_source", "policy_hash", "policy_map")}
    key = county or total_key
    return ReportData({**record, "counties": sorted(counties)}, key, parsed[key], parsed[total_key], versions)


# ---------------------------------------------------------------- no personal data


DECADE = re.compile(r"^[0-9]{3}0s$")
TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T00:00:00Z$")
REASON_CODE = re.compile(r"^[a-z_]{1,30}$")
KEY_NAME = re.compile(r"^[a-z][A-Za-z0-9]{0,60}$")  # the figures' own key names (camelCase)
REFERENCE_RELIEF_KEYS = {"CountSubjectsNoConviction", "CountSubjectsNoConvictionLast7Years", "CountSubjectsNoFelony"}


def vocabulary(policy_map: PolicyMap, as_of: dt.date) -> set[str]:
    """Every text the figures of a run can hold: made by the code, never read from a row."""
    words = {*county_list.COUNTIES, *fig.TOTAL_KEYS, *fig.RACES, fig.OTHER_RACE, fig.RELATED_SECTION, fig.UNDATED_DECADE,
             *DETERMINATIONS, *fig.UNUSABLE_DATE_REASONS, *fig.SCENARIOS, *REFERENCE_RELIEF_KEYS, "run", "ingest"}
    words |= {fig.coverage_label(policy_map.by_county), *map(fig.county_label, policy_map.by_county)}
    words |= set(SECTIONS)
    reasons = set(fig.UNUSABLE_DATE_REASONS)
    for policy in policy_map.policies():
        words |= {policy.name, policy.kind.summary}
        words |= {str(v) for v in _leaves(policy.as_dict())}
        reasons |= {r.reason for r in policy.rules(F.lit(as_of)) if isinstance(r.reason, str)}
    words |= reasons | {f"{d} / {r}" for d in DETERMINATIONS for r in reasons}
    return words


@functools.lru_cache(maxsize=8)
def _run_vocabulary(policy_map: str, run_id: str, as_of: dt.date) -> frozenset[str]:
    """A run's vocabulary, made once for all its counties' reports (each policy's rules are
    Spark expressions: hundreds of JVM calls to make)."""
    return frozenset(vocabulary(PolicyMap.from_json(policy_map, f"run {run_id}"), as_of))


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def check_no_personal_data(data: ReportData) -> None:
    """Every key and text of the figures reported comes from a closed vocabulary (and every other
    value is a number): a DOJ personal value (name, date of birth, SSN, CII, licence or FBI
    number) has no way onto the page. Names only where a figure breaks the rule, never its value."""
    words = _run_vocabulary(data.run["policy_map"], data.run["run_id"], data.run["as_of"])
    bad: list[str] = []

    def allowed_text(text: str, is_key: bool, parent: str) -> bool:
        if text in words or DECADE.match(text) or TIMESTAMP.match(text):
            return True
        if is_key and parent == "quarantinedLinesByReason":
            return bool(REASON_CODE.match(text))
        return is_key and bool(KEY_NAME.match(text))

    def walk(value, where: str, parent: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                ok = isinstance(k, str) and allowed_text(k, True, parent)
                if not ok:
                    bad.append(f"a key under {where}")
                walk(v, f"{where}.{k}" if ok else where, k if ok else "")
        elif isinstance(value, list):
            for v in value:
                walk(v, where, parent)
        elif isinstance(value, str):
            if not allowed_text(value, False, parent):
                bad.append(where)
        elif value is not None and not isinstance(value, (int, float, bool)):
            bad.append(where)

    for name, row in (("figures", data.row), ("total", data.total)):
        walk(row, name, "")
    if bad:
        raise ValueError(f"figures of run {data.run['run_id']} hold text outside their vocabularies at {sorted(set(bad))[:5]}: not reported")


# ---------------------------------------------------------------- the page


def _long_date(d: dt.date) -> str:
    return f"{d:%B} {d.day}, {d.year}"


def _policy_text(policy: dict, name: str) -> str:
    """'la-2020 (age 50, years 10)' for a policy's recorded parameters."""
    params = {k: v for k, v in policy.items() if k != "name"}
    if name == OPTIONS_POLICY:
        return f"{name} (the county's eligibility_options.json)"
    return name + (" (" + ", ".join(f"{k} {v}" for k, v in params.items()) + ")" if params else "")


def _table(by_key: dict) -> tuple[list[str], list[dict]]:
    """Determinations seen, in a fixed order, and one row per key with its counts and total."""
    seen = [d for d in DETERMINATIONS if any(d in v for v in by_key.values())]
    rows = [{"key": k, "counts": [v.get(d, 0) for d in seen], "total": sum(v.values())} for k, v in by_key.items()]
    return seen, rows


def announcement(chosen: dict) -> str:
    """The headline as a district attorney announces it."""
    d, r = chosen["convictionsDismissed"]["total"], chosen["convictionsReduced"]["total"]
    nf, nc, n7 = chosen["peopleWithNoFelony"], chosen["peopleWithNoConviction"], chosen["peopleWithNoConvictionLast7Years"]
    return (f"{convictions(d)} dismissed, {number(r)} reduced; {people(nf)} no longer {have(nf)} a felony; "
            f"{number(nc)} {have(nc)} no conviction left; {number(n7)} {have(n7)} no conviction in the last 7 years.")


def context(data: ReportData) -> dict:
    x, s = data.row["extended"], data.row["summary"]
    is_total = data.key in fig.TOTAL_KEYS
    chosen = x["scenarios"]["chosenPolicy"]
    sections_cols, section_rows = _table(x["bySection"])
    decade_cols, decade_rows = _table(x["byDecade"])
    race = x["peopleByRace"]
    with_p64 = sum(v["withProp64Conviction"] for v in race.values())
    relieved = sum(v["relieved"] for v in race.values())
    race_rows = [{"race": k, "people": v["withProp64Conviction"], "share": share(v["withProp64Conviction"], with_p64),
                  "relieved": v["relieved"], "relieved_share": share(v["relieved"], relieved),
                  # figures of a run before this count was kept: no share rather than a wrong one
                  "rate": share(v["relievedWithProp64Conviction"], v["withProp64Conviction"]) if "relievedWithProp64Conviction" in v else "-"}
                 for k, v in race.items()]
    quality = x["dataQuality"]
    whole = data.total["extended"]["dataQuality"]
    policies: dict = {}  # policy name -> the counties reported that it decided
    by_county = PolicyMap.from_json(data.run["policy_map"], data.run["run_id"]).by_county
    for county in x["covers"]:
        policies.setdefault(by_county[county].name, []).append(county)
    titles = {**SCENARIO_TITLES, "chosenPolicy": f"Chosen policy ({next(iter(policies))})" if len(policies) == 1 else "Chosen policies"}
    return {
        "label": x["label"],
        "is_total": is_total,
        "run": data.run,
        "as_of": _long_date(data.run["as_of"]),
        "finished": f"{data.run['finished_at']:%Y-%m-%d %H:%M} UTC",
        "covers": x["covers"],
        "all_counties": data.key == fig.STATEWIDE,
        "policy_text": None if is_total else _policy_text(x["policy"], x["policyName"]),
        "policy_summary": None if is_total else x["policySummary"],
        "policies": {name: (counties if len(counties) <= 6 else f"{len(counties)} counties") for name, counties in policies.items()},
        "policy_summaries": {name: REGISTRY[name].summary for name in policies},
        "sentence": announcement(chosen),
        "headline": {
            "dismissed": number(chosen["convictionsDismissed"]["total"]), "reduced": number(chosen["convictionsReduced"]["total"]),
            "no_felony": number(chosen["peopleWithNoFelony"]), "no_conviction": number(chosen["peopleWithNoConviction"]),
            "no_conviction_7": number(chosen["peopleWithNoConvictionLast7Years"]), "relieved": people(chosen["peopleRelieved"]),
        },
        "decided": {"convictions": number(x["prop64Convictions"]["total"]), "felony": number(x["prop64Convictions"]["felony"]),
                    "misdemeanor": number(x["prop64Convictions"]["misdemeanor"]), "people": people(x["peopleWithProp64Conviction"])},
        "earliest": s["earliestConviction"][:4] if s.get("earliestConviction") else None,
        "scenario_titles": titles,
        "chosen_note": ", ".join(policies) if len(policies) <= 3 else f"{len(policies)} policies",
        "scenarios": x["scenarios"],
        "sections": {"columns": sections_cols, "rows": section_rows},
        "decades": {"columns": decade_cols, "rows": decade_rows},
        "race": {"rows": race_rows, "people": number(with_p64), "relieved": number(relieved)},
        "review": sorted(x["humanReviewCountByReason"].items(), key=lambda kv: (-kv[1], kv[0])),
        "review_total": number(sum(x["humanReviewCountByReason"].values())),
        "quality": quality,
        "unusable": quality["determinationsWithUnusableDate"],
        "whole": whole,
        "quarantine": [(code, QUARANTINE_LABELS.get(code, code), n) for code, n in whole.get("quarantinedLinesByReason", {}).items()],
        "quarantine_total": number(whole.get("quarantinedLines", 0)),
        "quarantine_at": whole.get("quarantinedLinesAt", "run"),
        "charts": charts.all_charts(x, titles),
        "version": __version__,
    }


def render(data: ReportData) -> str:
    check_no_personal_data(data)
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=number, people=people, convictions=convictions, count_of=count_of)
    return env.get_template("impact_report.html.j2").render(**context(data))


def impact_report(spark: SparkSession, warehouse: str, out_dir: Path, county: str | None, run_id: str | None = None) -> Written:
    """Write `impact_report.html` into `out_dir` (created) and say what it was made from."""
    data = load(spark, warehouse, county, run_id)
    html = render(data)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_FILE
    partial = out_dir / f".{REPORT_FILE}.partial"
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)
    return Written(path, data.run["run_id"], data.row["extended"]["label"], data.versions)


def write_impact_report(spark: SparkSession, warehouse: str, out_dir: Path, county: str | None, run_id: str | None = None) -> Path:
    """The impact report of `county` (None: the run's total) from the run given or the latest
    that decided it; returns the path of `out_dir/impact_report.html`."""
    return impact_report(spark, warehouse, out_dir, county, run_id).path
