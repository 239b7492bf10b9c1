"""A host that switched image stores (Engine 29.7.2): it ran overlay2, held images, then turned on
``"containerd-snapshotter": true``. ``docker image ls`` no longer shows the old images, yet their layers
stay on disk: ``layershare disk`` names that store (``inactive_store``), lists its images from the store's
own metadata, and leaves nothing of it unaccounted.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import cli, system_df
from free_state import build, random_file
from support import private_engine

pytestmark = pytest.mark.engine


def du(*paths: Path) -> int:
    out = subprocess.run(
        ["du", "-sxc", "--block-size=1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.splitlines()[-1].split()[0])


@pytest.fixture(scope="module")
def switched() -> Iterator[Any]:
    from corpus import busybox_rootfs

    with private_engine("29.7-overlay2", corpus=False) as engine:
        engine.docker("import", "-", "legacy/app:1", input_bytes=busybox_rootfs({"etc/legacy": b"1\n"}))
        engine.docker("tag", "legacy/app:1", "legacy/app:latest")
        build(engine, "legacy/tool:2", "FROM legacy/app:1\n" + random_file("/tool.bin", 300))
        listed = engine.docker(
            "image", "ls", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"
        )
        engine.before = {}
        for line in listed.splitlines():
            image_id, tag = line.split()
            engine.before.setdefault(image_id, set()).update([] if "<none>" in tag else [tag])
        engine.layers_before = system_df(engine)["LayersSize"]
        engine.halt()
        (Path(engine.folder) / "daemon.json").write_text(
            json.dumps({"features": {"containerd-snapshotter": True}})
        )
        engine.resume()
        engine.containerd = True
        engine.docker("import", "-", "new/app:1", input_bytes=busybox_rootfs({"etc/new": b"2\n"}))
        yield engine


def test_the_old_store_is_named_with_its_images(switched: Any) -> None:
    assert "legacy/app" not in switched.docker("image", "ls")  # the engine no longer shows them
    result = cli(switched, "disk", "-f", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    root = Path(switched.data_root)
    categories = {c["category"]: c for c in doc["categories"]}
    inactive = categories["inactive_store"]
    assert inactive["disk_bytes"] == du(root / "overlay2", root / "image" / "overlay2")
    assert inactive["bytes"] == switched.layers_before  # what LayersSize counted before the switch
    assert inactive["reclaimable_bytes"] == 0
    assert categories["unaccounted"]["disk_bytes"] <= 0.01 * doc["on_disk_bytes"]
    assert sum(c["disk_bytes"] for c in categories.values()) == doc["on_disk_bytes"] == du(root)
    assert categories["images"]["bytes"] == system_df(switched)["LayersSize"]
    [store] = doc["inactive_stores"]
    assert (store["store"], store["path"], store["disk_bytes"]) == (
        "overlay2",
        "overlay2",
        inactive["disk_bytes"],
    )
    assert {i["id"]: set(i["tags"]) for i in store["images"]} == switched.before
    tool = next(i for i in store["images"] if "legacy/tool:2" in i["tags"])
    assert tool["bytes"] > 300_000


def test_the_table_says_what_it_is_and_what_to_do(switched: Any) -> None:
    result = cli(switched, "disk")
    assert result.returncode == 0, result.stderr
    assert "inactive image store" in result.stdout and "Inactive image store: overlay2" in result.stdout
    assert "legacy/tool:2" in result.stdout
    assert '"containerd-snapshotter": false' in result.stdout and "docker image save" in result.stdout


@pytest.fixture(scope="module")
def switched_back() -> Iterator[Any]:
    """The other way: the containerd store first, then back to overlay2."""
    from corpus import busybox_rootfs

    with private_engine("29.7-containerd", corpus=False) as engine:
        engine.docker("import", "-", "old/one:1", input_bytes=busybox_rootfs({"etc/one": b"1\n"}))
        engine.docker("import", "-", "old/two:1", input_bytes=busybox_rootfs({"etc/two": b"2" * 200_000}))
        engine.docker("tag", "old/two:1", "old/two:latest")
        listed = engine.docker("image", "ls", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
        engine.before = {}
        for line in listed.splitlines():
            image_id, tag = line.split()
            engine.before.setdefault(image_id, set()).add(tag)
        engine.layers_before = system_df(engine)["LayersSize"]
        engine.halt()
        (Path(engine.folder) / "daemon.json").write_text(
            json.dumps({"features": {"containerd-snapshotter": False}})
        )
        engine.resume()
        engine.containerd = False
        engine.docker("import", "-", "new/app:1", input_bytes=busybox_rootfs({"etc/new": b"3\n"}))
        yield engine


def test_a_containerd_store_left_behind_is_named_too(switched_back: Any) -> None:
    assert "old/one" not in switched_back.docker("image", "ls")
    result = cli(switched_back, "disk", "-f", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    root = Path(switched_back.data_root)
    store_root = root / "containerd" / "daemon"
    categories = {c["category"]: c for c in doc["categories"]}
    inactive = categories["inactive_store"]
    assert inactive["disk_bytes"] == du(
        store_root / "io.containerd.content.v1.content", store_root / "io.containerd.snapshotter.v1.overlayfs"
    )
    assert inactive["bytes"] == switched_back.layers_before  # LayersSize of the containerd store, on 29.7
    assert categories["unaccounted"]["disk_bytes"] <= 0.01 * doc["on_disk_bytes"]
    assert sum(c["disk_bytes"] for c in categories.values()) == doc["on_disk_bytes"] == du(root)
    assert categories["images"]["bytes"] == system_df(switched_back)["LayersSize"]
    [store] = doc["inactive_stores"]
    assert (store["store"], store["path"]) == ("containerd", "containerd/daemon")
    assert {i["id"]: set(i["tags"]) for i in store["images"]} == switched_back.before
    table = cli(switched_back, "disk").stdout
    assert "Inactive image store: containerd" in table and '"containerd-snapshotter": true' in table
