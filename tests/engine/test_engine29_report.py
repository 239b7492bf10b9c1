"""Engine 29.7.2, both image stores: the report's figures are the engine's own accounting.

On the containerd store (Engine 29's default) ``LayersSize`` counts each image's snapshot chain (the
classic builder's step snapshots inside it too) at the usage containerd records, and each content
blob an image reaches at its size, each once (moby ``daemon/containerd/service.go`` at
``docker-v29.7.2``): layershare's physical bytes equal it to the byte, and each image's SIZE and
SHARED SIZE equal ``docker system df -v``'s. On overlay2 they are the layer store's, as on 20.10.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from engines import (
    api_calls_since,
    cli,
    image_lists_asked,
    run_unprivileged,
    system_df,
    warm_reports_without_the_image_list,
)
from support import private_engine

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", params=["29.7-containerd", "29.7-overlay2"])
def engine29(request: pytest.FixtureRequest) -> Iterator[Any]:
    with private_engine(request.param) as engine:
        yield engine


def report(engine: Any, *args: str) -> dict[str, Any]:
    result = cli(engine, "report", "-f", "json", "--no-cache", *args)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def du(*paths: Path) -> int:
    out = subprocess.run(
        ["du", "-sxc", "--block-size=1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.splitlines()[-1].split()[0])


def test_physical_bytes_are_the_engines_layers_size(engine29: Any) -> None:
    doc, df = report(engine29), system_df(engine29)
    assert doc["engine"]["version"] == "29.7.2"
    assert doc["totals"]["physical_bytes"] == df["LayersSize"]
    if engine29.containerd:
        assert doc["engine"]["image_store"] == "containerd"
        assert doc["totals"]["blob_bytes"] > 0 and doc["totals"]["step_snapshot_bytes"] > 0
        assert any("in the engine's own measure" in note for note in doc["notes"])
        # The same blobs and snapshots as du counts them, plus what no image uses, are the store's blobs
        # and snapshots on disk, to 2% (the folders that hold the store are not an image's); physical,
        # the engine's measure, leaves out each file's block rounding and each snapshot's folders.
        root = Path(engine29.data_root) / "containerd" / "daemon"
        on_disk = du(
            root / "io.containerd.content.v1.content" / "blobs",
            root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots",
        )
        totals = doc["totals"]
        assert totals["physical_bytes"] < totals["physical_disk_bytes"]
        assert abs(totals["physical_disk_bytes"] + totals["other_bytes"] - on_disk) <= on_disk * 0.02


def test_each_images_size_and_shared_size_are_docker_system_dfs(engine29: Any) -> None:
    """SIZE is the engine's for every image. SHARED SIZE too, but for the classic builder's step
    snapshots that several listed images stand on: 29.7 counts those in each image's SIZE and never in
    SHARED SIZE (moby's computeSharedSize walks chain IDs only), layershare counts them shared."""
    doc, df = report(engine29), system_df(engine29)
    engine = {i["Id"]: (i["Size"], i["SharedSize"]) for i in df["Images"]}
    ours = {i["id"]: i for i in doc["images"]}
    assert set(ours) == set(engine)
    differ = []
    for image_id, (size, shared) in engine.items():
        image = ours[image_id]
        assert image["size_bytes"] == image["stored_bytes"] == size
        # Unique also counts what the hidden parents removed with it hold alone (their manifests and
        # configs), which df -v's UNIQUE leaves out.
        assert image["unique_bytes"] == size - image["shared_bytes"] + image["hidden_parent_bytes"]
        assert image["shared_bytes"] >= shared
        if image["shared_bytes"] != shared:
            differ.append(image["tags"][0])
    with_parents = {i["tags"][0] for i in doc["images"] if i["hidden_parent_bytes"]}
    if engine29.containerd:
        assert "app-plus:1" in differ and "trim-app:1" not in differ  # app-one's steps, under app-plus
        assert {"overwrite:1", "runtime:2"} <= with_parents and "trim-app:1" not in with_parents
        assert any("docker system df -v's UNIQUE leaves these out" in note for note in doc["notes"])
    else:
        assert differ == [] and with_parents == set()
        assert any("only with their hidden parents" in note for note in doc["notes"])


def test_disks_images_are_the_engines_layers_size(engine29: Any) -> None:
    """``layershare disk``: the images' bytes are LayersSize, the containers' their SizeRw, and the
    categories' allocated bytes add up to du of the data root, on both stores."""
    result = cli(engine29, "disk", "-f", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    df = system_df(engine29)
    categories = {c["category"]: c for c in doc["categories"]}
    assert categories["images"]["bytes"] == df["LayersSize"]
    assert categories["containers"]["bytes"] == sum(c.get("SizeRw") or 0 for c in df["Containers"])
    assert (
        sum(c["disk_bytes"] for c in categories.values())
        == doc["on_disk_bytes"]
        == du(Path(engine29.data_root))
    )


def test_a_docker_group_user_gets_roots_figures(engine29: Any) -> None:
    """Without the engine's files (uid 65534 with the socket, as a member of the docker group), the
    physical total is the engine's LayersSize and each image's SIZE, SHARED SIZE and unique bytes are
    root's, exact: on the containerd store from the engine's export (content blobs) and history
    (snapshots), hidden parents' own blobs included; on overlay2 the engine's own figures."""
    result = run_unprivileged(engine29, ["report", "-f", "json", "--no-cache"])
    assert result.returncode == 0, result.stderr
    doc, df, as_root = json.loads(result.stdout), system_df(engine29), report(engine29)
    assert doc["totals"]["physical_bytes"] == df["LayersSize"] == as_root["totals"]["physical_bytes"]
    assert doc["totals"]["blob_bytes"] == as_root["totals"]["blob_bytes"]

    def figures(d: dict[str, Any]) -> dict[str, tuple[int, int, int, int, bool]]:
        keys = ("size_bytes", "shared_bytes", "unique_bytes", "hidden_parent_bytes")
        return {i["id"]: (*(int(i[k]) for k in keys), i["exact"]) for i in d["images"]}

    assert figures(doc) == figures(as_root)
    assert all(i["exact"] for i in doc["images"])
    if engine29.containerd:
        assert any("read through the engine's API" in note for note in doc["notes"])
        overwrite = next(i for i in doc["images"] if "overwrite:1" in i["tags"])
        assert overwrite["hidden_parent_bytes"] > 0 and overwrite["blob_bytes"] > 1_000_000
    else:
        engine = {i["Id"]: (i["Size"], i["SharedSize"]) for i in df["Images"]}
        assert {i["id"]: (i["size_bytes"], i["shared_bytes"]) for i in doc["images"]} == engine


def go_human_size(size: float) -> str:
    """go-units' ``HumanSizeWithPrecision(size, 3)``, as the docker CLI writes a size."""
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size, i = size / 1000, i + 1
    return f"{size:.3g}{units[i]}"


def test_content_size_is_docker_image_ls_content_size(engine29: Any) -> None:
    """``content_bytes`` is CONTENT SIZE: the Size.Content of the image's available manifests, as
    ``GET /images/json?manifests=1`` gives them and CLI 29's ``docker image ls`` prints them; table,
    CSV, markdown and JSON carry it on the containerd store, and say nothing of it on overlay2."""
    api = docker.APIClient(base_url=engine29.host, version="auto")
    listed = api._result(api._get(api._url("/images/json"), params={"all": 1, "manifests": 1}), True)
    doc = report(engine29)
    ours = {i["id"]: i for i in doc["images"]}
    table = cli(engine29, "report", "--no-cache", "--top", "100").stdout
    csv_rows = list(csv.DictReader(io.StringIO(cli(engine29, "report", "-f", "csv", "--no-cache").stdout)))
    if not engine29.containerd:
        assert all(i["content_bytes"] is None for i in ours.values())
        assert "CONTENT" not in table and all(r["content_bytes"] == "" for r in csv_rows)
        return
    by_id = {summary["Id"]: summary for summary in listed}  # all=1: the classic builder's steps too
    for image_id, image in ours.items():
        manifests = by_id[image_id]["Manifests"]
        expected = sum(m["Size"]["Content"] for m in manifests if m["Available"])
        assert image["content_bytes"] == expected > 0
        assert image["size_bytes"] == by_id[image_id]["Size"]  # DISK USAGE
    assert {r["id"]: int(r["content_bytes"]) for r in csv_rows} == {
        k: v["content_bytes"] for k, v in ours.items()
    }
    assert "CONTENT" in table.splitlines()[table.splitlines().index("Images") + 2]
    assert "CONTENT SIZE" in table  # the legend
    markdown = cli(engine29, "report", "-f", "markdown", "--no-cache").stdout
    assert re.search(r"\|\s*SIZE\s*\|\s*CONTENT\s*\|\s*SHARED\s*\|", markdown)
    # CLI 29.7.2's own table: IMAGE, ID, DISK USAGE, CONTENT SIZE, EXTRA.
    shown = engine29.docker("image", "ls").splitlines()
    assert shown[0].split() == ["IMAGE", "ID", "DISK", "USAGE", "CONTENT", "SIZE", "EXTRA"]
    by_short = {k.removeprefix("sha256:")[:12]: v for k, v in ours.items()}
    for line in shown[1:]:
        _, short, disk, content = re.split(r"\s{2,}", line.strip())[:4]
        assert go_human_size(by_short[short]["content_bytes"]) == content, line
        assert go_human_size(by_short[short]["size_bytes"]) == disk, line


def test_the_image_list_from_containerds_records_is_the_engines(engine29: Any, tmp_path: Path) -> None:
    """As root on Engine 29.7's containerd store the image list is made from containerd's records, by
    moby's ``image_list.go`` rules, and equals ``GET /images/json?all=1&manifests=1`` image by image:
    the corpus (classic builds with their steps, loaded BuildKit images, a dangling image, two tags),
    a two-platform index with one platform present and an attestation, tagged in a second repository,
    and a BuildKit build. A cold report, then, asks the engine for no image list. On overlay2 the
    records are not read."""
    from corpus import write_multi_platform_archive
    from free_state import build

    from layershare.sources.answers import trim_summary
    from layershare.sources.stores.records import read_records

    api = docker.APIClient(base_url=engine29.host, version="auto")
    if not engine29.containerd:
        assert read_records(api.info()) is None
        return

    def listed() -> dict[str, Any]:
        answer = api._result(api._get(api._url("/images/json"), params={"all": 1, "manifests": 1}), True)
        return {s["Id"]: s for s in answer}

    def kept(summary: dict[str, Any]) -> dict[str, Any]:
        ids = [m["ID"] for m in summary["Manifests"]]
        return {**trim_summary(summary), "Labels": summary["Labels"] or {}, "manifest_ids": ids}

    archive = tmp_path / "multi.tar"
    index = write_multi_platform_archive(archive, "listed-multi:1", attestation=True)
    engine29.docker("load", "-q", "-i", str(archive))
    engine29.docker("tag", "listed-multi:1", "other-repo/listed:2")
    build(engine29, "listed-bk:1", "FROM distro-a:1\nRUN echo bk > /bk.txt\n", buildkit=True)
    try:
        engine = listed()
        kinds = [m["Kind"] for m in engine[index]["Manifests"]]
        assert kinds == ["image", "image", "attestation"] and engine[index]["RepoDigests"] == [
            f"other-repo/listed@{index}"
        ]
        assert any(not s["RepoTags"] for s in engine.values())  # the dangling one
        info = api.info()
        records = read_records(info)
        assert records is not None
        ours = {s["Id"]: s for s in records.image_list(info) or []}
        assert {k: kept(v) for k, v in ours.items()} == {k: kept(v) for k, v in engine.items()}
        mark = len(engine29.log())
        assert {i["id"] for i in report(engine29, "--all")["images"]} == set(engine)
        assert image_lists_asked(engine29, mark) == 0
    finally:
        engine29.docker("rmi", "listed-multi:1", "other-repo/listed:2", "listed-bk:1")


def test_every_command_only_reads(engine29: Any, tmp_path: Path) -> None:
    """Every command against Engine 29 (its debug log names each call): GET and HEAD only."""
    mark = len(engine29.log())
    for args in (
        ["report", "--all", "-f", "json", "--no-cache"],
        ["report", "-f", "html"],
        ["history", "app-plus:1"],
        ["tree"],
        ["disk", "-f", "json"],
        ["free", "app-*", "--like", "docker system prune -a --volumes"],
        ["check", "app-plus:1"],
        ["diff", "app-one:1", "app-plus:1", "--files"],
        ["metrics"],
        ["export", "--to", str(tmp_path / "export")],
        ["record", str(tmp_path / "recording.json")],
    ):
        result = cli(engine29, *args)
        assert result.returncode in (0, 1), (args, result.stderr)  # check may find something to say
    calls = api_calls_since(engine29, mark)
    assert len(calls) > 20
    assert {method for method, _ in calls} <= {"GET", "HEAD"}, [
        c for c in calls if c[0] not in ("GET", "HEAD")
    ]


def test_removing_an_image_frees_exactly_its_unique_bytes(engine29: Any) -> None:
    """Each removal really run (last: it changes the engine), one image at a time: LayersSize drops by
    the image's unique bytes, where docker system df -v's UNIQUE says more for app-plus:1 on 29.7 and
    less for overwrite:1 (whose hidden parents' manifests and configs go with it; on overlay2 the layers
    it shares only with them)."""
    for tag in ("overwrite:1", "app-plus:1", "trim-app:1", "same-on-a:1", "fat-app:1", "legacy-app:1"):
        image = next(i for i in report(engine29)["images"] if tag in i["tags"])
        before = system_df(engine29)["LayersSize"]
        engine29.docker("image", "rm", tag)
        # On overlay2, df -v's UNIQUE and the report's leave out the layers shared only with hidden
        # parents, which go too: the report says how much.
        frees = image["unique_bytes"] + image["shared_with_parents_bytes"]
        assert before - system_df(engine29)["LayersSize"] == frees, tag
        assert bool(image["shared_with_parents_bytes"]) == (tag == "overwrite:1" and not engine29.containerd)


def test_a_warm_report_on_the_containerd_store_does_not_wait_on_the_image_list(
    engine29: Any, tmp_path: Path
) -> None:
    """:func:`engines.warm_reports_without_the_image_list` on Engine 29.7, both stores."""
    warm_reports_without_the_image_list(engine29, tmp_path / "cache")
