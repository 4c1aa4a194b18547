"""The monthly supplement (`export --since RUN_ID`, `run --since ... --export DIR`): for each
county decided by both runs, only the convictions whose outcome is new or changed since the base
run, as `diff` between the two runs finds them (clearsweep.audit.diff: the determination, reason,
rule, statute, policy or a column of the motion exhibit differs; never a column that moves with
the as-of date alone), each with the motion exhibit's columns, its change and the cause `diff`
names.

Files: `DIR/<county>/monthly_supplement.csv` (one line per new or changed conviction, in court
order, as the motion exhibit sorts them) and `manifest.json` (the county, both runs and the
versions read, the counts of new, changed and removed convictions and their causes, each file's
SHA-256), then `DIR/DELIVERY.json` last. Removed convictions (in the base run's answer, not in
this one) are counted, never listed; a person purged since is in neither run's tables as read
(clearsweep.outputs.warehouse.version_for) and so is never mentioned.

One Spark write makes every county's file (the delivery's way: clearsweep.exports.lines numbers
the lines, clearsweep.exports.staging puts whole folders in place, owner-only as every command
writes). The write observes each file's last line (its number, and how many lines so far are
new) and the removed convictions per county; a county whose counts differ from `diff`'s is not
published and is named (the command exits 1)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from clearsweep import counties as county_list
from clearsweep.audit.diff import CAUSES, EXHIBIT, RunRead, changes, tallies
from clearsweep.errors import UserError
from clearsweep.exports import lines, motion, staging
from clearsweep.exports.delivery import find_run, write_lines
from clearsweep.exports.reference import MANIFEST_FILE, go_csv_line, go_line_col
from clearsweep.frames import local_frame
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.progress import Progress

SUPPLEMENT_CSV = "monthly_supplement.csv"
KIND = "monthly supplement"
NEW, CHANGED, REMOVED = "new", "changed", "removed"
KINDS = (NEW, CHANGED, REMOVED)
FROM_DIFF = {NEW: "added", CHANGED: "changed", REMOVED: "removed"}  # the supplement's word -> diff's
HEADERS = (*motion.IDENTITY_HEADERS, "Determination", "Reason", "Relief", "Statute",
           "Change", "Previous Determination", "Previous Reason", "Cause of Change")
# what each listed conviction carries from the run's side (clearsweep.audit.diff.with_exhibit)
CARRY = ("felony", "statute", "STP_ORI_DESCR", "case_number", "CII_NUMBER", "file_index", "line_no")


# ---------------------------------------------------------------- the lines


def supplement_cells(after: Column, before: Column) -> list[Column]:
    """A listed conviction's cells, in HEADERS order: the exhibit's identifying cells, the
    outcome and relief, then the change, the earlier outcome (a changed conviction's) and the cause."""
    determination = after["determination"]
    added = F.col("change") == "added"
    return [
        *[after[EXHIBIT][i] for i in range(len(motion.IDENTITY_HEADERS))],
        motion.text(determination), motion.text(after["reason"]),
        motion.text(motion.relief(determination, after["felony"])), motion.text(after["statute"]),
        F.when(added, F.lit(NEW)).otherwise(F.lit(CHANGED)),
        F.when(added, F.lit("")).otherwise(motion.text(before["determination"])),
        F.when(added, F.lit("")).otherwise(motion.text(before["reason"])),
        motion.text(F.col("cause")),
    ]


def body(explained: DataFrame) -> DataFrame:
    """The new and changed convictions as lines of the county's file (f 0), with the court-order
    keys of the motion exhibit (court, case number, undated last, date, CII number, position)."""
    a = F.col("after")
    listed = explained.where(F.col("change").isin("added", "changed"))
    return listed.select(
        "county", F.lit(0).alias("f"), F.lit(lines.BODY).alias("part"),
        motion.text(a["STP_ORI_DESCR"]).alias("k_court"), motion.text(a["case_number"]).alias("k_case"),
        a["disposition_date"].isNull().alias("k_undated"), a["disposition_date"].alias("k_date"),
        motion.text(a["CII_NUMBER"]).alias("k_cii"), a["file_index"].alias("file_index"), a["line_no"].alias("line_no"),
        go_line_col(supplement_cells(a, F.col("before"))).alias("line"), "change", F.lit(None).cast("string").alias("run_id"))


def heads(spark: SparkSession, counties: list[str]) -> DataFrame:
    """Each county's header line: a county with nothing new still gets its file."""
    header = go_csv_line(HEADERS).removesuffix("\n")
    return local_frame(spark, [{"county": c, "f": 0, "part": lines.HEAD, "line": header} for c in counties], lines.EDGE_SCHEMA)


# ---------------------------------------------------------------- tying out to diff


def written_counts(observed: dict, numbers: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per county, from the write's observation: new and changed lines (the file's last line:
    its number less the header, and how many lines so far were new) and removed convictions."""
    out = {county: {NEW: 0, CHANGED: 0, REMOVED: observed["removed"][c] or 0} for county, c in numbers.items()}
    county_of = {c: county for county, c in numbers.items()}
    for r in observed["files"]:
        rows = r["n"] - 1
        out[county_of[r["c"]]].update({NEW: r["first"], CHANGED: rows - r["first"]})
    return out


def tie_out(county: str, written: dict[str, int], diff: dict) -> list[str]:
    """Where a county's supplement differs from `diff`'s counts of the county (counts only)."""
    return [f"{kind}: {written.get(kind, 0)} in the supplement, {diff.get(FROM_DIFF[kind], 0)} {FROM_DIFF[kind]} by diff"
            for kind in KINDS if written.get(kind, 0) != diff.get(FROM_DIFF[kind], 0)]


# ---------------------------------------------------------------- which runs and counties


def _runs(spark: SparkSession, wh: Warehouse, since: str, run_id: str | None, asked: list[str] | None) -> tuple[RunRead, RunRead, list[str]]:
    base = RunRead.of(spark, wh, since)
    record = find_run(spark, wh, asked, run_id)
    if record["run_id"] == base.run_id:
        raise UserError(f"--since names run {since}, the run the supplement is of: give an earlier run")
    run = RunRead.of(spark, wh, record["run_id"])
    both = sorted(set(base.counties) & set(run.counties))
    for county in asked or ():
        for r in (base, run):
            if county not in r.counties:
                raise UserError(f"run {r.run_id} did not decide {county}: a supplement lists what changed between two runs that both did")
    if not both:
        raise UserError(f"runs {base.run_id} and {run.run_id} decided no county in common")
    return base, run, sorted(set(asked)) if asked else both


def _refuse_full_packets(out: Path, counties: list[str]) -> None:
    """A supplement never replaces a county's full packet: it goes in a folder of its own."""
    for county in counties:
        try:
            manifest = json.loads((out / county / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.get("kind") != KIND:
            raise UserError(f"{out / county} holds a county's full packet: write the supplement into another folder")


# ---------------------------------------------------------------- the delivery


def deliver_supplement(spark: SparkSession, warehouse: str, out: str, *, since: str, run_id: str | None = None,
                       counties: list[str] | None = None, progress: Progress | None = None) -> dict:
    """Every county's supplement into `out/<county>/`, DELIVERY.json last (the module
    docstring). `since`: the base run; `run_id`: default the latest run (that decided the
    counties named); `counties`: default every county both runs decided. Returns {"since",
    "run_id", "versions": {"since", "run"}, "counties": {county: {"counts", "by_cause",
    "manifest", "manifest_sha256", "out"}}, "refused": {county: why}, "out", "seconds"}."""
    started = time.time()
    progress = progress or Progress(enabled=False)
    wh = Warehouse(warehouse)
    if wh.local is not None and not wh.local.is_dir():
        raise UserError(f"warehouse folder not found: {warehouse}")
    asked = [county_list.normalize(c) for c in counties] if counties else None
    progress.phase("reading the two runs' records")
    base, run, chosen = _runs(spark, wh, since, run_id, asked)
    out_dir = Path(out)
    _refuse_full_packets(out_dir, chosen)
    numbers = {county: i for i, county in enumerate(chosen)}
    explained, _, cached = changes(spark, wh, base, run, chosen, carry=CARRY)
    results, refused = {}, {}
    try:
        progress.phase(f"comparing the runs in {len(chosen)} {'county' if len(chosen) == 1 else 'counties'}")
        per_county, _ = tallies(explained, chosen)  # what `diff --county C` counts
        with staging.staging(out_dir) as stage:
            (out_dir / staging.DELIVERY_FILE).unlink(missing_ok=True)  # no longer true once a county folder changes
            progress.phase("writing the supplements")
            removed, files = Observation("supplement-removed"), Observation("supplement-files")
            changed = explained.where(F.col("change") != "unchanged").observe(
                removed, F.array(*[F.sum(F.when((F.col("county") == c) & (F.col("change") == "removed"), 1).otherwise(0))
                                   for c in chosen]).alias("removed"))
            frame = lines.number_lines(body(changed).unionByName(heads(spark, chosen), allowMissingColumns=True),
                                       numbers, F.col("change") == "added")
            frame = frame.observe(files, F.collect_list(F.when(F.col("last"), F.struct("c", "f", "n", "first"))).alias("files"))
            write_lines(spark, frame, stage / "rows", wh)
            counts = written_counts({**removed.get, **files.get}, numbers)
            for county in chosen:
                problems = tie_out(county, counts[county], per_county[county])
                if problems:
                    refused[county] = (f"the {county} supplement of run {run.run_id} since {base.run_id} does not tie out "
                                       f"to diff: {'; '.join(problems)}")
                else:
                    results[county] = _finish(base, run, county, stage, numbers[county], counts[county], per_county[county], out_dir)
            if not refused:
                staging.write_json(out_dir / staging.DELIVERY_FILE, _delivery(base, run, results))
    finally:
        for df in cached:
            df.unpersist()
    return {"since": base.run_id, "run_id": run.run_id, "versions": {"since": base.versions, "run": run.versions},
            "counties": results, "refused": refused, "out": str(out_dir.resolve()), "seconds": round(time.time() - started, 2)}


def _finish(base: RunRead, run: RunRead, county: str, stage: Path, c: int, counts: dict, diff: dict, out_dir: Path) -> dict:
    """A county's file under its name, its manifest, and the folder put in place."""
    folder = stage / county
    folder.mkdir(parents=True, exist_ok=True)
    staging.part_file(stage / "rows", c, 0).replace(folder / SUPPLEMENT_CSV)
    path = folder / SUPPLEMENT_CSV
    manifest = {
        "kind": KIND, "county": county, "since": base.run_id, "run_id": run.run_id,
        "as_of": {"since": base.record["as_of"].isoformat(), "run": run.record["as_of"].isoformat()},
        "versions": {"since": base.versions, "run": run.versions},
        "counts": {k: counts[k] for k in KINDS},
        "by_cause": {cause: n for cause, n in diff["by_cause"].items() if cause in CAUSES},
        "files": {SUPPLEMENT_CSV: {"sha256": staging.sha256(path), "bytes": path.stat().st_size, "rows": counts[NEW] + counts[CHANGED]}},
    }
    staging.write_json(folder / MANIFEST_FILE, manifest)
    staging.publish_folder(folder, out_dir / county, stage)
    final = out_dir / county
    return {"county": county, "counts": manifest["counts"], "by_cause": manifest["by_cause"],
            "manifest": str(final / MANIFEST_FILE), "manifest_sha256": staging.sha256(final / MANIFEST_FILE), "out": str(final.resolve())}


def _delivery(base: RunRead, run: RunRead, results: dict) -> dict:
    """DELIVERY.json: both runs, the versions read, each county's manifest hash and counts."""
    return {"kind": KIND, "since": base.run_id, "run_id": run.run_id,
            "as_of": {"since": base.record["as_of"].isoformat(), "run": run.record["as_of"].isoformat()},
            "versions": {"since": base.versions, "run": run.versions},
            "counties": {c: {"manifest_sha256": r["manifest_sha256"], "counts": r["counts"]} for c, r in sorted(results.items())}}
