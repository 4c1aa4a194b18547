"""Per-county Delta versioning: county runs leave other counties alone; reruns are idempotent."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from clearsweep.cli import main as cli
from delta.tables import DeltaTable

from clearsweep.delta_io import table_path
from jobs.run import run_job

AS_OF = dt.date(2019, 11, 11)
COUNTIES = ["LOS ANGELES", "SAN DIEGO", "FRESNO"]


def _dets(spark, warehouse, slug, version=None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_path(warehouse, "counties", slug, "determinations"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    assert cli(["generate", "--rows", "20000", "--seed", "11", "--files", "2", "--out", str(out)]) == 0
    return str(out)


def test_a_county_run_leaves_other_counties_untouched_and_reruns_are_idempotent(spark, sample, tmp_path):
    warehouse = str(tmp_path / "wh")
    first = run_job(spark, [sample], warehouse, AS_OF, COUNTIES, None)
    assert set(first["delta_versions"].values()) == {0}
    before = {slug: _dets(spark, warehouse, slug).drop("run_id") for slug in ("san_diego", "fresno")}
    files_before = {slug: sorted(p.name for p in (tmp_path / "wh" / "counties" / slug / "determinations").glob("*.parquet"))
                    for slug in before}

    second = run_job(spark, [sample], warehouse, AS_OF, ["LOS ANGELES"], None)
    assert second["delta_versions"] == {"los_angeles/determinations": 1, "los_angeles/people": 1, "los_angeles/history": 1}
    for name in ("determinations", "people", "history"):  # the recorded version is Delta's own, committed by this run
        newest = DeltaTable.forPath(spark, table_path(warehouse, "counties", "los_angeles", name)).history(1).first()
        assert (newest["version"], newest["userMetadata"]) == (1, second["run_id"])
    for slug in ("san_diego", "fresno"):
        history = DeltaTable.forPath(spark, table_path(warehouse, "counties", slug, "determinations")).history()
        assert [r["version"] for r in history.select("version").collect()] == [0]
        assert sorted(p.name for p in (tmp_path / "wh" / "counties" / slug / "determinations").glob("*.parquet")) == files_before[slug]
        assert_df_equality(_dets(spark, warehouse, slug).drop("run_id"), before[slug], ignore_row_order=True)

    # the rerun holds the same determinations, once each; time travel still reaches the first run
    la_now, la_then = _dets(spark, warehouse, "los_angeles"), _dets(spark, warehouse, "los_angeles", version=0)
    assert la_now.count() > 0
    assert la_now.select("subject_id", "cnt_order").distinct().count() == la_now.count()
    assert_df_equality(la_now.drop("run_id"), la_then.drop("run_id"), ignore_row_order=True)
    assert {r["run_id"] for r in la_then.select("run_id").distinct().collect()} == {first["run_id"]}
    runs = spark.read.format("delta").load(table_path(warehouse, "runs")).orderBy("finished_at").collect()
    assert [r["run_id"] for r in runs] == [first["run_id"], second["run_id"]]
    assert runs[1]["delta_versions"]["los_angeles/determinations"] == 1


def test_results_do_not_depend_on_partitioning_or_file_split(spark, sample, tmp_path):
    one = run_job(spark, [sample], str(tmp_path / "a"), AS_OF, ["SAN DIEGO"], "statutory")
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        other = run_job(spark, [sample], str(tmp_path / "b"), AS_OF, ["SAN DIEGO"], "statutory")
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "4")
    a = _dets(spark, str(tmp_path / "a"), "san_diego").drop("run_id")
    b = _dets(spark, str(tmp_path / "b"), "san_diego").drop("run_id")
    assert a.count() > 0
    assert_df_equality(a, b, ignore_row_order=True)
    assert one["figures"]["SAN DIEGO"]["summary"] == other["figures"]["SAN DIEGO"]["summary"]
