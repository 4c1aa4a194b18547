"""The warehouse: its Delta tables, how they are written, and what makes a run count.

Layout under the warehouse location (a local folder or a Hadoop URI):
- `determinations`, `people`, `history`: one table each, partitioned by `county`. A run
  replaces the partitions of the counties it decided (`replaceWhere`), one commit per table.
- `figures`, `quarantine`: appended, one commit per run (or ingest) at most.
- `raw`: every line of the last ingest (accepted rows, and quarantined lines with their reason).
- `runs`, `ingests`: one row per finished run / ingest. **That row is the commit point**: a run
  is visible only once it is there, and readers reach every other table through the versions it
  records. Every commit carries its run's (or ingest's) id as userMetadata, so the versions a
  killed run left behind are recognised and rolled back before the next write (`recover`).
- `_work/`: a run's scratch data, deleted when it ends (or by the next run, if it was killed).

Retention: every table is created keeping its log and the files of its earlier versions for
`RETENTION` (`TABLE_PROPERTIES`), so every recorded run can be read by time travel for that long
after later runs replaced its results, even after a VACUUM or a log clean-up with the table's
defaults. Only `purge` removes earlier versions (a vacuum with no retention, on purpose).

One writer at a time: `lock` takes the warehouse's lock file (a local `flock`, released by the
kernel when the process dies; on other file systems an exclusive create with a heartbeat:
clearsweep.outputs.lock).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clearsweep import fs
from clearsweep.errors import UserError
from clearsweep.frames import local_frame
from clearsweep.outputs.layout import APPENDED_TABLES, COUNTY_TABLES, FEATURES, LOAD_TABLES, RECORD_KEYS, SCHEMAS, TABLES, conform, stats_columns
from clearsweep.outputs.lock import local_lock, remote_lock
from clearsweep.outputs.records import count_rows, read_rows

LOCK_FILE = "_clearsweep.lock"
WORK_DIR = "_work"
RECOVERY = "recover:"  # userMetadata of the commits that roll a killed run back
COMMIT_FILE = re.compile(r"^(\d{20})\.json$")

# How long a table keeps its commits (delta.logRetentionDuration: the log entries time travel
# needs) and the data files later commits removed (delta.deletedFileRetentionDuration: what VACUUM
# may delete): ten years, so any run in `runs` of the last ten years can be exported or explained
# as it was. Delta's defaults (30 days of log, 7 days of files) would lose a run a month old.
RETENTION = "interval 3650 days"
TABLE_PROPERTIES = {"delta.logRetentionDuration": RETENTION, "delta.deletedFileRetentionDuration": RETENTION}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    """A run's or ingest's id: its start time and a random part (never derived from the data)."""
    return f"{prefix}-{utc_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Commit:
    version: int
    owner: str | None  # userMetadata: the run or ingest id that wrote it
    operation: str | None = None


class Warehouse:
    def __init__(self, location: str):
        self.location = location
        self.local = fs.local_path(location)

    def path(self, table: str) -> str:
        return fs.join(self.location, table)

    def spark_path(self, table: str) -> str:
        return fs.spark_unescaped(self.path(table))

    # ------------------------------------------------------------ files under the warehouse

    def _hfs(self, spark: SparkSession | None) -> fs.HadoopFS:
        if spark is None:
            raise UserError(f"{self.location}: a remote warehouse needs the Spark session")
        return fs.HadoopFS(spark, self.location)

    def has_table(self, table: str, spark: SparkSession | None = None) -> bool:
        """A table with at least one commit (Delta makes `_delta_log` before its first commit)."""
        return bool(self.commits(table, spark))

    def require_layout(self, spark: SparkSession, tables) -> None:
        """Tables made by an earlier version of clearsweep, without a column this one writes, are
        refused in one line before anything is written (Delta would refuse the write itself)."""
        for table in tables:
            if self.has_table(table, spark):
                missing = [c for c in SCHEMAS[table].fieldNames() if c not in self.read(spark, table).columns]
                if missing:
                    raise UserError(f"{self.path(table)} was made by an earlier version of clearsweep (it has no {', '.join(missing[:3])}): "
                                    "start a new warehouse folder and ingest and run again (README: warehouses made by an earlier version)")

    def _exists(self, table: str, spark: SparkSession | None) -> bool:
        if self.local is not None:
            return Path(self.path(table)).exists()
        return self._hfs(spark).exists(self.path(table))

    def commits(self, table: str, spark: SparkSession | None = None) -> list[int]:
        """The table's commit versions still in its log, oldest first (no Spark job)."""
        log = fs.join(self.path(table), "_delta_log")
        if self.local is not None:
            names = [p.name for p in Path(log).iterdir()] if Path(log).is_dir() else []
        else:
            hfs = self._hfs(spark)
            names = [fs.name(u) for u, _, _ in hfs.children(log)] if hfs.is_dir(log) else []
        return sorted(int(m.group(1)) for n in names if (m := COMMIT_FILE.match(n)))

    def commit(self, table: str, version: int, spark: SparkSession | None = None) -> Commit:
        path = fs.join(self.path(table), "_delta_log", f"{version:020d}.json")
        text = Path(path).read_text(encoding="utf-8") if self.local is not None else self._hfs(spark).read_text(path)
        for line in text.splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                return Commit(version, action["commitInfo"].get("userMetadata"), action["commitInfo"].get("operation"))
        return Commit(version, None)

    def latest_version(self, table: str, spark: SparkSession | None = None) -> int | None:
        versions = self.commits(table, spark)
        return versions[-1] if versions else None

    def version_by(self, table: str, owner: str, spark: SparkSession | None = None) -> int:
        """The version `owner` committed: newest first, so another writer's later commit is skipped."""
        for version in reversed(self.commits(table, spark)):
            if self.commit(table, version, spark).owner == owner:
                return version
        raise RuntimeError(f"no commit of {owner} in {self.path(table)}")

    def prepare(self) -> None:
        """Create the warehouse folder (local) and check it is writable, before any work."""
        if self.local is None:
            return
        try:
            self.local.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the warehouse folder {self.local}: {exc.strerror}") from None
        if not os.access(self.local, os.W_OK | os.X_OK):
            raise UserError(f"the warehouse folder is not writable: {self.local}")

    # ------------------------------------------------------------ one writer at a time

    @contextlib.contextmanager
    def lock(self, owner: str, wait: float = 0, spark: SparkSession | None = None):
        """Hold the warehouse's lock for `owner`; wait up to `wait` seconds for another holder,
        then stop with a one-line error naming it."""
        self.prepare()
        if self.local is not None:
            with local_lock(self.local / LOCK_FILE, owner, wait):
                yield
        else:
            with remote_lock(self._hfs(spark), self.path(LOCK_FILE), owner, wait):
                yield

    @contextlib.contextmanager
    def locked_session(self, owner: str, wait: float, start_spark):
        """A session for a command that writes here, with the lock held: taken before Spark
        starts for a local warehouse (a busy one is told at once), after it for a remote one
        (its lock file lives on that file system)."""
        if self.local is not None:
            with self.lock(owner, wait):
                yield start_spark()
        else:
            spark = start_spark()
            with self.lock(owner, wait, spark):
                yield spark

    # ------------------------------------------------------------ what counts as written

    def committed_ids(self, spark: SparkSession) -> set[str]:
        ids: set[str] = set()
        for table, key in RECORD_KEYS.items():
            if not self.has_table(table, spark):
                continue
            versions = self.commits(table, spark)
            if versions and versions[0] == 0:  # the whole log is there: the commits name the ids
                ids |= {c.owner for v in versions if (c := self.commit(table, v, spark)).owner}
            else:  # older commits cleaned from the log: read the rows
                ids |= {r[key] for r in spark.read.format("delta").load(self.spark_path(table)).select(key).collect()}
        return ids

    def recover(self, spark: SparkSession) -> list[str]:
        """Roll back what a killed run or ingest left: every table's versions after its newest
        version written by a recorded run (or by an earlier recovery) are undone; a table only
        such a run created is removed; scratch data goes; a purge recorded but never verified is
        finished (vacuumed and verified). Returns what was done, for the log."""
        done = []
        for table in TABLES:  # a first commit killed midway leaves a folder that is no table yet
            if not self.has_table(table, spark) and self._exists(table, spark):
                self._remove(spark, table)
                done.append(f"removed {table} (its first commit never finished)")
        committed = self.committed_ids(spark)
        for table in (*LOAD_TABLES, *COUNTY_TABLES, *APPENDED_TABLES):
            versions = self.commits(table, spark)
            if not versions or _clean(self.commit(table, versions[-1], spark), committed):
                continue
            commits = [self.commit(table, v, spark) for v in reversed(versions)]
            clean = next((c for c in commits if _clean(c, committed)), None)
            unfinished = commits[:commits.index(clean)] if clean else commits
            names = ", ".join(sorted({str(c.owner) for c in unfinished}))
            if clean is None and versions[0] != 0:
                raise UserError(f"{self.path(table)}: its last recorded version is no longer in its log; "
                                "restore it by hand (DESCRIBE HISTORY) before writing again")
            if clean is None:
                self._remove(spark, table)
                done.append(f"removed {table} (written only by unfinished {names})")
            else:
                _restore(spark, self.spark_path(table), clean.version, RECOVERY + names)
                done.append(f"rolled {table} back to version {clean.version} (unfinished {names})")
        self._clear_work(spark)
        from clearsweep.outputs.purge import finish_purges  # purge builds on this module

        return done + finish_purges(spark, self)

    def _remove(self, spark: SparkSession, table: str) -> None:
        if self.local is not None:
            shutil.rmtree(self.path(table))
        else:
            self._hfs(spark).delete(self.path(table))

    def _clear_work(self, spark: SparkSession | None) -> None:
        work = self.path(WORK_DIR)
        if self.local is not None:
            shutil.rmtree(work, ignore_errors=True)
        elif spark is not None:
            self._hfs(spark).delete(work)

    def work_path(self, owner: str, name: str) -> str:
        return fs.join(self.location, WORK_DIR, owner, name)

    def drop_work(self, spark: SparkSession | None, owner: str) -> None:
        path = fs.join(self.location, WORK_DIR, owner)
        if self.local is not None:
            shutil.rmtree(path, ignore_errors=True)
        else:
            self._hfs(spark).delete(path)

    # ------------------------------------------------------------ writes (one commit each)

    def _writer(self, df: DataFrame, table: str, owner: str):
        """Every write: the declared schema, the owner's id on the commit and, when the write
        creates the table, its properties (statistics columns, retention; Delta ignores them on
        writes to an existing table)."""
        return (conform(table, df).write.format("delta").option("userMetadata", owner)
                .option("delta.dataSkippingStatsColumns", stats_columns(table)).options(**TABLE_PROPERTIES)
                .options(**FEATURES.get(table, {})))

    def replace_counties(self, spark: SparkSession, table: str, df: DataFrame, counties: list[str], owner: str) -> int:
        """Replace the partitions of `counties` with `df` (rows of those counties only, clustered
        by county: one file per county) in one commit; every other county's files are untouched."""
        where = "county IN (" + ", ".join("'" + c.replace("'", "''") + "'" for c in sorted(counties)) + ")"
        writer = self._writer(df, table, owner).partitionBy("county")
        if self.has_table(table, spark):
            writer = writer.mode("overwrite").option("replaceWhere", where)
        writer.save(self.spark_path(table))
        return self.version_by(table, owner, spark)

    def append(self, spark: SparkSession, table: str, df: DataFrame, owner: str) -> int:
        self._writer(df, table, owner).mode("append").save(self.spark_path(table))
        return self.version_by(table, owner, spark)

    def overwrite(self, spark: SparkSession, table: str, df: DataFrame, owner: str) -> int:
        self._writer(df, table, owner).mode("overwrite").option("overwriteSchema", "true").save(self.spark_path(table))
        return self.version_by(table, owner, spark)

    def restore(self, spark: SparkSession, table: str, version: int | None, owner: str) -> None:
        """Undo this owner's own commit (a failed check after writing): back to `version`, or
        remove a table it created."""
        if version is None:
            self._remove(spark, table)
        else:
            _restore(spark, self.spark_path(table), version, RECOVERY + owner)

    def record(self, spark: SparkSession, table: str, row: dict) -> int:
        """Append a run's or ingest's row: the commit point."""
        owner = row[RECORD_KEYS[table]]
        df = local_frame(spark, [row], SCHEMAS[table])
        # a record table made before a column was declared gains it (its older rows read null)
        self._writer(df, table, owner).mode("append").option("mergeSchema", "true").save(self.spark_path(table))
        return self.version_by(table, owner, spark)

    # ------------------------------------------------------------ reads through the records

    def read(self, spark: SparkSession, table: str, version: int | None = None) -> DataFrame:
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", int(version))
        return reader.load(self.spark_path(table))

    def read_recorded(self, spark: SparkSession, table: str, version: int, what: str) -> DataFrame:
        """`table` at a version a record names, resolved now: a version vacuumed since (or a
        damaged one) is one plain line naming `what` was read, not a Java stack."""
        try:
            df = self.read(spark, table, version)
            df.schema  # resolve the snapshot now, so a vacuumed version fails here
        except Exception as exc:  # AnalysisException / Py4JJavaError: report plainly
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"cannot read {what} at version {version} ({self.path(table)}): {first[:300]}") from None
        return df

    def records(self, spark: SparkSession, table: str, version: int | None = None, where: dict | None = None,
                columns: list[str] | None = None, what: str | None = None) -> list:
        """A small table's rows (`runs`, `ingests`, `purges`, a run's `figures`) at `version` (default
        the latest) whose columns hold one of the values in `where` ({column: [values]}): read
        without a Spark job when the table allows it (clearsweep.outputs.records), else through Spark.
        A table with no commit yet has no rows: [] (and nothing is created); a version asked of it
        is an error, as for any version that cannot be read."""
        if self.local is not None:
            rows = read_rows(Path(self.path(table)), version, where, columns, spark.conf.get("spark.sql.session.timeZone"))
            if rows is not None:
                return rows
        if version is None and not self.has_table(table, spark):
            return []
        df = self.read_recorded(spark, table, version, what or table) if version is not None else self.read(spark, table)
        for column, values in (where or {}).items():
            df = df.where(F.col(column).isin(*values))
        return (df.select(*columns) if columns else df).collect()

    def county_counts(self, spark: SparkSession, table: str, version: int, read, counties: list[str], keys: list[str]) -> list[tuple]:
        """(county, *keys, rows) of a county table at `version`, in `counties` (none listed for a
        county without rows): counted from those partitions' files without a Spark job when the
        table allows it (clearsweep.outputs.records), else by Spark from `read()`, the table at
        that version (read only then)."""
        if self.local is not None:
            counted = count_rows(Path(self.path(table)), version, "county", counties, keys)
            if counted is not None:
                return counted
        return [tuple(r) for r in read().where(F.col("county").isin(*counties)).groupBy("county", *keys).count().collect()]

    def runs(self, spark: SparkSession) -> DataFrame | None:
        return self.read(spark, "runs") if self.has_table("runs", spark) else None

    def run_record(self, spark: SparkSession, run_id: str | None = None, county: str | None = None):
        """A recorded run by id, or the latest that decided `county`; None if there is none."""
        runs = self.runs(spark)
        if runs is None:
            return None
        if run_id is not None:
            runs = runs.where(F.col("run_id") == run_id)
        if county is not None:
            runs = runs.where(F.array_contains("counties", county))
        found = runs.orderBy(F.col("finished_at").desc(), F.col("run_id").desc()).limit(1).collect()
        return found[0] if found else None

    def lineage(self, spark: SparkSession, run_id: str) -> list[str]:
        """The runs whose rows a run's counties hold: the run and, for an incremental run, its base
        run's lineage (the rows it carried over keep the run_id of the run that decided them)."""
        runs = self.records(spark, "runs")
        base = {r["run_id"]: r.asDict().get("base_run_id") for r in runs}
        chain = [run_id]
        while base.get(chain[-1]) and base[chain[-1]] not in chain:
            chain.append(base[chain[-1]])
        return chain

    def read_county(self, spark: SparkSession, table: str, county: str, run=None) -> DataFrame:
        """A county's rows of a county table as a recorded run wrote them (default: the latest run
        that decided the county)."""
        run = run if run is not None else self.run_record(spark, county=county)
        if run is None:
            raise UserError(f"no run has decided {county} in {self.location}")
        return self.read(spark, table, self.version_for(spark, table, run)).where(F.col("county") == county)

    def version_for(self, spark: SparkSession, table: str, record) -> int:
        """The version of `table` holding what a run or ingest wrote: the one it recorded or, when a
        purge has vacuumed that one since, the purge's (the same rows less the people purged)."""
        return self.versions_for(spark, [table], record)[table]

    def versions_for(self, spark: SparkSession, tables, record) -> dict[str, int]:
        """version_for of several tables, reading the purges once."""
        purge = self.latest_record(spark, "purges")
        purged = (purge["versions"] or {}) if purge is not None and purge["finished_at"] > record["finished_at"] else {}
        return {t: purged[t] if t in purged else record["versions"][t] for t in tables}

    def record_by_id(self, spark: SparkSession, table: str, record_id: str):
        """A record table's (runs, ingests, purges) row with this id, or None."""
        if not self.has_table(table, spark):
            return None
        found = self.read(spark, table).where(F.col(RECORD_KEYS[table]) == record_id).limit(1).collect()
        return found[0] if found else None

    def latest_ingest(self, spark: SparkSession):
        return self.latest_record(spark, "ingests")

    def latest_record(self, spark: SparkSession, table: str):
        """The newest row of a record table (runs, ingests, purges), or None."""
        return latest(self.records(spark, table))


def latest(rows: list, *keys: str):
    """The first of `rows` ordered by `finished_at` (then `keys`) descending, nulls last, as
    Spark's orderBy(desc) gives it; None when there is none."""
    def key(r):
        return tuple(x for k in ("finished_at", *keys) for x in (r[k] is not None, r[k] if r[k] is not None else 0))
    return max(rows, key=key, default=None)


def by_county(df: DataFrame) -> DataFrame:
    """Rows of a county together in one task and in a row, so a county partition is written as
    one file without the writer sorting the rows again (a number of tasks fixed by the session,
    not coalesced: the largest county is a quarter of the state)."""
    partitions = int(df.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    return df.repartition(partitions, F.col("county")).sortWithinPartitions("county")


# Table maintenance an operator runs by hand (VACUUM) commits without an owner and changes no rows.
MAINTENANCE = ("VACUUM START", "VACUUM END")


def _clean(commit: Commit, committed: set[str]) -> bool:
    if commit.owner is None:
        return commit.operation in MAINTENANCE
    return commit.owner in committed or commit.owner.startswith(RECOVERY)


def _restore(spark: SparkSession, path: str, version: int, owner: str) -> None:
    from delta.tables import DeltaTable

    key = "spark.databricks.delta.commitInfo.userMetadata"
    spark.conf.set(key, owner)
    try:
        DeltaTable.forPath(spark, path).restoreToVersion(version)
    finally:
        spark.conf.unset(key)
