"""`clearsweep run --since RUN_ID`: the monthly run (clearsweep/incremental.py), and with
`--export DIR` the monthly supplement of what changed since that run."""

from __future__ import annotations

import json
from types import SimpleNamespace

from clearsweep.errors import UserError


def _supplement():
    """`deliver_supplement`, or a plain error when this code has none (checked before Spark starts)."""
    try:
        from clearsweep.exports.supplement import deliver_supplement
    except ImportError:
        raise UserError("--since with --export needs the monthly supplement (`export --since`), which this version of "
                        "clearsweep does not have yet: run without --export") from None
    return deliver_supplement


def print_supplement(delivered: dict) -> int:
    """The supplement's own summary when it gives one, else its result as JSON."""
    try:
        from jobs.export import print_supplement as printer  # the supplement's printer, when it has landed
    except ImportError:
        print(json.dumps(delivered, indent=2, default=str))
        return 0
    return printer(delivered) or 0


def since_job(args):
    """None for a full run; else what an incremental run calls: the run, and its export."""
    if not args.since:
        return None
    from clearsweep.incremental import require_raw_input, run_since  # Spark's modules only once a session is coming
    from clearsweep.outputs.warehouse import Warehouse

    require_raw_input(None, Warehouse(args.warehouse), args.input)

    return SimpleNamespace(run=run_since, export=_supplement() if args.export else None, print_export=print_supplement)
