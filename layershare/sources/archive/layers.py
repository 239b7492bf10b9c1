"""One image layer, read as a stream: its tar (plain, gzip or zstd), its files and its diff ID.

A layer is recognised by its content and keyed by its diff ID, the sha256 of
its uncompressed tar, computed while it streams. Nothing is extracted to disk
and memory holds only the layer's list of paths and sizes. Paths that leave
the image's root, absurd sizes and corrupt data raise
:class:`~layershare.errors.ArchiveError`.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import posixpath
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, Literal, cast

from layershare.errors import ArchiveError
from layershare.model import FileEntry, FileKind, LayerContent, StoredCopy

MAX_MEMBER_BYTES = 1 << 40  # 1 TiB: no real layer comes near
MAX_PATH_CHARS = 4096
MAX_FILES_PER_LAYER = 5_000_000
CHUNK = 1 << 18

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

Compression = Literal["tar", "gzip", "zstd"]


class ChunkReader(io.RawIOBase):
    """A readable binary file over an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class Prefixed(io.RawIOBase):
    """``head`` (already read to sniff the content) followed by the rest of ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Hashing(io.RawIOBase):
    """Passes bytes through while computing their sha256 (a layer's diff ID)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        self.digest.update(data)
        view[: len(data)] = data
        return len(data)


def stream_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """A stream-mode tar's members one by one, without keeping every header in memory."""
    kept: list[tarfile.TarInfo] = tar.members  # type: ignore[attr-defined]
    while (member := tar.next()) is not None:
        kept.clear()
        yield member


def sniff(head: bytes) -> Compression | Literal["json", "other"]:
    """What a member holds, from its first 512 bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if len(head) == 512 and not head.strip(b"\0"):
        return "tar"  # an empty layer: only the end-of-archive blocks
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "other"


def _layer_path(name: str, diff: str) -> str:
    if len(name) > MAX_PATH_CHARS:
        raise ArchiveError(f"layer {diff}: path of {len(name)} characters")
    stripped = name.lstrip("/")
    path = posixpath.normpath(stripped) if stripped else "."
    if path == ".." or path.startswith("../"):
        raise ArchiveError(f"layer {diff}: path {name!r} escapes the image's root")
    return "" if path == "." else path


def decompressed(raw: IO[bytes], compression: Compression) -> IO[bytes]:
    if compression == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK)
    return raw


def _entry(member: tarfile.TarInfo, path: str, where: str) -> FileEntry:
    base = posixpath.basename(path)
    parent = posixpath.dirname(path)
    if base == ".wh..wh..opq":
        return FileEntry(parent, "opaque")
    if base.startswith(".wh."):
        return FileEntry(posixpath.join(parent, base[4:]), "whiteout")
    kind: FileKind
    if member.islnk():
        _layer_path(member.linkname, where)
        return FileEntry(path, "hardlink")
    if member.isreg():
        if member.size > MAX_MEMBER_BYTES:
            raise ArchiveError(f"{where}: {path} claims an absurd size ({member.size} bytes)")
        return FileEntry(path, "file", member.size)
    if member.issym():
        return FileEntry(path, "symlink", len(member.linkname.encode("utf-8", "surrogateescape")))
    kind = "dir" if member.isdir() else "other"
    return FileEntry(path, kind)


def read_layer(
    raw: IO[bytes], compression: Compression, where: str = "layer", *, hash_files: bool = False
) -> LayerContent:
    """One layer's entries and size, read once; its diff ID is the sha256 of the uncompressed tar.

    The size is what the engine's layer store counts: regular files (hard
    links once) and symlinks' target lengths, the last entry of a path winning.
    ``hash_files``: each regular, non-empty file's content digest too, as it streams (its stored copies).
    """
    hashing = _Hashing(decompressed(raw, compression))
    stream = io.BufferedReader(hashing, CHUNK)
    entries: dict[str, FileEntry] = {}
    copies: dict[str, StoredCopy] = {}
    try:
        tar = tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK)  # noqa: SIM115 - closed with the stream
        for member in stream_members(tar):
            path = _layer_path(member.name, where)
            if not path:
                continue
            entries.pop(path, None)  # a path given twice: the last entry wins
            entries[path] = _entry(member, path, where)
            if hash_files:
                copies.pop(path, None)
                if entries[path].kind == "file" and member.size > 0:
                    copies[path] = _copy(tar, member, path)
                elif member.islnk():  # a hard link: one copy, named by its first path A-Z
                    target = _layer_path(member.linkname, where)
                    if target in copies and path < target:
                        copies[path] = dataclasses.replace(copies.pop(target), path=path)
            if len(entries) > MAX_FILES_PER_LAYER:
                raise ArchiveError(f"{where}: more than {MAX_FILES_PER_LAYER} entries")
        while stream.read(CHUNK):  # the padding after the end blocks is part of the diff ID
            pass
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise ArchiveError(f"{where}: not a readable layer tar ({e})") from e
    except Exception as e:
        if type(e).__module__.startswith("zstandard"):
            raise ArchiveError(f"{where}: corrupt zstd data ({e})") from e
        raise
    files = tuple(entries.values())
    return LayerContent(
        diff_id=f"sha256:{hashing.digest.hexdigest()}",
        size_bytes=sum(f.size_bytes for f in files),
        files=files,
        copies=tuple(copies.values()),
    )


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> StoredCopy:
    """A regular member as a stored copy, its content hashed as it streams (never held whole)."""
    body = tar.extractfile(member)
    digest = hashlib.sha256()
    while body is not None and (chunk := body.read(CHUNK)):
        digest.update(chunk)
    return StoredCopy(
        path, member.size, member.mode & 0o7777, member.uid, member.gid, f"sha256:{digest.hexdigest()}"
    )
