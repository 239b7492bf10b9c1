"""The bbolt reader's pieces that need no containerd: varints and refusing what is not a bbolt file."""

from __future__ import annotations

import os

import pytest

from layershare.sources.stores.boltdb import BoltError, BoltFile, uvarint, varint


@pytest.mark.parametrize(
    ("data", "value"), [(b"\x06", 6), (b"I", 73), (b"\x80\x01", 128), (b"\xac\x02", 300)]
)
def test_uvarint(data: bytes, value: int) -> None:
    assert uvarint(data) == value


def test_varint_is_zigzag() -> None:
    # 2129920 recorded by containerd as a snapshot size, read back off a real metadata.db
    assert varint(b"\x80\x80\x84\x02") == 2_129_920
    assert varint(b"\x01") == -1
    assert varint(b"\x02") == 1


def test_what_is_not_bbolt_is_refused() -> None:
    for data in (b"", os.urandom(8192), b"\0" * 8192):
        with pytest.raises(BoltError):
            BoltFile(data)
    with pytest.raises(BoltError):
        uvarint(b"\x80\x80")
