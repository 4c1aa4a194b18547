"""County-partitioned outputs: a run of some counties replaces only their partitions, in one
commit per table; the runs table records the versions that hold each county's results."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable

from jobs.cli import main as cli
from clearsweep.outputs.layout import COUNTY_TABLES
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.exports.county import export_county
from clearsweep.sweep import run_job
from clearsweep.outputs.figures import total_of
from jobs.runs import list_runs

AS_OF = dt.date(2019, 11, 11)
COUNTIES = ["LOS ANGELES", "SAN DIEGO", "FRESNO"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    assert cli(["generate", "--rows", "20000", "--seed", "11", "--files", "2", "--out", str(out)]) == 0
    return str(out)


def _files(table_dir: Path, county: str) -> dict[str, str]:
    """A county partition's data files and their content hashes."""
    folder = table_dir / f"county={county}"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_a_county_run_replaces_only_its_partitions(spark, sample, tmp_path):
    root = tmp_path / "wh"
    wh = Warehouse(str(root))
    first = run_job(spark, [sample], str(root), AS_OF, COUNTIES, None)
    assert set(first["counties"]) == set(COUNTIES)
    others = {(t, c): _files(root / t, c) for t in COUNTY_TABLES for c in ("SAN DIEGO", "FRESNO")}
    assert all(others.values()), "every county partition has data"
    before = {c: wh.read_county(spark, "determinations", c).drop("run_id") for c in COUNTIES}

    second = run_job(spark, [sample], str(root), AS_OF, ["LOS ANGELES"], None)
    for table in COUNTY_TABLES:
        history = DeltaTable.forPath(spark, wh.spark_path(table)).history().collect()
        # one commit per table per run, each the run's own (userMetadata), partitioned by county
        assert [(h["version"], h["userMetadata"]) for h in sorted(history, key=lambda h: h["version"])] == [
            (first["versions"][table], first["run_id"]), (second["versions"][table], second["run_id"])]
        assert DeltaTable.forPath(spark, wh.spark_path(table)).detail().first()["partitionColumns"] == ["county"]
    # every other county's data files are untouched, byte for byte
    assert {(t, c): _files(root / t, c) for t in COUNTY_TABLES for c in ("SAN DIEGO", "FRESNO")} == others
    for county in COUNTIES:
        now = wh.read_county(spark, "determinations", county)
        assert now.count() > 0
        assert now.select("subject_id", "cnt_order").distinct().count() == now.count()
        assert_df_equality(now.drop("run_id"), before[county], ignore_row_order=True)

    # the latest results of a county come from the last run that decided it
    assert wh.run_record(spark, county="SAN DIEGO")["run_id"] == first["run_id"]
    assert wh.run_record(spark, county="LOS ANGELES")["run_id"] == second["run_id"]
    # time travel through the recorded versions gives exactly what each run wrote
    then = wh.read_county(spark, "determinations", "LOS ANGELES", wh.run_record(spark, run_id=first["run_id"]))
    assert {r["run_id"] for r in then.select("run_id").distinct().collect()} == {first["run_id"]}
    # a county's own history of results
    assert [r["run_id"] for r in list_runs(spark, str(root), "LOS ANGELES")] == [first["run_id"], second["run_id"]]
    assert [r["run_id"] for r in list_runs(spark, str(root), "SAN DIEGO")] == [first["run_id"]]
    # each run's headline figures, from its own total row
    for run, listed in zip((first, second), list_runs(spark, str(root), "LOS ANGELES")):
        total = total_of(run["figures"])["extended"]
        assert listed["headline"]["covers"] == total["label"]
        assert listed["headline"]["prop64ConvictionsDecided"] == total["prop64Convictions"]["total"] > 0
        assert listed["headline"]["peopleRelieved"] == total["scenarios"]["chosenPolicy"]["peopleRelieved"]


def test_export_of_a_run_after_later_runs_of_other_counties(spark, sample, tmp_path):
    """`export --run` gives what that run wrote for a county, even after runs of other counties."""
    root = str(tmp_path / "wh")
    first = run_job(spark, [sample], root, AS_OF, ["SAN DIEGO", "FRESNO"], "statutory")
    run_job(spark, [sample], root, AS_OF, ["FRESNO"], "dismiss-all")
    latest = export_county(spark, root, "SAN DIEGO", str(tmp_path / "latest"))
    pinned = export_county(spark, root, "SAN DIEGO", str(tmp_path / "pinned"), first["run_id"])
    fresno = export_county(spark, root, "FRESNO", str(tmp_path / "fresno-then"), first["run_id"])
    assert latest["run_id"] == pinned["run_id"] == first["run_id"]
    assert (tmp_path / "latest" / "Prop64_Results.csv").read_bytes() == (tmp_path / "pinned" / "Prop64_Results.csv").read_bytes()
    assert fresno["policy"] == "statutory" and fresno["decided"] > 0


def test_results_do_not_depend_on_partitioning_or_file_split(spark, sample, tmp_path):
    one = run_job(spark, [sample], str(tmp_path / "a"), AS_OF, ["SAN DIEGO"], "statutory")
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        other = run_job(spark, [sample], str(tmp_path / "b"), AS_OF, ["SAN DIEGO"], "statutory")
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "4")
    a = Warehouse(str(tmp_path / "a")).read_county(spark, "determinations", "SAN DIEGO").drop("run_id")
    b = Warehouse(str(tmp_path / "b")).read_county(spark, "determinations", "SAN DIEGO").drop("run_id")
    assert a.count() > 0
    assert_df_equality(a, b, ignore_row_order=True)
    assert one["figures"]["SAN DIEGO"]["summary"] == other["figures"]["SAN DIEGO"]["summary"]
