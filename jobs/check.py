"""`clearsweep check`: read every table's Delta log and files and report damage (a commit that
does not parse, a version or checkpoint missing or unreadable, a data file the newest version
holds that is gone), one line per finding, each with its repair. Writes nothing; exit 0 when
clean, 1 when damaged."""

from __future__ import annotations

from clearsweep import fs
from clearsweep.errors import UserError
from clearsweep.outputs.integrity import damage


def add_arguments(parser) -> None:
    parser.add_argument("--warehouse", required=True, metavar="DIR", help="folder holding the Delta tables")


def main(args) -> int:
    local = fs.local_path(args.warehouse)
    if local is None:
        raise UserError(f"check reads a warehouse folder on this machine, not {args.warehouse}")
    if not local.is_dir():
        raise UserError(f"warehouse folder not found: {args.warehouse}")
    findings, read = damage(local)
    for finding in findings:
        print(finding)
    verdict = f"{len(findings)} finding(s): damaged" if findings else "clean"
    print(f"check {args.warehouse}: {read['tables']} tables, {read['versions']} versions, {read['files']} data files of their "
          f"newest versions: {verdict}")
    return 1 if findings else 0
