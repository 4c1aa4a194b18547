"""Each DOJ row's two hashes (64 and 32 bits) over every DOJ column and the row's position
(file_index, line_no): a monthly run (`run --since`) sums them per person to find whose rows
changed. They are computed as the run reads the rows, not stored: kept in `raw` by `ingest`,
they cost the ingest a fifth more time (measured at 1M rows) and saved the monthly run nothing
it could measure.

Spark's hashes skip a null, so each column is followed by its index: a value moved into a
neighbouring null column hashes apart (cheaper than a null mask, which stops code generation)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep.schema import DOJ_COLUMNS

ROW_HASHES = ("row_hash", "row_hash2")


def row_hashes() -> list[Column]:
    cols = [x for i, c in enumerate(DOJ_COLUMNS) for x in (F.col(c), F.lit(i))]
    cols += [F.col("file_index").cast("int"), F.col("line_no").cast("long")]
    return [F.xxhash64(*cols).alias(ROW_HASHES[0]), F.hash(*cols).alias(ROW_HASHES[1])]


def with_row_hashes(rows: DataFrame) -> DataFrame:
    """`rows` (every DOJ column and the position) with their two hashes."""
    return rows.select("*", *row_hashes())
