"""Counts that must add up per input file before a run or an ingest is recorded.

Per file: physical lines (counted by the driver, apart from Spark) = header + accepted +
quarantined + lines continuing a quoted field of the record above them, and the line numbers Spark gave are exactly 1..lines (header left out). One small
aggregate over the lines as written (a few narrow columns), never a second read of the text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clearsweep.errors import ReconciliationError
from clearsweep.ingest.extract import CONTINUED


@dataclass(frozen=True)
class FileCounts:
    file: str
    checksum: str
    physical_lines: int
    header_lines: int
    accepted: int
    quarantined: int
    quarantined_by_reason: dict
    continued: int = 0  # lines continuing a quoted field of the record above them (read with it)

    def as_dict(self) -> dict:
        return asdict(self)


def line_tally(lines: DataFrame) -> dict[int, dict]:
    """file index -> {reason code or None: count} and the line-number checks, in one job."""
    rows = lines.groupBy("file_index", "reason_code").agg(
        F.count("*").alias("n"), F.count("line_no").alias("numbered"),
        F.min("line_no").alias("first"), F.max("line_no").alias("last"), F.sum("line_no").alias("total"),
    ).collect()  # a row per (file, reason): a handful
    out: dict[int, dict] = {}
    for r in rows:
        t = out.setdefault(r["file_index"], {"by_reason": {}, "n": 0, "numbered": 0, "first": None, "last": None, "total": 0})
        t["by_reason"][r["reason_code"]] = r["n"]
        t["n"] += r["n"]
        t["numbered"] += r["numbered"]
        t["total"] += r["total"] or 0
        t["first"] = r["first"] if t["first"] is None else min(t["first"], r["first"])
        t["last"] = r["last"] if t["last"] is None else max(t["last"], r["last"])
    return out


def reconcile(files, physical: dict[str, int], headers: dict[str, int], checksums: dict[str, str],
              tally: dict[int, dict]) -> list[FileCounts]:
    """Per file: physical lines = header + accepted + quarantined, numbered 1..lines; or raise."""
    out, problems = [], []
    for f in files:
        t = tally.get(f.index, {"by_reason": {}, "n": 0, "numbered": 0, "first": None, "last": None, "total": 0})
        reasons = {k: v for k, v in t["by_reason"].items() if k not in (None, CONTINUED)}
        header_read = headers.get(f.path, 0) - reasons.get("header", 0)  # a short header is quarantined, not read
        counts = FileCounts(
            file=f.path, checksum=checksums.get(f.path, ""), physical_lines=physical[f.path], header_lines=header_read,
            accepted=t["by_reason"].get(None, 0), quarantined=sum(reasons.values()),
            quarantined_by_reason=dict(sorted(reasons.items())), continued=t["by_reason"].get(CONTINUED, 0),
        )
        lines = counts.physical_lines
        if lines != header_read + counts.accepted + counts.quarantined + counts.continued:
            problems.append(f"{f.path}: {lines} lines != {header_read} header + {counts.accepted} accepted + {counts.quarantined} quarantined"
                            f" + {counts.continued} continuing a quoted field")
        elif t["n"] and not _numbered_exactly(t, first=header_read + 1, last=lines):
            problems.append(f"{f.path}: line numbers are not exactly {header_read + 1}..{lines}")
        out.append(counts)
    if problems:
        raise ReconciliationError("counts do not reconcile; nothing was recorded: " + "; ".join(problems))
    return out


def _numbered_exactly(t: dict, first: int, last: int) -> bool:
    n = last - first + 1
    return t["numbered"] == t["n"] == n and t["first"] == first and t["last"] == last and t["total"] == (first + last) * n // 2


def empty_file_notes(counts: list[FileCounts]) -> list[str]:
    """A file with no data lines is read and reconciled like any other, and said."""
    return [f"{c.file}: no data lines (empty, or a header only)" for c in counts if c.accepted + c.quarantined == 0]
