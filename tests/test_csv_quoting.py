"""The executors' CSV lines (go_line_col, and go_line_sql: the same as SQL text) are
Go's encoding/csv bytes: a seeded property test over thousands of nasty records, in one small
DataFrame, against the Python writer that reproduces the reference files (go_csv_line)."""

from __future__ import annotations

import random

from pyspark.sql import functions as F

from clearsweep.exports.reference import go_csv_line, go_line_col, go_line_sql

MARK = "\x01"

# quotes, commas, CR/LF, ASCII and Unicode spaces (and the separators Go does not count as space),
# the CSV comment character and a control byte, backslash and dot (`\.`), non-ASCII, control bytes
ALPHABET = ['a', 'Z', '0', ' ', '\t', ',', '"', '\r', '\n', '\\', '.', '#', MARK, '\x00', '\x0b', '\x0c', '\x1c', '\x1f',
            '\x7f', '\x85', '\xa0', '\u1680', '\u2000', '\u2007', '\u200a', '\u200b', '\u2028', '\u3000', 'é', '\U0001f600', "'"]
SPECIAL = ["", None, "\\.", "\\.x", " ", "\t", "#", "#x", MARK, MARK + "x", '"' + MARK, "x" + MARK, 'x"' + MARK + 'y', '"\r',
           " x ", "x ", "  -  ", "            ", "\u3000", '""', ",", "\r\n"]
WIDTH = 4


def _field(rng: random.Random):
    if rng.random() < 0.3:
        return rng.choice(SPECIAL)
    return "".join(rng.choice(ALPHABET) for _ in range(rng.choice([1, 1, 2, 3, 5, 8])))


def test_spark_csv_lines_are_go_csv_lines(spark):
    rng = random.Random(20261205)
    records = [[_field(rng) for _ in range(WIDTH)] for _ in range(2000)]
    records += [[None] * WIDTH, [""] * WIDTH, [MARK] * WIDTH, ["\\."] * WIDTH, [" "] * WIDTH]
    names = [f"v{i}" for i in range(WIDTH)]
    df = spark.createDataFrame([(i, *r) for i, r in enumerate(records)], ", ".join(["i int", *[f"{n} string" for n in names]]))
    got = df.select("i", go_line_col([F.col(n) for n in names]).alias("col"), F.expr(go_line_sql([f"`{n}`" for n in names])).alias("sql"),
                    go_line_col([F.col("v0")]).alias("one")).collect()
    assert len(got) == len(records)
    for r in got:
        want = go_csv_line(records[r.i]).removesuffix("\n")
        assert r.col == want, repr(records[r.i])
        assert r.sql == want, repr(records[r.i])
        assert r.one == go_csv_line(records[r.i][:1]).removesuffix("\n"), repr(records[r.i][0])
