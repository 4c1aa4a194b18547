"""Each DOJ row's two hashes (64 and 32 bits) over every DOJ column and the row's position
(file_index, line_no). `ingest` stores them beside the row in `raw`, and runs carry them into
`history`, so a monthly run (`run --since`) compares each person's rows by two narrow columns
instead of reading and hashing 95 (a seventh of the time, measured at 1M rows).

Spark's hashes skip a null, so each column is followed by its index: a value moved into a
neighbouring null column hashes apart (cheaper than a null mask, which stops code generation).
Rows stored before the hashes were (a raw table or history of an older warehouse) get them
computed by the same expressions, so stored and computed hashes compare."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clearsweep.outputs.layout import ROW_HASH_FIELDS
from clearsweep.schema import DOJ_COLUMNS

ROW_HASHES = tuple(name for name, _ in ROW_HASH_FIELDS)


def row_hashes() -> list[Column]:
    cols = [x for i, c in enumerate(DOJ_COLUMNS) for x in (F.col(c), F.lit(i))]
    cols += [F.col("file_index").cast("int"), F.col("line_no").cast("long")]
    return [F.xxhash64(*cols).alias(ROW_HASHES[0]), F.hash(*cols).alias(ROW_HASHES[1])]


def with_row_hashes(rows: DataFrame) -> DataFrame:
    """`rows` with their hashes: the stored ones, or computed where the rows have none."""
    return rows if set(ROW_HASHES) <= set(rows.columns) else rows.select(*[c for c in rows.columns if c not in ROW_HASHES], *row_hashes())
