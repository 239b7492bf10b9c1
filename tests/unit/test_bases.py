"""Bases and base drift on a corpus recorded from a real engine, against its layer store."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from layershare.report.bases import NO_BASE, base_drift, find_bases, repository
from layershare.report.index import LayerIndex
from layershare.sources.recording import snapshot_from_recording


def index_of(recording: dict[str, Any]) -> LayerIndex:
    return LayerIndex.from_snapshot(snapshot_from_recording(recording))


def image_id(index: LayerIndex, tag: str) -> str:
    return str(next(i for i, tags in index.images["tags"].items() if tag in tags))


def df_size(recording: dict[str, Any], tag: str) -> int:
    return int(
        next(
            i["Size"]
            for i in recording["ground_truth"]["system_df"]["Images"]
            if tag in (i["RepoTags"] or [])
        )
    )


def top_chain(index: LayerIndex, tag: str) -> str:
    return str(index.edges.loc[index.edges["image_id"] == image_id(index, tag), "chain_id"].iloc[-1])


def test_repository_drops_tag_and_digest() -> None:
    assert repository("registry:5000/team/runtime:3") == "registry:5000/team/runtime"
    assert repository("runtime@sha256:abc") == "runtime"
    assert repository("runtime") == "runtime"


def test_the_deepest_tagged_prefix_is_the_base(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    bases = find_bases(index)
    expected = {
        "app-one:1": "runtime:3",
        "app-plus:1": "app-one:1",  # built FROM app-one:1, though its inherited label names runtime:3
        "runtime:2": "distro-a:1",
        "fat-app:1": "fat-base:1",
        "bk-app:1": "bk-base:1",  # loaded (BuildKit history): found by layers alone
        "on-waste-base:1": "waste-base:1",
    }
    for tag, base in expected.items():
        row = bases.loc[image_id(index, tag)]
        assert (row["base_reference"], row["base_via"]) == (base, "layers"), tag
        assert row["base_bytes"] == df_size(recording, base)
        assert row["base_share"] == df_size(recording, base) / df_size(recording, tag)
    for tag in ("distro-a:1", "fat-base:1", "bk-base:1", "bk-ambiguous:1"):
        row = bases.loc[image_id(index, tag)]
        assert pd.isna(row["base_reference"])
        assert row["base_reason"] == NO_BASE


def test_the_label_names_the_base_when_no_local_image_is_a_prefix(recording: dict[str, Any]) -> None:
    trimmed = copy.deepcopy(recording)
    trimmed["images"] = [i for i in trimmed["images"] if "bk-base:1" not in (i["RepoTags"] or [])]
    index = index_of(trimmed)
    row = find_bases(index).loc[image_id(index, "bk-app:1")]
    assert (row["base_reference"], row["base_via"], row["base_repository"]) == (
        "bk-base:1",
        "label",
        "bk-base",
    )
    assert pd.isna(row["base_bytes"])  # unknown, never guessed
    assert "label" in row["base_reason"]


def test_drift_and_the_bytes_rebasing_frees(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    drift = {d.repository: d for d in base_drift(index, find_bases(index))}
    store = recording["ground_truth"]["layer_store"]
    runtime = drift["runtime"]
    assert runtime.versions == ("runtime:2", "runtime:3")
    assert runtime.target == "runtime:3"
    assert set(runtime.images) == {"app-one:1, app-one:latest", "app-two:1", "legacy-app:1"}
    # Rebasing legacy-app onto runtime:3 frees runtime:2's own layer, as the layer store weighs it.
    assert runtime.freed_exact
    assert runtime.freed_bytes == store[top_chain(index, "runtime:2")]["size"]
    distro = drift["distro-a"]
    assert distro.versions == ("distro-a:1", "distro-a:2")
    # Only distro-a:1's own layer: the layers of the images on it (runtime:2, same-on-a:1)
    # are rebuilt on distro-a:2 at the same size, not freed.
    assert distro.freed_bytes == store[top_chain(index, "distro-a:1")]["size"]
    rebuilt = drift["rebuilt-base"]
    assert rebuilt.versions == ("rebuilt-base:1", "rebuilt-base:1 (an earlier build)")
    assert rebuilt.images == ("on-rebuilt:1",)
    assert not rebuilt.freed_exact
    assert set(drift) == {"runtime", "distro-a", "rebuilt-base"}
