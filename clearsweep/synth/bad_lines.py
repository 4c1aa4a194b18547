"""Bad lines for the CSV output: lines with the wrong field count, broken quoting or an
unusable SUBJECT_ID/CNT_ORDER, each seeded from (seed, line number) alone, and where they go
among the good rows."""

from __future__ import annotations

from random import Random
from typing import NamedTuple

from clearsweep.synth.catalog import COL
from clearsweep.synth.encoding import csv_line
from clearsweep.synth.histories import between, history, new_person

MAX_BAD_ROWS = 100_000  # per kind; the positions are held in memory
BAD_SUBJECT_ID = 900_000_000  # bad lines never share a SUBJECT_ID with good ones
BAD_KINDS = ("field_count", "quoting", "bad_value")


class BadLine(NamedTuple):
    text: str  # one physical line, without the line end
    kind: str  # one of BAD_KINDS
    detail: str


def bad_line(seed: int, number: int) -> BadLine:
    """Bad line `number`: kinds take turns, so 3K lines hold exactly K of each kind."""
    rng = Random(f"clearsweep-generate:{seed}:bad:{number}")
    fields = next(history(rng, new_person(rng, BAD_SUBJECT_ID + number)))
    kind = BAD_KINDS[number % len(BAD_KINDS)]
    first_variant = (number // len(BAD_KINDS)) % 2 == 0
    if kind == "field_count":
        if first_variant:
            del fields[COL.REQ_SSN]
            return BadLine(csv_line(fields), kind, "94 fields")
        fields.insert(COL.PRI_NAME + 1, "")
        return BadLine(csv_line(fields), kind, "96 fields")
    if kind == "quoting":
        return BadLine(unclosed_quote_line(fields), kind, "unclosed quote")
    if first_variant:
        fields[COL.SUBJECT_ID] = ""
        return BadLine(csv_line(fields), kind, "blank SUBJECT_ID")
    fields[COL.CNT_ORDER] = fields[COL.CNT_ORDER][:9]
    return BadLine(csv_line(fields), kind, "CNT_ORDER not 12 digits")


def unclosed_quote_line(fields: list) -> str:
    """The name's quote is opened and never closed. Placed early, so that even a lenient
    parser (which reads on to the line end) finds far fewer than 95 fields."""
    head = csv_line(fields[:COL.PRI_NAME])
    tail = ",".join(f.replace('"', "").replace(",", " ") for f in fields[COL.PRI_NAME + 1:])
    return f'{head},"{fields[COL.PRI_NAME]},{tail}'


def bad_positions(seed: int, rows: int, per_kind: int) -> list[tuple[int, int]]:
    """(good rows before it, bad line number) for every bad line, in output order."""
    rng = Random(f"clearsweep-generate:{seed}:bad-positions")
    return sorted((between(rng, 0, rows), number) for number in range(len(BAD_KINDS) * per_kind))
