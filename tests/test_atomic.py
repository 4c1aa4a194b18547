"""A run is all or nothing, and one at a time: the runs row is the commit point, what a killed
run left is rolled back by the next writer, and a second writer stops at once (or waits)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from pyspark.sql import functions as F

from jobs.cli import main as cli
from clearsweep.errors import UserError
from clearsweep.outputs.layout import COUNTY_TABLES
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.exports.county import export_county
from clearsweep.sweep import run_job

AS_OF = dt.date(2019, 11, 11)


@pytest.fixture(scope="module")
def sacramento(fixtures_dir):
    case = fixtures_dir / "peer-configurable-sacramento"
    return str(case / "input.csv"), str(case / "eligibility_options.json")


def test_a_second_writer_stops_at_once_with_one_line(sacramento, tmp_path, capsys):
    wh = Warehouse(str(tmp_path / "wh"))
    started = time.monotonic()
    with wh.lock("run-holder"):
        code = cli(["run", "--input", sacramento[0], "--warehouse", wh.location, "--as-of", "2019-11-11", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert time.monotonic() - started < 10  # before any Spark work
    assert err.count("\n") == 1 and "in use by run-holder (pid" in err and "--wait" in err
    assert not wh.has_table("runs")


def test_a_waiting_run_goes_when_the_first_is_done(spark, sacramento, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    held = threading.Event()

    def hold():
        with wh.lock("run-first"):
            held.set()
            time.sleep(3)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    with pytest.raises(UserError, match="in use by run-first"):
        run_job(spark, [sacramento[0]], wh.location, AS_OF, ["SACRAMENTO"], sacramento[1])
    result = run_job(spark, [sacramento[0]], wh.location, AS_OF, ["SACRAMENTO"], sacramento[1], wait=60)
    holder.join()
    assert [r["run_id"] for r in wh.runs(spark).collect()] == [result["run_id"]]


def test_what_a_killed_run_left_is_invisible_and_rolled_back(spark, sacramento, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    first = run_job(spark, [sacramento[0]], wh.location, AS_OF, ["SACRAMENTO"], sacramento[1])
    # a run killed after writing two county tables (and creating a table no recorded run wrote)
    dets = wh.read_county(spark, "determinations", "SACRAMENTO").withColumn("run_id", F.lit("run-dead"))
    wh.replace_counties(spark, "determinations", dets.withColumn("reason", F.lit("half-written")), ["SACRAMENTO"], "run-dead")
    wh.replace_counties(spark, "people", wh.read_county(spark, "people", "SACRAMENTO").limit(1), ["SACRAMENTO"], "run-dead")
    line = spark.range(1).select(F.lit("run-dead").alias("load_id"), F.lit("in.csv").alias("source_file"), F.lit(0).alias("file_index"),
                                 F.lit(9).cast("long").alias("line_no"), F.lit("field_count").alias("reason_code"),
                                 F.lit("2 fields, expected 95").alias("reason"), F.lit(2).alias("n_fields"), F.lit("a,b").alias("line"))
    wh.append(spark, "quarantine", line, "run-dead")

    # readers go through the runs table: the half-run is not seen
    assert wh.run_record(spark, county="SACRAMENTO")["run_id"] == first["run_id"]
    exported = export_county(spark, wh.location, "SACRAMENTO", str(tmp_path / "out"))
    assert exported["run_id"] == first["run_id"] and exported["decided"] == 18

    second = run_job(spark, [sacramento[0]], wh.location, AS_OF, ["SACRAMENTO"], sacramento[1])
    assert sorted(second["recovered"]) == [
        "removed quarantine (written only by unfinished run-dead)",
        f"rolled determinations back to version {first['versions']['determinations']} (unfinished run-dead)",
        f"rolled people back to version {first['versions']['people']} (unfinished run-dead)",
    ]
    for table in COUNTY_TABLES:
        ids = {r["run_id"] for r in wh.read(spark, table).select("run_id").distinct().collect()}
        assert ids == {second["run_id"]}, table
    assert not wh.has_table("quarantine")
    assert [r["run_id"] for r in wh.runs(spark).orderBy("finished_at").collect()] == [first["run_id"], second["run_id"]]


def test_paths_with_spaces_and_accents_as_file_uris(spark, sacramento, tmp_path):
    folder = tmp_path / "entrée DOJ 2019"
    folder.mkdir()
    (folder / "extract 1 é.csv").write_bytes(open(sacramento[0], "rb").read())
    warehouse = "file:" + str(tmp_path / "entrepôt clearsweep")
    result = run_job(spark, ["file:" + str(folder)], warehouse, AS_OF, ["SACRAMENTO"], sacramento[1])
    assert result["input_rows"] == 38
    exported = export_county(spark, warehouse, "SACRAMENTO", str(tmp_path / "out"))
    assert exported["decided"] == 18
    assert (tmp_path / "entrepôt clearsweep" / "determinations" / "county=SACRAMENTO").is_dir()


def test_a_first_commit_killed_midway_is_cleared(spark, sacramento, tmp_path):
    """Delta makes a table's _delta_log before its first commit: a run killed in between leaves
    folders that are no tables yet (runs among them). The next run clears them and goes on."""
    root = tmp_path / "wh"
    for table in ("runs", "determinations"):
        (root / table / "_delta_log").mkdir(parents=True)
        (root / table / "part-00000-orphan.snappy.parquet").write_bytes(b"PAR1")
    wh = Warehouse(str(root))
    assert not wh.has_table("runs") and wh.run_record(spark, county="SACRAMENTO") is None
    result = run_job(spark, [sacramento[0]], str(root), AS_OF, ["SACRAMENTO"], sacramento[1])
    assert sorted(result["recovered"]) == ["removed determinations (its first commit never finished)",
                                           "removed runs (its first commit never finished)"]
    assert not (root / "runs" / "part-00000-orphan.snappy.parquet").exists()
    assert [r["run_id"] for r in wh.runs(spark).collect()] == [result["run_id"]]


def test_a_vacuum_run_by_hand_is_not_taken_for_an_unfinished_run():
    """VACUUM commits (Delta records them when vacuum logging is on) carry no run id and change no
    rows: the next writer keeps them; any other commit without an owner is rolled back."""
    from clearsweep.outputs.warehouse import Commit, _clean

    assert _clean(Commit(7, None, "VACUUM END"), set()) and _clean(Commit(6, None, "VACUUM START"), set())
    assert not _clean(Commit(8, None, "WRITE"), set())
    assert not _clean(Commit(9, "run-x", "WRITE"), set()) and _clean(Commit(9, "run-x", "WRITE"), {"run-x"})
