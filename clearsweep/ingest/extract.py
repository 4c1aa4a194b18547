"""Reading DOJ research files: every physical line numbered, checked and parsed in one pass.

CSV files are read as text split on "\\n" only (a lone CR stays inside its line, as editors that
count lines by LF show it). A record whose quoted field holds a line break (valid CSV) spans
physical lines: the driver's scan finds the lines where a quoted field opens or closes (an odd
number of quotes), checks that the lines between read as exactly one record, and the read joins
them into that record at its first line number; its further lines are counted as `continued`. Each line keeps its file and 1-based line number: Spark reads a file
in byte splits, one per partition, and the driver counts the line breaks before each split while
it reads the file for its SHA-256 checksum, so a line's number is the lines before its split plus
its position in the split. Lines that cannot be read land in quarantine with a reason; none is
dropped, and the caller reconciles the counts per file against the driver's own count.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, LongType, StringType

from clearsweep import fs
from clearsweep.errors import UserError
from clearsweep.schema import DOJ_COLUMNS, N_COLUMNS
from clearsweep.session import OPEN_COST, SPLIT_BYTES

# What deciding reads of a row; the other 80 columns are only carried into history and exports.
DECIDE_COLUMNS = (
    "SUBJECT_ID", "PRI_DOB", "RACE_DESCR", "STP_EVENT_DATE", "STP_TYPE_DESCR", "STP_ORI_CNTY_NAME",
    "CNT_ORDER", "OFN", "OFFENSE_DESCR", "OFFENSE_TOC", "DISP_DESCR", "CONV_STAT_DESCR",
    "SENT_LENGTH", "SENT_TIME_CODE", "COMMENT_TEXT",
)
POSITION_COLUMNS = ("source_file", "file_index", "line_no")
STATUS_COLUMNS = ("reason_code", "reason", "n_fields", "line")
QUARANTINE_COLUMNS = ("source_file", "file_index", "line_no", "reason_code", "reason", "n_fields", "line")
# A well-formed quoted field: "..." with "" as the escaped quote.
QUOTED_FIELD = r'"[^"]*(?:""[^"]*)*"'  # unrolled: no per-character alternation
HEADER_PREFIX = "RECORD_ID"
DATA_SUFFIXES = (".csv", ".dat", ".parquet")
COMPRESSED = (".gz",)
CORRUPT = "_corrupt_record"
ROW_BITS = 33  # monotonically_increasing_id: partition index above, row within it below
SPLIT_KEY = 1 << 40  # (file index, split start) as one number: files up to a terabyte
BOM = "\ufeff"
MIB = 1 << 20
MIN_SPLITS = 8  # a small extract is still read by every core
MIN_SPLIT_BYTES = 4 * MIB
ODD_QUOTE_LINES_LIMIT = 1_000_000  # a file with more unbalanced lines than this is read line by line
MAX_RECORD_LINES = 50  # a record spanning more lines than this is not joined (its lines are quarantined)
MAX_JOINED_RECORDS = 20_000  # per run: the joined lines travel in the plan as a literal map
CONTINUED = "continued"  # reason code of a line that continues the quoted field of the record above it


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute local path or URI
    index: int  # position among the run's inputs: input order is (index, line_no)
    kind: str  # csv | parquet

    @property
    def compressed(self) -> bool:
        return self.path.lower().endswith(COMPRESSED)


@dataclass
class FileScan:
    """What the driver learns of a CSV file before Spark reads it."""
    checksum: str  # "sha256:<hex>", or the file system's own checksum for remote files
    lines: int | None  # physical lines ("\\n"-terminated, a last unterminated one included)
    split_bytes: int  # the split size the offsets were counted for
    offsets: dict[int, int] = field(default_factory=dict)  # split start byte -> lines before it
    first_line: str = ""
    odd_quote_lines: list[tuple[int, int]] | None = field(default_factory=list)  # (line, start byte); None: not followed

    def unreadable(self) -> str | None:
        """Why the file's lines cannot be read, or None. Lines are split on LF: a file whose line 1
        holds a CR and that has no LF before its end is old Mac text (lines ended by CR alone)."""
        if self.lines is not None and self.lines <= 1 and "\r" in self.first_line:
            return "its lines end with CR alone (old Mac text), which is not read: convert the file to LF or CRLF line ends"
        return None


class _OddQuoteLines:
    """The lines holding an odd number of double quotes (where a quoted field opens or closes
    across a line break) and the byte each starts at. Each block is reduced to its quotes and
    line breaks (C speed), so the cost does not grow with the number of quotes."""

    def __init__(self):
        self.starts: dict[int, int] = {}
        self.followed = True
        self.carry = b""  # the quotes of the line the next block continues
        self.line_start = 0  # byte offset of that line

    def feed(self, block: bytes, pos: int, breaks: int) -> None:
        reduced = self.carry + block.translate(None, _NOT_QUOTE_OR_LF)
        cut = reduced.rfind(b"\n")
        if self.followed and cut != -1:
            nl, lines_seen = -1, 0  # walk the block's line breaks only as far as the odd lines need
            index = at = 0
            for m in _ODD_QUOTES.finditer(reduced, 0, cut):
                index += reduced.count(b"\n", at, m.start())  # lines of this block before the odd one
                at = m.start()
                while lines_seen < index:
                    nl = block.find(b"\n", nl + 1)
                    lines_seen += 1
                self.starts[breaks + 1 + index] = self.line_start if index == 0 else pos + nl + 1
                if len(self.starts) > ODD_QUOTE_LINES_LIMIT:
                    self.followed, self.starts = False, {}
                    break
        if cut != -1:
            self.carry = reduced[cut + 1:]
            self.line_start = pos + block.rfind(b"\n") + 1
        else:
            self.carry = reduced

    def result(self, breaks: int) -> list[tuple[int, int]] | None:
        """After the last block (`breaks`: line breaks in the file): the odd lines, in order."""
        if not self.followed:
            return None
        if len(self.carry) % 2:  # the last line, without a line break after it
            self.starts[breaks + 1] = self.line_start
        return sorted(self.starts.items())


_NOT_QUOTE_OR_LF = bytes(b for b in range(256) if b not in b'"\n')
_ODD_QUOTES = re.compile(rb'(?m)^(?:"")*"$')  # a reduced line of an odd number of quotes


# ---------------------------------------------------------------- which files


def resolve_inputs(paths: list[str], spark: SparkSession | None = None) -> tuple[list[InputFile], list[str]]:
    """Expand folders (their data files, by name) and fix the input order. Returns the files and
    what a folder held that is not read (named, with why). Remote URIs need the session."""
    found: list[str] = []
    skipped: list[str] = []
    for raw in paths:
        local = fs.local_path(raw)
        if local is not None:
            entries = _local_entries(raw, local)
        elif spark is None:
            raise UserError(f"{raw}: a remote input needs the Spark session")  # the jobs resolve these after start
        else:
            entries = _remote_entries(spark, raw)
        for path, kind in entries:
            if kind == "file":
                found.append(path)
            else:
                skipped.append(f"{path} ({kind})")
    seen: set[str] = set()
    for path in found:
        if path in seen:
            raise UserError(f"input given twice: {path}")
        seen.add(path)
    files = [InputFile(path=p, index=i, kind=_kind(p)) for i, p in enumerate(found)]
    return files, skipped


def _kind(path: str) -> str:
    return "parquet" if path.lower().endswith(".parquet") else "csv"


def _is_data_name(name: str) -> bool:
    lower = name.lower()
    for suffix in COMPRESSED:
        lower = lower.removesuffix(suffix)
    return lower.endswith(DATA_SUFFIXES)


def _local_entries(raw: str, p) -> list[tuple[str, str]]:
    if p.is_dir():
        out = []
        for c in sorted(p.iterdir()):
            if c.name.startswith((".", "_")):
                continue
            if c.is_dir():
                out.append((str(c), "a folder: not read"))
            elif not c.is_file():  # a FIFO or device would block the read, holding the warehouse lock
                raise UserError(f"input is not a regular file (a pipe, socket or device): {c}")
            elif not _is_data_name(c.name):
                out.append((str(c), "not a data file name: not read"))
            elif not os.access(c, os.R_OK):
                raise UserError(f"input file is not readable: {c}")
            else:
                out.append((str(c), "file"))
        if not any(kind == "file" for _, kind in out):
            raise UserError(f"input folder has no data files (.csv, .dat, .parquet): {raw}")
        return out
    if not p.exists():
        raise UserError(f"input file not found: {raw}")
    if not p.is_file():
        raise UserError(f"input is not a regular file (a pipe, socket or device): {raw}")
    if not os.access(p, os.R_OK):
        raise UserError(f"input file is not readable: {raw}")
    return [(str(p), "file")]


def _remote_entries(spark: SparkSession, raw: str) -> list[tuple[str, str]]:
    hfs = fs.HadoopFS(spark, raw)
    if not hfs.exists(raw):
        raise UserError(f"input file not found: {raw}")
    if not hfs.is_dir(raw):
        return [(raw, "file")]
    out = []
    for uri, is_dir, _ in hfs.children(raw):
        name = fs.name(uri)
        if name.startswith((".", "_")):
            continue
        out.append((uri, "a folder: not read" if is_dir else "file" if _is_data_name(name) else "not a data file name: not read"))
    if not any(kind == "file" for _, kind in out):
        raise UserError(f"input folder has no data files (.csv, .dat, .parquet): {raw}")
    return out


# ---------------------------------------------------------------- the driver's read: checksum and line breaks


def scan_local(path: str, split_bytes: int) -> FileScan:
    """One read of the file: SHA-256, physical lines, and the lines before each split start."""
    h = hashlib.sha256()
    size = os.path.getsize(path)
    if path.lower().endswith(COMPRESSED):  # not splittable: one split, lines counted decompressed
        lines, first, odd = _count_lines(gzip.open(path, "rb"))
        return FileScan(sha256_file(path), lines, split_bytes, {0: 0}, first, odd)
    starts = list(range(split_bytes, size, split_bytes))
    offsets = {0: 0}
    breaks = 0  # "\n" seen so far
    pos = 0
    first = b""
    last = b""
    quotes = _OddQuoteLines()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            h.update(block)
            if len(first) < 65536 and b"\n" not in first:
                first += block[:65536]
            end = pos + len(block)
            while starts and starts[0] <= end:
                cut = starts.pop(0) - pos
                # Hadoop's reader gives a line that starts exactly at a split start to the split
                # before it, so a split's first line is the first one starting after its start.
                offsets[pos + cut] = breaks + block.count(b"\n", 0, cut) + 1
            quotes.feed(block, pos, breaks)
            breaks += block.count(b"\n")
            pos = end
            last = block[-1:]
    lines = breaks + (1 if size and last != b"\n" else 0)
    return FileScan(f"sha256:{h.hexdigest()}", lines, split_bytes, offsets, _first_line(first), quotes.result(breaks))


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            h.update(block)
    return f"sha256:{h.hexdigest()}"


def _count_lines(stream) -> tuple[int, str, list[tuple[int, int]] | None]:
    breaks = pos = 0
    first = b""
    last = b""
    quotes = _OddQuoteLines()
    with stream:
        for block in iter(lambda: stream.read(8 << 20), b""):
            if not first:
                first = block[:65536]
            quotes.feed(block, pos, breaks)
            breaks += block.count(b"\n")
            pos += len(block)
            last = block[-1:]
    return breaks + (1 if last and last != b"\n" else 0), _first_line(first), quotes.result(breaks)


def _first_line(head: bytes) -> str:
    return head.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")


def split_size(max_split: int, total_bytes: int) -> int:
    """The byte size of the file splits a read uses: the configured size, or smaller so that a
    small extract still gives every core a split (whole MiB, so runs with the same files and
    settings always split alike)."""
    wanted = -(-total_bytes // MIN_SPLITS // MIB) * MIB
    return min(max_split, max(MIN_SPLIT_BYTES, wanted))


def start_scans(files: list[InputFile], max_split: int) -> Future:
    """Scan the local CSV files in the background (while Spark starts): path -> FileScan."""
    local = [f for f in files if f.kind == "csv" and fs.is_local(f.path)]
    size = split_size(max_split, sum(os.path.getsize(f.path) for f in local))
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clearsweep-scan")

    def scan_all() -> dict[str, FileScan]:
        return dict(zip([f.path for f in local], pool.map(lambda f: scan_local(f.path, size), local)))

    future = ThreadPoolExecutor(max_workers=1).submit(scan_all)
    future.add_done_callback(lambda _: pool.shutdown(wait=False))
    return future


@contextlib.contextmanager
def reading_splits(spark: SparkSession, size: int):
    """Read files in splits of `size` bytes, each split its own partition (open cost = split
    size), so that a row's position in its partition is its position in its split. Spark fixes
    the splits when a read runs, so the caller runs its read inside this block."""
    before = {key: spark.conf.get(key) for key in (SPLIT_BYTES, OPEN_COST)}
    spark.conf.set(SPLIT_BYTES, str(size))
    spark.conf.set(OPEN_COST, str(size))
    try:
        yield
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)


def scan_remote(spark: SparkSession, files: list[InputFile], size: int) -> dict[str, FileScan]:
    """Remote CSV files: lines per split counted by Spark (a read of the text without parsing),
    and the file system's checksum. Local files never take this path."""
    scans = {}
    uris = _uri_index(spark, files)
    text = spark.read.option("lineSep", "\n").text([fs.spark_path(f.path) for f in files])
    per_split = (
        text.select(F.col("_metadata.file_path").alias("uri"), F.col("_metadata.file_block_start").alias("start"))
        .groupBy("uri", "start").count().collect()  # a row per split, not per line
    )
    counts: dict[str, list[tuple[int, int]]] = {}
    for r in per_split:
        counts.setdefault(r["uri"], []).append((r["start"], r["count"]))
    firsts = {r["uri"]: r["value"] for r in text.where(F.col("_metadata.file_block_start") == 0).select(
        F.col("_metadata.file_path").alias("uri"), "value").groupBy("uri").agg(F.first("value").alias("value")).collect()}
    for f in files:
        uri = uris[f.path]
        offsets, before = {}, 0
        for start, n in sorted(counts.get(uri, [])):
            offsets[start] = before
            before += n
        checksum = fs.HadoopFS(spark, f.path).checksum(f.path) or "unavailable"
        # a remote file's quotes are not followed (the driver does not read its bytes): line by line
        scans[f.path] = FileScan(checksum, before, size, offsets or {0: 0}, (firsts.get(uri) or "").rstrip("\r"), None)
    return scans


def _uri_index(spark: SparkSession, files: list[InputFile]) -> dict[str, str]:
    return {f.path: fs.qualified_uri(spark, f.path) for f in files}


# ---------------------------------------------------------------- headers


@dataclass(frozen=True)
class Layout:
    """How a file's lines are read: a header on line 1 or not, and 95 or 94 fields."""
    header: bool
    fields: int
    note: str | None = None


def header_names(first_line: str) -> list[str] | None:
    """The column names of a header line, or None when line 1 is data. Names may be quoted,
    padded or lower case, and the line may start with a UTF-8 byte order mark."""
    text = first_line.removeprefix(BOM)
    if not text.strip().strip('"').upper().startswith(HEADER_PREFIX):
        return None
    names = [n.strip().upper() for n in next(csv.reader(io.StringIO(text)))]
    if names and names[-1] == "":
        names = names[:-1]  # a header with a trailing comma exists in the wild
    return names


def layout_of(path: str, first_line: str) -> Layout:
    if "\x00" in first_line:  # UTF-16 or UTF-32 text: every character carries NUL bytes
        raise UserError(f"{path}: not UTF-8 text (NUL bytes in line 1, as UTF-16 has): convert the file to UTF-8")
    try:
        names = header_names(first_line)
    except csv.Error as exc:  # a header the CSV reader cannot split: the file is named, never a crash
        raise UserError(f"{path}: line 1 cannot be read as a header ({exc})") from None
    if names is None:
        return Layout(header=False, fields=N_COLUMNS)
    if tuple(names) == DOJ_COLUMNS:
        return Layout(header=True, fields=N_COLUMNS)
    if tuple(names) == DOJ_COLUMNS[:-1]:
        # END_OF_REC is only a record terminator: such a file's lines are read without it.
        return Layout(True, N_COLUMNS - 1, "line 1: header has 94 fields, END_OF_REC missing; data lines read with 94 fields")
    missing = [c for c in DOJ_COLUMNS if c not in names][:5]
    unknown = sum(1 for n in names if n not in DOJ_COLUMNS)  # counted, not echoed: it may be data
    raise UserError(
        f"{path}: line 1 is a header that does not match schemas/doj_research_file.yaml "
        f"({len(names)} names; missing {missing}; {unknown} unknown)"
    )


# ---------------------------------------------------------------- CSV lines


def record_spans(f: InputFile, scan: FileScan, layout: Layout) -> list[tuple[int, int]]:
    """(first, last) line of each record whose quoted field holds a line break: two lines with an
    odd number of quotes, close together, whose text from the first to the last reads as exactly
    one record of the file's number of fields. Paired greedily in line order, so an unbalanced
    line (a real error) pairs with nothing and is quarantined on its own."""
    odd = scan.odd_quote_lines or []
    first_data = 2 if layout.header else 1
    spans, i = [], 0
    while i + 1 < len(odd):
        (a, start), (b, _) = odd[i], odd[i + 1]
        if a >= first_data and b - a < MAX_RECORD_LINES and _one_record(_read_lines(f, start, b - a + 1), layout.fields):
            spans.append((a, b))
            i += 2
        else:
            i += 1
    return spans


def _read_lines(f: InputFile, start: int, n: int) -> str | None:
    """`n` physical lines from byte `start`, as the read sees them (trailing CR off, joined by LF)."""
    opener = gzip.open if f.compressed else open
    with opener(fs.local_path(f.path), "rb") as fh:
        fh.seek(start)
        raw = [fh.readline(MIB) for _ in range(n)]
    try:
        lines = [r.decode("utf-8").removesuffix("\n").removesuffix("\r") for r in raw]
    except UnicodeDecodeError:
        return None
    return "\n".join(lines).removeprefix(BOM)


def _one_record(text: str | None, fields: int) -> bool:
    if text is None:
        return False
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return False
    return len(records) == 1 and len(records[0]) == fields


def _joined_spans(numbered: DataFrame, spans: dict[int, list[tuple[int, int]]]) -> DataFrame:
    """Each record spanning lines as one line at its first line number (its lines joined by LF),
    and each further line as a row of its own that `continues` it: every physical line stays
    counted. Only the few lines of such records are grouped; with none, nothing changes."""
    first_of = {i * SPLIT_KEY + n: a for i, found in spans.items() for a, b in found for n in range(a, b + 1)}
    no_link = F.lit(None).cast(LongType())
    if not first_of:
        return numbered.select("*", no_link.alias("continues"))
    key = F.col("file_index").cast(LongType()) * SPLIT_KEY + F.col("line_no")
    tagged = numbered.select("*", _map(first_of, key).alias("_first"))
    single = tagged.where(F.col("_first").isNull()).select("file_index", "line_no", "text", no_link.alias("continues"))
    parts = tagged.where(F.col("_first").isNotNull()).groupBy("file_index", "_first").agg(
        F.array_sort(F.collect_list(F.struct("line_no", "text"))).alias("parts"))
    record = F.struct(F.col("_first").alias("line_no"), F.array_join(F.transform("parts", lambda p: p.text), "\n").alias("text"),
                      no_link.alias("continues"))
    rest = F.transform(F.slice("parts", 2, MAX_RECORD_LINES),
                       lambda p: F.struct(p.line_no.alias("line_no"), F.lit(None).cast(StringType()).alias("text"), F.col("_first").alias("continues")))
    joined = parts.select("file_index", F.explode(F.concat(F.array(record), rest)).alias("r")).select(
        "file_index", "r.line_no", "r.text", "r.continues")
    return single.unionByName(joined)


def _map(pairs: dict, key: Column) -> Column:
    return F.create_map(*[F.lit(x) for kv in pairs.items() for x in kv])[key]


def _without_cr(value: Column) -> Column:
    return F.when(value.endswith("\r"), F.substring(value, F.lit(1), F.length(value) - 1)).otherwise(value)


def _commas(text: Column) -> Column:
    return F.length(text) - F.length(F.replace(text, F.lit(","), F.lit("")))


def _field_count(line: Column) -> Column:
    """Fields = commas outside quoted fields + 1. With an even number of quotes the quoted
    fields are exactly the odd pieces between quotes, which avoids a regex per line; an odd
    count keeps the regex so its reported count is the same as a regex reading."""
    pieces = F.split(line, '"')
    inside = F.array_join(F.filter(pieces, lambda piece, i: i % 2 == 1), "")
    by_regex = _commas(F.regexp_replace(line, QUOTED_FIELD, "")) + 1
    return F.when(~line.contains('"'), _commas(line) + 1).when(_quoting_ok(line), _commas(line) - _commas(inside) + 1).otherwise(by_regex)


def _quoting_ok(line: Column) -> Column:
    """Every quote pairs up: an even number of quotes on the line."""
    return F.size(F.split(line, '"')) % 2 == 1


def _csv_ddl() -> str:
    return ", ".join([f"`{c}` STRING" for c in DOJ_COLUMNS] + [f"`{CORRUPT}` STRING"])


CSV_OPTIONS = {"escape": '"', "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false",
               "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}


def parse_line(line: Column, fields: Column) -> Column:
    """The 95 DOJ fields of a line (struct), plus `_corrupt_record` set when the parser found
    another number of fields than the file's layout. A 94-field line gets an empty END_OF_REC."""
    padded = F.when(fields == N_COLUMNS - 1, F.concat(line, F.lit(","))).otherwise(line)
    return F.from_csv(padded, _csv_ddl(), CSV_OPTIONS)


def _problem(code: str, reason) -> Column:
    return F.struct(F.lit(code).alias("code"), (reason if isinstance(reason, Column) else F.lit(reason)).alias("reason"))


def _line_problem(line: Column, fields: Column, parsed: Column, short_header: Column) -> Column:
    """struct(code, reason) of a line that cannot be read as a record, or null."""
    counted = _field_count(line)
    return (
        F.when(short_header, _problem("header", "header has 94 fields (expected 95): END_OF_REC missing"))
        .when(line == "", _problem("field_count", "blank line"))
        # the extract is UTF-8: a line with a byte that is no UTF-8 character is not guessed at
        .when(~F.is_valid_utf8(line), _problem("encoding", "not valid UTF-8 (a byte that is no UTF-8 character)"))
        .when(~_quoting_ok(line), _problem("quoting", "unparseable quoting (unbalanced or stray double quote)"))
        .when(parsed[CORRUPT].isNotNull() & (counted != fields),
              _problem("field_count", F.format_string("%d fields, expected %d", counted, fields)))
        .when(parsed[CORRUPT].isNotNull(), _problem("quoting", "unparseable quoting (double quote inside an unquoted field)"))
    )


def bad_value(subject: Column, cnt: Column) -> Column:
    """Why an otherwise readable row cannot be used, or null."""
    return (
        F.when(F.coalesce(F.trim(subject), F.lit("")) == "", _problem("bad_value", "SUBJECT_ID is blank"))
        .when(~F.coalesce(F.trim(cnt), F.lit("")).rlike(r"^[0-9]{12}$"), _problem("bad_value", "CNT_ORDER is not 12 digits"))
    )


def csv_lines(spark: SparkSession, files: list[InputFile], scans: dict[str, FileScan], layouts: dict[str, Layout],
              columns: tuple[str, ...], keep_line: bool, spans: dict[int, list[tuple[int, int]]] | None = None) -> DataFrame:
    """Every data line of the CSV files once, in one read of the text: `columns` of the DOJ
    fields (null when quarantined), its position, and reason_code/reason/n_fields/line (null
    when accepted). Header lines are left out (the caller counts them). `keep_line` keeps the
    text of accepted lines too (to parse their other fields later). `spans`: file index ->
    records spanning lines (`record_spans`), read as one record each."""
    uris = _uri_index(spark, files)
    index_of = {uris[f.path]: f.index for f in files}
    offsets = {f.index * SPLIT_KEY + start: before for f in files for start, before in scans[f.path].offsets.items()}
    text = spark.read.option("lineSep", "\n").text([fs.spark_path(f.path) for f in files])
    file_index = _map(index_of, F.col("_metadata.file_path")).cast(IntegerType())
    split_key = file_index.cast(LongType()) * SPLIT_KEY + F.col("_metadata.file_block_start")
    in_split = F.monotonically_increasing_id().bitwiseAND(F.lit((1 << ROW_BITS) - 1))
    numbered = _joined_spans(text.select(
        file_index.alias("file_index"),
        (_map(offsets, split_key) + in_split + 1).alias("line_no"),
        _without_cr(F.col("value")).alias("text"),
    ), spans or {})
    headed = [f.index for f in files if layouts[f.path].header]
    short = [f.index for f in files if layouts[f.path].fields != N_COLUMNS]
    first = F.col("line_no") == 1
    is_header = (first & F.col("file_index").isin(*headed)) if headed else F.lit(False)
    fields = F.when(F.col("file_index").isin(*short), F.lit(N_COLUMNS - 1)).otherwise(F.lit(N_COLUMNS)) if short else F.lit(N_COLUMNS)
    line = F.when(first, F.regexp_replace("text", f"^{BOM}", "")).otherwise(F.col("text"))
    staged = numbered.select("file_index", "line_no", line.alias("line"), is_header.alias("is_header"), fields.alias("fields"), "continues").where(
        ~F.col("is_header") | (F.col("fields") != N_COLUMNS))  # a complete header is no data; a short one is reported
    parsed = staged.select("*", parse_line(F.col("line"), F.col("fields")).alias("f"))
    problem = F.when(F.col("continues").isNotNull(),
                     _problem(CONTINUED, F.format_string("continues the quoted field of the record on line %d", F.col("continues")))
                     ).otherwise(F.coalesce(
                         _line_problem(F.col("line"), F.col("fields"), F.col("f"), F.col("is_header")),
                         bad_value(F.col("f.SUBJECT_ID"), F.col("f.CNT_ORDER")),
                     ))
    checked = parsed.select("*", problem.alias("problem"))
    ok = F.col("problem").isNull()
    counted = F.when(F.col("problem.code") != "bad_value", _field_count(F.col("line"))).otherwise(F.col("fields"))
    return checked.select(
        *[F.when(ok, F.col(f"f.{c}")).alias(c) for c in columns],
        _map({f.index: f.path for f in files}, F.col("file_index")).alias("source_file"),
        "file_index", "line_no",
        F.col("problem.code").alias("reason_code"),
        F.col("problem.reason").alias("reason"),
        F.when(~ok, counted).cast(IntegerType()).alias("n_fields"),
        (F.col("line") if keep_line else F.when(~ok, F.col("line"))).alias("line"),
    )


# ---------------------------------------------------------------- Parquet


def parquet_rows(spark: SparkSession, files: list[InputFile], columns: tuple[str, ...]) -> DataFrame:
    """The rows of DOJ Parquet files as strings with their position (row index + 1) and status."""
    frames = []
    for f in files:
        df = spark.read.parquet(fs.spark_path(f.path))
        missing = [c for c in DOJ_COLUMNS if c not in df.columns]
        if missing:
            raise UserError(f"{f.path}: Parquet file lacks DOJ columns {missing[:5]}")
        # the extract's fields are text: a date or number column has lost what was written
        # (leading zeros of ids, the DOJ's 00000000 dates), so it is refused, not converted
        typed = {c.name: c.dataType for c in df.schema.fields}
        wrong = [f"{c} is {typed[c].simpleString()}" for c in DOJ_COLUMNS if not isinstance(typed[c], StringType)]
        if wrong:
            raise UserError(f"{f.path}: DOJ columns must be strings in Parquet; {', '.join(wrong[:5])}"
                            + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""))
        frames.append(df.select(
            *[F.col(c).cast(StringType()).alias(c) for c in sorted(set(columns) | {"SUBJECT_ID", "CNT_ORDER"})],
            F.lit(f.path).alias("source_file"),
            F.lit(f.index).alias("file_index"),
            (F.col("_metadata.row_index") + 1).cast(LongType()).alias("line_no"),
        ))
    rows = frames[0]
    for more in frames[1:]:
        rows = rows.unionByName(more)
    problem = bad_value(F.col("SUBJECT_ID"), F.col("CNT_ORDER"))
    return rows.select(
        *[F.when(problem.isNull(), F.col(c)).alias(c) for c in columns], *POSITION_COLUMNS,
        problem.code.alias("reason_code"), problem.reason.alias("reason"),
        F.lit(None).cast(IntegerType()).alias("n_fields"),
        F.when(problem.isNotNull(), F.concat_ws(",", *[F.coalesce(F.col(c), F.lit("")) for c in ("SUBJECT_ID", "CNT_ORDER")])).alias("line"),
    )


def parquet_row_counts(spark: SparkSession, files: list[InputFile]) -> dict[str, int]:
    return {f.path: spark.read.parquet(fs.spark_path(f.path)).count() for f in files}  # from the footers


def accepted(lines: DataFrame) -> DataFrame:
    return lines.where(F.col("reason_code").isNull())


def quarantined(lines: DataFrame) -> DataFrame:
    """Lines that could not be read (a line continuing a record above it was read with that record)."""
    return lines.where(F.col("reason_code").isNotNull() & (F.col("reason_code") != CONTINUED)).select(*QUARANTINE_COLUMNS)
