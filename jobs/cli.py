"""The `clearsweep` console command: one subcommand per job module in jobs/."""

from __future__ import annotations

import argparse
import importlib
import sys

from clearsweep.errors import UserError

# subcommand -> (module in jobs/ exposing add_arguments(parser) and main(args) -> int, help)
SUBCOMMANDS = {
    "generate": ("jobs.generate", "write a seeded synthetic statewide extract"),
    "ingest": ("jobs.ingest", "load DOJ files into typed raw and quarantine Delta tables"),
    "run": ("jobs.run", "decide Prop 64 eligibility statewide into county-partitioned Delta tables"),
    "export": ("jobs.export", "write one county's reference-compatible files"),
    "runs": ("jobs.runs", "list the recorded runs (a county's own history of results with --county)"),
}


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """Only the chosen subcommand's module is imported: `generate` needs no Spark."""
    parser = argparse.ArgumentParser(prog="clearsweep", description="Statewide Prop 64 eligibility sweeps.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            p.description = module.__doc__
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args._module.main(args) or 0)
    except UserError as exc:
        print(f"clearsweep {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
