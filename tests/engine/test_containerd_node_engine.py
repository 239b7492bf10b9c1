"""containerd without dockerd, as on a Kubernetes node: a private Debian containerd (CRI plugin off)
holding images imported with its own ``ctr`` from ``docker save`` archives of the 20.10 engine, in the
kubelet's namespace ``k8s.io`` and some again in Docker's ``moby``.

Ground truth comes from outside layershare: ``ctr images ls`` for what each namespace holds, the
Docker engine's ``docker image inspect`` for each image's layers, ``du`` and ``stat`` for the disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import cli, run_unprivileged
from support import ENGINE_29, Ran, need, run_async
from support import cli as in_process

pytestmark = pytest.mark.engine

K8S = ("app-one:1", "app-two:1", "app-plus:1", "runtime:3", "distro-a:1", "fat-app:1", "waste-base:1")
MOBY_AGAIN = ("app-one:1",)  # every layer already unpacked in k8s.io: its moby snapshots are second copies
MOBY_ONLY = ("distro-b:1",)


def du(*paths: Path) -> int:
    """What ``du`` counts, in bytes (blocks, hard links once), for these folders together."""
    out = subprocess.run(
        ["du", "-s", "-c", "--block-size=1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.splitlines()[-1].split()[0])


def chains(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


class Node:
    """The private containerd and what was measured while loading it."""

    def __init__(self, containerd: Any, engine: Any, measured: dict[str, int]) -> None:
        self.containerd = containerd
        self.engine = engine
        self.measured = measured
        self.blobs_before: set[str] = set()
        self.archives = Path()  # the docker save files the namespaces were loaded from

    @property
    def root(self) -> Path:
        return Path(self.containerd.root)

    @property
    def blobs(self) -> Path:
        return self.root / "io.containerd.content.v1.content" / "blobs"

    @property
    def snapshots(self) -> Path:
        return self.root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots"

    def layershare(self, *args: str) -> Ran:
        return in_process(*args, "--containerd-root", str(self.root))

    def report(self, *args: str) -> dict[str, Any]:
        done = self.layershare("report", "-f", "json", *args)
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def listed(self, namespace: str) -> dict[str, str]:
        """``ctr -n NAMESPACE images ls``: reference -> the digest it points at."""
        lines = self.containerd.ctr(namespace, "images", "ls").splitlines()[1:]
        return {line.split()[0]: line.split()[2] for line in lines if line.strip()}


@pytest.fixture(scope="module", params=["containerd-1.6", "containerd-2.1"])
def node(
    engine: Any, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Node]:
    """A node's containerd: Debian's 1.6, or the 2.1.9 of Engine 29.7.2's static bundle."""
    from devengine import start_private_containerd

    binaries = ENGINE_29.parent if request.param == "containerd-2.1" else None
    if binaries is None:
        need(shutil.which("containerd") is not None and shutil.which("ctr") is not None,
             "these tests need Debian's containerd (apt-get install containerd)")  # fmt: skip
    else:
        need(ENGINE_29.exists(), "containerd 2.1 comes with Engine 29.7.2's bundle (run .ci/engine-29.7)")
    archives = tmp_path_factory.mktemp("archives")
    for name, images in (("k8s", K8S), ("again", MOBY_AGAIN), ("only", MOBY_ONLY)):
        engine.docker("save", "-o", str(archives / f"{name}.tar"), *images)
    containerd = start_private_containerd(binaries=binaries)
    try:
        box = Node(containerd, engine, {})
        containerd.import_archive("k8s.io", archives / "k8s.tar")
        # A container the kubelet made (not started): its writable snapshot is the store's, no image's.
        containerd.ctr("k8s.io", "containers", "create", "docker.io/library/app-two:1", "web-1")
        box.blobs_before = {p.name for p in (box.blobs / "sha256").iterdir()}
        box.measured["snapshots_before"] = du(box.snapshots)
        containerd.import_archive("moby", archives / "again.tar")
        box.measured["snapshots_after"] = du(box.snapshots)
        containerd.import_archive("moby", archives / "only.tar")
        box.archives = archives
        yield box
    finally:
        containerd.stop()


def test_the_kubelet_namespace_is_the_default_and_chains_are_dockers(node: Node) -> None:
    report = node.report()
    assert report["engine"]["namespaces"] == ["k8s.io"]
    listed = node.listed("k8s.io")
    assert {i["id"] for i in report["images"]} == set(listed.values())
    assert sorted(t for i in report["images"] for t in i["tags"]) == sorted(
        ref.removeprefix("docker.io/library/") for ref in listed
    )
    for image in report["images"]:
        inspect = json.loads(node.engine.docker("image", "inspect", image["tags"][0]))[0]
        assert image["chain_ids"] == chains(inspect["RootFS"]["Layers"])
        # an image's size: its layers' snapshots and its blobs, as if it stood alone
        assert image["size_bytes"] == image["stored_bytes"]
        assert image["size_bytes"] == image["shared_bytes"] + image["unique_bytes"]
    by_tag = {t: i for i in report["images"] for t in i["tags"]}
    # app-one:1 is in moby too, which uses the same blobs: removing k8s.io's copy frees none of them
    # (and app-plus:1 stands on all its snapshots). fat-app:1 is k8s.io's alone.
    assert by_tag["app-one:1"]["unique_bytes"] == 0 and by_tag["app-one:1"]["blob_bytes"] > 2_000_000
    assert by_tag["fat-app:1"]["unique_bytes"] == by_tag["fat-app:1"]["size_bytes"] > 9_000_000
    containers = {t: i["containers"] for i in report["images"] for t in i["tags"]}
    assert containers["app-two:1"] == 1 and sum(containers.values()) == 1


def test_sizes_add_up_to_the_disk_and_duplicates_are_the_second_namespace(node: Node) -> None:
    # Content blobs are stored once across namespaces: the blobs Docker's copy of app-one uses (its
    # manifest, config and layers, as its manifest names them) were all there before it was imported
    # into moby; the snapshots it unpacked again are all second copies. (ctr also keeps the archive's
    # own legacy files as blobs no image uses: the store's leftovers, in other_bytes.)
    manifest_digest = node.listed("moby")["docker.io/library/app-one:1"]
    manifest = json.loads((node.blobs / "sha256" / manifest_digest.removeprefix("sha256:")).read_bytes())
    used = [manifest_digest, manifest["config"]["digest"], *(la["digest"] for la in manifest["layers"])]
    assert {d.removeprefix("sha256:") for d in used} <= node.blobs_before
    second_copies = node.measured["snapshots_after"] - node.measured["snapshots_before"]
    assert second_copies > 2_000_000
    report = node.report("--namespace", "all")
    totals = report["totals"]
    assert report["engine"]["namespaces"] == ["k8s.io", "moby"]
    assert totals["duplicate_bytes"] == second_copies
    on_disk = du(node.blobs, node.snapshots)
    print(f"du {on_disk}, physical {totals['physical_bytes']}, other {totals['other_bytes']}")
    assert abs(totals["physical_bytes"] + totals["other_bytes"] - on_disk) <= 0.02 * on_disk
    assert 0 < totals["other_bytes"] < 0.02 * on_disk  # the container's writable snapshot
    # Physical: every blob and snapshot once; each image's bytes are its unique ones or shared ones.
    layer_bytes = sum(la["size_bytes"] for la in report["layers"])
    assert totals["physical_bytes"] == layer_bytes + totals["blob_bytes"]
    moby_again = next(i for i in report["images"] if i["id"].startswith("moby/") and "app-one:1" in i["tags"])
    # Removing Docker's copy of app-one frees its snapshots only: its blobs stay for k8s.io's copy.
    assert moby_again["unique_bytes"] == second_copies
    assert moby_again["shared_bytes"] == moby_again["blob_bytes"]
    assert len(report["images"]) == len(node.listed("k8s.io")) + len(node.listed("moby"))
    shown = node.layershare("report", "--namespace", "all")
    assert "Layers unpacked again in another namespace" in shown.stdout


def test_history_and_check_read_the_node(node: Node) -> None:
    history = node.layershare("history", "app-plus:1", "-f", "json")
    assert history.returncode == 0, history.stderr
    layers = json.loads(history.stdout)["layers"]
    inspect = json.loads(node.engine.docker("image", "inspect", "app-plus:1"))[0]
    assert [la["chain_id"] for la in layers] == chains(inspect["RootFS"]["Layers"])
    assert "BUILD_SECRET=***" in json.dumps(layers)  # build args masked as everywhere
    check = node.layershare("check", "--rule", "max-unique-size=5MB", "-f", "json")
    assert check.returncode == 1, check.stderr
    results = json.loads(check.stdout)["results"]
    failed = [r["image"] for r in results if r["status"] == "fail"]
    assert failed == ["fat-app:1"]  # its snapshot and blob, each about 5MB, are its own


def test_layer_contents_stream_from_the_nodes_blobs(node: Node) -> None:
    """Waste rules and file diffs read each layer's blob from the content store: the same answers as
    from the Docker engine's own image export of the same images."""

    def wasted(results: list[dict[str, Any]]) -> dict[str, Any]:
        return {r["image"]: r["value"] for r in results if r["rule"] == "max-wasted-bytes"}

    on_node = node.layershare("check", "waste-base:1", "app-two:1", "-f", "json")
    on_engine = cli(node.engine, "check", "waste-base:1", "app-two:1", "-f", "json")
    assert on_node.returncode in (0, 1) and on_engine.returncode in (0, 1), on_node.stderr + on_engine.stderr
    by_node, by_engine = (
        wasted(json.loads(on_node.stdout)["results"]),
        wasted(json.loads(on_engine.stdout)["results"]),
    )
    assert by_node == by_engine and by_node["waste-base:1"] > 0
    diff = node.layershare("diff", "app-one:1", "app-plus:1", "--files", "-f", "json")
    assert diff.returncode == 0, diff.stderr
    files = json.loads(diff.stdout)["files"]
    assert [(f["path"], f["change"], f["size_change_bytes"]) for f in files] == [
        ("app/plugin.bin", "added", 33_000)
    ]


def test_exports_of_engines_and_a_node_add_up(node: Node, engine26: Any, tmp_path: Path) -> None:
    """Engine 20.10 (overlay2), Engine 26.1 (containerd store) and the node export into one folder."""
    folder = tmp_path / "fleet"
    done = node.layershare("export", "--namespace", "all", "--to", str(folder), "--host-name", "node-1")
    assert done.returncode == 0, done.stderr
    for name, private in (("builder", node.engine), ("desktop", engine26)):
        done = cli(private, "export", "--to", str(folder), "--host-name", name)
        assert done.returncode == 0, done.stderr
    reports = {
        "node-1": node.report("--namespace", "all"),
        "builder": json.loads(cli(node.engine, "report", "-f", "json").stdout),
        "desktop": json.loads(cli(engine26, "report", "-f", "json").stdout),
    }
    result = cli(node.engine, "fleet", str(folder), "-f", "json")
    assert result.returncode == 0, result.stderr
    fleet = json.loads(result.stdout)
    for key in ("physical_bytes", "logical_bytes"):
        assert fleet["totals"][key] == sum(r["totals"][key] for r in reports.values())
    stored: dict[str, set[str]] = {}
    for host, report in reports.items():
        for layer in report["layers"]:
            stored.setdefault(
                layer["chain_id"].split("/", 1)[-1] if "/sha256:" in layer["chain_id"] else layer["chain_id"],
                set(),
            ).add(host)
    assert {la["chain_id"]: la["hosts"] for la in fleet["layers"]} == {c: len(h) for c, h in stored.items()}
    assert any(len(h) == 3 for h in stored.values())  # the same layers on both engines and the node
    assert fleet["totals"]["hosts"] == 3
    # host_layer.disk_bytes: the layer's blob (its file, as du counts it) and each namespace's snapshot
    import pyarrow.parquet as pq

    blob_of: dict[str, int] = {}
    for namespace in ("k8s.io", "moby"):
        for digest in node.listed(namespace).values():
            manifest = json.loads((node.blobs / "sha256" / digest.removeprefix("sha256:")).read_bytes())
            config = json.loads((node.blobs / "sha256" / manifest["config"]["digest"][7:]).read_bytes())
            for chain_id, layer in zip(chains(config["rootfs"]["diff_ids"]), manifest["layers"], strict=True):
                blob_of[chain_id] = os.stat(node.blobs / "sha256" / layer["digest"][7:]).st_blocks * 512
    rows = pq.read_table(folder / "host_layer" / "node-1.parquet").to_pylist()
    assert {r["chain_id"] for r in rows} == set(blob_of)
    for row in rows:
        assert row["disk_bytes"] == blob_of[row["chain_id"]] + row["bytes"] * row["copies"], row
    assert sum(r["copies"] - 1 for r in rows) == 6  # app-one's six layers, unpacked again in moby
    assert fleet["duplication"] == [
        {
            "host": "node-1",
            "duplicate_bytes": reports["node-1"]["totals"]["duplicate_bytes"],
            "layers": 6,
            "physical_bytes": reports["node-1"]["totals"]["physical_bytes"],
        }
    ]


def test_what_the_node_source_refuses(node: Node, tmp_path: Path) -> None:
    def one_line(done: Ran | subprocess.CompletedProcess[str], code: int) -> str:
        assert done.returncode == code, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        return done.stderr

    assert "--containerd-root" in one_line(node.layershare("free", "app-one:1"), 2)
    assert "no namespace 'nosuch'" in one_line(node.layershare("report", "--namespace", "nosuch"), 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "layershare", "report", "--containerd-root", str(empty)],
        capture_output=True,
        text=True,
    )
    assert "not a containerd root" in one_line(done, 7)
    # As a user who may read containerd's metadata (mode 711 folders, as containerd makes them) but
    # not its snapshots: permission denied and exit 4, not a report of layers that seem not unpacked.
    folder = node.root.parent
    os.chmod(folder, 0o711)
    os.chmod(node.root, 0o711)
    try:
        done = run_unprivileged(None, ["report", "--containerd-root", str(node.root)])
    finally:
        os.chmod(node.root, 0o700)
        os.chmod(folder, 0o700)
    assert "permission denied" in one_line(done, 4)


def test_disk_attributes_every_byte_of_the_root(node: Node) -> None:
    """``disk --containerd-root``: one walk of the whole root; its categories add up to ``du`` of it."""
    done = node.layershare("disk", "--namespace", "all", "-f", "json")
    assert done.returncode == 0, done.stderr
    every = json.loads(done.stdout)
    on_disk = du(node.root)
    assert every["on_disk_bytes"] == on_disk
    categories = {c["category"]: c for c in every["categories"]}
    assert sum(c["disk_bytes"] for c in categories.values()) == on_disk
    assert categories["images"]["bytes"] == node.report("--namespace", "all")["totals"]["physical_bytes"]
    assert categories["unaccounted"]["disk_bytes"] == 0  # every namespace read
    assert all(c["reclaimable_bytes"] is None for c in categories.values())  # no prune rules on a node
    [web] = every["containers"]
    assert (web["name"], web["image"]) == ("web-1", "app-two:1")
    assert categories["containers"]["disk_bytes"] > 0  # its writable snapshot's folders
    assert categories["other_namespaces"]["disk_bytes"] == 0
    # The kubelet's namespace alone: Docker's snapshots (and the blobs only it records) are the other
    # namespaces' category, not unaccounted, and the total is still the root's.
    k8s = json.loads(node.layershare("disk", "-f", "json").stdout)
    assert k8s["on_disk_bytes"] == on_disk
    by_category = {c["category"]: c for c in k8s["categories"]}
    assert by_category["unaccounted"]["disk_bytes"] == 0
    others = by_category["other_namespaces"]["disk_bytes"]
    assert others >= node.measured["snapshots_after"] - node.measured["snapshots_before"]
    assert "other containerd namespaces" in node.layershare("disk").stdout
    table = node.layershare("disk")
    assert table.returncode == 0 and "RECLAIMABLE is not said for containerd" in table.stdout


def test_browse_on_the_node_says_what_the_marked_images_alone_hold(node: Node) -> None:
    """No dockerd, so no removal rules: the status line is the bytes only the marked images hold, labelled
    so; for one image that is the report's unique bytes (its snapshots and blobs no other image uses)."""
    import re

    from layershare.browse.app import BrowseApp
    from layershare.browse.session import loaders
    from layershare.sources.choice import SourceChoice

    async def run() -> str:
        app = BrowseApp(loaders(SourceChoice(containerd_root=str(node.root)), None), view="images")
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.loaded:
                await pilot.pause(0.05)
            await pilot.press("slash", *"fat-app:1", "enter", "A")
            await pilot.pause()
            status = str(app.query_one("#status").render())
            await pilot.press("q")
        assert app.plan == []  # nothing to remove with on a node
        return status

    status = run_async(run())
    found = re.search(r"Marked 1 · the marked images alone hold \S+ \(([\d,]+) B\)", status)
    assert found, status
    report = {i["tags"][0]: i for i in node.report()["images"] if i["tags"]}
    unique = report["docker.io/library/fat-app:1"]["unique_bytes"] if "docker.io/library/fat-app:1" in report \
        else report["fat-app:1"]["unique_bytes"]  # fmt: skip
    assert int(found.group(1).replace(",", "")) == unique > 4_000_000


def test_browse_on_the_node_shows_each_layer_as_its_snapshot_and_its_blob(node: Node) -> None:
    """An image's layers on a node: one row per layer of its chain, its unpacked snapshot and the blob its
    manifest lists (``ctr content get``) as one row, the instruction from the image's history; the rows
    add up to what the image holds (the report's stored bytes)."""
    from layershare.browse.session import loaders
    from layershare.sources.choice import SourceChoice

    view = loaders(SourceChoice(containerd_root=str(node.root)), None)[0]()
    digest = node.listed("k8s.io")["docker.io/library/fat-app:1"]
    rows = sorted(view.tree.layers_of(digest), key=lambda n: n.order)
    layers = [r for r in rows if r.kind == "layer"]
    manifest = json.loads(node.containerd.ctr("k8s.io", "content", "get", digest))
    while "manifests" in manifest:  # an index: this machine's platform
        amd64 = next(m for m in manifest["manifests"] if m.get("platform", {}).get("architecture") == "amd64")
        manifest = json.loads(node.containerd.ctr("k8s.io", "content", "get", amd64["digest"]))
    inspect = json.loads(node.engine.docker("image", "inspect", "fat-app:1"))[0]
    expected = chains(inspect["RootFS"]["Layers"])
    assert len(layers) == len(expected) and all(
        r.key.endswith(c) for r, c in zip(layers, expected, strict=True)
    )
    # A node has no engine to count: its blobs weigh what they take on disk, as du says (the report's).
    on_disk = [du(node.blobs / "sha256" / la["digest"].removeprefix("sha256:")) for la in manifest["layers"]]
    assert [dict(r.parts)["blob"] for r in layers] == on_disk
    assert all(dict(r.parts)["unpacked"] > 0 for r in layers)
    history = node.engine.docker("history", "--no-trunc", "--format", "json", "fat-app:1").splitlines()
    newest = json.loads(history[0])["CreatedBy"].split()  # the top layer's instruction, as Docker built it
    assert all(any(word.startswith(w) for word in newest) for w in layers[-1].name.split()), layers[-1].name
    report = next(i for i in node.report()["images"] if "fat-app:1" in i["tags"])
    assert sum(r.bytes or 0 for r in rows) == report["stored_bytes"]


def test_dupes_on_the_node_reads_its_snapshots_as_the_archive_they_came_from(node: Node) -> None:
    """``dupes --containerd-root``: the kubelet's namespace read from its snapshots' folders gives the
    figures and contents of the ``docker save`` file it was imported from, read as an archive."""
    on_node = node.layershare("dupes", "-f", "json")
    assert on_node.returncode == 0, on_node.stderr
    doc = json.loads(on_node.stdout)
    saved = in_process("dupes", "--archive", str(node.archives / "k8s.tar"), "-f", "json")
    assert saved.returncode == 0, saved.stderr
    archive = json.loads(saved.stdout)
    assert doc["read_from"] == "the layer store's folders" and doc["unread_layers"] == []
    figures = ["stored_layers", "stored_files", "stored_bytes", "duplicate_bytes", "consolidatable_bytes"]
    assert {k: doc[k] for k in figures} == {k: archive[k] for k in figures}
    assert doc["stored_files"] > 0 and doc["duplicate_bytes"] > 0  # the bases' busybox, at least
