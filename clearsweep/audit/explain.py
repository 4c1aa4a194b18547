"""`clearsweep explain`: one person as a recorded run saw them, and why each of their convictions
was decided as it was.

Nothing here decides by rules of its own. The person's input rows, as the run kept them in the
`history` table (at the version the run recorded), go through the engine's own `persons` and
`decided_convictions`; the rules are `Policy.rules(as_of)` of the county's policy as the run
recorded it, with the run's as-of date, and each rule's `when` is evaluated on those rows beside
the facts it declares (`rules.FACTS`). The rule that fires must give what the run stored; if it
does not (the charge-code tables or the code changed since), the result says so (`mismatches`).

Which run: with `run_id`, that run (its counties); without, for each county the latest recorded
run that decided it, as `export` reads it. Only the person's rows are read (filtered in the scan;
cached for the few small jobs that follow) and only what is shown is collected. The result holds
no names, dates of birth or identifying numbers: SUBJECT_ID, case numbers (OFN), code sections,
dates of conviction and derived facts (ages) only.

The JSON shape (stable; `explain --json` prints it):
{"subject_id",
 "runs_read": [{"run_id", "finished_at", "as_of", "counties", "policies": {county: policy},
                "versions": {"determinations", "history", "runs"}, "reference_version",
                "reference_version_now", "code_version", "age_at_as_of"[, "history"]}],
 "history": {"run_id", "date_of_birth_usable", "deceased", "registrations": [{"date", "file_index",
             "line_no"}], "convictions": [{"county", "cnt_order", "file_index", "line_no",
             "disposition_date", "code_section", "section", "letter", "prop64", "related",
             "super_strike", "super_strike_text", "pc290", "felony", "sentence_days",
             "case_numbers", "age_at_conviction", "decided"}]},
 "convictions": [{"run_id", "county", "cnt_order", "file_index", "line_no", "code_section",
                  "section", "letter", "felony", "disposition_date", "as_of", "policy",
                  "rules": [{"order", "rule", "status", "condition", "facts": {fact: value},
                             "determination", "reason", "statute"}],
                  "determination", "reason", "statute", "rule", "stored": {...} | null, "agrees"}],
 "fact_labels": {fact: label}, "mismatches": [text]}
`history` is the newest run's view; a run read that saw other rows carries its own `history`.
A rule's `status` is `passed` (its condition did not hold), `fired` (the first that held) or
`not reached`; its determination, reason and statute are what it gives when it fires. Dates are
ISO strings; a fact with no value (an unusable date) is null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__, codes
from clearsweep.decide.engine import decided_convictions, persons
from clearsweep.decide.facts import case_numbers_of
from clearsweep.decide.policies import Policy, PolicyMap
from clearsweep.decide.rules import C, FACTS, Rule, calendar_age
from clearsweep.errors import UserError
from clearsweep.history import SEQ_FILE_FACTOR, person_key
from clearsweep.ingest.extract import DECIDE_COLUMNS
from clearsweep.outputs.warehouse import Warehouse

PASSED, FIRED, NOT_REACHED = "passed", "fired", "not reached"
OUTCOME = ("determination", "reason", "statute", "rule")
STORED_COLUMNS = ("county", "cnt_order", "file_index", "line_no", "seq", "policy", *OUTCOME)


def subject_key(subject: str) -> str:
    """The id as the tables key it (trimmed of spaces, as `history.person_key`)."""
    key = (subject or "").strip(" ")
    if not key:
        raise UserError("--subject is empty")
    return key


@dataclass
class RunView:
    """One run read for the person: the counties it is used for and the versions read."""
    record: object  # the run's row in `runs`
    counties: list[str]
    versions: dict[str, int]
    stored: list[dict]  # the person's determinations as the run stored them

    @property
    def run_id(self) -> str:
        return self.record["run_id"]


# ---------------------------------------------------------------- which runs, which versions


RUN_FIELDS = ("run_id", "finished_at", "as_of", "counties", "versions", "policy_map", "reference_version", "code_version")


def _recorded_runs(spark: SparkSession, wh: Warehouse) -> list:
    """Every recorded run, oldest first (a small table)."""
    return wh.read(spark, "runs").select(*RUN_FIELDS).orderBy("finished_at", "run_id").collect()


def _runs_to_read(spark: SparkSession, wh: Warehouse, run_id: str | None) -> list[tuple[object, list[str]]]:
    """(run, its counties to read): the run named, or per county the latest run that decided it."""
    runs = _recorded_runs(spark, wh)
    if run_id is not None:
        found = [r for r in runs if r["run_id"] == run_id]
        if not found:
            raise UserError(f"run {run_id!r} is not recorded in {wh.location}")
        return [(found[0], sorted(found[0]["counties"] or []))]
    latest: dict[str, object] = {}
    for r in runs:  # oldest first: a later run of a county replaces an earlier one
        for county in r["counties"] or []:
            latest[county] = r
    plan: dict[str, tuple[object, list[str]]] = {}
    for county, r in sorted(latest.items()):
        plan.setdefault(r["run_id"], (r, []))[1].append(county)
    return sorted(plan.values(), key=lambda p: (p[0]["finished_at"], p[0]["run_id"]))


def _union(frames: list[DataFrame]) -> DataFrame:
    return reduce(DataFrame.unionByName, frames)


def _stored(spark: SparkSession, wh: Warehouse, plan: list[tuple[object, list[str]]], versions: list[int], key: str) -> dict[str, list[dict]]:
    """The person's determinations as each run stored them (its counties, its version), by run:
    one Spark job for all the runs."""
    frames = [  # an incremental run's rows carry the id of the run that decided them: read as its own
        wh.read_recorded(spark, "determinations", version, f"determinations, recorded by run {record['run_id']},")
        .where(F.col("county").isin(*counties) & F.col("run_id").isin(*wh.lineage(spark, record["run_id"])) & (F.col("subject_id") == key))
        .select(F.lit(record["run_id"]).alias("run_id"), *STORED_COLUMNS)
        for (record, counties), version in zip(plan, versions)
    ]
    by_run: dict[str, list[dict]] = {}
    for r in sorted((r.asDict() for r in _union(frames).collect()) if frames else [], key=lambda r: (r["county"], r["seq"])):
        by_run.setdefault(r.pop("run_id"), []).append(r)
    return by_run


def _input_rows(spark: SparkSession, wh: Warehouse, views: list[RunView], key: str) -> tuple[DataFrame, dict[str, int]]:
    """The person's input rows as each run kept them (a person decided in two counties is in both
    partitions: each row once), cached, with their count per run. They stay in Spark: the rows
    hold personal columns, which must not become literals of a plan (plans reach logs)."""
    frames = [
        wh.read_recorded(spark, "history", view.versions["history"], f"history, recorded by run {view.run_id},")
        .where(F.col("county").isin(*view.counties) & F.col("run_id").isin(*wh.lineage(spark, view.run_id))
               & (person_key(F.col("SUBJECT_ID")) == key))
        .select(F.lit(view.run_id).alias("run_id"), *DECIDE_COLUMNS, "file_index", "line_no")
        for view in views
    ]
    rows = _union(frames).dropDuplicates(["run_id", "file_index", "line_no"]).persist()
    return rows, {r["run_id"]: r["count"] for r in rows.groupBy("run_id").count().collect()}


# ---------------------------------------------------------------- the person, as the engine saw them


def _history_doc(person: DataFrame, as_of: Column) -> DataFrame:
    """The statewide history the rules read, as one JSON document: convictions (deduplicated,
    classified), PC 290 registrations, deceased; ages instead of the date of birth."""
    dob = F.col("dob")

    def conviction(o: Column) -> Column:
        return F.struct(
            o.county.alias("county"), o.cnt_order.alias("cnt_order"), o.file_index.alias("file_index"), o.line_no.alias("line_no"),
            o.disp_date.alias("disposition_date"), F.rtrim(o.text).alias("code_section"), o.p64_section.alias("section"),
            o.p64_letter.alias("letter"), o.is_prop64.alias("prop64"), o.is_related.alias("related"),
            o.ss_text.isNotNull().alias("super_strike"), F.rtrim(o.ss_text).alias("super_strike_text"), o.is_pc290.alias("pc290"),
            o.felony.alias("felony"), o.sentence_days.alias("sentence_days"), case_numbers_of(o).alias("case_numbers"),
            calendar_age(dob, o.disp_date).alias("age_at_conviction"),
        )

    def registration(r: Column) -> Column:
        return F.struct(r.date.alias("date"), F.floor(r.seq / F.lit(SEQ_FILE_FACTOR)).cast("int").alias("file_index"),
                        (r.seq % F.lit(SEQ_FILE_FACTOR)).alias("line_no"))

    doc = F.struct(
        dob.isNotNull().alias("date_of_birth_usable"), calendar_age(dob, as_of).alias("age_at_as_of"), F.col("deceased"),
        F.transform("registrations", registration).alias("registrations"),
        F.transform("convictions", conviction).alias("convictions"),
    )
    return person.select(F.lit(None).cast("int").alias("group"), _json(doc).alias("doc"))


def _trace_doc(decided: DataFrame, group: int, rules: list[Rule], policy: Policy, counties: list[str], as_of: Column) -> DataFrame:
    """Per in-scope conviction of these counties (one policy), as a JSON document: every rule's
    condition and outcome, and the facts the rules declare."""
    used = list(dict.fromkeys(n for r in rules for n in r.uses))
    doc = F.struct(
        C().county.alias("county"), C().cnt_order.alias("cnt_order"), C().file_index.alias("file_index"),
        C().line_no.alias("line_no"), C().seq.alias("seq"), F.rtrim(C().text).alias("code_section"),
        C().p64_section.alias("section"), C().p64_letter.alias("letter"), C().felony.alias("felony"),
        C().disp_date.alias("disposition_date"),
        F.array(*[r.when for r in rules]).alias("conditions"),
        F.array(*[r.outcome(policy.name) for r in rules]).alias("outcomes"),
        F.struct(*[FACTS[n].value(as_of).alias(n) for n in used]).alias("facts"),
    )
    return decided.where(C().county.isin(*counties)).select(F.lit(group).alias("group"), _json(doc).alias("doc"))


def _json(doc: Column) -> Column:
    """Documents of different shapes in one collect; nulls kept (an unusable date is a fact)."""
    return F.to_json(doc, {"ignoreNullFields": "false"})


def _trace(d: dict, rules: list[Rule], policy: Policy) -> dict:
    """One conviction's rules in order, each passed, fired (the first that held; a null
    condition does not hold, as in `first_match`) or not reached."""
    fired = next((i for i, held in enumerate(d["conditions"]) if held is True), None)
    trace = []
    for i, (r, held, outcome) in enumerate(zip(rules, d["conditions"], d["outcomes"])):
        status = FIRED if i == fired else PASSED if fired is None or i < fired else NOT_REACHED
        trace.append({"order": i + 1, "rule": r.rule_id(policy.name), "status": status, "condition": held,
                      "facts": {n: d["facts"].get(n) for n in r.uses},
                      **{k: outcome[k] for k in ("determination", "reason", "statute")}})
    chosen = d["outcomes"][fired] if fired is not None else dict.fromkeys(OUTCOME)
    return {
        **{k: d[k] for k in ("county", "cnt_order", "file_index", "line_no", "seq", "code_section", "section", "letter",
                             "felony", "disposition_date")},
        "policy": json.loads(policy.key()), "rules": trace,
        **{k: chosen[k] for k in OUTCOME},
    }


def _evaluate(spark: SparkSession, views: list[RunView], rows: DataFrame) -> dict[str, tuple[dict, list[dict]]]:
    """(history, traced convictions) per run read, from the run's own policies and as-of date.
    The person's row is built once per run (cached: the engine's shuffle and charge-code join),
    then every document of every run comes in one Spark job."""
    frames, groups, cached = [], {}, []
    try:
        for view in views:
            person = persons(rows.where(F.col("run_id") == view.run_id).drop("run_id"), codes.reference_table(spark)).persist()
            cached.append(person)
            person.count()
            frames.append(_documents(view, person, groups))
        collected = _union(frames).collect() if frames else []
    finally:
        for df in cached:
            df.unpersist()
    out: dict[str, tuple[dict, list[dict]]] = {}
    for r in collected:
        history, traced = out.setdefault(r["run_id"], ({}, []))
        doc = json.loads(r["doc"])
        if r["group"] is None:
            history.update(doc)
        else:
            policy, rules = groups[r["group"]]
            traced.append(_trace(doc, rules, policy))
    for _, traced in out.values():
        traced.sort(key=lambda t: (t["county"], t.pop("seq")))
    return out


def _documents(view: RunView, person: DataFrame, groups: dict) -> DataFrame:
    """The run's history document and one trace document per decided conviction of its counties
    (a group per policy: its rules, recorded in `groups`)."""
    policy_map = PolicyMap.from_json(view.record["policy_map"], f"run {view.run_id}")
    as_of = F.lit(view.record["as_of"])
    decided = decided_convictions(person, policy_map)
    parts = [_history_doc(person, as_of)]
    by_policy: dict[str, tuple[Policy, list[str]]] = {}
    for county in view.counties:
        policy = policy_map.by_county[county]
        by_policy.setdefault(policy.key(), (policy, []))[1].append(county)
    for policy, counties in by_policy.values():
        group = len(groups)
        groups[group] = (policy, policy.rules(as_of))
        parts.append(_trace_doc(decided, group, groups[group][1], policy, counties, as_of))
    return _union(parts).select(F.lit(view.run_id).alias("run_id"), "group", "doc")


# ---------------------------------------------------------------- one run's explanation


def _outcome_text(d: dict | None) -> str:
    return "none" if d is None else f"{d['determination']} / {d['reason']} / {d['statute']} ({d['rule']})"


def _check(view: RunView, traced: list[dict]) -> list[str]:
    """Each re-evaluated conviction against the row the run stored; what differs, said plainly."""
    record = view.record
    stored = {(s["county"], s["cnt_order"]): s for s in view.stored}
    mismatches = []
    for t in traced:
        t["run_id"], t["as_of"] = view.run_id, record["as_of"].isoformat()
        s = stored.pop((t["county"], t["cnt_order"]), None)
        t["stored"] = {k: s[k] for k in OUTCOME} if s else None
        mine = {k: t[k] for k in OUTCOME}
        t["agrees"] = t["stored"] == mine
        where = f"{t['county']} conviction {t['cnt_order']} (file {t['file_index']} line {t['line_no']})"
        if s is None:
            mismatches.append(f"{where}: re-evaluated as {_outcome_text(mine)}, but run {view.run_id} stored no determination for it")
        elif not t["agrees"]:
            mismatches.append(f"{where}: run {view.run_id} stored {_outcome_text(t['stored'])}; "
                              f"re-evaluated now: {_outcome_text(mine)}")
    for (county, cnt), s in sorted(stored.items()):
        mismatches.append(f"{county} conviction {cnt}: run {view.run_id} stored {_outcome_text(s)}, "
                          "but re-evaluated now it is not in scope")
    if mismatches and record["reference_version"] != codes.reference_version():
        mismatches.append(f"the charge-code tables changed since run {view.run_id} "
                          f"(recorded {record['reference_version']}, now {codes.reference_version()})")
    if mismatches and record["code_version"] != __version__:
        mismatches.append(f"the code changed since run {view.run_id} (recorded {record['code_version']}, now {__version__})")
    return mismatches


def explain(spark: SparkSession, warehouse: str, subject: str, run_id: str | None = None) -> dict:
    """The explanation of one person (the JSON shape in this module's docstring)."""
    key = subject_key(subject)
    wh = Warehouse(warehouse)
    if wh.local is not None and not wh.local.is_dir():
        raise UserError(f"warehouse folder not found: {warehouse}")
    if not wh.has_table("runs", spark):
        raise UserError(f"no run is recorded in {warehouse}")
    runs_version = wh.latest_version("runs", spark)
    plan = _runs_to_read(spark, wh, run_id)
    versions = [{t: wh.version_for(spark, t, record) for t in ("determinations", "history")} for record, _ in plan]
    stored = _stored(spark, wh, plan, [v["determinations"] for v in versions], key)
    views = [RunView(record, sorted({s["county"] for s in stored[record["run_id"]]}), {**v, "runs": runs_version}, stored[record["run_id"]])
             for (record, _), v in zip(plan, versions) if record["run_id"] in stored]
    if not views:
        if run_id is not None:
            raise UserError(f"subject {key!r} has no determinations in run {run_id}")
        newest = [r["run_id"] for r, _ in reversed(plan)]
        named = ", ".join(newest[:3]) + (f" and {len(newest) - 3} earlier" if len(newest) > 3 else "")
        raise UserError(f"subject {key!r} has no determinations in the latest run of any county (runs {named or 'none'})")
    rows, counts = _input_rows(spark, wh, views, key)
    try:
        evaluated = _evaluate(spark, [v for v in views if counts.get(v.run_id)], rows)
    finally:
        rows.unpersist()
    runs_read, convictions, mismatches, histories = [], [], [], []
    for view in views:
        record = view.record
        if view.run_id in evaluated:
            history, traced = evaluated[view.run_id]
            mismatches += _check(view, traced)
            decided = {(t["county"], t["cnt_order"]) for t in traced}
            for c in history["convictions"]:
                c["decided"] = (c["county"], c["cnt_order"]) in decided
        else:
            history, traced = None, []
            mismatches.append(f"run {view.run_id} stored determinations of subject {key} but its history table "
                              f"(version {view.versions['history']}) holds none of the person's rows")
        policy_map = PolicyMap.from_json(record["policy_map"], f"run {view.run_id}")
        runs_read.append({
            "run_id": view.run_id, "finished_at": f"{record['finished_at']:%Y-%m-%dT%H:%M:%SZ}", "as_of": record["as_of"].isoformat(),
            "counties": view.counties, "policies": {c: json.loads(policy_map.by_county[c].key()) for c in view.counties},
            "versions": view.versions, "reference_version": record["reference_version"],
            "reference_version_now": codes.reference_version(), "code_version": record["code_version"],
            "age_at_as_of": history.pop("age_at_as_of") if history else None,
        })
        histories.append({"run_id": view.run_id, **history} if history else None)
        convictions += traced
    shown = next((h for h in reversed(histories) if h is not None), None)
    for entry, h in zip(runs_read, histories):
        if h is not None and shown is not None and _without_run(h) != _without_run(shown):
            entry["history"] = h
    used = {n for c in convictions for r in c["rules"] for n in r["facts"]}
    return {"subject_id": key, "runs_read": runs_read, "history": shown, "convictions": convictions,
            "fact_labels": {n: f.label for n, f in FACTS.items() if n in used}, "mismatches": mismatches}


def _without_run(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "run_id"}


# ---------------------------------------------------------------- plain text


def _value(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def _policy_text(policy: dict) -> str:
    params = {k: v for k, v in policy.items() if k != "name"}
    return policy["name"] + (f" {json.dumps(params, sort_keys=True, separators=(', ', ': '))}" if params else "")


def _history_lines(history: dict, title: str) -> list[str]:
    lines = [title + f" (date of birth usable: {_value(history['date_of_birth_usable'])}; "
                     f"deceased: {_value(history['deceased'])})"]
    lines.append(f"  {'':>3} {'county':<16} {'date':<10}  {'as written':<22} {'normalised':<12} {'felony':<6} "
                 f"{'sentence':>9}  {'age':>3}  {'case numbers':<16} flags / position")
    for i, c in enumerate(history["convictions"], start=1):
        strike = "super strike" + (f" ({c['super_strike_text']})" if " + " in (c["super_strike_text"] or "") else "")
        flags = [name for name, on in (("Prop 64", c["prop64"]), ("related", c["related"]), (strike, c["super_strike"]),
                                       ("PC 290", c["pc290"]), ("decided", c["decided"])) if on]
        section = (c["section"] or "") + (f"({c['letter']})" if c["letter"] else "")
        cases = "; ".join(x.strip() for x in c["case_numbers"] if x and x.strip()) or "-"
        lines.append(f"  {i:>3} {c['county']:<16} {c['disposition_date'] or 'unusable':<10}  {c['code_section'] or '-':<22} "
                     f"{section or '-':<12} {'yes' if c['felony'] else 'no':<6} {c['sentence_days']:>7g} d  "
                     f"{_value(c['age_at_conviction']):>3}  {cases:<16} {', '.join(flags) or '-'}; cnt {c['cnt_order']}, "
                     f"file {c['file_index']} line {c['line_no']}")
    regs = ", ".join(f"{r['date'] or 'undated'} (file {r['file_index']} line {r['line_no']})" for r in history["registrations"])
    lines.append(f"  PC 290 registrations: {regs or 'none'}")
    return lines


def render_text(result: dict, labels: dict[str, str] | None = None) -> str:
    """The explanation for people: runs and versions read, history, then each conviction's rules."""
    labels = {n: f.label for n, f in FACTS.items()} if labels is None else labels
    lines = [f"explain subject {result['subject_id']}"]
    for r in result["runs_read"]:
        v = r["versions"]
        lines.append(f"  read run {r['run_id']} (finished {r['finished_at']}, as of {r['as_of']}) for {', '.join(r['counties'])}: "
                     f"determinations v{v['determinations']}, history v{v['history']} (runs table v{v['runs']}); "
                     f"age at as-of: {_value(r['age_at_as_of'])}")
    if result["history"]:
        lines += ["", *_history_lines(result["history"], f"statewide history as run {result['history']['run_id']} saw it, in input order")]
    for r in result["runs_read"]:
        if "history" in r:
            lines += ["", *_history_lines(r["history"], f"statewide history as run {r['run_id']} saw it (other input rows)")]
    width = max((len(x["rule"]) for c in result["convictions"] for x in c["rules"]), default=10)
    for c in result["convictions"]:
        section = (c["section"] or "") + (f"({c['letter']})" if c["letter"] else "")
        lines += ["", f"{c['county']} conviction {c['cnt_order']} (file {c['file_index']} line {c['line_no']}): {c['code_section']} "
                      f"read as {section or '-'}, {'felony' if c['felony'] else 'not a felony'}, disposition {c['disposition_date'] or 'unusable'}",
                  f"  policy {_policy_text(c['policy'])}, as of {c['as_of']}, run {c['run_id']}"]
        for x in c["rules"]:
            facts = "; ".join(f"{labels.get(n, n)}: {_value(v)}" for n, v in x["facts"].items())
            shown = "" if x["status"] == NOT_REACHED else facts
            if x["status"] == PASSED and x["condition"] is None:
                shown += " (no value to test: does not hold)"
            lines.append(f"  {x['order']:>3}. {x['rule']:<{width}}  {x['status']:<11}  {shown}".rstrip())
            if x["status"] == FIRED:
                lines.append(f"  {'':>3}  {'':<{width}}  {'':<11}  -> {x['determination']}: {x['reason']} [{x['statute']}]")
        verdict = "as stored by the run" if c["agrees"] else f"DISAGREES with the stored row: {_outcome_text(c['stored'])}"
        lines.append(f"  determination: {c['determination']}; reason: {c['reason']}; statute: {c['statute']}; "
                     f"rule {c['rule']} ({verdict})")
    if result["mismatches"]:
        lines += ["", "the re-evaluation disagrees with what the run stored (reference tables or code changed?):",
                  *[f"  - {m}" for m in result["mismatches"]]]
    return "\n".join(lines)
