"""The small tables read without a Spark job (clearsweep/outputs/records.py): the same rows,
counts and order Spark gives, at the version asked, and Spark's own read whenever the log or
the files are not what that reader handles."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from clearsweep.outputs.layout import SCHEMAS
from clearsweep.outputs.records import count_rows, partition_frame, read_rows
from clearsweep.outputs.warehouse import Warehouse, latest


def _run(run_id: str, finished: dt.datetime | None, counties: list[str], **more) -> dict:
    row = {f.name: None for f in SCHEMAS["runs"].fields}
    row.update(run_id=run_id, started_at=dt.datetime(2026, 1, 1, 8, 0), finished_at=finished, as_of=dt.date(2019, 11, 11),
               counties=counties, versions={"determinations": 3, "figures": 1}, input_rows=12, seconds="1.5", **more)
    return row


@pytest.fixture(scope="module")
def wh(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("records") / "wh"
    w = Warehouse(str(root))
    w.record(spark, "runs", _run("run-a", dt.datetime(2026, 1, 2, 10, 30, 0, 123456), ["ALPINE", "LOS ANGELES"]))
    w.record(spark, "runs", _run("run-c", None, ["ALPINE"]))
    w.record(spark, "runs", _run("run-b", dt.datetime(2026, 1, 3, 9, 0), ["LOS ANGELES"], base_run_id="run-a", kind="incremental"))
    det = spark.createDataFrame([("LOS ANGELES", "run-a", "Eligible for Dismissal"), ("LOS ANGELES", "run-a", "Hand Review"),
                                 ("LOS ANGELES", "run-b", "Eligible for Dismissal"), ("ALPINE", "run-a", None),
                                 ("SAN DIEGO", "run-a", "Hand Review")], "county string, run_id string, determination string")
    path = w.spark_path("determinations")
    det.write.format("delta").partitionBy("county").save(path)
    # version 1: the LOS ANGELES partition replaced (its file removed, another added)
    (det.where((F.col("county") == "LOS ANGELES") & (F.col("run_id") == "run-a")).write.format("delta").mode("overwrite")
     .option("replaceWhere", "county = 'LOS ANGELES'").save(path))
    return w


def test_the_runs_read_as_spark_reads_them_at_every_version(spark, wh):
    for version in (None, 0, 1, 2):
        ours = read_rows(wh.local / "runs", version)
        theirs = wh.read(spark, "runs", version).collect()
        assert ours is not None and sorted(ours, key=lambda r: r.run_id) == sorted(theirs, key=lambda r: r.run_id), version
    assert [r.run_id for r in read_rows(wh.local / "runs", where={"run_id": ["run-b", "run-x"]}, columns=["run_id", "kind"])] == ["run-b"]


def test_the_latest_run_is_the_one_spark_orders_first(spark, wh):
    rows = wh.records(spark, "runs")
    spark_first = wh.read(spark, "runs").orderBy(F.col("finished_at").desc(), F.col("run_id").desc()).first()
    assert latest(rows, "run_id") == spark_first and spark_first.run_id == "run-b"  # a null finish comes last
    assert wh.lineage(spark, "run-b") == ["run-b", "run-a"]
    assert latest([]) is None


def test_counts_by_partition_are_sparks(spark, wh):
    for counties in (["LOS ANGELES"], ["ALPINE", "SAN DIEGO", "FRESNO"]):
        for version in (0, 1):
            ours = count_rows(wh.local / "determinations", version, "county", counties, ["run_id", "determination"])
            theirs = (wh.read(spark, "determinations", version).where(F.col("county").isin(*counties))
                      .groupBy("county", "run_id", "determination").count().collect())
            assert ours is not None and sorted(ours, key=str) == sorted(map(tuple, theirs), key=str), (counties, version)


def test_what_it_cannot_read_is_left_to_spark(spark, wh, tmp_path):
    assert read_rows(wh.local / "runs", 7) is None  # no such version
    assert read_rows(wh.local / "determinations") is None  # partitioned: not a small table
    copy = tmp_path / "runs"
    shutil.copytree(wh.local / "runs", copy)
    (copy / "_delta_log" / f"{0:020d}.json").unlink()  # its first commit only in a checkpoint
    assert read_rows(copy) is None
    for part in copy.glob("*.parquet"):
        part.unlink()  # vacuumed files
    shutil.copy(wh.local / "runs" / "_delta_log" / f"{0:020d}.json", copy / "_delta_log")
    assert read_rows(copy) is None


def test_a_table_not_written_yet_has_no_records_and_is_not_made(spark, wh, tmp_path):
    from clearsweep.errors import UserError

    assert wh.records(spark, "purges") == [] and wh.latest_record(spark, "purges") is None
    assert not (wh.local / "purges").exists()
    (wh.local / "ingests" / "_delta_log").mkdir(parents=True)  # a first commit killed before it was written
    assert wh.records(spark, "ingests", where={"ingest_id": ["x"]}, columns=["ingest_id"]) == []
    assert not list((wh.local / "ingests" / "_delta_log").iterdir())
    shutil.rmtree(wh.local / "ingests")
    empty = Warehouse(str(tmp_path / "none"))
    assert empty.records(spark, "runs") == [] and empty.lineage(spark, "run-x") == ["run-x"]
    assert not (tmp_path / "none").exists()
    with pytest.raises(UserError, match="at version 2"):  # a version asked of it still cannot be read
        wh.records(spark, "purges", 2)


@pytest.fixture(scope="module")
def deleted(spark, tmp_path_factory):
    """A county table allowing deletion vectors, as `history` does: version 1 its rows written,
    version 2 some Los Angeles rows deleted (a deletion vector on that file)."""
    path = tmp_path_factory.mktemp("deleted") / "history"
    spark.sql(f"CREATE TABLE delta.`{path}` (county STRING, line_no INT, run_id STRING) USING delta PARTITIONED BY (county) "
              "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    rows = [(county, i, "run-a") for county in ("LOS ANGELES", "ALPINE", "SAN DIEGO") for i in range(20)]
    spark.createDataFrame(rows, "county string, line_no int, run_id string").write.format("delta").mode("append").save(str(path))
    DeltaTable.forPath(spark, str(path)).delete("county = 'LOS ANGELES' AND line_no < 5")
    return path


def test_rows_per_partition_leave_out_the_deleted_rows(spark, deleted):
    log = (deleted / "_delta_log" / f"{2:020d}.json").read_text()
    assert '"deletionVector"' in log  # the delete made a vector, not a new file
    for version in (0, 1, 2):
        ours = count_rows(deleted, version, "county", ["LOS ANGELES", "ALPINE", "FRESNO"], [])
        theirs = (spark.read.format("delta").option("versionAsOf", version).load(str(deleted))
                  .where(F.col("county").isin("LOS ANGELES", "ALPINE", "FRESNO")).groupBy("county").count().collect())
        assert ours is not None and sorted(ours) == sorted(map(tuple, theirs)), version
    assert dict(count_rows(deleted, 2, "county", ["LOS ANGELES"], []))["LOS ANGELES"] == 15


def test_partitions_read_from_their_files_are_deltas_rows(spark, deleted, tmp_path):
    delta = spark.read.format("delta").option("versionAsOf", 1).load(str(deleted))
    for counties in (["LOS ANGELES"], ["ALPINE", "SAN DIEGO", "FRESNO"], ["FRESNO"]):
        ours = partition_frame(spark, deleted, 1, "county", counties)
        assert ours is not None and dict(ours.dtypes) == dict(delta.dtypes)
        assert_df_equality(ours.select(*delta.columns), delta.where(F.col("county").isin(*counties)), ignore_row_order=True)
    assert partition_frame(spark, deleted, 2, "county", ["ALPINE"]) is None  # a file with deleted rows: Delta reads it
    copy = tmp_path / "history"
    shutil.copytree(deleted, copy)
    next((copy / "county=ALPINE").glob("*.parquet")).unlink()  # vacuumed
    assert partition_frame(spark, copy, 1, "county", ["ALPINE"]) is None
    assert partition_frame(spark, copy, 1, "county", ["SAN DIEGO"]) is not None
