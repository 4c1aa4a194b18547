"""The warehouse contract: declared schemas are enforced at every write; statistics never cover
personal columns."""

from __future__ import annotations

import pytest

from clearsweep.outputs import layout
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.schema import personal_columns


def test_no_table_keeps_statistics_of_personal_columns():
    personal = {c.lower() for c in personal_columns()}
    assert personal, "the DOJ layout marks no column personal"
    for table in layout.TABLES:
        assert not set(layout.stats_columns(table).lower().split(",")) & personal


def test_statistics_of_a_personal_column_are_refused(monkeypatch):
    monkeypatch.setitem(layout.STATS_COLUMNS, "history", ("file_index", "PRI_NAME"))
    with pytest.raises(ValueError, match="PRI_NAME"):
        layout.stats_columns("history")


def test_a_write_off_the_declared_schema_is_refused_before_anything_is_written(spark, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    rows = spark.createDataFrame([("r1", "SACRAMENTO", "{}", "{}")], "run_id string, county string, summary_json string, extended_json string")
    with pytest.raises(ValueError, match="missing \\['as_of'\\]"):
        wh.append(spark, "figures", rows, "r1")
    assert not wh.has_table("figures", spark)


def test_a_table_made_by_an_earlier_version_is_refused_in_one_line_before_a_write(spark, tmp_path):
    """determinations without stable_until (made before it was added): a run is refused before
    it writes, naming the table and the missing column; a current table passes."""
    from clearsweep.errors import UserError

    wh = Warehouse(str(tmp_path / "wh"))
    old = spark.createDataFrame([], layout.SCHEMAS["determinations"]).drop("stable_until")
    old.write.format("delta").partitionBy("county").save(wh.spark_path("determinations"))
    with pytest.raises(UserError, match="determinations was made by an earlier version.*stable_until"):
        wh.require_layout(spark, ("history", "determinations"))
    wh.replace_counties(spark, "people", spark.createDataFrame([], layout.SCHEMAS["people"]), ["SACRAMENTO"], "r1")
    wh.require_layout(spark, ("people",))


def test_a_write_is_put_in_declared_column_order(spark, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    rows = spark.sql("SELECT '{}' AS extended_json, 'SACRAMENTO' AS county, DATE'2019-11-11' AS as_of, '{}' AS summary_json, 'r1' AS run_id")
    wh.append(spark, "figures", rows, "r1")
    assert wh.read(spark, "figures").schema == layout.SCHEMAS["figures"]


def test_race_text_becomes_a_known_category_or_other(spark):
    from chispa import assert_column_equality
    from pyspark.sql import functions as F

    from clearsweep.outputs.figures import OTHER_RACE, race_category

    rows = [(" white ", "WHITE"), ("HISPANIC", "HISPANIC"), ("MARTIAN", OTHER_RACE), ("SMITH,JOHN", OTHER_RACE),
            ("", OTHER_RACE), (None, OTHER_RACE), ("OTHER", OTHER_RACE), ("UNKNOWN", OTHER_RACE)]
    df = spark.createDataFrame(rows, "race string, expected string").withColumn("got", race_category(F.col("race")))
    assert_column_equality(df, "got", "expected")
