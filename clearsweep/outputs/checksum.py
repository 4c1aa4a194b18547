"""A content checksum of each county's determinations: the same rows give the same checksum in
any order, partitioning or file layout, and any changed field of any row changes it.

How it is made (one small aggregate per county, in Spark):
- each row's canonical string is the JSON object of every column except `run_id` (which names
  the run, not what it decided), keys in name order, null fields left out (so null and "" differ),
  dates as yyyy-MM-dd;
- its SHA-256 gives two 60-bit lanes: hex digits 1-15 and 16-30 (60 bits fit a long exactly);
- per county: the number of rows and each lane's sum, added exactly as decimals, then taken
  modulo 2^60. Addition does not depend on order, so neither does the checksum; a changed row
  moves both sums by a pseudo-random 60-bit amount (two different multisets of rows agree by
  chance with odds of about 2^-120).
Written `<rows, hex>-<lane 1><lane 2>` (15 hex digits each), e.g. `1f4-0a3…`.
"""

from __future__ import annotations

from typing import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

EXCLUDED = ("run_id",)
LANE_DIGITS = 15  # hex digits per lane: 60 bits
MODULUS = 1 << (4 * LANE_DIGITS)


def canonical(df: DataFrame) -> Column:
    """A row as one string: its columns (but run_id) as JSON, keys in name order."""
    columns = sorted(c for c in df.columns if c not in EXCLUDED)
    return F.to_json(F.struct(*[F.col(c) for c in columns]), {"ignoreNullFields": "true", "dateFormat": "yyyy-MM-dd"})


def _lane(digest: Column, start: int) -> Column:
    return F.conv(F.substring(digest, start, LANE_DIGITS), 16, 10).cast("decimal(20,0)")


def format_checksum(rows: int, lane1: int, lane2: int) -> str:
    return f"{rows:x}-{lane1 % MODULUS:0{LANE_DIGITS}x}{lane2 % MODULUS:0{LANE_DIGITS}x}"


EMPTY = format_checksum(0, 0, 0)  # a county with no determinations


def county_checksums(dets: DataFrame, counties: Iterable[str] = ()) -> dict[str, str]:
    """county -> checksum of its rows in `dets` (a determinations table's rows); each county of
    `counties` with no rows gets the empty checksum. Only one row per county reaches the driver."""
    digest = F.sha2(canonical(dets), 256)
    found = dets.groupBy("county").agg(
        F.count(F.lit(1)).alias("rows"), F.sum(_lane(digest, 1)).alias("lane1"),
        F.sum(_lane(digest, 1 + LANE_DIGITS)).alias("lane2"),
    ).collect()
    out = {c: EMPTY for c in counties}
    out.update({r["county"]: format_checksum(r["rows"], int(r["lane1"]), int(r["lane2"])) for r in found})
    return dict(sorted(out.items()))
