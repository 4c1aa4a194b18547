"""The `clearsweep` console command: one subcommand per job module in jobs/."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import re
import sys
import traceback
from pathlib import Path

from clearsweep import fs
from clearsweep.errors import DamagedWarehouse, TraceLeft, UserError
from clearsweep.fs import scheme
from clearsweep.outputs.integrity import require_sound_logs
from clearsweep.paths import LOG_ENV, cache_dir, umask

# subcommand -> (module in jobs/ exposing add_arguments(parser) and main(args) -> int, help)
SUBCOMMANDS = {
    "generate": ("jobs.generate", "write a seeded synthetic statewide extract"),
    "ingest": ("jobs.ingest", "load DOJ files into typed raw and quarantine Delta tables"),
    "run": ("jobs.run", "decide Prop 64 eligibility statewide into county-partitioned Delta tables"),
    "export": ("jobs.export", "write the district attorneys' packets (every county of a run, or those named)"),
    "report": ("jobs.report", "write the impact report (self-contained HTML) of a county or of a run's total"),
    "runs": ("jobs.runs", "list the recorded runs (a county's own history of results with --county)"),
    "diff": ("jobs.diff", "what changed between two recorded runs, and why"),
    "explain": ("jobs.explain", "explain one person's determinations, rule by rule, as a recorded run made them"),
    "purge": ("jobs.purge", "remove sealed or corrected people from every table and version, and verify"),
    "check": ("jobs.check", "read every table's Delta log and files and report damage (writes nothing)"),
}
NO_LOG_CHECK = ("generate", "check")  # every other command first checks the warehouse's logs


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """Only the chosen subcommand's module is imported: `generate` needs no Spark."""
    parser = argparse.ArgumentParser(prog="clearsweep", description="Statewide Prop 64 eligibility sweeps.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == command:
            module = importlib.import_module(module_name)
            p.description = module.__doc__
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def log_path(command: str) -> Path:
    """This command's log file: Spark's log lines and, on a failure, the full traceback (under
    spark-submit, the file scripts/submit gave the driver's JVM, started before this command)."""
    if os.environ.get("CLEARSWEEP_SUBMIT_LOG"):
        return Path(os.environ["CLEARSWEEP_SUBMIT_LOG"])
    folder = Path(os.environ.get("CLEARSWEEP_LOG_DIR") or cache_dir() / "logs")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{command}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{os.getpid()}.log"


def _error_class(exc: BaseException) -> str:
    """The exception's kind and Spark error class, never its message: messages can quote data."""
    found = re.search(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]", str(exc))
    return type(exc).__name__ + (f" [{found.group(1)}]" if found else "")


def _absolute(location):
    if isinstance(location, Path):  # options parsed as paths stay paths
        return location.absolute()
    return location if scheme(location) else os.path.abspath(location)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    # what commands write (tables, exports, logs) is readable by its owner only unless configured
    os.umask(int(umask(), 8))
    for name in ("input", "warehouse", "out", "export"):  # relative to where the command was typed, whatever Spark's idea of it
        value = getattr(args, name, None)
        if value is not None:
            setattr(args, name, [_absolute(v) for v in value] if isinstance(value, list) else _absolute(value))
    log = log_path(args.command)
    os.environ[LOG_ENV] = str(log)
    try:
        warehouse = getattr(args, "warehouse", None)
        if args.command not in NO_LOG_CHECK and warehouse and fs.local_path(str(warehouse)) is not None:
            require_sound_logs(fs.local_path(str(warehouse)))  # damage named before Spark starts or anything is written
        return int(args._module.main(args) or 0)
    except UserError as exc:
        print(f"clearsweep {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except DamagedWarehouse as exc:
        print(f"clearsweep {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except TraceLeft as exc:  # names files, never the person
        print(f"clearsweep {args.command}: NOT CLEAN: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"clearsweep {args.command}: interrupted (nothing is recorded until a command completes)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - anything unforeseen: one line here, the whole story in the log
        with open(log, "a", encoding="utf-8") as f:
            traceback.print_exc(file=f)
        print(f"clearsweep {args.command}: failed ({_error_class(exc)}); full log: {log}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
