"""Writing an extract: the checked plan of a run, its chunks run in parallel and appended in
chunk order to the CSV or Parquet files, then DIR/manifest.json and (CSV) DIR/bad_rows.json.
make_plan and write_extract are what `clearsweep generate` calls."""

from __future__ import annotations

import json
import multiprocessing
import os
from bisect import bisect_left
from collections import Counter, deque
from itertools import islice
from pathlib import Path
from typing import Iterator, NamedTuple

from clearsweep.counties import COUNTIES, POPULATION
from clearsweep.errors import UserError
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.synth.bad_lines import MAX_BAD_ROWS, bad_positions
from clearsweep.synth.chunks import CHUNK_ROWS, ChunkResult, ChunkTask, generate_chunk
from clearsweep.synth.encoding import arrow_schema

MAX_FILES = 1000  # every output file stays open while writing


class Plan(NamedTuple):
    rows: int
    seed: int
    format: str
    out: Path
    header: bool
    bad_per_kind: int
    files: int
    workers: int

    @property
    def chunks(self) -> int:
        return -(-self.rows // CHUNK_ROWS)

    def file_names(self) -> list[str]:
        return [f"extract-{i:05d}.{self.format}" for i in range(self.files)]


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def make_plan(*, rows: int, seed: int, format: str, out: Path | str, header: bool,
              bad_per_kind: int, files: int, workers: int | None = None) -> Plan:
    """A checked Plan; workers=None means all usable CPUs. The errors name the flags of
    `clearsweep generate`, the only caller that takes these values from a user."""
    if rows < 1:
        raise UserError("--rows must be at least 1")
    if not 1 <= files <= MAX_FILES:
        raise UserError(f"--files must be between 1 and {MAX_FILES}")
    if not 0 <= bad_per_kind <= MAX_BAD_ROWS:
        raise UserError(f"--bad-rows must be between 0 and {MAX_BAD_ROWS}")
    if format != "csv" and bad_per_kind:
        raise UserError("--bad-rows needs --format csv (bad lines are a CSV-file problem)")
    if format != "csv" and not header:
        raise UserError("--no-header applies to --format csv only")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise UserError("--workers must be at least 1")
    plan = Plan(rows, seed, format, Path(out), header, bad_per_kind, files, workers)
    return plan._replace(workers=min(workers, plan.chunks))


def chunk_tasks(plan: Plan) -> Iterator[ChunkTask]:
    bad = bad_positions(plan.seed, plan.rows, plan.bad_per_kind)
    for index in range(plan.chunks):
        start = index * CHUNK_ROWS
        rows = min(CHUNK_ROWS, plan.rows - start)
        end = start + rows if index < plan.chunks - 1 else plan.rows + 1
        mine = bad[bisect_left(bad, (start, -1)):bisect_left(bad, (end, -1))]
        yield ChunkTask(plan.seed, index, rows, plan.files, plan.format,
                        tuple((pos - start, number) for pos, number in mine))


def run_chunks(tasks: Iterator[ChunkTask], workers: int) -> Iterator[ChunkResult]:
    """Chunk results in chunk order. At most 2 x workers chunks are in flight, so memory
    stays bounded however many rows are asked for."""
    if workers <= 1:
        yield from map(generate_chunk, tasks)
        return
    # forkserver: never fork a parent that may hold threads (a Spark gateway, a test runner).
    with multiprocessing.get_context("forkserver").Pool(workers) as pool:
        window = deque(pool.apply_async(generate_chunk, (t,)) for t in islice(tasks, 2 * workers))
        while window:
            result = window.popleft().get()
            window.extend(pool.apply_async(generate_chunk, (t,)) for t in islice(tasks, 1))
            yield result


class CsvOutput:
    def __init__(self, plan: Plan):
        self.names = plan.file_names()
        self.handles = [open(plan.out / name, "wb") for name in self.names]
        self.lines = [0] * plan.files  # physical lines written so far, header included
        self.rows = [0] * plan.files
        self.bad_lines: list[dict] = []
        if plan.header:
            for handle in self.handles:
                handle.write((",".join(DOJ_COLUMNS) + "\n").encode("ascii"))
            self.lines = [1] * plan.files

    def write(self, result: ChunkResult) -> None:
        for i, part in enumerate(result.parts):
            for line, kind, detail in part.bad:
                self.bad_lines.append({"file": self.names[i], "line": self.lines[i] + line + 1,
                                       "kind": kind, "detail": detail})
            self.handles[i].write(part.data)
            self.lines[i] += part.lines
            self.rows[i] += part.rows

    def close(self) -> None:
        for handle in self.handles:
            handle.close()

    def file_entries(self) -> list[dict]:
        bad = Counter(b["file"] for b in self.bad_lines)
        return [{"name": n, "rows": r, "bad_lines": bad[n], "physical_lines": l}
                for n, r, l in zip(self.names, self.rows, self.lines)]


class ParquetOutput:
    def __init__(self, plan: Plan):
        import pyarrow.parquet as pq

        self.names = plan.file_names()
        self.writers = [pq.ParquetWriter(plan.out / name, arrow_schema()) for name in self.names]
        self.rows = [0] * plan.files
        self.bad_lines: list[dict] = []

    def write(self, result: ChunkResult) -> None:
        for i, part in enumerate(result.parts):
            if part.rows:  # one row group per chunk part
                self.writers[i].write_table(part.data)
                self.rows[i] += part.rows

    def close(self) -> None:
        for writer in self.writers:
            writer.close()

    def file_entries(self) -> list[dict]:
        return [{"name": n, "rows": r, "bad_lines": 0} for n, r in zip(self.names, self.rows)]


def prepare_out_dir(out: Path) -> None:
    """Create DIR; refuse one that already holds generated output rather than mixing two."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out is not a directory: {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out directory {out}: {exc.strerror}") from None
    stale = sorted(p.name for p in out.iterdir()
                   if p.name.startswith("extract-") or p.name in ("manifest.json", "bad_rows.json"))
    if stale:
        raise UserError(f"--out {out} already holds generated files (e.g. {stale[0]}); "
                        "use an empty directory")


def write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def county_counts(counties: Counter) -> tuple[dict, dict]:
    """Rows per California county (all 58, zeros included) and per other value."""
    california = {name: counties.get(name, 0) for name in COUNTIES}
    other = {name: n for name, n in sorted(counties.items()) if name not in POPULATION}
    return california, other


def write_reports(plan: Plan, output, people: int, counties: Counter) -> dict:
    """DIR/manifest.json: seed, format, header, rows, bad_lines, people, files (name, rows,
    bad_lines, physical_lines), rows_per_county (all 58) and rows_per_other_county_value.
    DIR/bad_rows.json (CSV): {"per_kind": K, "bad_rows": [{"file", "line", "kind", "detail"}]}
    with the 1-based physical line in that file (the header is line 1 when present) and kind
    field_count | quoting | bad_value, sorted by file and line."""
    california, other = county_counts(counties)
    manifest = {
        "generator": "clearsweep generate",
        "seed": plan.seed,
        "format": plan.format,
        "header": plan.header,
        "rows": plan.rows,
        "bad_lines": len(output.bad_lines),
        "people": people,
        "files": output.file_entries(),
        "rows_per_county": california,
        "rows_per_other_county_value": other,
    }
    write_json(plan.out / "manifest.json", manifest)
    if plan.format == "csv":
        bad = sorted(output.bad_lines, key=lambda b: (b["file"], b["line"]))
        write_json(plan.out / "bad_rows.json", {"per_kind": plan.bad_per_kind, "bad_rows": bad})
    return manifest


def write_extract(plan: Plan) -> dict:
    """Write the whole extract into plan.out (created; refused when it already holds generated
    files) and return the manifest that DIR/manifest.json holds."""
    prepare_out_dir(plan.out)
    people, counties = 0, Counter()
    output = CsvOutput(plan) if plan.format == "csv" else ParquetOutput(plan)
    try:
        for result in run_chunks(chunk_tasks(plan), plan.workers):
            output.write(result)
            people += result.people
            counties.update(result.counties)
    finally:
        output.close()
    return write_reports(plan, output, people, counties)
