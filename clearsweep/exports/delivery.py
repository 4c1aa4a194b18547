"""The delivery of county packets from a recorded run: for every county asked (default: every
county the run decided), `DIR/<county>/` with the reference files (Prop64_Results.csv,
All_Results.csv, All_Results_Condensed.csv, summary.json), the motion exhibit
(motion_exhibit.csv and .html, review_list.csv), impact_report.html and manifest.json, and
`DIR/DELIVERY.json` last. A single county's export is the same code with one county, written
straight into its folder.

One Spark write makes every county's lines (clearsweep.exports.lines), partitioned by county and
file; the driver holds only counts and figures: it renders each summary, report and HTML page's
head and foot from those, checks each county's counts against the run's figures (a county that
does not tie out is not published), then renames each county's files into place
(clearsweep.exports.staging). It only reads what a run wrote, through the versions it recorded."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from clearsweep import counties as county_list
from clearsweep import fs
from clearsweep.errors import UserError
from clearsweep.exports import lines, motion, staging
from clearsweep.exports.reference import ALL_FILE, CONDENSED_FILE, MANIFEST_FILE, PROP64_FILE, SUMMARY_FILE, go_json, summary_with_time
from clearsweep.outputs.figures import total_key
from clearsweep.outputs.records import partition_frame
from clearsweep.outputs.warehouse import Warehouse, latest
from clearsweep.decide.policies import PolicyMap
from clearsweep.progress import Progress
from clearsweep.reports.impact import REPORT_FILE, from_figures, render
from clearsweep.schema import DOJ_COLUMNS

TABLES = ("determinations", "history", "figures")
# at most this many history rows (a small county's), the lines' plan runs without whole-stage code
# generation: compiling it costs a cold JVM about 2 s, more than running it interpreted
FEW_ROWS = 50_000


# ---------------------------------------------------------------- what to read


@dataclass
class Plan:
    """The run delivered, the table versions read, and per county what the driver needs."""
    run: object  # the run's row in `runs`
    counties: list[str]
    versions: dict  # table -> Delta version read
    purged: bool  # read at a purge's versions: people removed since the run (its figures count them)
    policies: dict  # county -> Policy, as the run recorded it
    by_determination: dict  # county -> {determination: rows in the determinations table}
    figures: dict  # county (and the run's total key) -> figures row (summary_json, extended_json)
    frames: Callable[[], tuple[DataFrame, DataFrame]]  # the determinations and history read, read on first call
    lineage: list  # the run ids its rows may carry (Warehouse.lineage)
    empty: set  # the counties with no determinations and no history rows: their files are heads only
    few: bool  # few history rows to write (FEW_ROWS): run without compiling the plan

    @property
    def run_id(self) -> str:
        return self.run["run_id"]


def find_run(spark: SparkSession, wh: Warehouse, counties: list[str] | None, run_id: str | None):
    """The run named, or the latest recorded run that decided every county asked (any run when none is)."""
    runs = wh.records(spark, "runs")
    if run_id is not None:
        runs = [r for r in runs if r["run_id"] == run_id]
    else:
        runs = [r for r in runs if all(county in (r["counties"] or ()) for county in counties or ())]
    found = latest(runs, "run_id")
    if found is not None:
        return found
    if run_id is not None:
        raise UserError(f"run {run_id!r} is not recorded in {wh.location}")
    if not counties:
        raise UserError(f"no run is recorded in {wh.location}")
    raise UserError(f"no run has decided {' and '.join(counties)} in {wh.location}")


def _require_columns(df: DataFrame, needed, what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise UserError(f"{what} lacks columns {missing}: was it written by this version of `clearsweep run`?")


def plan(spark: SparkSession, warehouse: str, counties: list[str] | None = None, run_id: str | None = None) -> Plan:
    """What a delivery reads: the run's record, the determinations counted by county and run,
    and the figures rows, whatever the number of counties: read from the tables' logs and files
    without a Spark job when the warehouse is local (Warehouse.records, county_counts), else
    three small Spark jobs; the determinations and history at the versions the run recorded."""
    wh = Warehouse(warehouse)
    if wh.local is not None and not wh.local.is_dir():
        raise UserError(f"warehouse folder not found: {warehouse}")
    asked = [county_list.normalize(c) for c in counties] if counties else None
    run = find_run(spark, wh, asked, run_id)
    decided = list(run["counties"] or [])
    for county in asked or ():
        if county not in decided:
            raise UserError(f"run {run['run_id']} did not include {county} (it decided {len(decided)} counties)")
    chosen = sorted(set(asked or decided))
    tables = [t for t in TABLES if t != "figures" or ("figures" in (run["versions"] or {}) and wh.has_table("figures", spark))]
    versions = wh.versions_for(spark, tables, run)
    frames = functools.cache(lambda: _frames(spark, wh, run["run_id"], versions, chosen))
    by_determination: dict = {c: {} for c in chosen}
    stray: set = set()
    lineage = wh.lineage(spark, run["run_id"])  # an incremental run's counties hold the rows it carried over too
    for county, run_of, determination, n in wh.county_counts(spark, "determinations", versions["determinations"], lambda: frames()[0],
                                                              chosen, ["run_id", "determination"]):
        by_determination[county][determination] = by_determination[county].get(determination, 0) + n
        if run_of not in lineage:
            stray.add(county)
    if stray:
        raise UserError(f"the determinations of {', '.join(sorted(stray))} at the versions run {run['run_id']} recorded hold rows of another run")
    undecided = [c for c in chosen if not by_determination[c]]
    counted = chosen if wh.local is not None else undecided  # from the files' footers; Spark would read the rows
    history_rows = dict(wh.county_counts(spark, "history", versions["history"], lambda: frames()[1], counted, [])) if counted else {}
    figures = {}
    if "figures" in versions:
        keys = [*chosen, total_key(decided)]
        figures = {r["county"]: r for r in wh.records(spark, "figures", versions["figures"], {"run_id": [run["run_id"]], "county": keys},
                                                      ["county", "summary_json", "extended_json"], f"the figures of run {run['run_id']}")}
    policy_map = PolicyMap.from_json(run["policy_map"], f"run {run['run_id']}")
    return Plan(run, chosen, versions, any(versions[t] != run["versions"][t] for t in versions),
                {c: policy_map.by_county[c] for c in chosen}, by_determination, figures, frames, lineage,
                {c for c in undecided if not history_rows.get(c)},
                counted == chosen and sum(history_rows.values()) <= FEW_ROWS)


def _frames(spark: SparkSession, wh: Warehouse, run_id: str, versions: dict, chosen: list[str]) -> tuple[DataFrame, DataFrame]:
    """The determinations and history at the versions read, narrowed to the counties chosen:
    from a local warehouse, the files of those counties as its log lists them (partition_frame),
    else through Delta."""
    whose = f"{chosen[0]} " if len(chosen) == 1 else ""

    def read(table: str) -> DataFrame:
        if wh.local is not None and (df := partition_frame(spark, Path(wh.path(table)), versions[table], "county", chosen)) is not None:
            return df
        df = wh.read_recorded(spark, table, versions[table], f"the {whose}{table} of run {run_id}")
        return df if set(chosen) == set(county_list.COUNTIES) else df.where(F.col("county").isin(*chosen))

    det, hist = read("determinations"), read("history")
    _require_columns(det, ["county", *lines.DETERMINATION_COLUMNS, "policy"], wh.path("determinations"))
    _require_columns(hist, ["county", *DOJ_COLUMNS, *lines.HISTORY_KEYS, lines.POSSIBLE_OTHER, "run_id"], wh.path("history"))
    return det, hist


# ---------------------------------------------------------------- the driver's own files


def _heading(p: Plan, county: str) -> dict:
    as_of = p.run["as_of"]
    return {"county": county, "run_id": p.run_id, "policy": p.policies[county].name,
            "as_of": f"{as_of:%m/%d/%Y}" if as_of else "", "expected": p.by_determination[county]}


def _seconds(recorded: str | None) -> float | None:
    """The run's processing time as recorded (text, e.g. "12.3")."""
    try:
        return float(recorded) if recorded is not None else None
    except ValueError:
        return None


def driver_files(p: Plan, county: str, folder: Path) -> dict:
    """summary.json and impact_report.html of a county, from the run's figures (no Spark job):
    what was written, or why not."""
    folder.mkdir(parents=True, exist_ok=True)
    row = p.figures.get(county)
    if row is None:
        return {"summary": False, "impact": "no figures recorded for the county"}
    staging.write_text(folder / SUMMARY_FILE, go_json(summary_with_time(row["summary_json"], _seconds(p.run["seconds"]))))
    try:
        html = render(from_figures(p.run, county, p.figures, {"figures": p.versions.get("figures")}))
    except UserError as exc:  # figures too incomplete for a report (e.g. no total row): said, the export stands
        return {"summary": True, "impact": f"not written: {exc}"}
    staging.write_text(folder / REPORT_FILE, html)
    return {"summary": True, "impact": "written"}


# ---------------------------------------------------------------- tying out


def written_counts(observed: list, numbers: dict[str, int]) -> dict[str, dict]:
    """Per county: lines per file (headers and foot not counted) and lines per determination,
    from the observed last line of each file (its number, and how many Dismissal or Hand Review
    lines came before it)."""
    county_of = {c: county for county, c in numbers.items()}
    out: dict = {county: {"rows": {}, "by_determination": {}} for county in numbers}
    for r in observed:
        county, name = county_of[r["c"]], lines.FILES[r["f"]]
        rows = r["n"] - (2 if r["f"] == lines.F_HTML else 1)
        out[county]["rows"][name] = rows
        if r["f"] == lines.F_EXHIBIT:
            out[county]["by_determination"].update({motion.DISMISSAL: r["first"], motion.REDUCTION: rows - r["first"]})
        elif r["f"] == lines.F_REVIEW:
            out[county]["by_determination"].update({motion.HAND_REVIEW: r["first"], motion.CITY_ATTORNEYS: rows - r["first"]})
    return out


def tie_out(p: Plan, county: str, counts: dict) -> tuple[list[str], str]:
    """Where a county's lines differ from its determinations table and the run's figures (counts
    only), and what they were tied out to."""
    table = p.by_determination[county]
    decided = sum(table.values())
    problems = []
    if set(counts["rows"]) != set(lines.FILES):
        problems.append(f"files written: {sorted(counts['rows'])}")
    elif counts["rows"][PROP64_FILE] != decided:
        problems.append(f"{decided} determinations, {counts['rows'][PROP64_FILE]} of them found as a history row on (file_index, line_no)")
    row = p.figures.get(county)
    figures = motion.figures_by_determination(row["extended_json"]) if row is not None else None
    problems += motion.tie_out(counts["by_determination"], table, None if p.purged else figures)
    tied = ("figures" if figures is not None and not p.purged else
            "determinations (people purged since the run)" if p.purged else "determinations (no figures recorded)")
    return problems, tied


# ---------------------------------------------------------------- the delivery


def write_rows(spark: SparkSession, p: Plan, counties: list[str], rows_dir: Path, wh: Warehouse) -> tuple[dict, list]:
    """The one Spark write: every line of every county's files, as text partitioned by county
    and file number, into `rows_dir`. Returns the county numbers and the observed last line of
    each file. The executors write where they can: beside a local warehouse straight into the
    staging folder (a `file:` URI, whatever the default file system), beside a remote one (a
    cluster's) into the warehouse's scratch folder, copied down to the staging folder after.
    A county with no rows has only its heads: the driver writes them, as Spark would have, so
    a delivery of such counties alone runs no Spark job."""
    numbers = {county: i for i, county in enumerate(counties)}
    pages = {}
    for county in counties:
        listed = sum(p.by_determination[county].get(d, 0) for d in motion.GRANTED)
        pages[county] = (lines.fact_keys(p.policies[county]), motion.page_head(_heading(p, county)), motion.page_foot(listed))
    busy = [c for c in counties if c not in p.empty]
    observed = []
    if busy:
        variants: dict = {}
        for county in busy:
            variants.setdefault(tuple(lines.fact_keys(p.policies[county])), []).append(county)
        det, hist = (df.where(F.col("county").isin(*busy)) for df in p.frames())
        frame = lines.packet_lines(spark, lines.county_rows(det, hist), variants, {c: pages[c] for c in busy}, {c: numbers[c] for c in busy})
        seen = Observation("delivery")
        frame = frame.observe(seen, F.collect_list(F.when(F.col("last"), F.struct("c", "f", "n", "first"))).alias("files"),
                              F.sum(F.when(~F.col("run_id").isin(*p.lineage), 1).otherwise(0)).alias("stray"))
        with _compiled(spark, not p.few):
            write_lines(spark, frame, rows_dir, wh)
        metrics = seen.get
        if metrics["stray"]:
            raise UserError(f"the history at the versions run {p.run_id} recorded holds rows of another run")
        observed = metrics["files"]
    for county in counties:
        if county in p.empty:
            observed += write_heads(rows_dir, numbers[county], pages[county])
    return numbers, observed


@contextlib.contextmanager
def _compiled(spark: SparkSession, compiled: bool):
    """Whole-stage code generation on or off for what runs inside, as it was after."""
    key = "spark.sql.codegen.wholeStage"
    before = spark.conf.get(key)
    spark.conf.set(key, str(compiled).lower())
    try:
        yield
    finally:
        spark.conf.set(key, before)


def write_heads(rows_dir: Path, c: int, page: tuple) -> list[dict]:
    """The files of county number `c`, which has no rows, where Spark would write them: each
    its edge lines as Spark's text writer writes lines (UTF-8, each ended by a line feed); the
    observed last line of each."""
    observed = []
    for f, texts in lines.edge_lines(page).items():
        folder = rows_dir / f"c={c}" / f"f={f}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-00000-heads.txt").write_bytes("".join(f"{t}\n" for t in texts).encode("utf-8"))
        observed.append({"c": c, "f": f, "n": len(texts), "first": 0})
    return observed


def write_lines(spark: SparkSession, frame: DataFrame, rows_dir: Path, wh: Warehouse) -> None:
    """The frame's lines (c, f, line) as text partitioned by county and file number into
    `rows_dir`: beside a local warehouse straight into it (a `file:` URI, whatever the default
    file system), beside a remote one into the warehouse's scratch folder, copied down after."""
    remote = wh.work_path(rows_dir.parent.name.lstrip("."), "rows") if wh.local is None else None
    frame.select("c", "f", "line").write.partitionBy("c", "f").text(remote or f"file:{rows_dir}")
    if remote is not None:
        hfs = fs.HadoopFS(spark, remote)
        try:
            hfs.copy_to_local(remote, str(rows_dir))
        finally:
            hfs.delete(fs.parent(remote))


def _already(out: Path, p: Plan, county: str) -> dict | None:
    """The manifest of a county folder a delivery of the same run and versions already put in place."""
    path = out / county / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (manifest.get("county"), manifest.get("run_id"), manifest.get("versions")) == (county, p.run_id, p.versions)
    return {"manifest": manifest, "sha256": staging.sha256(path)} if same else None


def deliver(spark: SparkSession, warehouse: str, out: str, counties: list[str] | None = None, run_id: str | None = None,
            *, flat: bool = False, progress: Progress | None = None) -> dict:
    """Every county's packet into `out/<county>/` and `out/DELIVERY.json` last; with `flat`
    (one county), the county's files straight into `out`. Returns per county what was written,
    and the counties refused (not tying out), by name."""
    started = time.time()
    progress = progress or Progress(enabled=False)
    out_dir = Path(out)
    if flat and (not counties or len(counties) != 1):
        raise ValueError("a flat export is of one county")
    progress.phase("reading the run's record and counts")
    p = plan(spark, warehouse, counties, run_id)
    with staging.staging(out_dir) as stage:
        (out_dir / staging.DELIVERY_FILE).unlink(missing_ok=True)  # no longer true once a county folder changes
        kept = {} if flat else {c: m for c in p.counties if (m := _already(out_dir, p, c)) is not None}
        todo = [c for c in p.counties if c not in kept]
        results, refused = {}, {}
        if todo:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clearsweep-reports") as pool:
                # summaries and reports are rendered while Spark writes the rows
                made = {c: pool.submit(driver_files, p, c, stage / c) for c in todo}
                progress.phase(f"writing the rows of {len(todo)} {'county' if len(todo) == 1 else 'counties'}")
                numbers, observed = write_rows(spark, p, todo, stage / "rows", Warehouse(warehouse))
                made = {c: f.result() for c, f in made.items()}
            counts = written_counts(observed, numbers)
            for done, county in enumerate(todo, start=1):
                problems, tied = tie_out(p, county, counts[county])
                if problems:
                    refused[county] = f"the {county} motion exhibit of run {p.run_id} does not tie out: {'; '.join(problems)}"
                else:
                    results[county] = _finish(p, county, stage, numbers[county], counts[county], made[county], tied, out_dir, flat)
                progress.phase(f"{done} of {len(todo)} counties written, {len(todo) - done} left")
        if not flat and not refused:
            staging.write_json(out_dir / staging.DELIVERY_FILE, _delivery(p, results, kept))
    return {"run_id": p.run_id, "versions": p.versions, "counties": results, "kept": sorted(kept), "refused": refused,
            "out": str(out_dir.resolve()), "seconds": round(time.time() - started, 2)}


def _finish(p: Plan, county: str, stage: Path, c: int, counts: dict, made: dict, tied: str, out_dir: Path, flat: bool) -> dict:
    """A county's files under their names, its manifest, and the folder put in place."""
    folder = stage / county
    for f, name in enumerate(lines.FILES):
        staging.part_file(stage / "rows", c, f).replace(folder / name)
    names = [*lines.FILES, *([SUMMARY_FILE] if made["summary"] else []), *([REPORT_FILE] if made["impact"] == "written" else [])]
    digests = staging.hash_files([folder / n for n in names])
    rows = counts["rows"]
    manifest = {"county": county, "run_id": p.run_id, "versions": p.versions,
                "files": {n: {"sha256": digests[folder / n], "bytes": (folder / n).stat().st_size, **({"rows": rows[n]} if n in rows else {})}
                          for n in names}}
    staging.write_json(folder / MANIFEST_FILE, manifest)
    if flat:
        staging.publish_files(folder, out_dir, [*names, MANIFEST_FILE])
    else:
        staging.publish_folder(folder, out_dir / county, stage)
    final = out_dir if flat else out_dir / county
    return {
        "county": county, "run_id": p.run_id, "policy": p.policies[county].name, "versions": p.versions,
        "decided": rows[PROP64_FILE], "rows": rows,
        "motion": {"by_determination": {d: counts["by_determination"].get(d, 0) for d in (*motion.GRANTED, *motion.REVIEWED)},
                   "tied_out": tied},
        "summary_written": made["summary"], "impact_report": made["impact"],
        "manifest": str(final / MANIFEST_FILE), "manifest_sha256": staging.sha256(final / MANIFEST_FILE),
        "out": str(final.resolve()),
    }


def _delivery(p: Plan, results: dict, kept: dict) -> dict:
    """DELIVERY.json: the run, the versions read, and each county's manifest hash and row counts."""
    counties = {c: {"manifest_sha256": r["manifest_sha256"], "rows": r["rows"]} for c, r in results.items()}
    counties.update({c: {"manifest_sha256": k["sha256"], "rows": {n: f["rows"] for n, f in k["manifest"]["files"].items() if "rows" in f}}
                     for c, k in kept.items()})
    return {"run_id": p.run_id, "as_of": f"{p.run['as_of']:%Y-%m-%d}" if isinstance(p.run["as_of"], dt.date) else None,
            "versions": p.versions, "counties": dict(sorted(counties.items()))}


# files a single county's result names (kept for callers printing them)
REFERENCE_FILES = (PROP64_FILE, ALL_FILE, CONDENSED_FILE)
