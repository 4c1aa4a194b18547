"""The warehouse's small tables (`runs`, `ingests`, `purges`, and a run's `figures` rows) read
without a Spark job: a command such as one county's export spends most of its time, on a cold
JVM, loading these tables' Delta snapshots and collecting a few rows (each its own Spark jobs).
Likewise the rows per county of a county table, and a few counties' rows as a DataFrame over
the files the log lists (partition_frame), without Delta's snapshot.

Read here, in Python, only when that is exactly what Spark would read: a local warehouse, a
table whose log still holds every commit from version 0 as JSON (the warehouse keeps its log for
ten years: `RETENTION`), no partitions, no deletion vectors or column mapping (Delta reader
version 1, or 3 allowing deletion vectors where no file has one), and column types these tables
use. The commits up to the version asked are replayed (the data files added and not removed
since), their Parquet files read with pyarrow, and each row given as Spark gives it (a `Row`,
maps as dicts, timestamps in the session's time zone). Anything else, or any failure to read,
returns None: the caller reads through Spark as before."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.types import (ArrayType, BooleanType, DataType, DateType, DoubleType, IntegerType, LongType, MapType,
                               StringType, StructType, TimestampType)

ATOMIC = (StringType, LongType, IntegerType, BooleanType, DateType, TimestampType, DoubleType)


def _replay(log: Path, version: int | None, deleted_ok: bool = False) -> tuple[dict, dict, dict] | None:
    """(metaData, data files by _file_id, column types) at `version` (default the latest), or None when the log lacks a
    commit or holds what this reader does not handle: rows deleted by deletion vectors too, unless `deleted_ok` (the
    caller only counts rows, and subtracts each vector's cardinality)."""
    try:
        names = os.listdir(log)
    except OSError:
        return None
    versions = sorted(int(n[:-5]) for n in names if n.endswith(".json") and len(n) == 25 and n[:20].isdigit())
    if version is not None:
        versions = [v for v in versions if v <= version]
    if not versions or versions != list(range(len(versions))) or (version is not None and versions[-1] != version):
        return None  # an early commit cleaned from the log (a checkpoint holds it), or the version is not there
    meta, protocol, files = None, None, {}
    for v in versions:
        with open(log / f"{v:020d}.json", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                action = json.loads(line)
                if "add" in action:
                    if action["add"].get("deletionVector") and not deleted_ok:
                        return None
                    files[_file_id(action["add"])] = action["add"]
                elif "remove" in action:
                    files.pop(_file_id(action["remove"]), None)
                elif "metaData" in action:
                    meta = action["metaData"]
                elif "protocol" in action:
                    protocol = action["protocol"]
    if meta is None or protocol is None or not _readable(protocol):
        return None
    if (meta.get("configuration") or {}).get("delta.columnMapping.mode", "none") != "none":
        return None
    return meta, files, {f.name: f.dataType for f in StructType.fromJson(json.loads(meta["schemaString"])).fields}


def _file_id(action: dict) -> tuple:
    """A data file as the log names it: its path and its deletion vector, if any (deleting rows
    from a file removes it and adds it again, the same path with a vector)."""
    vector = action.get("deletionVector") or {}
    return action["path"], vector.get("storageType"), vector.get("pathOrInlineDv"), vector.get("offset")


def _readable(protocol: dict) -> bool:
    """Reader version 1, or 3 with deletion vectors as its one feature (a table allowing them,
    such as `history`: a data file with rows deleted is refused or counted as the caller says)."""
    version = protocol.get("minReaderVersion", 1)
    return version == 1 or (version == 3 and set(protocol.get("readerFeatures") or ()) <= {"deletionVectors"})


def count_rows(location: Path, version: int, partition: str, values: list[str], keys: list[str]) -> list[tuple] | None:
    """Rows counted by (`partition`, *`keys`) at `version`, of the partitions `values` of a table
    partitioned by `partition` alone (a county table's determinations by county, run and
    determination): only the data files of those partitions are opened, and only the `keys`
    columns (with no keys, only their footers); None when Spark must count them."""
    replayed = _replay(location / "_delta_log", version, deleted_ok=not keys)
    if replayed is None:
        return None
    meta, files, kinds = replayed
    if meta.get("partitionColumns") != [partition] or any(not isinstance(kinds.get(k), StringType) for k in keys):
        return None
    wanted = set(values)
    counts: dict[tuple, int] = {}
    try:
        for add in files.values():
            value = (add.get("partitionValues") or {}).get(partition)
            if value not in wanted:
                continue
            part = pq.ParquetFile(location / _unquote(add["path"]))
            if not keys:  # rows per partition: the files' footers say, less the rows their deletion vectors delete
                deleted = (add.get("deletionVector") or {}).get("cardinality", 0)
                counts[(value,)] = counts.get((value,), 0) + part.metadata.num_rows - deleted
                continue
            table = part.read(columns=keys)
            for row in table.group_by(keys).aggregate([([], "count_all")]).to_pylist():
                key = (value, *[row[k] for k in keys])
                counts[key] = counts.get(key, 0) + row["count_all"]
    except (OSError, ValueError, KeyError, pa.ArrowException):  # a file vacuumed away, a column missing: Spark says what
        return None
    return [(*key, n) for key, n in counts.items()]


PLAIN_VALUE = re.compile(r"[A-Za-z0-9 ._-]+")  # written into a folder name as it is (a county's name)


def partition_frame(spark: SparkSession, location: Path, version: int, partition: str, values: list[str]) -> DataFrame | None:
    """The rows of the partitions `values` of a table partitioned by `partition` alone, at
    `version`, as Spark reads their Parquet files: planned from the log replayed here, not from
    Delta's snapshot, whose state reconstruction and file filtering take several Spark jobs
    (seconds on a cold JVM) for a county whose rows take a fraction of a second to read. None
    when Delta must read it: a data file with deleted rows or missing (vacuumed), a partition
    value escaped in its folder's name, anything the replay does not handle."""
    replayed = _replay(location / "_delta_log", version)
    if replayed is None or any(not PLAIN_VALUE.fullmatch(v) for v in values):
        return None
    meta, files, _ = replayed
    if meta.get("partitionColumns") != [partition]:
        return None
    wanted = set(values)
    chosen = [(add["partitionValues"][partition], _unquote(add["path"])) for add in files.values()
              if (add.get("partitionValues") or {}).get(partition) in wanted]
    # Spark takes the value from the folder name: each file must sit in its partition's folder
    if not all(name.startswith(f"{partition}={value}/") and (location / name).is_file() for value, name in chosen):
        return None
    paths = [location / name for _, name in chosen]
    schema = StructType.fromJson(json.loads(meta["schemaString"]))
    if not paths:
        return spark.createDataFrame([], schema)
    # the partition's value comes from the folder name, typed as the table's schema says
    return spark.read.schema(schema).option("basePath", f"file:{location}").parquet(*[f"file:{path}" for path in paths])


def _unquote(path: str) -> str:
    """A data file's path in the log is a URI path: `county=LOS%20ANGELES/part-...`."""
    from urllib.parse import unquote

    return unquote(path)


def _supported(kind: DataType) -> bool:
    if isinstance(kind, ArrayType):
        return isinstance(kind.elementType, ATOMIC) and not isinstance(kind.elementType, TimestampType)
    if isinstance(kind, MapType):
        return all(isinstance(t, ATOMIC) and not isinstance(t, TimestampType) for t in (kind.keyType, kind.valueType))
    return isinstance(kind, ATOMIC)


def _zone(time_zone: str):
    if time_zone in ("UTC", "Z", "GMT", "Etc/UTC"):
        return None
    from zoneinfo import ZoneInfo

    return ZoneInfo(time_zone)


def _column(values: list, kind: DataType, zone) -> list:
    if isinstance(kind, MapType):
        return [None if v is None else dict(v) for v in values]
    if isinstance(kind, TimestampType):  # Spark's INT96 or UTC-adjusted micros: UTC, shown in the session's zone
        out = []
        for v in values:
            if v is not None:
                v = v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v
                if zone is not None:
                    v = v.replace(tzinfo=dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
            out.append(v)
        return out
    return values


def read_rows(location: Path, version: int | None = None, where: dict | None = None, columns: list[str] | None = None,
              time_zone: str = "UTC") -> list[Row] | None:
    """The table's rows at `version` (default the latest) whose columns hold one of the values in
    `where` ({column: [values]}), with `columns` (default all, in the table's order); None when
    Spark must read it."""
    replayed = _replay(location / "_delta_log", version)
    if replayed is None:
        return None
    meta, files, kinds = replayed
    if meta.get("partitionColumns"):
        return None
    wanted = columns or list(kinds)
    if any(c not in kinds or not _supported(kinds[c]) for c in [*wanted, *(where or {})]):
        return None
    zone = _zone(time_zone)
    rows: list[Row] = []
    try:
        for add in files.values():
            path = location / _unquote(add["path"])
            present = set(pq.read_schema(path).names)
            table = pq.ParquetFile(path).read(columns=[c for c in dict.fromkeys([*wanted, *(where or {})]) if c in present])
            for column, values in (where or {}).items():
                if column not in present:  # a column added after this file was written: null, matching nothing
                    table = table.slice(0, 0)
                    break
                table = table.filter(pc.is_in(table[column], value_set=pa.array(list(values), type=table[column].type)))
            if not table.num_rows:
                continue
            for column in table.column_names:
                if pa.types.is_timestamp(table[column].type) and table[column].type.unit == "ns":
                    table = table.set_column(table.column_names.index(column), column,
                                             table[column].cast(pa.timestamp("us", table[column].type.tz), safe=False))
            data = {c: _column(table[c].to_pylist(), kinds[c], zone) if c in present else [None] * table.num_rows for c in wanted}
            rows += [Row(**{c: data[c][i] for c in wanted}) for i in range(table.num_rows)]
    except (OSError, ValueError, pa.ArrowException):  # a file vacuumed away, or unreadable: Spark says what
        return None
    return rows
