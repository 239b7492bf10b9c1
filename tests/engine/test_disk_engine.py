"""``layershare disk`` on real engines (20.10 overlay2, 26.1 containerd store), against their own accounting.

Each engine holds the example images and the state of ``disk_state.py``. The
ground truth: ``GET /system/df`` (what ``docker system df -v`` prints), the log
files' sizes, ``du -sx --block-size=1`` of the data root, and, last, what a
real ``docker system prune -a -f --volumes`` frees.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from disk_state import build_disk_state
from engines import api_calls_since, engine_with_state, run_unprivileged, system_df
from support import Ran
from support import cli as in_process

from layershare.cli import ExitCode

pytestmark = pytest.mark.engine


@pytest.fixture(
    scope="module",
    params=["20.10-overlay2", "26.1-containerd", "28.5-containerd", "29.7-containerd", "29.7-overlay2"],
)
def disk_engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A private engine holding the example images and disk_state.py's containers, volumes and cache."""

    def build(engine: Any) -> None:
        engine.planted = build_disk_state(engine)["orphans"]

    yield from engine_with_state(request.param, build)


def disk(engine: Any, *args: str, env: dict[str, str] | None = None) -> Ran:
    return in_process("disk", *args, env=env or engine.env())


def disk_json(engine: Any) -> dict[str, Any]:
    result = disk(engine, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def category(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["categories"] if c["category"] == name)


def du(*paths: str) -> int:
    out = subprocess.run(["du", "-sxc", "--block-size=1", *paths], capture_output=True, text=True, check=True)
    return int(out.stdout.splitlines()[-1].split()[0])


def log_files(engine: Any, cid: str) -> int:
    """The sizes of a container's log files, rotated ones and the local driver's included."""
    folder = Path(engine.data_root) / "containers" / cid
    files = [p for p in folder.iterdir() if p.name.startswith(f"{cid}-json.log")]
    files += list((folder / "local-logs").glob("*")) if (folder / "local-logs").is_dir() else []
    return sum(p.stat().st_size for p in files)


def test_every_figure_equals_the_engines_own(disk_engine: Any) -> None:
    doc = disk_json(disk_engine)
    df = system_df(disk_engine)
    assert doc["schema"] == "layershare.disk/v1" and doc["data_root_readable"]
    assert category(doc, "images")["bytes"] == df["LayersSize"]
    by_id = {c["id"]: c for c in doc["containers"]}
    assert set(by_id) == {c["Id"] for c in df["Containers"]}
    for c in df["Containers"]:
        assert by_id[c["Id"]]["size_rw_bytes"] == c.get("SizeRw", 0)  # the engine omits a zero SizeRw
    assert category(doc, "containers")["bytes"] == sum(c.get("SizeRw", 0) for c in df["Containers"])
    volumes = {v["name"]: v for v in doc["volumes"]}
    for v in df["Volumes"]:
        assert volumes[v["Name"]]["bytes"] == v["UsageData"]["Size"]
    assert volumes["appdata"]["containers"] == ["writer"] and volumes["dangling"]["containers"] == []
    unshared = [r for r in df["BuildCache"] if not r["Shared"]]
    assert category(doc, "build_cache")["bytes"] == sum(r["Size"] for r in unshared) > 400_000
    assert {r["id"] for r in doc["build_cache"]} == {r["ID"] for r in df["BuildCache"]}
    for c in doc["containers"]:
        assert c["log_bytes"] == log_files(disk_engine, c["id"]), c["name"]
    logger = next(c for c in doc["containers"] if c["name"] == "logger")
    assert logger["log_bytes"] > 2_000_000 and logger["log_path"].endswith("-json.log")
    assert category(doc, "logs")["bytes"] == sum(c["log_bytes"] for c in doc["containers"])
    rotated = next(c for c in doc["containers"] if c["name"] == "rotated")
    assert Path(rotated["log_path"] + ".1").exists()  # rotated files count too
    local = next(c for c in doc["containers"] if c["name"] == "locallog")
    assert local["log_bytes"] > 0 and "local-logs" in local["log_path"]


def quiet_disk_json(engine: Any) -> tuple[dict[str, Any], int]:
    """A disk report taken while ``du`` of the data root stays the same before and after it.

    Right after the state is built, containerd's garbage collector still writes (its bbolt file
    grows by a few pages): the comparison with ``du`` holds on a quiet engine.
    """
    for _ in range(20):
        before = du(str(engine.data_root))
        doc = disk_json(engine)
        if du(str(engine.data_root)) == before:
            return doc, before
        time.sleep(1)
    pytest.fail("the data root never stayed the same while layershare walked it")


def test_the_walk_is_du_and_the_categories_add_up_to_it(disk_engine: Any) -> None:
    doc, quiet = quiet_disk_json(disk_engine)
    assert [r["path"] for r in doc["roots"]] == [str(disk_engine.data_root)]
    assert doc["roots"][0]["on_disk_bytes"] == quiet
    assert (
        doc["on_disk_bytes"]
        == sum(r["on_disk_bytes"] for r in doc["roots"])
        == du(*(r["path"] for r in doc["roots"]))
    )
    assert sum(c["disk_bytes"] for c in doc["categories"]) == doc["on_disk_bytes"]
    assert category(doc, "unaccounted")["disk_bytes"] <= 0.01 * doc["on_disk_bytes"]
    volumes = {v["name"]: v for v in doc["volumes"]}
    data = Path(disk_engine.data_root) / "volumes"
    assert volumes["appdata"]["disk_bytes"] == du(str(data / "appdata"))
    writer = next(c for c in doc["containers"] if c["name"] == "writer")
    assert writer["disk_bytes"] >= 300_000  # its writable layer holds the 300 kB it wrote


def test_the_planted_orphans_and_only_they_are_orphans(disk_engine: Any) -> None:
    doc = disk_json(disk_engine)
    found = {o["path"]: o for o in doc["orphans"]}
    assert set(found) == disk_engine.planted
    for path, orphan in found.items():
        assert orphan["disk_bytes"] == du(str(Path(disk_engine.data_root) / path)), path
        assert orphan["why"] and orphan["kind"]
    removing = [o for o in doc["orphans"] if o["path"].endswith("-removing")]
    assert all("removal that did not finish" in o["why"] for o in removing)
    assert category(doc, "orphans")["bytes"] == sum(o["bytes"] for o in doc["orphans"]) >= 90_000
    table = disk(disk_engine).stdout
    assert "stop the engine" in table and "Orphans" in table


def test_it_only_reads(disk_engine: Any) -> None:
    root = Path(disk_engine.data_root)

    def state() -> dict[str, tuple[int, int]]:
        found = {}
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = Path(folder, name)
                try:
                    info = path.lstat()
                except OSError:
                    continue
                found[str(path)] = (info.st_size, info.st_mtime_ns)
        return found

    before = state()
    mark = len(disk_engine.log())
    assert disk(disk_engine, "--format", "json").returncode == 0
    calls = api_calls_since(disk_engine, mark)
    assert calls and {method for method, _ in calls} <= {"GET", "HEAD"}, calls
    after = state()
    # The engine keeps its own databases while it answers GET /system/df (BuildKit caches record sizes,
    # containerd writes leases), as it does for `docker system df`; everything else stays as it was.
    engine_own = ("/containerd/", "/buildkit/")
    changed = {p for p in before if after.get(p) != before[p] and not any(d in p for d in engine_own)}
    assert not changed, sorted(changed)[:5]


def test_without_access_to_the_data_root_the_engines_figures_remain(disk_engine: Any) -> None:
    """As a user who can open the socket but not read the data root (uid 65534)."""
    result = run_unprivileged(disk_engine, ["disk", "--format", "json"])
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    df = system_df(disk_engine)
    assert doc["data_root_readable"] is False and doc["on_disk_bytes"] is None
    assert category(doc, "images")["bytes"] == df["LayersSize"]
    by_id = {c["id"]: c for c in doc["containers"]}
    for c in df["Containers"]:
        assert by_id[c["Id"]]["size_rw_bytes"] == c.get("SizeRw", 0)  # the engine omits a zero SizeRw
    assert {v["name"]: v["bytes"] for v in doc["volumes"]} == {
        v["Name"]: v["UsageData"]["Size"] for v in df["Volumes"]
    }
    assert category(doc, "logs")["bytes"] is None and category(doc, "orphans")["disk_bytes"] is None
    assert all(c["log_bytes"] is None for c in doc["containers"]) and doc["orphans"] == []
    assert any("not readable" in n and "root" in n for n in doc["notes"])


def test_bad_input_is_one_line(disk_engine: Any, tmp_path: Path) -> None:
    (tmp_path / "image" / "overlay2" / "layerdb").mkdir(parents=True)
    foreign = disk(disk_engine, "--data-root", str(tmp_path))
    assert foreign.returncode == ExitCode.BAD_INPUT
    assert foreign.stderr.count("\n") == 1 and "not the data root of the engine" in foreign.stderr
    archive = disk(disk_engine, "--archive", str(tmp_path))
    assert archive.returncode == ExitCode.USAGE and archive.stderr.count("\n") == 1


def test_reclaimable_is_what_a_real_prune_frees(disk_engine: Any) -> None:
    """Last on this engine: predict, then run `docker system prune -a -f --volumes` and compare."""
    doc = disk_json(disk_engine)
    before = system_df(disk_engine)
    stopped = [c for c in doc["containers"] if c["state"] != "running"]
    logs_before = {c["id"]: log_files(disk_engine, c["id"]) for c in stopped}
    disk_engine.docker("system", "prune", "-a", "-f", "--volumes")
    after = system_df(disk_engine)

    def volume_bytes(df: dict[str, Any]) -> int:
        return sum(v["UsageData"]["Size"] for v in df["Volumes"] or [])

    def unshared(df: dict[str, Any]) -> int:
        return sum(r["Size"] for r in df["BuildCache"] or [] if not r["Shared"])

    assert category(doc, "images")["reclaimable_bytes"] == before["LayersSize"] - after["LayersSize"]
    size_rw = sum(c.get("SizeRw", 0) for c in before["Containers"]) - sum(
        c.get("SizeRw", 0) for c in after["Containers"]
    )
    assert category(doc, "containers")["reclaimable_bytes"] == size_rw
    assert category(doc, "volumes")["reclaimable_bytes"] == volume_bytes(before) - volume_bytes(after)
    assert category(doc, "build_cache")["reclaimable_bytes"] == unshared(before) - unshared(after)
    assert category(doc, "logs")["reclaimable_bytes"] == sum(logs_before.values())
    gone = Path(disk_engine.data_root) / "containers"
    assert not any((gone / cid).exists() for cid in logs_before)
    assert {c["Names"][0] for c in after["Containers"]} == {"/writer"}
    # API 1.42 and later prune only anonymous volumes: the dangling named one stays on Engine 26.1
    kept_volumes = {v["Name"] for v in after["Volumes"]}
    assert ("dangling" in kept_volumes) == (doc["volume_prune"] == "anonymous unused")


def test_several_engines_one_section_each_and_their_sums(engine: Any, engine26: Any) -> None:
    hosts = ["-H", engine.host, "-H", engine26.host]
    result = disk(engine, *hosts, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "layershare.disks/v1" and len(doc["engines"]) == 2
    for one, private in zip(doc["engines"], (engine, engine26), strict=True):
        assert one["schema"] == "layershare.disk/v1"
        assert category(one, "images")["bytes"] == system_df(private)["LayersSize"]
    assert doc["totals"]["on_disk_bytes"] == sum(e["on_disk_bytes"] for e in doc["engines"])
    for total in doc["totals"]["categories"]:
        assert total["disk_bytes"] == sum(
            category(e, total["category"])["disk_bytes"] for e in doc["engines"]
        )
    table = disk(engine, *hosts).stdout
    assert table.startswith("Engines") and "all 2 engines" in table
    refused = disk(engine, *hosts, "--data-root", "/var/lib/docker")
    assert refused.returncode == ExitCode.USAGE and refused.stderr.count("\n") == 1
