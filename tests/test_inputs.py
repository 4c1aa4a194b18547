"""The same extract as CSV, as Parquet, and as an ingested raw table gives the same decisions."""

from __future__ import annotations

import datetime as dt

import pytest

from chispa import assert_df_equality

from jobs.cli import main as cli
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.ingest.load import ingest
from clearsweep.sweep import run_job

AS_OF = dt.date(2019, 11, 11)
COUNTIES = ["LOS ANGELES", "ORANGE", "KERN"]
# A CSV's data lines start at line 2 (its header is line 1), a Parquet file's rows at row 1.
POSITIONS = ("run_id", "line_no", "seq")


def test_csv_parquet_and_raw_table_decide_alike(spark, tmp_path):
    for fmt in ("csv", "parquet"):
        assert cli(["generate", "--rows", "12000", "--seed", "5", "--files", "2", "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    csv_wh, parquet_wh = str(tmp_path / "csv-wh"), str(tmp_path / "parquet-wh")
    from_csv = run_job(spark, [str(tmp_path / "csv")], csv_wh, AS_OF, COUNTIES, None)
    from_parquet = run_job(spark, [str(tmp_path / "parquet")], parquet_wh, AS_OF, COUNTIES, None)
    ingest(spark, [str(tmp_path / "csv")], csv_wh)
    from_raw = run_job(spark, [str(tmp_path / "csv-wh" / "raw")], csv_wh, AS_OF, COUNTIES, None)
    assert from_csv["input_rows"] == from_parquet["input_rows"] == from_raw["input_rows"] == 12000

    def table(warehouse, name, run, drop=POSITIONS):
        wh = Warehouse(warehouse)
        record = wh.run_record(spark, run_id=run["run_id"])
        frames = [wh.read_county(spark, name, c, record) for c in COUNTIES]
        out = frames[0]
        for f in frames[1:]:
            out = out.unionByName(f)
        return out.drop(*[c for c in drop if c in out.columns])

    for name in ("determinations", "people"):
        csv_rows = table(csv_wh, name, from_csv, drop=("run_id",))
        assert csv_rows.count() > 0
        assert_df_equality(csv_rows, table(csv_wh, name, from_raw, drop=("run_id",)), ignore_row_order=True)  # positions too
        assert_df_equality(table(csv_wh, name, from_csv), table(parquet_wh, name, from_parquet), ignore_row_order=True, ignore_nullable=True)
    for county in COUNTIES:
        assert from_csv["figures"][county]["summary"] == from_parquet["figures"][county]["summary"] == from_raw["figures"][county]["summary"]


@pytest.mark.parametrize("column, kind", [("PRI_DOB", "date"), ("SUBJECT_ID", "bigint")])
def test_parquet_column_of_another_type_is_refused_naming_it(spark, tmp_path, column, kind):
    from pyspark.sql import functions as F

    from clearsweep.errors import UserError
    from clearsweep.schema import DOJ_COLUMNS

    values = {c: F.lit("") for c in DOJ_COLUMNS} | {"PRI_DOB": F.lit("19700101"), "SUBJECT_ID": F.lit("0012345")}
    df = spark.range(1).select(*[(values[c].cast(kind) if c == column and kind == "bigint" else
                                  F.to_date(values[c], "yyyyMMdd") if c == column else values[c]).alias(c) for c in DOJ_COLUMNS])
    df.coalesce(1).write.parquet(str(tmp_path / "in"))
    with pytest.raises(UserError, match=f"{column} is {kind}"):
        run_job(spark, [str(tmp_path / "in")], str(tmp_path / "wh"), AS_OF, ["YOLO"], None)
