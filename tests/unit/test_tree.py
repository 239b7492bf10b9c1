"""The sharing tree on recorded corpora: image sizes and the physical total as the engine counted them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from layershare.formats import TreeFormat
from layershare.render.tree import TREE_RENDERERS, render_tree, tree_document
from layershare.report.analysis import build_report
from layershare.report.index import LayerIndex
from layershare.report.tree import SharingTree, sharing_tree
from layershare.sources.recording import snapshot_from_recording


def tree_of(recording: dict[str, Any], **options: Any) -> SharingTree:
    return sharing_tree(build_report(LayerIndex.from_snapshot(snapshot_from_recording(recording)), **options))


def test_root_to_image_bytes_are_the_engines_size_and_roots_add_up_to_layers_size(
    recording: dict[str, Any],
) -> None:
    tree = tree_of(recording)
    df = recording["ground_truth"]["system_df"]
    sizes = {i["Id"]: i["Size"] for i in df["Images"]}
    placed = {}
    for position, node in tree.walk():
        for image_id in node.image_ids:
            placed[image_id] = tree.path_bytes(position)
    assert placed == sizes  # every listed image, at its engine SIZE
    assert tree.physical_bytes == df["LayersSize"]


def test_each_stored_layer_sits_in_exactly_one_node(recording: dict[str, Any]) -> None:
    tree = tree_of(recording)
    owned = [c for node in tree.nodes for c in node.layers]
    assert len(owned) == len(set(owned))
    assert set(owned) == set(recording["ground_truth"]["layer_store"])
    for position, node in tree.walk():  # a node adds its own layers to its parent's chain
        if node.parent is not None:
            parent = tree.nodes[node.parent]
            assert position in parent.children and node.depth == parent.depth + 1
        assert node.subtree_bytes == node.own_bytes + sum(tree.nodes[c].subtree_bytes for c in node.children)


def test_a_branch_point_is_an_untagged_chain_point_with_two_children_or_more(
    recording: dict[str, Any],
) -> None:
    tree = tree_of(recording)
    branches = [n for n in tree.nodes if not n.image_ids]
    assert all(len(n.children) >= 2 for n in branches)
    assert all(n.image_ids or len(n.children) >= 2 for n in tree.nodes)


def test_filter_places_only_the_matching_images(recording: dict[str, Any]) -> None:
    tree = tree_of(recording, references=("app-*",))
    names = {t for node in tree.nodes for i in node.image_ids for t in tree.tags[i]}
    assert names and all(n.startswith("app-") for n in names)
    sizes = {i["Id"]: i["Size"] for i in recording["ground_truth"]["system_df"]["Images"]}
    for position, node in tree.walk():
        for image_id in node.image_ids:
            assert tree.path_bytes(position) == sizes[image_id]


@pytest.mark.parametrize("fmt", list(TreeFormat))
def test_every_format_renders(recording: dict[str, Any], fmt: TreeFormat) -> None:
    assert set(TREE_RENDERERS) == set(TreeFormat)
    tree = tree_of(recording)
    text = render_tree(tree, fmt)
    assert text.endswith("\n")
    if fmt is TreeFormat.JSON:
        doc = json.loads(text)
        assert doc["schema"] == "layershare.tree/v1"
        assert doc["physical_bytes"] == recording["ground_truth"]["system_df"]["LayersSize"]
        assert len(doc["nodes"]) == len(tree.nodes)
    elif fmt is TreeFormat.DOT:
        assert text.startswith("digraph") and text.count("->") == len(tree.nodes) - len(tree.roots)
    elif fmt is TreeFormat.MERMAID:
        assert text.startswith("flowchart") and text.count("-->") == len(tree.nodes) - len(tree.roots)
        assert "<none>" not in text  # markup-like names are escaped for Mermaid
    else:
        assert "app-plus:1" in text and "└── " in text


def test_table_draws_each_child_under_its_parent(recording: dict[str, Any]) -> None:
    tree = tree_of(recording)
    lines = render_tree(tree, TreeFormat.TABLE).splitlines()
    rows = lines[lines.index(next(line for line in lines if line.startswith("IMAGE"))) + 1 :]
    assert len(rows) == len(tree.nodes)
    doc = tree_document(tree)
    for row, node in zip(rows, doc["nodes"], strict=True):
        indent = len(row) - len(row.lstrip(" │├└─"))
        assert indent == 4 * node["depth"]
