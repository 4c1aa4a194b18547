"""The unit of work: one chunk of good rows, generated from (seed, chunk index) alone, its rows
routed to the output files (a person's cycles may land in different files) with the bad lines
that fall inside it, and encoded into one part per output file."""

from __future__ import annotations

import io
from collections import Counter, deque
from random import Random
from typing import NamedTuple

from clearsweep.synth.bad_lines import BadLine, bad_line
from clearsweep.synth.catalog import COL
from clearsweep.synth.encoding import CsvEncoder, arrow_table
from clearsweep.synth.histories import below, history, new_person

# Fixed, so that output never depends on the worker count or the machine.
CHUNK_ROWS = 25_000
FIRST_SUBJECT_ID = 10_000_000


class ChunkTask(NamedTuple):
    seed: int
    index: int
    rows: int  # good rows in this chunk
    files: int
    format: str
    bad: tuple  # (good rows of this chunk before it, bad line number), in order


class FilePart(NamedTuple):
    data: object  # CSV bytes, or a pyarrow Table
    rows: int  # good rows
    lines: int  # physical lines: good rows and bad lines
    bad: tuple  # (0-based line within this part, kind, detail)


class ChunkResult(NamedTuple):
    parts: list  # one FilePart per output file
    people: int
    counties: dict  # STP_ORI_CNTY_NAME value -> rows


class CsvParts:
    """One chunk's lines for each output file."""

    def __init__(self, files: int):
        self.buffers = [io.StringIO() for _ in range(files)]
        self.encoder = CsvEncoder()
        self.rows = [0] * files
        self.lines = [0] * files
        self.bad = [[] for _ in range(files)]

    def add(self, file: int, row: list) -> None:
        self.buffers[file].write(self.encoder.line(row))
        self.rows[file] += 1
        self.lines[file] += 1

    def add_bad(self, file: int, bad: BadLine) -> None:
        self.bad[file].append((self.lines[file], bad.kind, bad.detail))
        self.buffers[file].write(bad.text + "\n")
        self.lines[file] += 1

    def parts(self) -> list[FilePart]:
        return [FilePart(b.getvalue().encode("utf-8"), r, n, tuple(bad))
                for b, r, n, bad in zip(self.buffers, self.rows, self.lines, self.bad)]


class ParquetParts:
    def __init__(self, files: int):
        self.rows = [[] for _ in range(files)]

    def add(self, file: int, row: list) -> None:
        self.rows[file].append(row)

    def add_bad(self, file: int, bad: BadLine) -> None:
        raise AssertionError("bad lines are CSV only")

    def parts(self) -> list[FilePart]:
        return [FilePart(arrow_table(rows), len(rows), len(rows), ()) for rows in self.rows]


def generate_chunk(task: ChunkTask) -> ChunkResult:
    """Generate one chunk's people until it holds exactly task.rows good rows (the last
    person's history is cut there, as split extracts cut it too)."""
    rng = Random(f"clearsweep-generate:{task.seed}:chunk:{task.index}")
    # File routing has its own stream: the rows are the same whatever --files is.
    route = Random(f"clearsweep-generate:{task.seed}:files:{task.index}")
    parts = CsvParts(task.files) if task.format == "csv" else ParquetParts(task.files)
    bad = deque(task.bad)
    counties: Counter = Counter()
    written = people = 0
    while written < task.rows:
        person = new_person(rng, FIRST_SUBJECT_ID + task.index * CHUNK_ROWS + people)
        people += 1
        home_file = below(route, task.files)
        cycle, file = None, home_file
        for row in history(rng, person):
            while bad and bad[0][0] == written:
                parts.add_bad(below(route, task.files), bad_line(task.seed, bad.popleft()[1]))
            if row[COL.CYC_ORDER] != cycle:  # whole cycles move: a history spans files
                cycle = row[COL.CYC_ORDER]
                file = home_file if route.random() < 0.8 else below(route, task.files)
            parts.add(file, row)
            counties[row[COL.STP_ORI_CNTY_NAME]] += 1
            written += 1
            if written == task.rows:
                break
    for _, number in bad:  # after the last good row: the last chunk only
        parts.add_bad(below(route, task.files), bad_line(task.seed, number))
    return ChunkResult(parts.parts(), people, dict(counties))
