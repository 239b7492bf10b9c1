"""Last tag times from the store's files (:mod:`layershare.sources.stores.tag_times`), on files laid out
as the engines write them; the engines themselves are in tests/engine/test_plan_engine.py."""

from __future__ import annotations

from pathlib import Path

from layershare.sources.stores.tag_times import go_binary_time, tag_times


def test_go_binary_times() -> None:
    # time.Date(2026, 12, 6, 23, 5, 59, 5, time.UTC).MarshalBinary(): version 1, seconds since year 1,
    # nanoseconds, zone offset -1 (UTC)
    seconds = 1_796_598_359 + 62_135_596_800
    v1 = bytes([1]) + seconds.to_bytes(8, "big") + (5).to_bytes(4, "big") + b"\xff\xff"
    assert go_binary_time(v1) == 1_796_598_359
    assert go_binary_time(bytes([2]) + v1[1:] + b"\x00") == 1_796_598_359  # version 2: seconds of offset
    assert go_binary_time(b"") is None and go_binary_time(bytes([3]) + v1[1:]) is None


def test_the_graphdriver_stores_last_updated_files(tmp_path: Path) -> None:
    folder = tmp_path / "image" / "overlay2" / "imagedb" / "metadata" / "sha256"
    (folder / ("a" * 64)).mkdir(parents=True)
    (folder / ("a" * 64) / "lastUpdated").write_text("2026-12-06T23:05:59.123456789+01:00")
    found = tag_times({"Driver": "overlay2"}, str(tmp_path), ["sha256:" + "a" * 64, "sha256:" + "b" * 64])
    assert found == {"sha256:" + "a" * 64: 1_796_594_759.0, "sha256:" + "b" * 64: 0.0}
    assert tag_times({"Driver": "overlay2"}, str(tmp_path / "none"), ["sha256:" + "a" * 64]) is None
