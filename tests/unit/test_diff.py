"""``layershare diff`` on the recorded corpus: sizes against the engine's own, saved reports read back,
host diffs, file diffs on hand-made layers, and the command line's formats and errors."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from support import RECORDING, cli

from layershare.diff.files import diff_files
from layershare.diff.images import HostDiff, ImageDiff, diff_hosts, diff_images, image_side
from layershare.diff.sides import Side, Sides, compare
from layershare.formats import DiffFormat
from layershare.model import FileEntry, ImageContent, LayerContent
from layershare.render.diff import DIFF_RENDERERS, DIFF_SCHEMA, render_diff
from layershare.render.report_json import render_report_json
from layershare.report.analysis import build_report
from layershare.report.index import LayerIndex
from layershare.sources.choice import SourceChoice, open_path
from layershare.sources.recording import RecordingSource, snapshot_from_recording
from layershare.sources.recording.report import ReportFileSource


def index_of(recording: dict[str, Any]) -> LayerIndex:
    return LayerIndex.from_snapshot(snapshot_from_recording(recording))


def image_ids(recording: dict[str, Any]) -> dict[str, str]:
    """Tag -> image ID, from the recorded image list."""
    return {t: s["Id"] for s in recording["images"] for t in s.get("RepoTags") or ()}


def chain(diff_ids: list[str]) -> list[str]:
    """Chain IDs as the image spec defines them, written here apart from layershare's own."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(
            diff_id if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest()
        )
    return out


@pytest.mark.slow  # every pair of the corpus's images: seconds
def test_every_pair_changes_by_the_engines_sizes(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    df = {i["Id"]: i for i in recording["ground_truth"]["system_df"]["Images"]}
    pairs = list(itertools.permutations(sorted(df), 2))
    assert len(pairs) > 100
    for old_id, new_id in pairs:
        result = diff_images(image_side(index, old_id, "old"), image_side(index, new_id, "new"))
        assert result.size_change_bytes == df[new_id]["Size"] - df[old_id]["Size"]
        old_chain = chain(recording["inspect"][old_id]["RootFS"]["Layers"])
        new_chain = chain(recording["inspect"][new_id]["RootFS"]["Layers"])
        assert result.common_layers == len(set(old_chain) & set(new_chain))
        assert [la.chain_id for la in result.added_layers] == [c for c in new_chain if c not in old_chain]
        assert [la.chain_id for la in result.removed_layers] == [c for c in old_chain if c not in new_chain]
        # graphdriver: an image's size is its layers' bytes, so the layers explain the whole change
        assert result.added_bytes - result.removed_bytes == result.size_change_bytes


def test_an_app_on_another_app_adds_exactly_its_own_layers(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    ids = image_ids(recording)
    base, app = ids["app-one:1"], ids["app-plus:1"]
    result = diff_images(image_side(index, base, "app-one:1"), image_side(index, app, "app-plus:1"))
    base_layers = recording["inspect"][base]["RootFS"]["Layers"]
    app_layers = recording["inspect"][app]["RootFS"]["Layers"]
    assert app_layers[: len(base_layers)] == base_layers
    assert [la.diff_id for la in result.added_layers] == app_layers[len(base_layers) :]
    assert result.removed_layers == ()
    assert result.common_layers == len(base_layers)
    assert "COPY" in result.added_layers[0].created_by


def test_same_content_on_another_base_is_said(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    ids = image_ids(recording)
    result = diff_images(
        image_side(index, ids["same-on-a:1"], "same-on-a:1"), image_side(index, ids["same-on-b:1"], "b")
    )
    assert result.common_layers == 0
    twin = result.added_layers[-1]
    assert twin.same_content_as == result.removed_layers[-1].position
    assert twin.diff_id == result.removed_layers[-1].diff_id
    assert any("same content" in note for note in result.notes)


def test_a_saved_report_reads_back_with_every_chain(recording: dict[str, Any], tmp_path: Path) -> None:
    index = index_of(recording)
    path = tmp_path / "report.json"
    path.write_text(render_report_json(build_report(index)))
    document = json.loads(path.read_text())
    for image in document["images"]:
        assert image["chain_ids"] == chain(recording["inspect"][image["id"]]["RootFS"]["Layers"])
    source = open_path(path)
    assert isinstance(source, ReportFileSource)
    again = LayerIndex.from_snapshot(source.snapshot())
    listed = build_report(index).images.index
    for image_id in listed:
        assert again.chains[image_id] == index.chains[image_id]
    # The report against the recording it came from: nothing changed.
    result = diff_hosts(
        Sides(SourceChoice(), lambda c: RecordingSource(RECORDING))._file(str(path)).host(),
        Side("recording", RecordingSource(RECORDING), index, None).host(),
    )
    assert result.images == ()
    assert result.added_layers == result.removed_layers == ()
    assert set(result.totals_change().values()) == {0}


def test_two_recordings_of_a_host(recording: dict[str, Any], tmp_path: Path) -> None:
    ids = image_ids(recording)
    gone = ids["legacy-app:1"]
    after = copy.deepcopy(recording)
    after["images"] = [s for s in after["images"] if s["Id"] != gone]
    del after["inspect"][gone], after["history"][gone]
    for summary in after["images"]:  # retag: app-one:latest leaves app-one:1's image for fat-app:1's
        if "app-one:latest" in summary["RepoTags"]:
            summary["RepoTags"].remove("app-one:latest")
        if summary["Id"] == ids["fat-app:1"]:
            summary["RepoTags"].append("app-one:latest")
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    old_path.write_text(json.dumps(recording))
    new_path.write_text(json.dumps(after))
    sides = Sides(SourceChoice(), lambda c: RecordingSource(old_path))
    result = compare(sides.side(str(old_path)), sides.side(str(new_path)))
    assert isinstance(result, HostDiff)
    kinds = {(c.kind, c.reference) for c in result.images}
    assert ("removed", "legacy-app:1") in kinds
    assert ("grown", "app-one:latest") in kinds  # fat-app:1 is larger than app-one:1
    assert ("retagged", "app-one:1") in kinds
    # The layers only legacy-app:1 used are the ones that disappeared.
    others = {c for i in after["inspect"] for c in chain(after["inspect"][i]["RootFS"]["Layers"])}
    own = [c for c in chain(recording["inspect"][gone]["RootFS"]["Layers"]) if c not in others]
    assert sorted(la.chain_id for la in result.removed_layers) == sorted(own)
    assert result.added_layers == ()
    assert result.size_change_bytes == -result.removed_bytes
    change = next(c for c in result.images if c.kind == "grown")
    sizes = {i["Id"]: i["Size"] for i in recording["ground_truth"]["system_df"]["Images"]}
    assert change.size_change_bytes == sizes[ids["fat-app:1"]] - sizes[ids["app-one:1"]]


def _content(*layers: list[FileEntry]) -> ImageContent:
    return ImageContent(
        config_digest="sha256:x",
        tags=(),
        diff_ids=tuple(f"sha256:{k}" for k in range(len(layers))),
        layers=tuple(
            LayerContent(f"sha256:{k}", sum(e.size_bytes for e in files), tuple(files))
            for k, files in enumerate(layers)
        ),
        layout="docker",
    )


def test_files_added_removed_and_changed() -> None:
    base = [
        FileEntry("etc", "dir"),
        FileEntry("etc/os-release", "file", 10),
        FileEntry("usr/share/doc/a.txt", "file", 500),
        FileEntry("usr/share/doc/b.txt", "file", 700),
        FileEntry("opt/keep", "file", 3),
        FileEntry("cache/x", "file", 40),
    ]
    old = _content(base, [FileEntry("app/app.sh", "file", 100), FileEntry("app/old.cfg", "file", 5)])
    new = _content(
        base,
        [
            FileEntry("app/app.sh", "file", 100),  # the same size, written again: changed
            FileEntry("app/big.bin", "file", 9000),
            FileEntry("usr/share/doc", "whiteout"),  # deletes both docs
            FileEntry("etc/os-release", "file", 12),
            FileEntry("cache", "opaque"),  # hides cache/x
            FileEntry("cache/y", "file", 1),
            FileEntry("link", "symlink", 4),
        ],
    )
    changes = diff_files(old, new, common_layers=1)
    got = {(c.path, c.change, c.old_bytes, c.new_bytes) for c in changes.changes}
    assert got == {
        ("app/big.bin", "added", None, 9000),
        ("usr/share/doc/a.txt", "removed", 500, None),
        ("usr/share/doc/b.txt", "removed", 700, None),
        ("etc/os-release", "changed", 10, 12),
        ("cache/x", "removed", 40, None),
        ("cache/y", "added", None, 1),
        ("link", "added", None, 4),
        ("app/app.sh", "changed", 100, 100),
        ("app/old.cfg", "removed", 5, None),
    }
    assert [c.path for c in changes.changes[:3]] == [
        "app/big.bin",
        "usr/share/doc/b.txt",
        "usr/share/doc/a.txt",
    ]
    assert changes.count("added") == 3 and changes.count("removed") == 4 and changes.count("changed") == 2
    assert diff_files(old, old, common_layers=2).changes == ()


def test_every_format_renders(recording: dict[str, Any]) -> None:
    index = index_of(recording)
    ids = image_ids(recording)
    image = diff_images(
        image_side(index, ids["app-one:1"], "app-one:1"), image_side(index, ids["app-plus:1"], "app-plus:1")
    )
    host_side = Side("r", RecordingSource(RECORDING), index, None).host()
    host = diff_hosts(host_side, host_side)
    assert set(DIFF_RENDERERS) == set(DiffFormat)
    for fmt in DiffFormat:
        for result in (image, host):
            text = render_diff(result, fmt)
            assert text.endswith("\n") and len(text) > 40
    document = json.loads(render_diff(image, DiffFormat.JSON))
    assert document["schema"] == DIFF_SCHEMA
    for key in ("old", "new", "size_change_bytes", "added_bytes", "removed_bytes", "common_layers",
                "added_layers", "removed_layers", "files", "notes"):  # fmt: skip
        assert key in document
    assert document["added_layers"][0].keys() >= {"chain_id", "diff_id", "size_bytes", "created_by"}
    markdown = render_diff(image, DiffFormat.MARKDOWN)
    assert markdown.startswith("### `app-plus:1` is +33kB (+1.4%) over `app-one:1`; layer 6 `")


layershare = cli


def test_cli_diffs_saved_files_and_refuses_bad_ones(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    out = layershare("report", "--recording", str(RECORDING), "-f", "json")
    report.write_text(out.stdout)
    same = layershare("diff", str(report), str(RECORDING), "-f", "json")
    assert same.returncode == 0, same.stderr
    document = json.loads(same.stdout)
    assert document["kind"] == "host" and document["size_change_bytes"] == 0 and document["images"] == []
    image = layershare("diff", "--recording", str(RECORDING), "app-one:1", "app-plus:1", "-f", "markdown")
    assert image.returncode == 0 and "over `app-one:1`" in image.stdout
    against_file = layershare("diff", "--recording", str(RECORDING), str(report), "app-plus:1")
    assert against_file.returncode == 0  # app-plus:1 against the report's app-plus:1: no change
    assert "+0B" in against_file.stdout.splitlines()[0]
    (tmp_path / "other.json").write_text('{"schema": "something/v1"}')
    (tmp_path / "broken.json").write_text('{"schema": "layershare.report/v1", "images": [{"id": "x"}]}')
    (tmp_path / "junk.tar").write_bytes(b"not an archive at all" * 40)
    for bad, code in (("other.json", 7), ("broken.json", 7), ("junk.tar", 7)):
        result = layershare("diff", str(tmp_path / bad), str(report))
        assert result.returncode == code, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    missing = layershare("diff", "--recording", str(RECORDING), "app-one:1", "no-such:9")
    assert missing.returncode == 6 and missing.stderr.count("\n") == 1
    files = layershare("diff", str(report), str(RECORDING), "--files")
    assert files.returncode == 2 and "two images" in files.stderr


@pytest.mark.parametrize("argument", ["app-one:1", "app-one"])
def test_an_image_against_a_host_takes_the_same_repository(argument: str, tmp_path: Path) -> None:
    recording = json.loads(RECORDING.read_text())
    index = index_of(recording)
    sides = Sides(SourceChoice(recording=str(RECORDING)), lambda c: RecordingSource(RECORDING))
    report = tmp_path / "report.json"
    report.write_text(render_report_json(build_report(index)))
    result = compare(sides.side(str(report)), sides.side(argument))
    assert isinstance(result, ImageDiff)
    assert result.old.image_id == result.new.image_id
    assert result.size_change_bytes == 0


def test_saved_disks_compare_by_category_and_bad_ones_are_refused(tmp_path: Path) -> None:
    def disk(containers: int, logs: int, items: list[dict[str, Any]]) -> dict[str, Any]:
        rows = {"images": 1000, "containers": containers, "logs": logs}
        return {
            "schema": "layershare.disk/v1",
            "collected_at": "t",
            "engine": {"host": "unix:///x.sock", "version": "20.10", "image_store": "graphdriver"},
            "on_disk_bytes": 4096 + containers + logs,
            "categories": [{"category": k, "bytes": v, "disk_bytes": v} for k, v in rows.items()],
            "containers": items,
        }

    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(
        json.dumps(disk(100, 10, [{"id": "a" * 64, "name": "web", "size_rw_bytes": 100, "log_bytes": 10}]))
    )
    new.write_text(
        json.dumps(disk(700, 50, [{"id": "a" * 64, "name": "web", "size_rw_bytes": 700, "log_bytes": 50}]))
    )
    result = layershare("diff", str(old), str(new), "-f", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["kind"] == "disk" and document["size_change_bytes"] == 640
    assert {c["category"]: c["bytes_change"] for c in document["categories"]} == {
        "images": 0,
        "containers": 600,
        "logs": 40,
    }
    assert document["added_bytes"] == 640 and document["removed_bytes"] == 0
    assert [(i["name"], i["change"], i["size_change_bytes"]) for i in document["items"]] == [
        ("web", "grown", 640)
    ]
    (tmp_path / "broken.json").write_text('{"schema": "layershare.disk/v1", "engine": {}}')
    broken = layershare("diff", str(old), str(tmp_path / "broken.json"))
    assert broken.returncode == 7 and "malformed" in broken.stderr and broken.stderr.count("\n") == 1
    mixed = layershare("diff", str(old), str(RECORDING))
    assert mixed.returncode == 2 and "another one" in mixed.stderr
