"""The analysis on a recorded corpus equals the engine's own /system/df, byte for byte."""

from __future__ import annotations

from typing import Any

from layershare.report.analysis import SortKey, build_report, find_image, image_history, image_usage
from layershare.report.index import LayerIndex
from layershare.sources.recording import snapshot_from_recording


def index_of(recording: dict[str, Any]) -> LayerIndex:
    return LayerIndex.from_snapshot(snapshot_from_recording(recording))


def test_per_image_size_and_shared_match_system_df(recording: dict[str, Any]) -> None:
    usage = image_usage(index_of(recording))
    df_images = recording["ground_truth"]["system_df"]["Images"]
    assert len(df_images) > 10
    for image in df_images:
        row = usage.loc[image["Id"]]
        assert row["layer_bytes"] == image["Size"], image["RepoTags"]
        assert row["shared_bytes"] == image["SharedSize"], image["RepoTags"]
        assert row["unique_bytes"] == image["Size"] - image["SharedSize"], image["RepoTags"]


def test_totals_match_system_df_and_the_image_list(recording: dict[str, Any]) -> None:
    report = build_report(index_of(recording))
    truth = recording["ground_truth"]["system_df"]
    totals = report.totals
    assert totals.physical_bytes == truth["LayersSize"]
    assert totals.images == len(truth["Images"])
    assert totals.logical_bytes == sum(i["Size"] for i in truth["Images"])
    rows = [
        max(1, len([t for t in i["RepoTags"] or [] if t != "<none>:<none>"])) * i["Size"]
        for i in truth["Images"]
    ]
    assert totals.listed_bytes == sum(rows)
    assert totals.saved_bytes == totals.logical_bytes - truth["LayersSize"]
    assert totals.layers == len(recording["ground_truth"]["layer_store"])


def test_containers_per_image_match_system_df(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    for image in recording["ground_truth"]["system_df"]["Images"]:
        assert index.images.at[image["Id"], "containers"] == image["Containers"]


def test_intermediates_hidden_unless_asked(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    listed = build_report(index)
    everything = build_report(index, include_intermediate=True)
    assert len(everything.images) == len(recording["images"])
    assert len(listed.images) == len(recording["ground_truth"]["system_df"]["Images"])
    assert everything.totals == listed.totals


def test_reference_filter_and_sort(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    report = build_report(index, references=("app-*",), sort=SortKey.SIZE)
    refs = [t for tags in report.images["tags"] for t in tags]
    assert refs and all(r.startswith("app-") for r in refs)
    sizes = list(report.images["size_bytes"])
    assert sizes == sorted(sizes, reverse=True)
    assert report.totals.physical_bytes < build_report(index).totals.physical_bytes


def test_history_view_lists_layers_oldest_first_with_sharing(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    image_id = find_image(index, "app-one")
    assert image_id is not None
    history = image_history(index, image_id)
    store = recording["ground_truth"]["layer_store"]
    assert list(history["position"]) == list(range(len(history)))
    assert list(history["size_bytes"]) == [store[c]["size"] for c in history["chain_id"]]
    assert "Imported from -" in history["comment"].iloc[0]
    # runtime:3, app-one (two tags, one image), app-two, app-plus, waste-base and
    # on-waste-base stand on distro-a:2
    assert history["shared_with"].iloc[0] == 6
    assert find_image(index, "nope:1") is None
