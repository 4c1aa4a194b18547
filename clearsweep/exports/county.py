"""One county's export: the reference-compatible files (Prop64_Results.csv, All_Results.csv,
All_Results_Condensed.csv, summary.json) and the motion exhibit (motion_exhibit.csv and .html,
review_list.csv: clearsweep.exports.motion), read from the Delta tables of a recorded run: the
latest run that included the county, or a given run (read with Delta time travel). Owns which
tables and versions to read, the rows in input order, writing the files (all put in place together
once they are checked) and the manifest. It only reads what a run wrote (through the Warehouse);
deciding is the run's job."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from clearsweep import counties as county_list
from clearsweep.decide.facts import FACT_COLUMNS
from clearsweep.decide.policies import Policy, PolicyMap
from clearsweep.errors import UserError
from clearsweep.exports import motion
from clearsweep.exports.reference import (ALL_FILE, CONDENSED_COLUMNS, CONDENSED_FILE, MANIFEST_FILE, PROP64_FILE, SUMMARY_FILE,
                                          go_csv_line, go_json, go_line_col, summary_with_time)
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.reports.impact import write_impact_report
from clearsweep.schema import DOJ_COLUMNS

POSSIBLE_OTHER = "possible_other_p64"
ROWS_PER_PARTITION = 50_000  # rows of a partition: what the driver holds at a time while streaming

HISTORY_KEYS = ("file_index", "line_no")


# ---------------------------------------------------------------- which tables to read


@dataclass
class Source:
    county: str
    run_id: str
    determinations: DataFrame
    history: DataFrame
    versions: dict  # table -> Delta version read
    policy: Policy  # the county's, as the run recorded it
    decided: int  # determinations rows
    history_rows: int
    by_determination: dict  # determinations rows by determination
    as_of: dt.date
    run_seconds: float | None  # the run's processing time, as its record says
    figures: Row | None  # the run's figures row for the county (summary_json, extended_json)
    purged: bool  # read at a purge's versions: people removed since the run (its figures count them)


def _counts_by(df: DataFrame, *columns: str) -> list:
    """One small aggregate per table: the run ids it holds, with row counts."""
    return df.groupBy(*columns).count().collect()


def _read_at(spark: SparkSession, wh: Warehouse, table: str, version: int, county: str, what: str) -> DataFrame:
    try:
        df = wh.read(spark, table, version).where(F.col("county") == county)
        df.schema  # resolve the snapshot now, so a vacuumed version fails here
    except Exception as exc:  # AnalysisException / Py4JJavaError: report plainly
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {what} at version {version} ({wh.path(table)}): {first[:300]}") from None
    return df


def _require_columns(df: DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise UserError(f"{what} lacks columns {missing}: was it written by this version of `clearsweep run`?")


def resolve_source(spark: SparkSession, warehouse: str, county: str, run_id: str | None = None) -> Source:
    """The county's tables as a recorded run wrote them: the run given, or the latest that
    decided the county. Only recorded runs are read (a run is recorded when it completes)."""
    wh = Warehouse(warehouse)
    if wh.local is not None and not wh.local.is_dir():
        raise UserError(f"warehouse folder not found: {warehouse}")
    county = county_list.normalize(county)
    run = wh.run_record(spark, run_id=run_id, county=None if run_id else county)
    if run is None:
        if run_id is not None:
            raise UserError(f"run {run_id!r} is not recorded in {warehouse}")
        raise UserError(f"no run has decided {county} in {warehouse}")
    if county not in (run["counties"] or []):
        raise UserError(f"run {run['run_id']} did not include {county} (it decided {len(run['counties'] or [])} counties)")
    tables = ("determinations", "history", *(["figures"] if "figures" in (run["versions"] or {}) and wh.has_table("figures", spark) else []))
    versions = {t: wh.version_for(spark, t, run) for t in tables}
    det = _read_at(spark, wh, "determinations", versions["determinations"], county, f"the {county} determinations of run {run['run_id']}")
    hist = _read_at(spark, wh, "history", versions["history"], county, f"the {county} history of run {run['run_id']}")
    _require_columns(det, [*HISTORY_KEYS, *FACT_COLUMNS, *motion.DETERMINATION_COLUMNS, "policy", "run_id"], wh.path("determinations"))
    _require_columns(hist, [*DOJ_COLUMNS, *HISTORY_KEYS, POSSIBLE_OTHER, "run_id"], wh.path("history"))
    det_runs, hist_runs = _counts_by(det, "run_id", "determination"), _counts_by(hist, "run_id")
    stray = sorted({r["run_id"] for r in det_runs + hist_runs} - {run["run_id"]})
    if stray:
        raise UserError(f"the {county} tables at the versions run {run['run_id']} recorded hold rows of {stray}")
    by_determination: dict = {}
    for r in det_runs:
        by_determination[r["determination"]] = by_determination.get(r["determination"], 0) + r["count"]
    figures = None
    if "figures" in versions:
        found = (_read_at(spark, wh, "figures", versions["figures"], county, f"the {county} figures of run {run['run_id']}")
                 .where(F.col("run_id") == run["run_id"]).select("summary_json", "extended_json").limit(1).collect())
        figures = found[0] if found else None
    policy = PolicyMap.from_json(run["policy_map"], f"run {run['run_id']}").by_county[county]
    return Source(county, run["run_id"], det, hist, versions, policy,
                  decided=sum(r["count"] for r in det_runs), history_rows=sum(r["count"] for r in hist_runs),
                  by_determination=by_determination, as_of=run["as_of"], run_seconds=_seconds(run["seconds"]), figures=figures,
                  purged=any(versions[t] != run["versions"][t] for t in versions))


def _seconds(recorded: str | None) -> float | None:
    """The run's processing time as recorded (text, e.g. "12.3")."""
    try:
        return float(recorded) if recorded is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------- rows, in input order


def fact_keys(policy: Policy) -> list[str]:
    return [k for k in FACT_COLUMNS if k not in policy.kind.export_omits]


def ordered_lines(source: Source, keys: list[str], rows_per_partition: int = ROWS_PER_PARTITION) -> DataFrame:
    """History left-joined to the determinations on the conviction's first row, as ready-made
    CSV fragments in input order, range-partitioned so the driver holds one modest partition:
    doj (95 input fields), condensed (20), facts (the columns All_Results prints: blank except
    Possible Other P64 Charges when undecided) and prop64_facts (determinations' columns; null
    when the row is not a decided conviction's first row)."""
    det = source.determinations.select(
        *[F.col(k).alias(f"k_{k}") for k in HISTORY_KEYS],
        F.lit(True).alias("_decided"),
        *[F.col(k).alias(f"d_{k}") for k in keys],
    )
    hist = source.history.select(*DOJ_COLUMNS, *HISTORY_KEYS, F.col(POSSIBLE_OTHER).alias("h_possible_other_p64"))
    joined = hist.join(det, (hist.file_index == det.k_file_index) & (hist.line_no == det.k_line_no), "left")
    decided = F.col("_decided").isNotNull()
    all_facts = [
        F.col("h_possible_other_p64") if k == POSSIBLE_OTHER else F.when(decided, F.col(f"d_{k}")).otherwise(F.lit(""))
        for k in keys
    ]
    lines = joined.select(
        "file_index", "line_no",
        go_line_col([F.col(c) for c in DOJ_COLUMNS]).alias("doj"),
        go_line_col([F.col(c) for c in CONDENSED_COLUMNS]).alias("condensed"),
        go_line_col(all_facts).alias("facts"),
        F.when(decided, go_line_col([F.col(f"d_{k}") for k in keys])).alias("prop64_facts"),
    )
    partitions = max(1, math.ceil(source.history_rows / rows_per_partition))
    if partitions == 1:  # no range-sampling job for a small county
        spread = lines.repartition(1)
    else:
        spread = lines.repartitionByRange(partitions, "file_index", "line_no")
    return spread.sortWithinPartitions("file_index", "line_no").select("doj", "condensed", "facts", "prop64_facts")


def stream(df: DataFrame) -> Iterator:
    """Row by row in order: toLocalIterator fetches one partition at a time."""
    return df.toLocalIterator()


# ---------------------------------------------------------------- the export


class PartialFiles:
    """The export's files written under hidden names and put in place together once they are
    checked, so a failed export leaves the folder's earlier files as they were, not a mix."""

    def __init__(self, out_dir: Path, names: Iterable[str]):
        self.final = {name: out_dir / name for name in names}
        self.partial = {name: out_dir / f".{name}.partial" for name in names}
        self.files: dict = {}

    def __enter__(self) -> dict:
        for name, path in self.partial.items():
            self.files[name] = open(path, "w", encoding="utf-8", newline="")
        return self.files

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def publish(self) -> None:
        self.close()
        for name in self.partial:
            os.replace(self.partial[name], self.final[name])

    def __exit__(self, *exc) -> None:
        self.close()
        for path in self.partial.values():
            if path.exists():
                path.unlink()


def write_manifest(out_dir: Path, names: list[str], source: Source, rows: dict) -> str:
    """manifest.json: the SHA-256 and size of every file of the export, and what they were made
    from (run, versions), so a recipient can check the files are the ones sent."""
    files = {}
    for name in names:
        digest = hashlib.sha256()
        with open(out_dir / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        files[name] = {"sha256": digest.hexdigest(), "bytes": (out_dir / name).stat().st_size, **({"rows": rows[name]} if name in rows else {})}
    path = out_dir / MANIFEST_FILE
    path.write_text(json.dumps({"county": source.county, "run_id": source.run_id, "versions": source.versions, "files": files},
                               indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return str(path)


def write_reference_files(source: Source, keys: list[str], files: dict) -> dict:
    """Prop64_Results.csv, All_Results.csv and All_Results_Condensed.csv in one pass over the
    history in input order; returns the rows written to each."""
    headers = [FACT_COLUMNS[k] for k in keys]
    prop64, all_rows, condensed = (files[n] for n in (PROP64_FILE, ALL_FILE, CONDENSED_FILE))
    prop64.write(go_csv_line([*DOJ_COLUMNS, *headers]))
    all_rows.write(go_csv_line([*DOJ_COLUMNS, *headers]))
    condensed.write(go_csv_line([*CONDENSED_COLUMNS, *headers]))
    n_all = n_prop64 = 0
    for doj, cond, facts, prop64_facts in stream(ordered_lines(source, keys)):
        all_rows.write(f"{doj},{facts}\n")
        condensed.write(f"{cond},{facts}\n")
        n_all += 1
        if prop64_facts is not None:
            prop64.write(f"{doj},{prop64_facts}\n")
            n_prop64 += 1
    return {PROP64_FILE: n_prop64, ALL_FILE: n_all, CONDENSED_FILE: n_all}


def write_motion_files(source: Source, files: dict, rows_per_partition: int = ROWS_PER_PARTITION) -> Counter:
    """The motion exhibit and review list in one pass over the county's lines in court order."""
    expected = sum(source.by_determination.get(d, 0) for d in (*motion.GRANTED, *motion.REVIEWED))
    lines = motion.motion_rows(source.determinations, source.history, expected, rows_per_partition)
    heading = {"county": source.county, "run_id": source.run_id, "policy": source.policy.name,
               "as_of": f"{source.as_of:%m/%d/%Y}" if source.as_of else "", "expected": source.by_determination}
    return motion.write_motion(stream(lines), files, heading)


def export_county(spark: SparkSession, warehouse: str, county: str, out: str, run_id: str | None = None) -> dict:
    started = time.time()
    source = resolve_source(spark, warehouse, county, run_id)
    keys = fact_keys(source.policy)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    partials = PartialFiles(out_dir, (PROP64_FILE, ALL_FILE, CONDENSED_FILE, *motion.FILES))
    with partials as files:
        counts = write_reference_files(source, keys, files)
        written = write_motion_files(source, files)
        if counts[PROP64_FILE] != source.decided or counts[ALL_FILE] != source.history_rows:
            raise UserError(
                f"the {source.county} tables of run {source.run_id} do not fit together: {source.decided} determinations, "
                f"{counts[PROP64_FILE]} of them found as a history row on (file_index, line_no); "
                f"{source.history_rows} history rows, {counts[ALL_FILE]} written"
            )
        # the exhibit ties out to the run's figures, unless a purge has removed people since the run
        figures = motion.figures_by_determination(source.figures["extended_json"]) if source.figures else None
        problems = motion.tie_out(written, source.by_determination, None if source.purged else figures)
        if problems:
            raise UserError(f"the {source.county} motion exhibit of run {source.run_id} does not tie out: {'; '.join(problems)}")
        partials.publish()
    counts.update(motion.file_rows(written))

    wrote_summary = False
    if source.figures is not None:
        summary = summary_with_time(source.figures["summary_json"], source.run_seconds)
        (out_dir / SUMMARY_FILE).write_text(go_json(summary), encoding="utf-8")
        wrote_summary = True
    names = [*partials.final, *([SUMMARY_FILE] if wrote_summary else [])]
    impact = "no figures recorded for the county"
    if source.figures is not None:  # the county's impact report, from the same run's figures
        try:
            names.append(write_impact_report(spark, warehouse, out_dir, source.county, source.run_id).name)
            impact = "written"
        except UserError as exc:  # figures too incomplete for a report (e.g. no total row): said, the export stands
            impact = f"not written: {exc}"
    manifest = write_manifest(out_dir, names, source, counts)
    return {
        "county": source.county,
        "run_id": source.run_id,
        "policy": source.policy.name,
        "versions": source.versions,
        "decided": counts[PROP64_FILE],
        "rows": counts,
        "motion": {"by_determination": {d: written.get(d, 0) for d in (*motion.GRANTED, *motion.REVIEWED)},
                   "tied_out": "figures" if figures is not None and not source.purged else
                               "determinations (people purged since the run)" if source.purged else "determinations (no figures recorded)"},
        "summary_written": wrote_summary,
        "impact_report": impact,
        "manifest": manifest,
        "out": str(out_dir.resolve()),
        "seconds": round(time.time() - started, 2),
    }
