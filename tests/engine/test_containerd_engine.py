"""The containerd image store (Engine 26.1): blobs and snapshots counted once each, against the disk."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from engines import cli, system_df, warm_reports_without_the_image_list

from layershare.report.analysis import build_report
from layershare.report.index import LayerIndex
from layershare.sources.engine import EngineSource

pytestmark = pytest.mark.engine


def du(*paths: Path) -> int:
    """What ``du`` counts, in bytes (blocks, hard links once), for these folders together."""
    out = subprocess.run(
        ["du", "-s", "-c", "--block-size=1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.splitlines()[-1].split()[0])


def store_dirs(engine: Any) -> tuple[Path, Path]:
    root = Path(engine.data_root) / "containerd" / "daemon"
    return (
        root / "io.containerd.content.v1.content" / "blobs",
        root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots",
    )


@pytest.fixture(scope="module")
def index(engine26: Any) -> LayerIndex:
    return LayerIndex.from_snapshot(EngineSource(engine26.host).snapshot())


def test_the_physical_total_agrees_with_the_disk(engine26: Any, index: LayerIndex) -> None:
    report = build_report(index, include_intermediate=True)
    blobs, snapshots = store_dirs(engine26)
    on_disk = du(blobs, snapshots)
    ours = report.totals.physical_bytes + report.totals.other_bytes
    engine_says = system_df(engine26)["LayersSize"]
    print(
        f"du {on_disk}, layershare {ours} (images {report.totals.physical_bytes}), docker system df {engine_says}"
    )
    assert abs(ours - on_disk) <= 0.02 * on_disk
    # the engine's own figure counts each layer once where the disk holds it twice
    assert engine_says < 0.75 * on_disk
    assert report.totals.blob_bytes >= 0.3 * report.totals.physical_bytes
    assert report.layers["size_exact"].all()
    # the image configs are read from the content store: which instruction made each layer is known
    assert report.layers["created_by_exact"].all()
    ambiguous = next(i for i, tags in index.images["tags"].items() if "bk-ambiguous:1" in tags)
    chain = index.edges.loc[index.edges["image_id"] == ambiguous, "chain_id"]
    assert list(index.layers.loc[chain, "created_by"])[1] == "RUN /bin/sh -c mkdir -p /data # buildkit"


def test_per_image_figures_add_up(index: LayerIndex) -> None:
    report = build_report(index, include_intermediate=True)
    images = report.images
    assert (
        (images["layer_bytes"] + images["blob_bytes"]) + images["hidden_parent_bytes"]
        == images["shared_bytes"] + images["unique_bytes"]
    ).all()
    assert (images.loc[~images["intermediate"], "blob_bytes"] > 0).all()
    physical = int(index.layers["size_bytes"].sum()) + int(index.blobs["size_bytes"].sum())
    assert report.totals.physical_bytes == physical
    # Each object's bytes are unique to an image when no other listed image uses it: the containerd
    # store hides the classic builder's intermediate images when it counts users (moby's
    # daemon/containerd/image_list.go, hideIntermediate, at 26.1.5 as at 29.7.2). A listed image's also
    # count what its hidden parents, removed with it up the chain, hold that no listed image does.
    assert not index.engine.shares_with_intermediates
    hidden = index.images["intermediate"]
    listed = set(index.images.index[~hidden])
    objects = [
        (index.edges, "chain_id", index.layers["size_bytes"]),
        (index.blob_edges, "digest", index.blobs["size_bytes"]),
    ]
    with_parents = 0
    for image_id in images.index:
        taken, parent = {image_id}, index.images.at[image_id, "parent_id"]
        while not hidden.loc[image_id] and parent in hidden.index and hidden.loc[parent]:
            taken, parent = taken | {parent}, index.images.at[parent, "parent_id"]
        unique = 0
        for edges, key, sizes in objects:
            mine = set(edges.loc[edges["image_id"].isin(taken), key])
            others = set(edges.loc[edges["image_id"].isin(listed - {image_id}), key])
            unique += int(sizes.loc[list(mine - others)].sum())
        assert images.at[image_id, "unique_bytes"] == unique, image_id
        with_parents += len(taken) > 1
    assert with_parents >= 5  # overwrite:1, app-one:1, app-two:1, runtime:2, runtime:3, ...


def test_each_layer_has_its_blob_and_its_snapshot(engine26: Any, index: LayerIndex, tmp_path: Path) -> None:
    archive = tmp_path / "saved.tar"
    engine26.docker("save", "-o", str(archive), "overwrite:1")
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())[0]  # type: ignore[union-attr]
        index_doc = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        oci = json.loads(tar.extractfile("blobs/sha256/" + index_doc["manifests"][0]["digest"][7:]).read())  # type: ignore[union-attr]
    assert len(oci["layers"]) == len(manifest["Layers"]) == 4
    image_id = next(i for i, tags in index.images["tags"].items() if "overwrite:1" in tags)
    chain = index.edges.loc[index.edges["image_id"] == image_id, "chain_id"]
    for chain_id, descriptor in zip(chain, oci["layers"], strict=True):
        blob = int(index.layers.at[chain_id, "blob_bytes"])
        # as du counts it: the blob's bytes rounded up to whole blocks
        assert descriptor["size"] <= blob < descriptor["size"] + 8192
        assert int(index.layers.at[chain_id, "size_bytes"]) > 0
    assert index.images.at[image_id, "layers"] == 4


def test_the_report_says_which_store_and_the_cli_agrees(engine26: Any, index: LayerIndex) -> None:
    result = cli(engine26, "report", "--format", "json", "--no-cache")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["engine"]["image_store"] == "containerd"
    assert doc["totals"]["physical_bytes"] == build_report(index).totals.physical_bytes
    assert any("kept twice" in note for note in doc["notes"])
    table = cli(engine26, "report", "--no-cache").stdout
    assert "Physical size (snapshots + content blobs, each once)" in table


def test_only_the_platforms_present_count(engine26: Any, tmp_path: Path) -> None:
    from corpus import write_multi_platform_archive

    archive = tmp_path / "multi.tar"
    index_digest = write_multi_platform_archive(archive, "multi:1")
    engine26.docker("load", "-q", "-i", str(archive))
    try:
        doc = json.loads(cli(engine26, "report", "--format", "json", "--no-cache").stdout)
        (image,) = [i for i in doc["images"] if "multi:1" in i["tags"]]
        assert image["id"] == index_digest
        assert image["platforms"] == ["linux/amd64"]
        with tarfile.open(archive) as tar:
            present = [m.name.rsplit("/", 1)[1] for m in tar.getmembers() if m.name.startswith("blobs/")]
        blobs = store_dirs(engine26)[0] / "sha256"
        # the index, the amd64 manifest, its config and its layer: nothing for the arm64 half
        assert len(present) == 4
        assert image["blob_bytes"] == sum((blobs / name).stat().st_blocks * 512 for name in present)
        assert image["stored_bytes"] == image["blob_bytes"] + sum(
            layer["size_bytes"] for layer in doc["layers"] if layer["chain_id"] in _chains(doc, image["id"])
        )
    finally:
        engine26.docker("rmi", "multi:1")


def _chains(doc: dict[str, Any], image_id: str) -> set[str]:
    index = LayerIndex.from_snapshot(EngineSource(doc["engine"]["host"]).snapshot())
    return set(index.edges.loc[index.edges["image_id"] == image_id, "chain_id"])


def test_one_report_over_several_engines(engine: Any, engine26: Any) -> None:
    def report(*args: str) -> str:
        result = cli(engine, "report", "--no-cache", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    single = [json.loads(report("-H", e.host, "-f", "json")) for e in (engine, engine26)]
    both = json.loads(report("-H", engine.host, "-H", engine26.host, "-f", "json"))
    assert both["schema"] == "layershare.reports/v1"
    for doc in both["engines"] + single:
        doc.pop("collected_at")
    assert both["engines"] == single
    # each engine's disk is its own: physical bytes add up across engines
    assert both["totals"]["physical_bytes"] == sum(d["totals"]["physical_bytes"] for d in single)
    table = report("-H", engine.host, "-H", engine26.host)
    assert table.startswith("Engines") and "all 2 engines" in table
    assert "containerd" in table and "graphdriver" in table
    csv_lines = report("-H", engine.host, "-H", engine26.host, "-f", "csv").splitlines()
    assert csv_lines[0].startswith("engine,id,reference")
    assert {line.split(",", 1)[0] for line in csv_lines[1:]} == {engine.host, engine26.host}
    refused = cli(engine, "history", "app-one:1", "-H", engine.host, "-H", engine26.host)
    assert refused.returncode == 2 and "only 'report' reads several engines" in refused.stderr


@pytest.mark.parametrize("store", ["engine26", "engine26_graphdriver"])
def test_a_warm_report_on_the_containerd_store_does_not_wait_on_the_image_list(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """:func:`engines.warm_reports_without_the_image_list` on Engine 26.1, both stores."""
    warm_reports_without_the_image_list(request.getfixturevalue(store), tmp_path / "cache")
