"""What LayersSize counts on the containerd store, by engine version (moby's service.go at each tag)."""

from __future__ import annotations

import pytest

from layershare.model import EngineInfo, version_tuple
from layershare.sources.stores.measure import counts_as_engine, layers_size_rule


@pytest.mark.parametrize(
    ("version", "rule"),
    [
        ("26.1.5", "all_snapshots"),
        ("28.1.1", "all_snapshots"),
        ("28.2.0", "all_snapshots_and_content"),
        ("28.5.2", "all_snapshots_and_content"),
        ("29.5.0", "all_snapshots_and_content"),
        ("29.6.0", "image_chains_and_content"),
        ("29.7.2", "image_chains_and_content"),
        ("30.0.0", "image_chains_and_content"),
        ("", "all_snapshots"),
    ],
)
def test_what_layers_size_counts(version: str, rule: str) -> None:
    assert layers_size_rule(version) == rule
    assert counts_as_engine(version) == (rule == "image_chains_and_content")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("29.7.2", (29, 7)),
        ("1.41", (1, 41)),
        ("29", (29, 0)),
        ("29.7.2-rc.1", (29, 7)),
        ("dev", (0, 0)),
        ("", (0, 0)),
    ],
)
def test_versions_compare_by_major_and_minor(text: str, expected: tuple[int, int]) -> None:
    assert version_tuple(text) == expected


@pytest.mark.parametrize(
    ("version", "store", "counts_intermediates"),
    [("20.10.24", "graphdriver", False), ("26.1.5", "graphdriver", True), ("29.7.2", "graphdriver", True),
     ("26.1.5", "containerd", False), ("29.7.2", "containerd", False)],
)  # fmt: skip
def test_who_counts_as_a_user_of_a_layer(version: str, store: str, counts_intermediates: bool) -> None:
    engine = EngineInfo(host="h", version=version, api_version="1.45", image_store=store, storage_driver="x")  # type: ignore[arg-type]
    assert engine.shares_with_intermediates is counts_intermediates
