"""Does any file under a warehouse still name a purged person? Every byte of every file is read
(Delta logs, checksums, checkpoints, anything), and every Parquet file is decoded too, every
column down to the leaves of its lists, maps and structs. A warehouse on HDFS (or any Hadoop
file system) is listed and read through the session's Hadoop FileSystem, byte for byte (`Files`).

A file names a subject when one of its tokens is the subject's id: its runs of letters and
digits, its runs of anything but blanks and punctuation that separates fields, and (Parquet)
each value trimmed. So `10000011` is found in `trim(subject_id) = 10000011`, `" 10000011"` or
`x,10000011 ,y`, but not inside `110000011`.

The subjects are known either in clear (the purge that is running) or only as HMAC-SHA256 under
the warehouse's key (a purge a killed command left unverified, finished by the next one): then
every candidate token is hashed with that key and compared, so the ids are never needed in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from clearsweep import fs

ALNUM = re.compile(rb"[0-9A-Za-z]+")
FIELD = re.compile(rb"[^\s,;:=|\"'`()\[\]{}<>\\]+")


class Subjects:
    """The people looked for: `clear` ids, or only their `hashes` under `key`."""

    def __init__(self, key: bytes, hashes: Iterable[str] = (), clear: Iterable[str] | None = None):
        self.key = key
        self.clear = None if clear is None else {s.strip().encode() for s in clear}
        self.hashes = set(hashes) if clear is None else {self.hash(s) for s in self.clear}

    def hash(self, token: bytes) -> str:
        return hmac.new(self.key, token, hashlib.sha256).hexdigest()

    def named(self, tokens: set[bytes]) -> bool:
        if self.clear is not None:
            return not tokens.isdisjoint(self.clear)
        return any(self.hash(t) in self.hashes for t in tokens)


def tokens(data: bytes) -> set[bytes]:
    return set(ALNUM.findall(data)) | set(FIELD.findall(data))


class Files:
    """The files under a warehouse, listed and read: a local folder, or any Hadoop URI (`hdfs:`,
    ...) read through the session's Hadoop FileSystem, every byte of it (no cached copy)."""

    def __init__(self, root: str | Path, spark=None):
        local = fs.local_path(str(root))
        self.local = local
        if local is None:
            if spark is None:
                raise ValueError(f"{root}: a remote warehouse is read through the Spark session")
            self.hfs = fs.HadoopFS(spark, str(root))
            self.root = self.hfs.qualified(str(root)).rstrip("/")

    def walk(self, skip: Iterable[str | Path] = ()) -> Iterator[tuple[str, str]]:
        """(name relative to the root, location) of every file but those in `skip` (files, or folders
        and what they hold), sorted. The one place files are listed."""
        if self.local is not None:
            skip_paths = [Path(p) for p in skip]
            for path in sorted(self.local.rglob("*")):
                if path.is_file() and not any(path == s or s in path.parents for s in skip_paths):
                    yield str(path.relative_to(self.local)), str(path)
            return
        skipped = [self.hfs.qualified(str(s)).rstrip("/") for s in skip if fs.local_path(str(s)) is None]
        for uri in self.hfs.files(self.root):
            if not any(uri == s or uri.startswith(s + "/") for s in skipped):
                yield uri[len(self.root) + 1:], uri

    def read(self, location: str) -> bytes:
        return Path(location).read_bytes() if self.local is not None else self.hfs.read_bytes(location)


def _leaves(array: pa.Array) -> Iterator[pa.Array]:
    kind = array.type
    if pa.types.is_struct(kind):
        for child in array.flatten():
            yield from _leaves(child)
    elif pa.types.is_map(kind):
        yield from _leaves(array.keys)
        yield from _leaves(array.items)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        yield from _leaves(array.flatten())
    elif pa.types.is_dictionary(kind):
        yield from _leaves(array.dictionary)
    elif not pa.types.is_null(kind):
        yield array


def _values(array: pa.Array) -> list[bytes]:
    """A leaf's distinct values as bytes (numbers and dates as their text)."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or pa.types.is_binary(array.type)
            or pa.types.is_large_binary(array.type)):
        array = pc.cast(array, pa.string(), safe=False)
    values = pc.unique(array).drop_null().to_pylist()
    return [v.encode() if isinstance(v, str) else bytes(v) for v in values]


def parquet_tokens(source: Path | bytes) -> set[bytes]:
    """Every value of a Parquet file (a local path, or its bytes read from a remote file system)."""
    found: set[bytes] = set()
    for batch in pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else source).iter_batches(batch_size=65536):  # this file alone: no partition discovery
        for column in batch.columns:
            for leaf in _leaves(column):
                values = _values(leaf)
                found |= {v.strip() for v in values}
                found |= tokens(b"\n".join(values))
    return found


def find_traces(root: str | Path, subjects: Subjects, skip: Iterable[str | Path] = (), spark=None) -> tuple[list[str], int]:
    """(the files under `root` that name a subject, relative, with no value; how many were read).
    A remote `root` (an `hdfs:` URI, ...) is listed and read through `spark`'s Hadoop FileSystem."""
    files = Files(root, spark)
    found, checked = [], 0
    for name, location in files.walk(skip):
        checked += 1
        data = files.read(location)
        named = subjects.named(tokens(data))
        if not named and name.endswith(".parquet"):
            named = subjects.named(parquet_tokens(data))
        if named:
            found.append(name)
    return found, checked
