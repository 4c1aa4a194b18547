"""Counts that must add up per input file before anything is committed."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clearsweep.errors import ReconciliationError
from clearsweep.extract import Extract


@dataclass(frozen=True)
class FileCounts:
    file: str
    sha256: str
    physical_lines: int
    header_lines: int
    accepted: int
    quarantined: int
    quarantined_by_reason: dict

    def as_dict(self) -> dict:
        return asdict(self)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    p = Path(path)
    targets = sorted(p.rglob("*")) if p.is_dir() else [p]
    for t in targets:
        if t.is_file():
            with open(t, "rb") as f:
                for block in iter(lambda: f.read(4 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def checksums(paths: list[str]) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(paths, pool.map(sha256_file, paths)))


def reconcile(extract: Extract, lines: DataFrame, digests: dict[str, str]) -> list[FileCounts]:
    """Per file: physical lines = header read + rows accepted + lines quarantined, or raise.
    One aggregation over `lines` (reason_code null = accepted)."""
    acc: dict[str, int] = {}
    q_by_file: dict[str, dict[str, int]] = {}
    for r in lines.groupBy("source_file", "reason_code").agg(F.count("*").alias("n")).collect():
        if r["reason_code"] is None:
            acc[r["source_file"]] = r["n"]
        else:
            q_by_file.setdefault(r["source_file"], {})[r["reason_code"]] = r["n"]
    out = []
    mismatches = []
    for f in extract.files:
        reasons = q_by_file.get(f.path, {})
        header_read = extract.header_lines.get(f.path, 0) - reasons.get("header", 0)
        counts = FileCounts(
            file=f.path,
            sha256=digests.get(f.path, ""),
            physical_lines=extract.physical_lines.get(f.path, 0),
            header_lines=extract.header_lines.get(f.path, 0),
            accepted=acc.get(f.path, 0),
            quarantined=sum(reasons.values()),
            quarantined_by_reason=dict(sorted(reasons.items())),
        )
        if counts.physical_lines != header_read + counts.accepted + counts.quarantined:
            mismatches.append(f"{f.path}: {counts.physical_lines} lines != {header_read} header + {counts.accepted} accepted + {counts.quarantined} quarantined")
        out.append(counts)
    if mismatches:
        raise ReconciliationError("counts do not reconcile; nothing was committed: " + "; ".join(mismatches))
    return out
