"""One county's reference-compatible files (Prop64_Results.csv, All_Results.csv,
All_Results_Condensed.csv, summary.json), read from the Delta tables of a recorded run: the latest
run that included the county, or a given run (read with Delta time travel). Owns which tables and
versions to read, the rows in input order, and writing the files. It only reads what a run wrote
(through the Warehouse); deciding is the run's job."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import counties as county_list
from clearsweep.decide.facts import FACT_COLUMNS
from clearsweep.decide.policies import Policy, PolicyMap
from clearsweep.errors import UserError
from clearsweep.exports.reference import (ALL_FILE, CONDENSED_COLUMNS, CONDENSED_FILE, MANIFEST_FILE, PROP64_FILE, SUMMARY_FILE,
                                          go_csv_line, go_json, go_line_col, summary_with_time)
from clearsweep.outputs.warehouse import Warehouse
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
    versions = {t: wh.version_for(spark, t, run) for t in ("determinations", "history")}
    det = _read_at(spark, wh, "determinations", versions["determinations"], county, f"the {county} determinations of run {run['run_id']}")
    hist = _read_at(spark, wh, "history", versions["history"], county, f"the {county} history of run {run['run_id']}")
    _require_columns(det, [*HISTORY_KEYS, *FACT_COLUMNS, "policy", "run_id"], wh.path("determinations"))
    _require_columns(hist, [*DOJ_COLUMNS, *HISTORY_KEYS, POSSIBLE_OTHER, "run_id"], wh.path("history"))
    det_runs, hist_runs = _counts_by(det, "run_id"), _counts_by(hist, "run_id")
    stray = sorted({r["run_id"] for r in det_runs + hist_runs} - {run["run_id"]})
    if stray:
        raise UserError(f"the {county} tables at the versions run {run['run_id']} recorded hold rows of {stray}")
    policy = PolicyMap.from_json(run["policy_map"], f"run {run['run_id']}").by_county[county]
    return Source(county, run["run_id"], det, hist, versions, policy,
                  decided=sum(r["count"] for r in det_runs), history_rows=sum(r["count"] for r in hist_runs))


def figures_summary(spark: SparkSession, warehouse: str, run_id: str, county: str) -> str | None:
    wh = Warehouse(warehouse)
    if not wh.has_table("figures", spark):
        return None
    found = (
        wh.read(spark, "figures").where((F.col("run_id") == run_id) & (F.col("county") == county))
        .select("summary_json").limit(1).collect()
    )
    return found[0]["summary_json"] if found else None


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


def export_county(spark: SparkSession, warehouse: str, county: str, out: str, run_id: str | None = None) -> dict:
    started = time.time()
    source = resolve_source(spark, warehouse, county, run_id)
    summary_json = figures_summary(spark, warehouse, source.run_id, source.county)
    keys = fact_keys(source.policy)
    headers = [FACT_COLUMNS[k] for k in keys]
    lines = ordered_lines(source, keys)

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = (PROP64_FILE, ALL_FILE, CONDENSED_FILE)
    partial = {name: out_dir / f".{name}.partial" for name in names}
    counts = dict.fromkeys(names, 0)
    files = {name: open(path, "w", encoding="utf-8", newline="") for name, path in partial.items()}
    try:
        prop64, all_rows, condensed = (files[n] for n in names)
        prop64.write(go_csv_line([*DOJ_COLUMNS, *headers]))
        all_rows.write(go_csv_line([*DOJ_COLUMNS, *headers]))
        condensed.write(go_csv_line([*CONDENSED_COLUMNS, *headers]))
        n_all = n_prop64 = 0
        for doj, cond, facts, prop64_facts in stream(lines):
            all_rows.write(f"{doj},{facts}\n")
            condensed.write(f"{cond},{facts}\n")
            n_all += 1
            if prop64_facts is not None:
                prop64.write(f"{doj},{prop64_facts}\n")
                n_prop64 += 1
        for f in files.values():
            f.close()
        counts = {PROP64_FILE: n_prop64, ALL_FILE: n_all, CONDENSED_FILE: n_all}
        if n_prop64 != source.decided or n_all != source.history_rows:
            raise UserError(
                f"the {source.county} tables of run {source.run_id} do not fit together: {source.decided} determinations, "
                f"{n_prop64} of them found as a history row on (file_index, line_no); "
                f"{source.history_rows} history rows, {n_all} written"
            )
        for name in names:
            os.replace(partial[name], out_dir / name)
    finally:
        for f in files.values():
            f.close()
        for path in partial.values():
            if path.exists():
                path.unlink()

    wrote_summary = False
    if summary_json is not None:
        summary = summary_with_time(summary_json, round(time.time() - started, 3))
        (out_dir / SUMMARY_FILE).write_text(go_json(summary), encoding="utf-8")
        wrote_summary = True
    manifest = write_manifest(out_dir, [n for n in (*names, SUMMARY_FILE) if (out_dir / n).exists()], source, counts)
    return {
        "county": source.county,
        "run_id": source.run_id,
        "policy": source.policy.name,
        "versions": source.versions,
        "decided": counts[PROP64_FILE],
        "rows": counts,
        "summary_written": wrote_summary,
        "manifest": manifest,
        "out": str(out_dir.resolve()),
        "seconds": round(time.time() - started, 2),
    }
