"""Small DataFrames from Python values, built from one SQL expression in the JVM.

`spark.createDataFrame(list)` ships pickled rows through Python worker processes, and building
the rows as Column literals costs a py4j round trip per value; a run keeps executors free of
Python, so the few rows the driver makes (a run record, figures, the charge-code table) are
written as one SQL literal instead.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BooleanType, DataType, DateType, MapType, StructType, TimestampType


def sql_literal(value, data_type: DataType) -> str:
    if value is None:
        return f"CAST(NULL AS {data_type.simpleString()})"
    if isinstance(data_type, ArrayType):
        items = ", ".join(sql_literal(v, data_type.elementType) for v in value)
        return f"CAST(array({items}) AS {data_type.simpleString()})"
    if isinstance(data_type, MapType):
        pairs = ", ".join(f"{sql_literal(k, data_type.keyType)}, {sql_literal(v, data_type.valueType)}" for k, v in value.items())
        return f"CAST(map({pairs}) AS {data_type.simpleString()})"
    if isinstance(data_type, StructType):
        fields = ", ".join(f"{sql_string(f.name)}, {sql_literal(value.get(f.name), f.dataType)}" for f in data_type.fields)
        return f"named_struct({fields})"
    if isinstance(data_type, BooleanType):
        return "true" if value else "false"
    if isinstance(data_type, TimestampType):
        return f"TIMESTAMP {sql_string(value.replace(tzinfo=None).isoformat(sep=' '))}"
    if isinstance(data_type, DateType):
        return f"DATE {sql_string(value.isoformat() if isinstance(value, dt.date) else str(value))}"
    if isinstance(value, (int, float)):
        return f"CAST({value!r} AS {data_type.simpleString()})"
    return f"CAST({sql_string(str(value))} AS {data_type.simpleString()})"


def sql_string(text: str) -> str:
    """A Spark SQL string literal: backslash escapes, so every character survives."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r") + "'"


def local_frame(spark: SparkSession, rows: list[dict], schema: StructType) -> DataFrame:
    """`rows` (dicts keyed by field name) as a DataFrame of exactly `schema`."""
    if not rows:
        return spark.range(0).select(*[F.lit(None).cast(f.dataType).alias(f.name) for f in schema.fields])
    structs = ", ".join(sql_literal(row, schema) for row in rows)
    return spark.range(1).selectExpr(f"inline(array({structs}))")
