"""Decide Prop 64 eligibility for every marijuana conviction of the state (or of the counties
named) as of a date, under each county's policy, and record the run in the warehouse: each
conviction's determination, reason and statute, the input rows of the people decided, and the
figures per county. Reads DOJ research files (CSV or Parquet) or an ingested raw table. Prints
what the run covers, what it read and the relief it gives.

With --export DIR: once the run is recorded, also writes every county's packet into
DIR/<county>/ (as `clearsweep export` does, in the same session).

With --reproduce RUN_ID: check the run's recorded inputs, decide it again with its recorded
policy, as-of date and counties (the warehouse's tables are only read), and compare every
county's results. Exit 0 when identical, 1 when anything differs (said per county), 2 when an
input no longer matches (named)."""

from __future__ import annotations

import datetime as dt
import json

from clearsweep import counties as county_list
from clearsweep import fs
from clearsweep.decide.policies import REGISTRY
from clearsweep.decide.policy_files import load_policy_map
from clearsweep.errors import UserError
from clearsweep.exports.delivery import deliver
from clearsweep.ingest.extract import resolve_inputs, start_scans
from clearsweep.ingest.sources import is_table
from clearsweep.outputs.figures import TOTAL_KEYS, total_of
from clearsweep.outputs.warehouse import Warehouse, new_id
from clearsweep.progress import Progress
from clearsweep.reports.wording import convictions, count_of, have, number, people
from clearsweep.session import SPLIT_BYTES, add_session_arguments, byte_size, get_spark, session_conf
from clearsweep.sweep import run_job
from jobs.export import print_delivery
from jobs.reproduce import main_reproduce
from jobs.since import since_job


def add_arguments(parser) -> None:
    parser.add_argument("--input", nargs="+", default=None, metavar="PATH", help="DOJ files/folders, or an ingested raw Delta table")
    parser.add_argument("--since", default=None, metavar="RUN_ID", help="decide again only the people whose answer can differ from this recorded run's (input: the warehouse's raw table)")
    parser.add_argument("--reproduce", default=None, metavar="RUN_ID", help="rerun a recorded run from its recorded inputs, policy and as-of date, and compare")
    parser.add_argument("--warehouse", required=True, metavar="DIR")
    parser.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="date every rule is judged against (default: today, recorded)")
    parser.add_argument("--county", action="append", default=None, metavar="NAME", help="decide only this county (repeatable)")
    parser.add_argument("--policy", default=None, help=" | ".join([*REGISTRY, "policy-map YAML", "options JSON"]))
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for another run on the warehouse to finish (default: stop at once)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--json", action="store_true", help="with --reproduce: one JSON document on stdout")
    parser.add_argument("--export", default=None, metavar="DIR", help="once the run is recorded, write every county's packet into DIR/<county>/")
    add_session_arguments(parser)


def _as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of must be YYYY-MM-DD, got {value!r}") from None


def _relief_line(scenario: dict) -> str:
    d, r = scenario["convictionsDismissed"], scenario["convictionsReduced"]
    nf, nc, n7 = scenario["peopleWithNoFelony"], scenario["peopleWithNoConviction"], scenario["peopleWithNoConvictionLast7Years"]
    reduced = f", {convictions(r['total'])} reduced ({number(r['felony'])} felonies)" if r["total"] else ""
    return (f"{convictions(d['total'])} dismissed ({number(d['felony'])} felonies, {number(d['misdemeanor'])} misdemeanors or "
            f"infractions){reduced}; {people(scenario['peopleRelieved'])} relieved, {people(nf)} no longer {have(nf)} a felony, "
            f"{people(nc)} {have(nc)} no conviction left, {people(n7)} none in the last 7 years")


def print_summary(result: dict) -> None:
    """The run in a prosecutor's words: what it covers, what it read, and what relief it gives."""
    total = total_of(result["figures"])
    s, x = total["summary"], total["extended"]
    for line in result["recovered"]:
        print(f"  recovered: {line}")
    print(f"run {result['run_id']}: as of {result['as_of']}, policy {result['policy_source']} ({result['policy_hash']}), {result['seconds']} s")
    print(f"  covers {x['label']}")
    if result.get("kind") == "incremental":
        n = json.loads(result["redecided"])
        print(f"  incremental since {result['base_run_id']}: {people(n['rows'] + n['time'] + n['policy'])} decided again "
              f"({number(n['rows'])} whose rows changed, {number(n['time'])} by time alone, {number(n['policy'])} under a changed policy), "
              f"{people(n['removed'])} removed; everyone else carried over")
    print(f"  input: {count_of(result['input_rows'], 'row')} read; {count_of(result['quarantined_rows'], 'line')} set aside as unreadable (quarantined)")
    for note in result["notes"]:
        print(f"  {note}")
    q = {k: number(v) for k, v in x.get("dataQuality", {}).items() if isinstance(v, int)}
    print(f"  data quality: {q.get('rowsWithCountyNotInCalifornia')} rows name a county that is not one of the 58 (out of state or misspelt), "
          f"{q.get('rowsWithoutCounty')} name none; conviction rows: {q.get('convictionsWithNoChargeWritten')} with no charge written "
          f"(blank, or SEE COMMENT with none), {q.get('convictionRowsWithUnrecognisedCodeSection')} with a code section that cannot be read, "
          f"{q.get('convictionRowsWithUnusableDispositionDate')} with an unusable disposition date, {q.get('convictionRowsWithBirthAfterDisposition')} "
          f"born after it; decided: {q.get('decidedConvictionsWithConflictingFelonyFlags')} with rows disagreeing on felony, "
          f"{q.get('decidedConvictionsOfPeopleWithSentenceRowsWithoutConviction')} of people with a sentence row that has no conviction; "
          f"{q.get('rowsDatedAfterAsOf')} rows dated after the as-of date; {q.get('countsWithConflictingDispositionsAcrossFiles')} counts "
          f"given different dispositions by two files ({q.get('peopleWithConflictingDispositionsAcrossFiles')} people)")
    print("  seconds by phase: " + ", ".join(f"{k} {v}" for k, v in result["phases"].items()))
    decided = s["prop64FelonyConvictionsCountInCounty"] + s["prop64NonFelonyConvictionsCountInCounty"]
    print(f"  Prop 64 convictions decided: {number(decided)} for {people(x['peopleWithProp64Conviction'])}")
    print(f"  under the chosen policy: {_relief_line(x['scenarios']['chosenPolicy'])}")
    print(f"  if every Prop 64 conviction were dismissed: {_relief_line(x['scenarios']['dismissAllProp64'])}")
    print(f"  and every related conviction too: {_relief_line(x['scenarios']['dismissAllProp64AndRelated'])}")
    busiest = sorted(((c, f["summary"]) for c, f in result["figures"].items() if c not in TOTAL_KEYS),
                     key=lambda cf: -(cf[1]["prop64FelonyConvictionsCountInCounty"] + cf[1]["prop64NonFelonyConvictionsCountInCounty"]))
    counties_with = sum(1 for _, f in busiest if f["subjectsWithProp64ConvictionCountInCounty"])
    print(f"  counties with decisions: {counties_with} of {len(busiest)}")
    for county, f in busiest[:5]:
        n = f["prop64FelonyConvictionsCountInCounty"] + f["prop64NonFelonyConvictionsCountInCounty"]
        print(f"    {county}: {convictions(n)}, {people(f['subjectsWithSomeReliefCount'])} relieved")


def main(args) -> int:
    if args.reproduce:
        return main_reproduce(args)  # jobs/reproduce.py
    if not args.input:
        raise UserError("give --input PATH... (or --reproduce RUN_ID)")
    as_of = _as_of(args.as_of) if args.as_of else dt.date.today()  # the wall clock is read once, here, and recorded
    counties = county_list.resolve(args.county)
    policy_map = load_policy_map(args.policy, counties)  # configuration errors before Spark starts
    since = since_job(args)  # --since without the warehouse's raw table, --export without the supplement: said now
    master, conf = session_conf(args.profile, args.conf)
    scans = None
    if all(fs.is_local(p) for p in args.input) and not is_table(args.input):
        files, _ = resolve_inputs(args.input)  # a missing or unreadable file, named, before Spark starts
        scans = start_scans(files, byte_size(conf[SPLIT_BYTES]))  # checksums and line breaks while Spark starts
    run_id = new_id("run")
    start = lambda: get_spark(args.profile, args.conf, app_name="clearsweep-run", warehouse=args.warehouse)  # noqa: E731
    with Progress(enabled=not args.quiet) as progress, Warehouse(args.warehouse).locked_session(run_id, args.wait, start) as spark:
        if since is None:
            result = run_job(spark, args.input, args.warehouse, as_of, counties, policy_map, run_id=run_id, scans=scans,
                             locked=True, progress=progress.attach(spark))
        else:
            result = since.run(spark, args.input, args.warehouse, as_of, policy_map, args.since, run_id=run_id, locked=True,
                               progress=progress.attach(spark))
        print_summary(result)
        if args.export and since is not None:  # the monthly supplement: only what changed since the base
            delivered = since.export(spark, args.warehouse, args.export, since=args.since, run_id=run_id, progress=progress)
        elif args.export:  # the run is recorded: its packets, in its own session
            delivered = deliver(spark, args.warehouse, args.export, None, run_id, progress=progress)
    if args.export:
        return since.print_export(delivered) if since is not None else print_delivery(delivered)
    return 0

