"""A read-only reader of bbolt files, enough to read containerd's snapshot metadata.

containerd's overlayfs snapshotter records each snapshot (its key, which for
an image layer ends in the layer's chain ID, the number of its folder under
``snapshots/``, its kind and parent) in a bbolt database. This module walks
that file's B+tree of buckets; it never writes and never locks. The file is read
whole (a copy in memory: a running containerd holds bbolt's lock, and a reader must
not wait on it); a meta page whose checksum does not match is one seen mid-write and
is passed over for the other, as bbolt itself does, and :func:`read_tree` reads the
file again when what it copied does not hold together.

File format (bbolt): pages of ``page_size`` bytes; page header = id u64,
flags u16, count u16, overflow u32; pages 0 and 1 are meta pages (magic,
version, page size, flags, root bucket {root u64, sequence u64}, freelist,
high-water page, txid, checksum: FNV-64a of the meta's first 56 bytes). Branch elements: pos u32, ksize u32, pgid
u64. Leaf elements: flags u32 (1 = a nested bucket), pos u32, ksize u32,
vsize u32. A bucket value is {root u64, sequence u64}; root 0 means the
bucket's page follows inline in the value.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path

_MAGIC = 0xED0CDAED
_BRANCH, _LEAF, _META = 0x01, 0x02, 0x04
_BUCKET_FLAG = 0x01
_HEADER = struct.Struct("<QHHI")
_LEAF_ELEMENT = struct.Struct("<IIII")
_BRANCH_ELEMENT = struct.Struct("<IIQ")
_BUCKET = struct.Struct("<QQ")


class BoltError(ValueError):
    """The file is not a bbolt database this reader understands."""


Tree = dict[bytes, "bytes | Tree"]


class BoltFile:
    """A bbolt database read whole into memory (containerd's metadata files are small)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.page_size, root = self._meta()
        self.root = root

    @classmethod
    def open(cls, path: str | Path) -> BoltFile:
        """Read the file at ``path``."""
        return cls(Path(path).read_bytes())

    def _meta(self) -> tuple[int, int]:
        """(page size, root page) from the newer of the two meta pages."""
        candidates = []
        first = self._meta_at(0)
        if first is not None:
            candidates.append(first)
        # The second meta page is one page in; a torn first page still names the page size.
        raw_size = struct.unpack_from("<I", self.data, 24)[0] if len(self.data) >= 28 else 0
        for page_size in dict.fromkeys([first[1] if first else raw_size, 4096]):
            second = self._meta_at(page_size) if page_size >= 512 else None
            if second is not None:
                candidates.append(second)
                break
        if not candidates:
            raise BoltError("no valid bbolt meta page")
        _, page_size, root = max(candidates)
        return page_size, root

    def _meta_at(self, offset: int) -> tuple[int, int, int] | None:
        """(txid, page size, root page) of the meta page at ``offset``, or None if it is not one."""
        if len(self.data) < offset + 80:
            return None
        _, flags, _, _ = _HEADER.unpack_from(self.data, offset)
        magic, version, page_size, _ = struct.unpack_from("<IIII", self.data, offset + 16)
        if flags != _META or magic != _MAGIC or version != 2 or page_size < 512:
            return None
        root, _seq, _free, _pgid, txid, checksum = struct.unpack_from("<QQQQQQ", self.data, offset + 32)
        if checksum != _fnv64a(self.data[offset + 16 : offset + 72]):
            return None  # written halfway when the file was read
        return txid, page_size, root

    def tree(self) -> Tree:
        """Every bucket, nested, with its keys and values."""
        return self._bucket_page(self.root * self.page_size, self.data)

    def _bucket_page(self, offset: int, data: bytes, depth: int = 0) -> Tree:
        if depth > 64:
            raise BoltError("buckets nested too deep")
        out: Tree = {}
        for key, value, is_bucket in self._elements(offset, data, depth):
            if not is_bucket:
                out[key] = value
                continue
            root, _ = _BUCKET.unpack_from(value, 0)
            if root == 0:  # an inline bucket: its page follows in the value
                out[key] = self._bucket_page(_BUCKET.size, value, depth + 1)
            else:
                out[key] = self._bucket_page(root * self.page_size, self.data, depth + 1)
        return out

    def _elements(self, offset: int, data: bytes, depth: int) -> Iterator[tuple[bytes, bytes, bool]]:
        if offset + _HEADER.size > len(data):
            raise BoltError(f"page at {offset} is past the end of the file")
        _, flags, count, _ = _HEADER.unpack_from(data, offset)
        base = offset + _HEADER.size
        if flags & _LEAF:
            for i in range(count):
                at = base + i * _LEAF_ELEMENT.size
                element_flags, pos, ksize, vsize = _LEAF_ELEMENT.unpack_from(data, at)
                key = data[at + pos : at + pos + ksize]
                value = data[at + pos + ksize : at + pos + ksize + vsize]
                yield key, value, bool(element_flags & _BUCKET_FLAG)
        elif flags & _BRANCH:
            for i in range(count):
                at = base + i * _BRANCH_ELEMENT.size
                _, _, child = _BRANCH_ELEMENT.unpack_from(data, at)
                if depth > 64:
                    raise BoltError("branch pages nested too deep")
                yield from self._elements(child * self.page_size, self.data, depth + 1)
        else:
            raise BoltError(f"page at {offset} is neither a branch nor a leaf")


def _fnv64a(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def read_tree(path: str | Path, *, attempts: int = 3, pause: float = 0.05) -> Tree:
    """Every bucket of the bbolt file at ``path``, read from a copy taken in one read.

    A running containerd may be writing the file while it is read: a copy that does not
    hold together (no meta page with a valid checksum, a page out of place) is taken
    again, up to ``attempts`` times; :class:`BoltError` if none does. ``OSError`` passes.
    """
    attempt = 1
    while True:
        try:
            return BoltFile.open(path).tree()
        except (BoltError, struct.error, IndexError) as e:
            if attempt >= attempts:
                raise BoltError(f"{path}: {e}") from e
            attempt += 1
            time.sleep(pause)


def uvarint(data: bytes) -> int:
    """Go's ``binary.Uvarint``."""
    value, shift = 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
    raise BoltError("truncated varint")


def varint(data: bytes) -> int:
    """Go's ``binary.Varint`` (zig-zag)."""
    raw = uvarint(data)
    return (raw >> 1) ^ -(raw & 1)
