"""The `clearsweep` console command: one subcommand per job module in jobs/."""

from __future__ import annotations

import argparse
import importlib
import sys

from clearsweep.errors import UserError

# subcommand -> module in jobs/ exposing add_arguments(parser) and main(args) -> int
SUBCOMMANDS = {
    "generate": ("jobs.generate", "write a seeded synthetic statewide extract"),
    "ingest": ("jobs.ingest", "load DOJ files into typed raw and quarantine Delta tables"),
    "run": ("jobs.run", "decide Prop 64 eligibility statewide and write per-county Delta outputs"),
    "export": ("jobs.export", "write one county's reference-compatible files"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clearsweep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._module.main(args) or 0)
    except UserError as exc:
        print(f"clearsweep {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
