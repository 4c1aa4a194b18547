"""Rerun a recorded run and say whether it decides exactly the same (`clearsweep run --reproduce`).

1. Every input the run recorded is checked before anything is decided: a local file's SHA-256 is
   recomputed, a remote file's file-system checksum asked for again; a missing file, a changed
   checksum or a checksum never recorded is refused in one line naming the file, and so is a rerun
   from files after a purge (they still hold the people purged since). An ingested raw
   table is read at the ingest and version the run recorded (less anyone purged since, as every
   read of a past run); that version must still be in the table's log and still hold the number
   of accepted rows the run read.
2. The run is decided again by the same pipeline (clearsweep.sweep.run_job) with its recorded
   policy map, as-of date and counties, into a scratch warehouse under the warehouse's
   `_work/<reproduce id>/`. The caller holds the warehouse lock meanwhile (no other command
   clears `_work` or writes a table); the real tables are only read. The scratch folder is
   removed afterwards, whatever happens.
3. Each county's determinations checksum (clearsweep.outputs.checksum) of the original, at the
   version the run recorded, and of the rerun are compared. A county that differs is compared
   row by row on every column but run_id (clearsweep.audit.diff.outcomes): counts of added,
   removed and changed rows, and the first few keys with the columns that differ.
"""

from __future__ import annotations

import json

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import __version__, codes, fs
from clearsweep.audit.diff import CHANGES, KEY, first_changes, outcomes, require_own_rows
from clearsweep.decide.policies import PolicyMap
from clearsweep.errors import UserError
from clearsweep.ingest.extract import accepted, sha256_file
from clearsweep.outputs.checksum import county_checksums
from clearsweep.outputs.warehouse import Warehouse, new_id
from clearsweep.progress import Progress
from clearsweep.sweep import run_job

FIRST_KEYS = 5  # keys shown per county that differs


def _file_problem(spark: SparkSession, recorded: dict) -> str | None:
    """Why a recorded input file no longer is what the run read, or None."""
    path, expected = recorded["file"], recorded.get("checksum") or "unavailable"
    local = fs.local_path(path)
    if local is not None:
        if not local.is_file():
            return f"input file {path} is missing"
        now = sha256_file(str(local))
    else:
        hfs = fs.HadoopFS(spark, path)
        if not hfs.exists(path):
            return f"input file {path} is missing"
        now = hfs.checksum(path) or "unavailable"
    if expected == "unavailable":
        return f"input file {path}: the run recorded no checksum of it (its file system keeps none), so it cannot be checked"
    if now != expected:
        return f"input file {path} has changed since the run (its checksum is not the one recorded)"
    return None


def _raw_at(spark: SparkSession, run, recorded: dict) -> tuple[dict, list[str]]:
    """The raw table's ingest and version to read again, checked; and what to say of it."""
    path, version = recorded["table"], int(recorded["version"])
    parent = Warehouse(fs.parent(path))
    read = parent.version_for(spark, "raw", {"finished_at": run["finished_at"], "versions": {"raw": version}})
    if read not in parent.commits("raw", spark):
        raise UserError(f"raw table {path}: version {read}, which run {run['run_id']} read, is no longer in its log")
    try:
        rows = accepted(parent.read(spark, "raw", read)).count()
    except (PySparkException, Py4JJavaError):
        raise UserError(f"raw table {path}: version {read}, which run {run['run_id']} read, can no longer be read "
                        "(its files were vacuumed)") from None
    notes = []
    if read != version:
        notes.append(f"raw table read at version {read}: a purge since the run removed people from version {version}")
    elif rows != run["input_rows"]:
        raise UserError(f"raw table {path}: version {read} holds {rows} accepted rows, run {run['run_id']} read {run['input_rows']}")
    return {"ingest_id": recorded["ingest_id"], "version": read}, notes


def verify_inputs(spark: SparkSession, wh: Warehouse, run) -> tuple[list[str], dict | None, list[str]]:
    """The run's inputs, checked (module docstring): the paths to read again, the raw table's
    ingest and version (None for files) and notes. Refuses naming the first file that fails."""
    inputs = json.loads(run["inputs"] or "[]")
    tables = [i for i in inputs if "table" in i]
    if tables:
        raw_at, notes = _raw_at(spark, run, tables[0])
        return [tables[0]["table"]], raw_at, notes
    purge = wh.latest_record(spark, "purges")
    if purge is not None and purge["finished_at"] > run["finished_at"]:
        # the files still hold the people purged since: deciding them again would bring them back
        raise UserError(f"cannot reproduce {run['run_id']} from its input files: purge {purge['purge_id']} has since removed "
                        "people whose records were sealed or corrected, and those files still hold them")
    problems = [p for i in inputs if (p := _file_problem(spark, i)) is not None]
    if problems:
        more = f" (and {len(problems) - 1} more input files)" if len(problems) > 1 else ""
        raise UserError(f"cannot reproduce {run['run_id']}: {problems[0]}{more}")
    return [i["file"] for i in inputs], None, []


def compare_counties(original: DataFrame, rerun: DataFrame, counties: list[str]) -> dict:
    """county -> {"identical", "original", "rerun" (checksums)}, and for a county that differs the
    counts of added, removed and changed rows and its first keys with the columns that differ."""
    before, after = county_checksums(original, counties), county_checksums(rerun, counties)
    out = {c: {"identical": before[c] == after[c], "original": before[c], "rerun": after[c]} for c in counties}
    differing = [c for c in counties if not out[c]["identical"]]
    if not differing:
        return out
    columns = tuple(c for c in original.columns if c not in (*KEY, "run_id"))
    scope = F.col("county").isin(*differing)
    compared = outcomes(original.where(scope), rerun.where(scope), compare=columns)
    which = F.array_compact(F.array(*[F.when(~F.col(f"before.{c}").eqNullSafe(F.col(f"after.{c}")), F.lit(c)) for c in columns]))
    compared = compared.withColumn("columns", F.when(F.col("change") == "changed", which)).persist()
    try:
        counts = compared.groupBy("county", "change").agg(F.count(F.lit(1)).alias("n")).collect()
        firsts = first_changes(compared.select(*KEY, "change", "columns"), FIRST_KEYS, per_county=True)
    finally:
        compared.unpersist()
    for c in differing:
        out[c].update({ch: sum(r["n"] for r in counts if r["county"] == c and r["change"] == ch) for ch in CHANGES})
        out[c]["first"] = [{"subject_id": r["subject_id"], "cnt_order": r["cnt_order"], "change": r["change"],
                            **({"columns": list(r["columns"])} if r["columns"] else {})} for r in firsts if r["county"] == c]
    return out


def reproduce(spark: SparkSession, warehouse: str, run_id: str, *, work_id: str | None = None, locked: bool = False,
              wait: float = 0, progress: Progress | None = None) -> dict:
    """The reproduce report (module docstring); `locked`: the caller holds the warehouse lock."""
    wh = Warehouse(warehouse)
    work_id = work_id or new_id("reproduce")
    if locked:
        return _reproduce(spark, wh, run_id, work_id, progress)
    with wh.lock(work_id, wait, spark):
        return _reproduce(spark, wh, run_id, work_id, progress)


def _reproduce(spark: SparkSession, wh: Warehouse, run_id: str, work_id: str, progress: Progress | None) -> dict:
    run = wh.run_record(spark, run_id=run_id)
    if run is None:
        raise UserError(f"no run {run_id} is recorded in {wh.location}")
    paths, raw_at, notes = verify_inputs(spark, wh, run)
    policy_map = PolicyMap.from_json(run["policy_map"], run["policy_source"])
    counties = list(run["counties"])
    version = wh.version_for(spark, "determinations", run)
    original = wh.read(spark, "determinations", version).where(F.col("county").isin(*counties))
    require_own_rows(original, run_id, "the determinations", wh.lineage(spark, run_id))
    scratch = wh.work_path(work_id, "warehouse")
    if progress is not None:  # shown from here: a refusal above is the only line on the console
        progress.attach(spark)
    try:
        again = run_job(spark, paths, scratch, run["as_of"], policy=policy_map, run_id=work_id, locked=True,
                        progress=progress, raw_at=raw_at)
        rerun = Warehouse(scratch).read(spark, "determinations", again["versions"]["determinations"])
        by_county = compare_counties(original, rerun, counties)
    finally:
        wh.drop_work(spark, work_id)
    if version != run["versions"]["determinations"]:
        notes.append(f"determinations read at version {version}: a purge since the run removed people from it")
    if (run["code_version"], run["reference_version"]) != (__version__, codes.reference_version()):
        notes.append(f"the run was decided by code {run['code_version']} with reference tables {run['reference_version']}; "
                     f"this rerun by code {__version__} with reference tables {codes.reference_version()}")
    inputs = ([{"table": paths[0], **raw_at}] if raw_at else
              [{"file": i["file"], "checksum": i["checksum"]} for i in json.loads(run["inputs"] or "[]")])
    return {"run_id": run_id, "identical": all(c["identical"] for c in by_county.values()),
            "as_of": run["as_of"].isoformat(), "policy_hash": run["policy_hash"], "inputs_verified": inputs,
            "versions_read": {"determinations": version, **({"raw": raw_at["version"]} if raw_at else {})},
            "counties": by_county, "notes": notes}
