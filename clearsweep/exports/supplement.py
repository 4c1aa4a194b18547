"""The monthly supplement (`export --since RUN_ID`, `run --since ... --export DIR`): for each
county decided by both runs, only the convictions whose determination is new or changed since
the base run, with the motion exhibit's columns, the change and its cause as `diff` names them.

Interface (work in progress; the signature and the result's keys are fixed):

    deliver_supplement(spark, warehouse, out, *, since, run_id=None, counties=None, progress=None) -> dict

`since`: the base run's id; `run_id`: the run (default: the latest recorded run); `counties`:
DOJ county names (default: every county both runs decided). Called in the run's own session,
after the run is recorded. Returns {"since", "run_id", "versions", "counties": {county: {...,
"counts": {"new", "changed", "removed"}, "manifest", "manifest_sha256", "out"}}, "refused":
{county: why}, "out", "seconds"}; a county refused (its counts do not tie out to `diff`) is not
written, and DELIVERY.json is then not written either (the caller exits 1 naming it)."""

from __future__ import annotations

from pyspark.sql import SparkSession

from clearsweep.progress import Progress


def deliver_supplement(spark: SparkSession, warehouse: str, out: str, *, since: str, run_id: str | None = None,
                       counties: list[str] | None = None, progress: Progress | None = None) -> dict:
    raise NotImplementedError("the monthly supplement is being built (branch i-supplement)")
