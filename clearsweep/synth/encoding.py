"""One DOJ row as file content: an RFC 4180 CSV line, or part of a pyarrow table with all 95
columns as strings. pyarrow is imported only when Parquet is written."""

from __future__ import annotations

import csv
import io

from clearsweep.schema import DOJ_COLUMNS, N_COLUMNS
from clearsweep.synth.catalog import COL


def csv_line(fields: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()[:-1]


# Columns before CYC_ORDER describe the person and are the same on all of a person's rows.
EVENT_START = COL.CYC_ORDER
EVENT_COMMAS = N_COLUMNS - EVENT_START - 1


class CsvEncoder:
    """RFC 4180 lines, quoting only where needed. csv.writer costs ~7 us a row; here the
    person's columns are encoded once per person and the event columns take a plain join
    unless they hold a comma or a quote (rare), which falls back to csv.writer."""

    def __init__(self):
        self.subject = None
        self.prefix = ""

    def line(self, row: list) -> str:
        if row[COL.SUBJECT_ID] != self.subject:
            self.subject = row[COL.SUBJECT_ID]
            self.prefix = csv_line(row[:EVENT_START])
        events = ",".join(row[EVENT_START:])
        if events.count(",") != EVENT_COMMAS or '"' in events or "\n" in events or "\r" in events:
            events = csv_line(row[EVENT_START:])
        return f"{self.prefix},{events}\n"


def arrow_schema():
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in DOJ_COLUMNS])


def arrow_table(rows: list):
    import pyarrow as pa

    schema = arrow_schema()
    if not rows:
        return schema.empty_table()
    columns = [pa.array(column, type=pa.string()) for column in zip(*rows)]
    return pa.Table.from_arrays(columns, schema=schema)
