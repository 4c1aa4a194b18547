"""Paths and Hadoop URIs: inputs and warehouses may be local paths, `file:` URIs or any Hadoop
file system (`hdfs:`, `s3a:`). Local ones are handled in Python before Spark starts; the others
through the session's Hadoop FileSystem once it runs.

Hadoop's rules apply: a `file:` URI is not percent-decoded (`file:/data/a b.csv` is the file
`/data/a b.csv`), and Spark reads every path with glob characters escaped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
GLOB_CHARS = re.compile(r"([\\\[\]{}*?])")


def scheme(location: str) -> str | None:
    m = SCHEME.match(location)
    # a Windows drive letter is not a scheme, and plain paths have none
    return m.group(1).lower() if m and len(m.group(1)) > 1 else None


def local_path(location: str) -> Path | None:
    """The local file system path of a plain path or `file:` URI, else None."""
    s = scheme(location)
    if s is None:
        return Path(os.path.normpath(Path(location).expanduser().absolute()))
    if s != "file":
        return None
    rest = location[len("file:"):]
    if rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        if authority not in ("", "localhost"):
            return None
        rest = "/" + path
    return Path(os.path.normpath(Path(rest).absolute()))


def is_local(location: str) -> bool:
    return local_path(location) is not None


def join(location: str, *parts: str) -> str:
    """A child of a local path or URI, keeping its form (a local location becomes absolute)."""
    local = local_path(location)
    if local is not None:
        return str(local.joinpath(*parts))
    return "/".join([location.rstrip("/"), *parts])


def parent(location: str) -> str:
    local = local_path(location)
    if local is not None:
        return str(local.parent)
    return location.rstrip("/").rsplit("/", 1)[0]


def spark_path(location: str) -> str:
    """The string to hand Spark readers: absolute, glob characters escaped."""
    local = local_path(location)
    return GLOB_CHARS.sub(r"\\\1", str(local) if local is not None else location)


def name(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------- any file system, through Spark's JVM


class HadoopFS:
    """The few file operations the jobs need on a Hadoop URI (the session must be running)."""

    def __init__(self, spark, location: str):
        jvm = spark.sparkContext._jvm
        self._jvm = jvm
        self._path = jvm.org.apache.hadoop.fs.Path(location)
        self._fs = self._path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def _p(self, location: str):
        return self._jvm.org.apache.hadoop.fs.Path(location)

    def exists(self, location: str) -> bool:
        return bool(self._fs.exists(self._p(location)))

    def is_dir(self, location: str) -> bool:
        p = self._p(location)
        return bool(self._fs.exists(p) and self._fs.getFileStatus(p).isDirectory())

    def children(self, location: str) -> list[tuple[str, bool, int]]:
        """(uri, is_dir, length) of each entry, sorted by name."""
        out = [(str(s.getPath().toString()), bool(s.isDirectory()), int(s.getLen())) for s in self._fs.listStatus(self._p(location))]
        return sorted(out)

    def length(self, location: str) -> int:
        return int(self._fs.getFileStatus(self._p(location)).getLen())

    def qualified(self, location: str) -> str:
        return str(self._fs.makeQualified(self._p(location)).toUri().toString())

    def checksum(self, location: str) -> str | None:
        """The file's SHA-256 as `sha256:<hex>`, the same as a local copy's, read through the
        driver's JVM (no bytes cross to Python). HDFS's own checksum (an MD5 of block CRCs) would
        differ with the block size and never match the file checked locally before the upload."""
        jvm = self._jvm
        digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
        stream = jvm.java.security.DigestInputStream(self._fs.open(self._p(location)), digest)
        try:
            jvm.org.apache.commons.io.IOUtils.consume(stream)
        finally:
            stream.close()
        return "sha256:" + bytes(digest.digest()).hex()

    def files(self, location: str) -> list[str]:
        """Every file under a folder, at any depth, as qualified URIs, sorted."""
        found, listing = [], self._fs.listFiles(self._p(location), True)
        while listing.hasNext():
            found.append(str(listing.next().getPath().toString()))
        return sorted(found)

    def read_bytes(self, location: str, chunk: int = 16 << 20) -> bytes:
        """The file's bytes, every one read through Hadoop's FileSystem (in chunks, so the driver's
        JVM never holds a whole large file)."""
        ioutils = self._jvm.org.apache.commons.io.IOUtils
        left, parts = self.length(location), []
        stream = self._fs.open(self._p(location))
        try:
            while left > 0:
                n = min(chunk, left)
                parts.append(bytes(ioutils.toByteArray(stream, n)))
                left -= n
        finally:
            stream.close()
        return b"".join(parts)

    def create_private(self, location: str, data: bytes) -> bool:
        """Create the file readable by its owner only; False if it exists already (atomic on HDFS)."""
        jvm = self._jvm
        try:
            out = self._fs.create(self._p(location), jvm.org.apache.hadoop.fs.permission.FsPermission(jvm.java.lang.Short.valueOf("384")),
                                  False, 4096, self._fs.getDefaultReplication(self._p(location)),
                                  self._fs.getDefaultBlockSize(self._p(location)), None)
        except Exception as exc:  # FileAlreadyExistsException comes back as a Py4JJavaError
            if "FileAlreadyExists" in str(exc):
                return False
            raise
        try:
            out.write(bytearray(data))
        finally:
            out.close()
        return True

    def read_text(self, location: str) -> str:
        stream = self._fs.open(self._p(location))
        try:
            return self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write_text(self, location: str, text: str, overwrite: bool) -> bool:
        """Create the file with `text`; False if it exists and overwrite is off (atomic on HDFS)."""
        try:
            out = self._fs.create(self._p(location), overwrite)
        except Exception as exc:  # FileAlreadyExistsException comes back as a Py4JJavaError
            if "FileAlreadyExists" in str(exc):
                return False
            raise
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()
        return True

    def touch(self, location: str, millis: int) -> None:
        self._fs.setTimes(self._p(location), millis, -1)

    def modified(self, location: str) -> int:
        return int(self._fs.getFileStatus(self._p(location)).getModificationTime())

    def delete(self, location: str, recursive: bool = True) -> None:
        self._fs.delete(self._p(location), recursive)

    def copy_to_local(self, location: str, local: str) -> None:
        """A file or folder of this file system copied to a local folder (no .crc files)."""
        self._fs.copyToLocalFile(False, self._p(location), self._jvm.org.apache.hadoop.fs.Path(local), True)

    def mkdirs(self, location: str) -> None:
        self._fs.mkdirs(self._p(location))


def qualified_uri(spark, location: str) -> str:
    """The URI Spark reports for a file (`_metadata.file_path`): qualified and URI-quoted, with
    a local file as `file:/path` (the form the local file system lists)."""
    uri = HadoopFS(spark, spark_unescaped(location)).qualified(spark_unescaped(location))
    return "file:/" + uri[len("file:///"):] if uri.startswith("file:///") else uri


def spark_unescaped(location: str) -> str:
    local = local_path(location)
    return str(local) if local is not None else location

