"""The walk against du on a tree the test makes, and the reclaimable rules, table-driven."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from layershare.disk.categories import disk_report
from layershare.formats import DiskFormat
from layershare.model import (
    BuildRecord,
    Container,
    DiskRoot,
    DiskSnapshot,
    EngineImage,
    EngineInfo,
    EngineState,
    Orphan,
    StoredUnit,
    Usage,
    Volume,
)
from layershare.render.disk import DISK_RENDERERS, render_disk
from layershare.sources.disk.walk import Rules, walk


def du(path: Path) -> int:
    return int(
        subprocess.run(
            ["du", "-sx", "--block-size=1", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "layers" / "a" / "diff").mkdir(parents=True)
    (root / "layers" / "b").mkdir()
    (root / "layers" / "a" / "diff" / "big").write_bytes(os.urandom(50_000))
    os.link(root / "layers" / "a" / "diff" / "big", root / "layers" / "b" / "same-inode")  # counted once
    (root / "layers" / "a" / "link").symlink_to("diff/big")
    (root / "layers" / "stray").mkdir()
    (root / "layers" / "stray" / "x").write_bytes(b"x" * 5000)
    (root / "db").write_bytes(b"\0" * 3000)
    (root / "unknown.txt").write_text("?")
    sparse = root / "sparse"
    with sparse.open("wb") as f:  # apparent 1 MB, almost nothing allocated
        f.seek(1_000_000)
        f.write(b"!")
    return root


def test_the_walk_counts_what_du_counts_and_every_byte_once(tree: Path) -> None:
    rules = Rules(root=("metadata", ""))
    rules.exact["layers/a"] = ("images", "a")
    rules.exact["layers/b"] = ("images", "b")
    rules.children["layers"] = lambda name: ("orphans", name)
    rules.children[""] = lambda name: ("metadata", "") if name in ("layers", "db") else ("unaccounted", name)
    result = walk({str(tree): rules})
    assert result.roots[str(tree)] == du(tree)
    assert sum(t.disk_bytes for t in result.owners.values()) == du(tree)
    owners = result.owners
    assert owners[("orphans", "stray")].disk_bytes == du(tree / "layers" / "stray")
    assert owners[("orphans", "stray")].bytes == 5000
    assert owners[("images", "a")].bytes == 50_000 + len("diff/big")  # the file and the symlink
    assert owners[("images", "b")].bytes == 0  # the hard link's inode was counted under a
    assert owners[("unaccounted", "sparse")].bytes == 1_000_001
    assert owners[("unaccounted", "sparse")].disk_bytes < 100_000


@pytest.mark.parametrize("workers", [2, 3])
def test_the_walk_in_several_processes_finds_the_same_bytes(tree: Path, workers: int) -> None:
    rules = Rules(root=("metadata", ""))
    rules.exact["layers/a"] = ("images", "a")
    rules.exact["layers/b"] = ("images", "b")
    rules.children["layers"] = lambda name: ("orphans", name)
    rules.children[""] = lambda name: ("metadata", "") if name in ("layers", "db") else ("unaccounted", name)
    for n in range(40):  # enough folders below the rules for every process to get some
        (tree / "layers" / "b" / f"d{n}").mkdir()
        (tree / "layers" / "b" / f"d{n}" / "f").write_bytes(b"y" * (100 * n))
    one = walk({str(tree): rules})
    several = walk({str(tree): rules}, workers=workers, fewest_jobs=1)
    assert several.roots == one.roots == {str(tree): du(tree)}
    hard_linked = {("images", "a"), ("images", "b")}  # which of the two links counts first may differ
    for owner, tally in one.owners.items():
        if owner not in hard_linked:
            assert several.owners[owner] == tally, owner
    for measure in ("bytes", "disk_bytes"):
        assert sum(getattr(several.owners[o], measure) for o in hard_linked) == sum(
            getattr(one.owners[o], measure) for o in hard_linked
        )


def test_a_folder_that_vanishes_is_counted_not_fatal(tree: Path) -> None:
    rules = Rules(root=("metadata", ""))
    gone = tree / "layers" / "stray"

    def naming(name: str) -> Any:
        if name == "stray" and gone.exists():
            (gone / "x").unlink()
            gone.rmdir()  # removed between being listed and being read
        return ("images", name)

    rules.children["layers"] = naming
    result = walk({str(tree): rules})
    assert result.vanished >= 1


ENGINE = EngineInfo(
    host="unix:///test",
    version="26.1.5",
    api_version="1.45",
    image_store="graphdriver",
    storage_driver="overlay2",
)


def holdings(
    engine: EngineInfo,
    containers: tuple[Container, ...],
    volumes: tuple[Volume, ...],
    records: tuple[BuildRecord, ...],
) -> EngineState:
    """What the engine holds behind :func:`snapshot`: image a (300 B, used by the running container)
    and image b (700 B, unused) on a base layer of neither; each container, volume and record its unit."""
    units = {
        "layer:a": StoredUnit("layer:a", "layer", 300, None, counted_with_images=True),
        "layer:b": StoredUnit("layer:b", "layer", 700, None, counted_with_images=True),
    }
    units.update(
        {
            f"container:{c.id}": StoredUnit(f"container:{c.id}", "container", c.size_rw_bytes, None)
            for c in containers
        }
    )
    units.update(
        {f"volume:{v.name}": StoredUnit(f"volume:{v.name}", "volume", v.bytes or 0, None) for v in volumes}
    )
    units.update(
        {
            f"build:{r.id}": StoredUnit(f"build:{r.id}", "build_cache", 0 if r.shared else r.bytes, None)
            for r in records
        }
    )
    return EngineState(
        engine=engine,
        images=(
            EngineImage("sha256:a", ("app:1",), 0, holds=("layer:a",)),
            EngineImage("sha256:b", ("other:1",), 0, holds=("layer:b",)),
        ),
        containers=tuple(replace(c, holds=(f"container:{c.id}",)) for c in containers),
        volumes=volumes,
        build_cache=tuple(replace(r, holds=(f"build:{r.id}",)) for r in records),
        units=units,
        api_version=engine.api_version,
        disk_readable=engine.root_dir != "",
    )


def snapshot(
    *,
    api: str = "1.45",
    readable: bool = True,
    more_containers: tuple[Container, ...] = (),
    more_volumes: tuple[Volume, ...] = (),
) -> DiskSnapshot:
    walked = (
        {"logs": Usage(700, 8192), "metadata": Usage(50, 4096), "orphans": Usage(90, 4096)}
        if readable
        else None
    )
    engine = EngineInfo(
        **{**ENGINE.__dict__, "api_version": api, "root_dir": "/var/lib/docker" if readable else ""}
    )
    containers = (
        Container(
            "r" * 64,
            "running",
            "app:1",
            "sha256:a",
            "running",
            size_rw_bytes=40,
            volumes=("used",),
            log=Usage(300, 4096) if readable else None,
        ),
        Container(
            "s" * 64,
            "stopped",
            "app:1",
            "sha256:a",
            "exited",
            size_rw_bytes=60,
            volumes=("named",),
            log=Usage(400, 4096) if readable else None,
        ),
        *more_containers,
    )
    volumes = (
        Volume("used", "local", 11, containers=("running",)),
        Volume("named", "local", 22, containers=("stopped",)),
        Volume("anon", "local", 33, anonymous=True),
        *more_volumes,
    )
    records = (
        BuildRecord("c1", "exec.cachemount", 500, False, False, "", "cached mount"),
        BuildRecord("c2", "regular", 7, True, False, "", "a layer"),
        BuildRecord("c3", "source.local", 9, False, True, "", "in use"),
    )
    return DiskSnapshot(
        engine=engine,
        data_root="/var/lib/docker",
        data_root_readable=readable,
        roots=(DiskRoot("/var/lib/docker", 16384 if readable else None),),
        layers_bytes=1000,
        containers=containers,
        volumes=volumes,
        build_cache=records,
        orphans=(Orphan("/var/lib/docker", "overlay2/x", "layer folder", "nothing", Usage(90, 4096)),)
        if readable
        else (),
        walked=walked,
        volume_prune_all=api < "1.42",
        holdings=holdings(engine, containers, volumes, records),
    )


@pytest.mark.parametrize(
    ("case", "api", "readable", "expected"),
    [
        ("API 1.45: anonymous volumes only", "1.45", True,
         {"images": 700, "containers": 60, "logs": 400, "volumes": 33, "build_cache": 500, "orphans": 90}),
        ("API 1.41: every unused volume", "1.41", True,
         {"images": 700, "containers": 60, "logs": 400, "volumes": 55, "build_cache": 500, "orphans": 90}),
        ("not readable: what the files say is unknown", "1.45", False,
         {"images": None, "containers": 60, "logs": None, "volumes": 33, "build_cache": 500, "orphans": None}),
    ],
)  # fmt: skip
def test_reclaimable(case: str, api: str, readable: bool, expected: dict[str, int | None]) -> None:
    report = disk_report(snapshot(api=api, readable=readable))
    for name, value in expected.items():
        assert report.category(name).reclaimable_bytes == value, (case, name)  # type: ignore[arg-type]
    assert report.category("metadata").reclaimable_bytes is None
    assert report.category("build_cache").bytes == 509  # unshared records only, in use or not
    assert report.category("containers").bytes == 100


@pytest.mark.parametrize("fmt", list(DiskFormat))
def test_every_format_renders_one_and_several_engines(fmt: DiskFormat) -> None:
    assert set(DISK_RENDERERS) == set(DiskFormat)
    one = render_disk([disk_report(snapshot())], fmt)
    several = render_disk([disk_report(snapshot()), disk_report(snapshot(readable=False))], fmt)
    assert one.endswith("\n") and len(several) > len(one)
    if fmt is DiskFormat.JSON:
        assert json.loads(one)["schema"] == "layershare.disk/v1"
        doc = json.loads(several)
        assert doc["schema"] == "layershare.disks/v1" and doc["totals"]["on_disk_bytes"] is None
        images = next(c for c in doc["totals"]["categories"] if c["category"] == "images")
        assert images["bytes"] == 2000 and images["reclaimable_bytes"] is None


def test_a_paused_container_counts_as_running() -> None:
    """docker container prune removes only stopped containers; a paused one keeps its layer and volumes."""
    paused = Container(
        "p" * 64, "paused", "app:1", "sha256:a", "paused", size_rw_bytes=5000, volumes=("anon-of-paused",),
        log=Usage(10, 4096),
    )  # fmt: skip
    volume = Volume("anon-of-paused", "local", 77, containers=("paused",), anonymous=True)
    report = disk_report(snapshot(more_containers=(paused,), more_volumes=(volume,)))
    assert report.category("containers").reclaimable_bytes == 60
    assert report.category("logs").reclaimable_bytes == 400
    assert report.category("volumes").reclaimable_bytes == 33


def test_the_table_reads_as_documented() -> None:
    """The headings a person reads (docs/disk.md shows them): summary first, then the items."""
    text = render_disk([disk_report(snapshot())], DiskFormat.TABLE)
    lines = text.splitlines()
    summary = next(line for line in lines if line.startswith("CATEGORY"))
    assert summary.split() == ["CATEGORY", "SIZE", "ON", "DISK", "RECLAIMABLE"]
    containers = lines[lines.index("Containers") + 2].split()
    assert containers == ["NAME", "ID", "STATE", "WRITABLE", "LOGS", "IMAGE"]
    for heading in ("Volumes", "Build cache", "Orphans", "Notes"):
        assert heading in lines
    assert "stop the engine" in text  # how to remove an orphan safely


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("docker.io/library/app:1", "app:1"),
        ("docker.io/team/app:1", "team/app:1"),
        ("legacy/app:1", "legacy/app:1"),
        ("registry.example:5000/a/b:2", "registry.example:5000/a/b:2"),
        ("docker.io/library/a/b:1", "library/a/b:1"),
    ],
)
def test_an_inactive_stores_tags_read_as_docker_image_ls_writes_them(stored: str, shown: str) -> None:
    from layershare.sources.references import familiar

    assert familiar(stored) == shown
