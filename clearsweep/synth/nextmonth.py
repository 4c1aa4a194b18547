"""Next month's extract from a generated one (`generate --next-month-of DIR`), streamed.

A seeded fraction of people change (the kinds in changes.KINDS, taken in turn). Every other
line keeps its bytes, its file and its line number: changed rows are edited in place, lines
freed by removals are filled with added rows (the first free line first), and the remaining
added rows go at the end of the last file; more rows are added than removed (extra new
people when needed). DIR's bad lines stay where they were and bad_rows.json is copied.

Two passes over DIR's files, each holding one line at a time: the first reads every line's
SUBJECT_ID (people counted, the changed people's rows kept: a seeded hash of the id chooses
them, so only about 2% of rows are held), the second writes DIR2. The subject ids of changed
people are synthetic and go to DIR2/changes.json with the kind of each change and the purge
list (the people whose records were sealed: left out of DIR2, to be purged from a warehouse)."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from random import Random
from typing import NamedTuple

from clearsweep.errors import UserError
from clearsweep.schema import N_COLUMNS
from clearsweep.synth import changes
from clearsweep.synth.catalog import COL
from clearsweep.synth.encoding import csv_line
from clearsweep.synth.writers import county_counts, prepare_out_dir, write_json

REQUIRED = ("seed", "format", "header", "rows", "people", "files", "rows_per_county")
EXISTING_KINDS = changes.KINDS[1:]


class Base(NamedTuple):
    path: Path
    manifest: dict
    bad: frozenset  # (file name, line) of DIR's bad lines


class Scan(NamedTuple):
    people: int
    max_id: int
    rows: dict  # subject id (bytes) -> [(file index, line, fields)] for the candidates
    keys: dict  # subject id -> selection key (the seeded hash)


def not_generated(path: Path, why: str) -> UserError:
    return UserError(f"--next-month-of {path} is not an extract made by clearsweep generate ({why})")


def read_base(path: Path) -> Base:
    """DIR's manifest.json and bad lines, checked: a one-line error for anything else."""
    if not path.is_dir():
        raise UserError(f"--next-month-of {path} is not a folder")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise not_generated(path, "no manifest.json") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise not_generated(path, "its manifest.json cannot be read") from None
    if (not isinstance(manifest, dict) or manifest.get("generator") != "clearsweep generate"
            or any(k not in manifest for k in REQUIRED)):
        raise not_generated(path, "its manifest.json is not a generate manifest")
    if manifest["format"] != "csv":
        raise UserError(f"--next-month-of reads CSV extracts only; {path} is {manifest['format']}")
    for entry in manifest["files"]:
        if not (path / entry["name"]).is_file():
            raise not_generated(path, f"{entry['name']} is missing")
    bad = frozenset()
    if (path / "bad_rows.json").is_file():
        listed = json.loads((path / "bad_rows.json").read_text(encoding="utf-8"))["bad_rows"]
        bad = frozenset((b["file"], b["line"]) for b in listed)
    return Base(path, manifest, bad)


def selection_key(secret: bytes, subject: bytes) -> float:
    digest = hashlib.blake2b(subject, digest_size=8, key=secret).digest()
    return int.from_bytes(digest, "big") / 2**64


def good_lines(base: Base, index: int):
    """(line number, bytes, subject id) of one file's data lines, bad lines left out."""
    name = base.manifest["files"][index]["name"]
    with open(base.path / name, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if (number == 1 and base.manifest["header"]) or (name, number) in base.bad:
                continue
            yield number, line, line.split(b",", 3)[2]


def scan(base: Base, secret: bytes, threshold: float) -> Scan:
    """Pass 1: every person's id; the rows of those whose key falls below the threshold."""
    people: set = set()
    rows: dict = defaultdict(list)
    keys: dict = {}
    for index in range(len(base.manifest["files"])):
        last, chosen = None, False
        for number, line, subject in good_lines(base, index):
            if subject != last:
                last = subject
                people.add(subject)
                if subject not in keys:
                    key = selection_key(secret, subject)
                    chosen = key < threshold
                    if chosen:
                        keys[subject] = key
                else:
                    chosen = True
            if chosen:
                rows[subject].append((index, number, line))
    max_id = max((int(s) for s in people if s.isdigit()), default=0)
    return Scan(len(people), max_id, rows, keys)


class Month:
    """The changes of one month: lines replaced or freed, rows added, who changed how."""

    def __init__(self, rng: Random, files: int):
        self.rng = rng
        self.replaced: dict = {}  # (file index, line) -> new line bytes
        self.freed: list = []  # (file index, line)
        self.added: list = []  # rows (field lists), in order
        self.people: dict = {}  # subject id (str) -> {"change", "rows_added", ...}
        self.removed_counties: Counter = Counter()
        self.added_counties: Counter = Counter()
        self.altered = 0
        self.files = files
        self.next_subject_id = 0

    def record(self, subject: str, kind: str, added=0, removed=0, altered=0) -> None:
        self.people[subject] = {"subject_id": subject, "change": kind, "rows_added": added,
                                "rows_removed": removed, "rows_altered": altered}

    def add_rows(self, rows: list) -> None:
        self.added.extend(rows)
        self.added_counties.update(r[COL.STP_ORI_CNTY_NAME] for r in rows)

    def remove(self, located: list, indexes) -> None:
        for i in sorted(indexes):
            file, line, fields = located[i]
            self.freed.append((file, line))
            self.removed_counties[fields[COL.STP_ORI_CNTY_NAME]] += 1

    def change_person(self, subject: str, kind: str, located: list) -> str:
        """Apply `kind` to a known person, or the next kind that fits their record."""
        rows = [fields for _, _, fields in located]
        fits = {"new_conviction_same_county": changes.can_convict,
                "new_conviction_other_county": changes.can_convict,
                "altered_disposition": changes.can_alter, "removed_rows": changes.can_remove}
        start = EXISTING_KINDS.index(kind)
        kind = next(k for k in EXISTING_KINDS[start:] + EXISTING_KINDS[:start]
                    if k not in fits or fits[k](rows))
        if kind == "purged":
            self.remove(located, range(len(located)))
            self.record(subject, kind, removed=len(located))
        elif kind == "removed_rows":
            gone = changes.rows_to_remove(rows)
            self.remove(located, gone)
            self.record(subject, kind, removed=len(gone))
        elif kind == "altered_disposition":
            altered = changes.alter_disposition(self.rng, rows)
            for i in altered:
                file, line, _ = located[i]
                self.replaced[(file, line)] = encode(rows[i])
            self.altered += len(altered)
            self.record(subject, kind, altered=len(altered))
        else:
            new = changes.new_conviction_rows(self.rng, rows, kind.endswith("same_county"))
            self.add_rows(new)
            self.record(subject, kind, added=len(new))
        return kind

    def new_person(self, subject_id: int, several_counties: bool) -> None:
        rows = changes.new_person_rows(self.rng, subject_id, several_counties)
        self.add_rows(rows)
        self.record(str(subject_id), "new_person", added=len(rows))

    def placed(self) -> tuple[dict, list]:
        """Replacement lines by file and line (freed lines filled first), and the lines
        appended to the last file."""
        by_file: dict = defaultdict(dict)
        for (file, line), data in self.replaced.items():
            by_file[file][line] = data
        lines = [encode(row) for row in self.added]
        for (file, line), data in zip(sorted(self.freed), lines):
            by_file[file][line] = data
        return by_file, lines[len(self.freed):]


def encode(row: list) -> bytes:
    assert len(row) == N_COLUMNS
    return (csv_line(row) + "\n").encode("utf-8")


def parse(line: bytes) -> list:
    return next(csv.reader([line.decode("utf-8").rstrip("\n")]))


def plan_month(base: Base, changed: float, seed: int) -> tuple[Month, Scan]:
    manifest = base.manifest
    secret = hashlib.sha256(f"clearsweep-next-month:{manifest['seed']}:{seed}".encode()).digest()[:32]
    estimate = max(int(manifest["people"]), 1)
    threshold = min(1.0, (2 * changed * estimate + 64) / estimate)
    while True:
        found = scan(base, secret, threshold)
        total = round(changed * found.people) if changed > 0 else 0
        slots = [changes.KINDS[i % len(changes.KINDS)] for i in range(total)]
        existing = [k for k in slots if k != "new_person"]
        if len(found.keys) >= len(existing) or threshold >= 1.0:
            break
        threshold = min(1.0, threshold * 4)
    rng = Random(f"clearsweep-next-month:{manifest['seed']}:{seed}:changes")
    month = Month(rng, len(manifest["files"]))
    chosen = sorted(found.keys, key=lambda s: (found.keys[s], s))[:len(existing)]
    for subject, kind in sorted(zip(chosen, existing)):
        located = [(f, n, parse(line)) for f, n, line in found.rows[subject]]
        month.change_person(subject.decode(), kind, located)
    next_id = max(found.max_id + 1, int(manifest.get("next_subject_id", 0)))
    new = slots.count("new_person")
    while new > 0 or len(month.added) < len(month.freed):  # as many rows added as freed, at least
        month.new_person(next_id, several_counties=next_id % 2 == 1)
        next_id, new = next_id + 1, new - 1
    month.next_subject_id = next_id
    return month, found


def write_month(base: Base, out: Path, month: Month) -> list[dict]:
    """Pass 2: DIR2's files, line by line; returns their manifest entries."""
    by_file, appended = month.placed()
    files = base.manifest["files"]
    entries = []
    freed = Counter(f for f, _ in month.freed)
    filled = Counter(f for f, _ in sorted(month.freed)[:len(month.added)])
    for index, entry in enumerate(files):
        edits = by_file.get(index, {})
        with open(base.path / entry["name"], "rb") as source, open(out / entry["name"], "wb") as target:
            if not edits:
                shutil.copyfileobj(source, target, 1 << 20)
            else:
                for number, line in enumerate(source, 1):
                    target.write(edits.get(number, line))
            last = index == len(files) - 1
            if last:
                target.writelines(appended)
        extra = len(appended) if last else 0
        entries.append({"name": entry["name"], "rows": entry["rows"] - freed[index] + filled[index] + extra,
                        "bad_lines": entry["bad_lines"],
                        "physical_lines": entry.get("physical_lines", 0) + extra})
    return entries


def write_next_month(base_dir: Path | str, out: Path | str, changed: float, seed: int) -> tuple[dict, dict]:
    """Write next month's extract of the generated extract base_dir into out; returns what
    DIR2/manifest.json and DIR2/changes.json hold."""
    base_dir, out = Path(base_dir), Path(out)
    if not 0 <= changed <= 1:
        raise UserError("--changed must be a fraction between 0 and 1 (e.g. 0.01 for 1% of people)")
    base = read_base(base_dir)
    if out.resolve() == base_dir.resolve():
        raise UserError("--out must be another folder than --next-month-of")
    prepare_out_dir(out)
    month, found = plan_month(base, changed, seed)
    entries = write_month(base, out, month)
    if (base_dir / "bad_rows.json").is_file():
        shutil.copyfile(base_dir / "bad_rows.json", out / "bad_rows.json")
    counties = Counter(base.manifest["rows_per_county"])
    counties.update(base.manifest.get("rows_per_other_county_value", {}))
    counties.subtract(month.removed_counties)
    counties.update(month.added_counties)
    california, other = county_counts(+counties)
    people = sorted(month.people.values(), key=lambda p: int(p["subject_id"]))
    kinds = Counter(p["change"] for p in people)
    purged = [p["subject_id"] for p in people if p["change"] == "purged"]
    manifest = {
        **{k: base.manifest[k] for k in ("generator", "format", "header")},
        "seed": seed, "next_month_of": str(base_dir.resolve()), "next_month_of_seed": base.manifest["seed"],
        "changed": changed,
        "rows": sum(e["rows"] for e in entries), "bad_lines": base.manifest.get("bad_lines", 0),
        "people": found.people - len(purged) + kinds["new_person"],
        "next_subject_id": month.next_subject_id,
        "files": entries, "rows_per_county": california, "rows_per_other_county_value": other,
    }
    summary = {
        "next_month_of": str(base_dir.resolve()), "seed": seed, "changed": changed,
        "people_before": found.people, "people_changed": len(people),
        "kinds": {k: kinds[k] for k in changes.KINDS},
        "rows": {"added": len(month.added), "removed": len(month.freed), "altered": month.altered},
        "changed_people": people, "purge": purged,
    }
    write_json(out / "changes.json", summary)
    write_json(out / "manifest.json", manifest)
    return manifest, summary
