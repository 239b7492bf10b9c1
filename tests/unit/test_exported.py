"""The docker group's view of the containerd store: blob lengths from an export archive, step snapshots
from the image list, and the range ``free`` gives where BuildKit's cache leaves the drop open (the
engine tests hold all of it against real engines as uid 65534)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import replace
from typing import Any

import pytest

from layershare.browse.marks import Marks
from layershare.errors import ArchiveError
from layershare.formats import FreeFormat
from layershare.free.selection import Selection
from layershare.free.whatif import free
from layershare.model import BuildRecord, EngineImage, EngineInfo, EngineState, StoredUnit
from layershare.render.free import render_free
from layershare.sources.engine.content import agrees, archive_blobs, manifest_content, walk
from layershare.sources.recording.exported import chain_usage, step_snapshots, store_from_export


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """An OCI layout archive built member by member, as ``GET /images/get`` streams one."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def blob(self, data: bytes) -> str:
        self.blobs[digest(data)] = data
        return digest(data)

    def document(self, doc: dict[str, Any]) -> str:
        return self.blob(json.dumps(doc).encode())

    def manifest(self, config: bytes, layers: list[bytes]) -> str:
        return self.document(
            {
                "schemaVersion": 2,
                "config": {"digest": self.blob(config), "size": len(config)},
                "layers": [{"digest": self.blob(data), "size": len(data)} for data in layers],
            }
        )

    def archive(self, targets: list[str], leave_out: tuple[str, ...] = ()) -> io.BytesIO:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            members = {f"blobs/sha256/{d[7:]}": b for d, b in self.blobs.items() if d not in leave_out}
            members["index.json"] = json.dumps({"manifests": [{"digest": t} for t in targets]}).encode()
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out.seek(0)
        return out


def test_an_export_gives_each_blob_its_length_and_an_index_only_its_present_manifests() -> None:
    layout = Layout()
    shared, own, other = b"s" * 5000, b"o" * 700, b"x" * 300
    amd64 = layout.manifest(b'{"os":"linux"}', [shared, own])
    arm64 = layout.manifest(b'{"os":"linux","arch":"arm64"}', [shared, other])
    index = layout.document(
        {
            "manifests": [
                {"digest": amd64, "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": arm64, "platform": {"os": "linux", "architecture": "arm64"}},
            ]
        }
    )
    single = layout.manifest(b'{"single":1}', [shared])
    # arm64 was never pulled: neither its manifest nor its own layer is in the export.
    lengths, documents, targets = archive_blobs(
        layout.archive([index, single], leave_out=(arm64, digest(other)))
    )
    assert targets == [index, single]
    assert all(lengths[d] == len(layout.blobs[d]) for d in lengths)
    entry = walk(index, lengths, documents)
    assert entry is not None
    assert entry["manifests"] == [amd64] and entry["platforms"] == ["linux/amd64"]
    assert entry["layer_blobs"] == [digest(shared), digest(own)]
    kinds = {d: kind for d, (_, kind) in entry["blobs"].items()}
    assert kinds == {
        index: "index",
        amd64: "manifest",
        digest(b'{"os":"linux"}'): "config",
        digest(shared): "layer",
        digest(own): "layer",
    }
    content = len(layout.blobs[amd64]) + len(b'{"os":"linux"}') + 5000 + 700
    assert manifest_content(entry, amd64) == content
    listed = {"Manifests": [{"ID": amd64, "Available": True, "Size": {"Content": content}}]}
    assert agrees(entry, listed)
    assert not agrees(
        entry, {"Manifests": [{"ID": amd64, "Available": True, "Size": {"Content": content + 1}}]}
    )
    pulled_since = {"Manifests": [*listed["Manifests"], {"ID": arm64, "Available": True, "Size": {}}]}
    assert not agrees(entry, pulled_since)  # arm64 pulled since: the export is read again
    one = walk(single, lengths, documents)
    assert one is not None and one["manifests"] == [single] and len(one["blobs"]) == 3
    assert walk(digest(b"never exported"), lengths, documents) is None


@pytest.mark.parametrize("data", [b"not a tar at all" * 100, b""])
def test_a_broken_export_is_an_archive_error(data: bytes) -> None:
    layout = Layout()
    good = layout.archive([layout.manifest(b"{}", [b"a" * 2000])]).getvalue()
    with pytest.raises(ArchiveError):
        archive_blobs(io.BytesIO(data or good[: len(good) // 2 + 100]))


def test_step_snapshots_come_from_each_image_size_less_its_layers() -> None:
    """``app`` and ``app2`` stand on ``base``; the classic builder's steps weigh Size.Total less
    Size.Content less the layers' snapshots, split at the tops the images end at."""
    layers = {"c1": 1000, "c2": 200, "c3": 30}

    def listed(total: int, content: int) -> dict[str, Any]:
        return {"Manifests": [{"Size": {"Total": total, "Content": content}}]}

    chains = {"base": ("c1",), "app": ("c1", "c2"), "app2": ("c1", "c3")}
    summaries = {
        "base": listed(1000 + 40 + 9, 9),
        "app": listed(1240 + 7 + 99, 99),
        "app2": listed(1070 + 5, 5),
    }
    units, weights, notes = step_snapshots(chains, layers, summaries)
    assert weights == {"steps below c1": 40, "steps below c2": 7}
    assert units == {
        "base": ["steps below c1"],
        "app": ["steps below c1", "steps below c2"],
        "app2": ["steps below c1"],
    }
    assert notes == []
    _, _, notes = step_snapshots({"x": ("c1",)}, layers, {"x": listed(900, 0)})  # below its layer: not so
    assert any("does not add up" in n for n in notes)
    # No image ends at c1, where p and q branch: the steps below it cannot be told apart.
    branching = {"p": ("c1", "c2"), "q": ("c1", "c3")}
    _, _, notes = step_snapshots(branching, layers, {"p": listed(1250, 0), "q": listed(1080, 0)})
    assert any("cannot be told apart" in n for n in notes)
    assert (
        chain_usage(
            {"Manifests": [{"Size": {"Total": 9, "Content": 4}}, {"Size": {"Total": 3, "Content": 3}}]}
        )
        == 5
    )
    assert (
        chain_usage(
            {"Manifests": [{"Size": {"Total": 9, "Content": 4}}, {"Size": {"Total": 4, "Content": 3}}]}
        )
        is None
    )


def test_the_store_from_an_export_counts_each_blob_once_at_its_length() -> None:
    exported = {
        "a": {"blobs": {"m1": [10, "manifest"], "l1": [500, "layer"]}, "layer_blobs": ["l1"]},
        "b": {"blobs": {"m2": [11, "manifest"], "l1": [500, "layer"]}, "layer_blobs": ["l1"]},
    }
    store, notes = store_from_export(exported, {"a": ("c1",), "b": ("c1",), "gone": ("c1",)}, {"c1": 80}, {})
    assert store["exported"] and store["snapshot_bytes"] == {"c1": 80}
    assert {d: b["bytes"] for d, b in store["blobs"].items()} == {"m1": 10, "l1": 500, "m2": 11}
    assert any("1 image(s) were not in the engine's export" in n for n in notes)


def buildkit_state(shared: int = 900) -> EngineState:
    """``bk`` (BuildKit built it) and ``plain``, each on its own 100-byte snapshot; one shared record."""
    units = {
        k: StoredUnit(k, "snapshot", 100, None, counted_with_images=True)
        for k in ("snapshot:bk", "snapshot:plain")
    }
    units["build:r"] = StoredUnit("build:r", "build_cache", 0, None)
    images = (
        EngineImage("sha256:bk", ("bk:1",), 0.0, holds=("snapshot:bk",)),
        EngineImage("sha256:plain", ("plain:1",), 0.0, holds=("snapshot:plain",)),
    )
    records = (BuildRecord("r", "regular", shared, True, False, holds=("build:r",)),)
    engine = EngineInfo(
        host="unix:///x",
        version="29.7.2",
        api_version="1.52",
        image_store="containerd",
        storage_driver="overlayfs",
    )  # type: ignore[arg-type]
    return EngineState(
        engine, images, (), (), records, units, api_version="1.52", uncertain={"image:sha256:bk": (shared, 0)}
    )


def test_free_gives_a_range_where_buildkit_s_cache_leaves_the_drop_open() -> None:
    state = buildkit_state()
    both = free(state, Selection(references=("bk:1", "plain:1")))
    assert both.freed_bytes == 200 and not both.freed_exact
    assert (both.freed_min_bytes, both.freed_max_bytes) == (200 - 900, 200)
    assert any("estimate" in n and f"{200 - 900:,}" in n for n in both.notes)
    doc = json.loads(render_free(both, FreeFormat.JSON))
    assert (doc["freed_bytes_exact"], doc["freed_min_bytes"], doc["freed_max_bytes"]) == (False, -700, 200)
    assert "between" in render_free(both, FreeFormat.TABLE)
    plain = free(state, Selection(references=("plain:1",)))
    assert plain.freed_exact and (plain.freed_min_bytes, plain.freed_max_bytes) == (100, 100)
    assert json.loads(render_free(plain, FreeFormat.JSON))["freed_bytes_exact"] is True


def test_browse_says_when_the_marked_total_is_an_estimate() -> None:
    marks = Marks(buildkit_state())
    marks.toggle("image:sha256:plain")
    assert marks.status().freed_bytes == 100 and "estimate" not in marks.status().text()
    marks.toggle("image:sha256:bk")
    assert marks.status().freed_bytes == 200 and "an estimate" in marks.status().text()


def test_a_snapshot_buildkit_may_keep_makes_an_estimate_only_when_it_leaves() -> None:
    """Before 29.6 a snapshot of an image BuildKit built may stay counted (a record keeps it): removing
    another image standing on it, which leaves it in place, stays exact in free and in browse."""
    state = buildkit_state(shared=0)
    units = dict(state.units)
    units["snapshot:base"] = StoredUnit("snapshot:base", "snapshot", 50, None, counted_with_images=True)
    images = tuple(replace(i, holds=(*i.holds, "snapshot:base")) for i in state.images)
    state = replace(state, units=units, images=images, uncertain={"snapshot:base": (50, 0)})
    plain = free(state, Selection(references=("plain:1",)))
    assert plain.freed_bytes == 100 and plain.freed_exact
    both = free(state, Selection(references=("plain:1", "bk:1")))
    assert both.freed_bytes == 250 and (both.freed_min_bytes, both.freed_max_bytes) == (200, 250)
    marks = Marks(state)
    marks.toggle("image:sha256:plain")
    assert not marks.status().estimated
    marks.toggle("image:sha256:bk")
    assert marks.status().estimated and marks.status().freed_bytes == both.freed_bytes
    marks.toggle("image:sha256:bk")
    assert not marks.status().estimated
