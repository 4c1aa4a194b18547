"""Write a seeded synthetic statewide extract in the CA DOJ research-file format.

Every output is fictional: random combinations of common names, numbers that were never
issued (SSNs start with 9). People get realistic histories across the 58 California counties
(county sizes follow population): arrests, court actions with dispositions and sentences split
over continuation rows, PC 290 registrations, deaths, super strikes, related and other offenses,
Prop 64 convictions (mostly before 2016-11-09) in every code-section spelling the DOJ file
uses, and a small share of dirty values (unusable dates, padding, NULL, junk counties).

--rows N is the number of good data lines. --bad-rows K (CSV only) adds K bad lines of each
kind on top (3K lines: wrong field count, broken quoting, unusable SUBJECT_ID/CNT_ORDER) and
lists them in DIR/bad_rows.json. Output: DIR/extract-00000.csv ... (or .parquet), one per
--files, plus DIR/manifest.json. The same --seed gives byte-identical output whatever
--workers is.

--next-month-of DIR writes the following month's extract of a generated CSV extract DIR
instead (same file names, format and header; --changed F of its people changed, seeded by
--seed; unchanged people keep their file and line numbers), with DIR2/changes.json: the
changed people, the kind of each change and the purge list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clearsweep.errors import UserError
from clearsweep.synth.nextmonth import write_next_month
from clearsweep.synth.writers import make_plan, write_extract


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, metavar="N",
                        help="good data lines to write (bad lines from --bad-rows come on top)")
    parser.add_argument("--next-month-of", type=Path, metavar="DIR",
                        help="write the month after the generated extract DIR instead (its files, "
                             "format and header; see --changed); DIR2/changes.json lists who changed")
    parser.add_argument("--changed", type=float, default=None, metavar="F",
                        help="with --next-month-of: the fraction of people who change (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed; the same seed gives byte-identical output (default 0)")
    parser.add_argument("--format", choices=("csv", "parquet"), default=None,
                        help="DOJ-style CSV, or parquet with all 95 columns as strings (default csv)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output directory (created; must not hold generated files already)")
    parser.add_argument("--no-header", dest="header", action="store_false",
                        help="CSV without the header line")
    parser.add_argument("--bad-rows", type=int, default=0, metavar="K",
                        help="CSV only: add K bad lines of each kind (field_count, quoting, bad_value), "
                             "listed in DIR/bad_rows.json")
    parser.add_argument("--files", type=int, default=None, metavar="F",
                        help="split the output over F files; a person's rows may span files (default 1)")
    parser.add_argument("--workers", type=int, default=None, metavar="W",
                        help="worker processes (default: all usable CPUs); output does not depend on it")


def next_month(args: argparse.Namespace) -> int:
    given = [flag for flag, value in (("--rows", args.rows), ("--format", args.format),
                                      ("--files", args.files), ("--bad-rows", args.bad_rows or None),
                                      ("--no-header", not args.header or None)) if value is not None]
    if given:
        raise UserError(f"--next-month-of takes rows, files, format and header from DIR; leave out {given[0]}")
    changed = 0.01 if args.changed is None else args.changed
    manifest, summary = write_next_month(args.next_month_of, args.out, changed, args.seed)
    # Counts only: never a name, number or date of a (fictional) person.
    kinds = ", ".join(f"{n} {k}" for k, n in summary["kinds"].items())
    print(f"clearsweep generate: next month of {args.next_month_of}: {summary['people_changed']} of"
          f" {summary['people_before']} people changed ({kinds}); {manifest['rows']} rows,"
          f" {len(summary['purge'])} to purge -> {args.out}")
    return 0


def main(args: argparse.Namespace) -> int:
    if args.next_month_of is not None:
        return next_month(args)
    if args.changed is not None:
        raise UserError("--changed needs --next-month-of DIR")
    if args.rows is None:
        raise UserError("give --rows N (or --next-month-of DIR)")
    plan = make_plan(rows=args.rows, seed=args.seed, format=args.format or "csv", out=args.out,
                     header=args.header, bad_per_kind=args.bad_rows, files=1 if args.files is None else args.files,
                     workers=args.workers)
    manifest = write_extract(plan)
    covered = sum(1 for n in manifest["rows_per_county"].values() if n)
    # Counts only: never a name, number or date of a (fictional) person.
    print(f"clearsweep generate: {plan.files} {plan.format} file(s), {plan.rows} rows"
          f" + {manifest['bad_lines']} bad lines, {manifest['people']} people,"
          f" {covered} of 58 counties -> {plan.out}")
    return 0
