"""buildx builders (the ``docker-container`` driver) on Engine 29.7, both image stores: ``layershare disk``
against BuildKit's own accounting (``buildctl du --format json``, ``buildctl debug workers``) and the
engine's (``docker system df -v``'s size of the state volume, ``du`` of the data root), as root (the
state volume's files) and as the ``docker`` group (one ``docker exec … buildctl``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from buildx_builders import build, buildx_ready, docker, du, gc_policy, make_builder, settle, volume_size
from engines import api_calls_since, cli, df_total, run_unprivileged
from pages import open_page
from support import private_engine
from test_browse_engine import filtered, pilot, remove_with_browse, status_of
from test_disk_engine import category, disk_json, quiet_disk_json
from test_disk_engine import du as du_of_folders

from layershare.sources.stores.boltdb import read_tree

pytestmark = pytest.mark.engine

CACHE_MOUNT = (
    "FROM scratch\nCOPY rootfs/ /\n"
    "RUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/c bs=1000 count=300 2>/dev/null "
    "&& dd if=/dev/urandom of=/x bs=1000 count=200 2>/dev/null\n"
)
STEPS = (
    "FROM scratch\nCOPY rootfs/ /\nCOPY data.bin /data.bin\n"
    "ARG TOKEN=s3cret-build-arg\nRUN echo TOKEN=$TOKEN > /token && dd if=/dev/urandom of=/y bs=1000 count=120 2>/dev/null\n"
    "RUN ln /y /y-link && echo two > /two\n"
)
CONFIG = """
[worker.oci]
  gc = true
  [[worker.oci.gcpolicy]]
    filters = ["type==source.local", "type==exec.cachemount"]
    keepDuration = "36h"
    maxUsedSpace = "300MB"
  [[worker.oci.gcpolicy]]
    reservedSpace = "5%"
    maxUsedSpace = "2GB"
    minFreeSpace = "10%"
  [[worker.oci.gcpolicy]]
    all = true
    keepDuration = 7200
    maxUsedSpace = "3GB"
"""

OLD_CONFIG = """
[worker.oci]
  gc = true
  [[worker.oci.gcpolicy]]
    all = true
    keepDuration = "48h"
    maxUsedSpace = "1GB"
"""


def setup_builders(engine: Any) -> None:
    """Builders: ``ci`` (the defaults; a cache mount, a local context, a ``--load``, its last build's
    sizes not yet computed by BuildKit), ``flagged`` (``--oci-worker-gc-keepstorage``), ``configured``
    (a buildkitd.toml with its own GC rules), ``old`` (stopped, a config of its own), and a plain volume."""
    buildx_ready(engine)
    engine.docker("volume", "create", "plain")
    engine.docker(
        "run",
        "--rm",
        "-v",
        "plain:/p",
        "--entrypoint",
        "sh",
        "local/buildkit:v0.32.2",
        "-c",
        "echo hi > /p/f",
    )
    make_builder(engine, "old", config=OLD_CONFIG)
    build(engine, "old", CACHE_MOUNT)
    settle(engine, ["buildx_buildkit_old0_state"])
    engine.old_du = du(engine, "buildx_buildkit_old0")
    engine.old_policy = gc_policy(engine, "buildx_buildkit_old0")
    docker(engine, "stop", "buildx_buildkit_old0")
    make_builder(engine, "flagged", flags="--oci-worker-gc-keepstorage=3000,1500,9000")
    make_builder(engine, "configured", config=CONFIG)
    make_builder(engine, "ci")
    build(engine, "ci", CACHE_MOUNT)
    build(engine, "ci", STEPS, {"data.bin": bytes(range(256)) * 4000}, load="app:1")
    build(engine, "ci", STEPS.replace("two", "three"), {"data.bin": b"other" * 9000})
    build(engine, "ci", CACHE_MOUNT.replace("count=200", "count=210"))  # the cache mount used again, last
    settle(engine, [f"buildx_buildkit_{n}0_state" for n in ("ci", "old", "flagged", "configured")])


@pytest.fixture(scope="module", params=["29.7-containerd", "29.7-overlay2"])
def builder_engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A private Engine 29.7 with :func:`setup_builders`' builders."""
    with private_engine(request.param, corpus=False, build=setup_builders) as engine:
        yield engine


def state_folder(engine: Any, volume: str) -> Path:
    return Path(engine.data_root, "volumes", volume, "_data")


def unknown_sizes(engine: Any, volume: str) -> int:
    """How many of BuildKit's records have no size computed yet (``snapshot.size`` of -1)."""
    main = read_tree(state_folder(engine, volume) / "runc-overlayfs" / "metadata_v2.db")[b"_main"]
    assert isinstance(main, dict)
    return sum(1 for f in main.values() if isinstance(f, dict) and f.get(b"snapshot.size") == b'{"value":-1}')


def as_du(record: dict[str, Any]) -> dict[str, Any]:
    """A record of ``builders[].cache_records`` in ``buildctl du``'s terms."""
    return {
        "id": record["id"], "size": record["bytes"], "recordType": record["type"], "inUse": record["in_use"],
        "createdAt": record["created"], "lastUsedAt": record["last_used"], "usageCount": record["usage_count"],
        "parents": record["parents"] or None, "shared": record["shared"],
    }  # fmt: skip


def from_du(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "size", "recordType", "inUse", "createdAt", "lastUsedAt", "usageCount", "parents", "shared")
    return {k: record.get(k) for k in keys}


def builders_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["name"]: b for b in doc["builders"]}


def disk_json_as_group(engine: Any) -> dict[str, Any]:
    ran = run_unprivileged(engine, ["disk", "--format", "json"])
    assert ran.returncode == 0, ran.stderr
    doc: dict[str, Any] = json.loads(ran.stdout)
    return doc


def test_a_builders_records_are_buildctl_dus_as_root_and_as_the_group(builder_engine: Any) -> None:
    engine = builder_engine
    assert unknown_sizes(engine, "buildx_buildkit_ci0_state") >= 2  # BuildKit has not sized the last build
    root, _ = quiet_disk_json(engine)
    sizes = {"files": volume_size(engine, "buildx_buildkit_ci0_state")}
    # BuildKit's first reading of sizes after a build prints the records as they were and then records
    # one more use of the cache mounts and local sources that build used; it keeps the sizes it computed.
    first = sorted((from_du(r) for r in du(engine, "buildx_buildkit_ci0")), key=lambda r: r["id"])
    group = disk_json_as_group(engine)
    sizes["buildctl"] = volume_size(engine, "buildx_buildkit_ci0_state")
    truth = sorted((from_du(r) for r in du(engine, "buildx_buildkit_ci0")), key=lambda r: r["id"])
    counted = {b["id"] for a, b in zip(first, truth, strict=True) if b["usageCount"] == a["usageCount"] + 1}
    assert (
        counted and {r["id"] for r in builders_of(root)["ci"]["cache_records"] if r["use_pending"]} == counted
    )
    assert len(truth) >= 10 and {"regular", "source.local", "exec.cachemount"} <= {
        r["recordType"] for r in truth
    }
    for doc, read_from, listed in ((root, "files", first), (group, "buildctl", truth)):
        ci = builders_of(doc)["ci"]
        assert (ci["read_from"], ci["driver"], ci["container"], ci["state_volume"], ci["running"]) == (
            read_from,
            "docker-container",
            "buildx_buildkit_ci0",
            "buildx_buildkit_ci0_state",
            True,
        )
        assert ci["image"] == "local/buildkit:v0.32.2"
        assert sorted((as_du(r) for r in ci["cache_records"]), key=lambda r: r["id"]) == listed
        assert ci["records"] == len(truth)
        assert ci["bytes"] == sum(r["size"] for r in truth if r["size"] > 0)
        assert ci["reclaimable_bytes"] == sum(r["size"] for r in truth if r["size"] > 0 and not r["inUse"])
        types: dict[str, dict[str, int]] = {}
        for r in truth:
            entry = types.setdefault(r["recordType"], {"records": 0, "bytes": 0})
            entry["records"] += 1
            entry["bytes"] += r["size"]
        assert ci["by_type"] == types
        assert ci["volume_bytes"] == sizes[read_from]
        assert not any("s3cret-build-arg" in r["description"] for r in ci["cache_records"])
    assert any("TOKEN=" in r["description"] for r in builders_of(root)["ci"]["cache_records"])


def test_state_volumes_are_builders_not_volumes_and_the_categories_add_up_to_du(builder_engine: Any) -> None:
    engine = builder_engine
    states = {f"buildx_buildkit_{n}0_state" for n in ("ci", "old", "flagged", "configured")}
    folders = [str(Path(engine.data_root, "volumes", v)) for v in states]
    for _ in range(10):  # BuildKit's GC may write while this reads (a minute after the last build)
        before = du_of_folders(*folders)
        doc, quiet = quiet_disk_json(engine)
        if du_of_folders(*folders) == before:
            break
    found = builders_of(doc)
    assert {b["state_volume"] for b in found.values()} == states
    assert [v["name"] for v in doc["volumes"]] == ["plain"]
    sizes = {v: volume_size(engine, v) for v in states | {"plain"}}
    assert category(doc, "volumes")["bytes"] == sizes["plain"]
    assert category(doc, "builders")["bytes"] == sum(sizes[v] for v in states)
    for b in found.values():
        assert b["volume_bytes"] == sizes[b["state_volume"]]
    assert category(doc, "builders")["disk_bytes"] == before
    assert sum(c["disk_bytes"] for c in doc["categories"]) == doc["on_disk_bytes"] == quiet
    # docker system prune -a --volumes removes the stopped builder's container; its named state volume
    # goes too only where the CLI speaks an API below 1.42 (20.10's, which drives 29.7's overlay2 here).
    taken = sizes["buildx_buildkit_old0_state"] if doc["volume_prune"] == "all unused" else 0
    assert category(doc, "builders")["reclaimable_bytes"] == taken


def rules(policy: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``buildctl debug workers``' rules in ``builders[].gc_policy``'s terms."""
    return [
        {"all": bool(r.get("all")), "filters": list(r.get("filter") or []),
         "keep_duration_ns": int(r.get("keepDuration") or 0), "reserved_space": int(r.get("reservedSpace") or 0),
         "max_used_space": int(r.get("maxUsedSpace") or 0), "min_free_space": int(r.get("minFreeSpace") or 0)}
        for r in policy
    ]  # fmt: skip


def test_the_gc_policy_is_the_one_buildkitd_runs_with(builder_engine: Any) -> None:
    engine = builder_engine
    root = builders_of(quiet_disk_json(engine)[0])
    group = builders_of(disk_json_as_group(engine))
    expected_from = {"ci": "defaults", "flagged": "flags", "configured": "config"}
    for name, source in expected_from.items():
        truth = rules(gc_policy(engine, f"buildx_buildkit_{name}0"))
        assert root[name]["gc_policy"] == truth, name
        assert root[name]["gc_policy_from"] == source
        assert group[name]["gc_policy"] == truth and group[name]["gc_policy_from"] == "buildkitd"
        assert root[name]["gc_enabled"] and group[name]["gc_enabled"]
    assert rules(gc_policy(engine, "buildx_buildkit_flagged0"))[1]["reserved_space"] == 3_000_000_000


def test_a_stopped_builder(builder_engine: Any) -> None:
    engine = builder_engine
    size = volume_size(engine, "buildx_buildkit_old0_state")
    old = builders_of(quiet_disk_json(engine)[0])["old"]
    assert (old["running"], old["read_from"], old["volume_bytes"]) == (False, "files", size)
    assert sorted((as_du(r) for r in old["cache_records"]), key=lambda r: r["id"]) == sorted(
        (from_du(r) for r in engine.old_du), key=lambda r: r["id"]
    )
    # Its config is read from its container's layers on disk (the engine would mount it to serve it).
    assert (old["gc_policy"], old["gc_policy_from"]) == (rules(engine.old_policy), "config")
    group = builders_of(disk_json_as_group(engine))["old"]
    assert (group["records"], group["bytes"], group["volume_bytes"]) == (None, None, size)
    assert group["unread_why"].startswith("stopped")
    ran = run_unprivileged(engine, ["disk"])
    assert ran.returncode == 0, ran.stderr
    lines = [line for line in ran.stdout.splitlines() if line.startswith("- builder old:")]
    assert len(lines) == 1 and "stopped" in lines[0], ran.stdout
    row = next(line for line in ran.stdout.splitlines() if line.startswith("old "))
    assert row.split()[1] == "stopped" and row.split()[2] == "-"


def test_as_root_reading_builders_only_reads(builder_engine: Any) -> None:
    """disk, builders and free as root ask the engine only GETs, none of a container's archive: serving
    one writes in the container's layers (a stopped one is mounted, a running one gets a pivot_root
    folder) while the walk counts them. Nothing runs in the builders either."""
    engine = builder_engine
    mark = len(engine.log())
    for args in (["disk", "--format", "json"], ["builders", "--format", "json"],
                 ["free", "--like", "docker buildx prune --builder old -a", "--format", "json"]):  # fmt: skip
        ran = cli(engine, *args)
        assert ran.returncode == 0, ran.stderr
    engine.docker("network", "ls", "-q")  # dockerd logs a call a little after it answers: wait for this one
    deadline = time.monotonic() + 30
    calls = api_calls_since(engine, mark)
    while not any("/networks" in path for _, path in calls):
        assert time.monotonic() < deadline, calls
        time.sleep(0.1)
        calls = api_calls_since(engine, mark)
    assert any("/system/df" in path for _, path in calls)  # the engine's log holds layershare's calls
    assert {method for method, _ in calls} <= {"GET", "HEAD"}, calls
    assert not [path for _, path in calls if "/archive" in path or "/exec" in path], calls


def test_the_page_shows_builders_as_a_category_of_their_own(
    builder_engine: Any, browser: Any, tmp_path: Path
) -> None:
    """``report --format html --disk``: the page's disk table has a builders row of the state volumes'
    sizes as the engine gives them, and the volumes row only the plain volume's."""
    engine = builder_engine
    ran = cli(engine, "report", "--format", "html", "--disk")
    assert ran.returncode == 0, ran.stderr
    path = tmp_path / "report.html"
    path.write_text(ran.stdout)
    opened = open_page(browser, path)
    try:
        assert opened.errors == []
        table = opened.page.locator("[data-section='0'] table.disk")
        shown = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.category)")
        assert "builders" in shown and "volumes" in shown

        def engine_bytes(row: str) -> int:
            return int(
                table.locator(f"tr[data-category='{row}'] td[data-field='bytes']").get_attribute("data-bytes")
                or -1
            )

        states = [f"buildx_buildkit_{n}0_state" for n in ("ci", "old", "flagged", "configured")]
        assert engine_bytes("builders") == sum(volume_size(engine, v) for v in states)
        assert engine_bytes("volumes") == volume_size(engine, "plain")
        opened.page.screenshot(path=str(tmp_path / "report.png"))  # for a person to look at
    finally:
        opened.page.close()


def free_json(engine: Any, like: str, *, group: bool = False) -> dict[str, Any]:
    args = ["free", "--format", "json", "--like", like]
    if group:
        ran = run_unprivileged(engine, args)
        assert ran.returncode == 0, ran.stderr
        doc: dict[str, Any] = json.loads(ran.stdout)
        return doc
    result = cli(engine, *args)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    return doc


def pruned(engine: Any, *args: str) -> set[str]:
    """Run ``docker buildx prune … --verbose``: the IDs of the records it removed."""
    out = docker(engine, "buildx", "prune", "-f", "--verbose", *args)
    return {line.split()[1] for line in out.splitlines() if line.startswith("ID:")}


def test_free_predicts_a_builders_prune_as_buildkit_does_it(builder_engine: Any) -> None:
    engine = builder_engine
    settle(engine, ["buildx_buildkit_ci0_state"])
    # Explicit: every record of a type, none another record that stays stands on.
    like = "docker buildx prune --builder ci --filter type=regular"
    root, group = free_json(engine, like), free_json(engine, like, group=True)
    assert root["builder_records"] == group["builder_records"]
    before = df_total(engine)
    gone = pruned(engine, "--builder", "ci", "--filter", "type=regular")
    assert gone and {r.split("/")[1] for r in root["builder_records"]} == gone
    # The records' files go (freed_bytes); BuildKit's databases may grow a few pages meanwhile.
    assert (
        root["freed_min_bytes"] <= before - df_total(engine) <= root["freed_bytes"] == root["builder_bytes"]
    )
    assert root["freed_bytes"] - root["freed_min_bytes"] == 128 * 1024 and root["builder_bytes"] > 0
    assert any("estimate" in note for note in group["notes"])
    # GC mode: down to a size, least recently and least often used first.
    left = du(engine, "buildx_buildkit_ci0")
    total = sum(r["size"] for r in left)
    like = f"docker buildx prune --builder ci --max-used-space {total // 2}b"
    root = free_json(engine, like)
    before = df_total(engine)
    gone = pruned(engine, "--builder", "ci", "--max-used-space", f"{total // 2}b")
    assert {r.split("/")[1] for r in root["builder_records"]} == gone and 0 < len(gone) < len(left)
    assert root["freed_min_bytes"] <= before - df_total(engine) <= root["freed_bytes"]


def test_free_predicts_buildx_rm(builder_engine: Any) -> None:
    engine = builder_engine
    like = "docker buildx rm flagged"
    root = free_json(engine, like)
    assert root["volumes"][0]["name"] == "buildx_buildkit_flagged0_state"
    assert root["containers"][0]["name"] == "buildx_buildkit_flagged0"
    before = df_total(engine)
    docker(engine, "buildx", "rm", "flagged")
    assert before - df_total(engine) == root["freed_bytes"]
    names = docker(engine, "volume", "ls", "-q").split()
    assert "buildx_buildkit_flagged0_state" not in names


def test_browse_lists_builders_and_removes_a_marked_builders_cache(builder_engine: Any) -> None:
    """Under disk, a row per builder; marking one is its ``buildx prune -a``: the status line is free's
    figure, and with --allow-removal the confirmed figure is the engine's drop."""
    engine = builder_engine
    build(engine, "ci", CACHE_MOUNT.replace("count=200", "count=220"))
    settle(engine, ["buildx_buildkit_ci0_state"])
    doc = free_json(engine, "docker buildx prune --builder ci -a")
    assert doc["builder_records"] and doc["commands"] == ["docker buildx prune --builder ci -a -f"]
    seen: dict[str, Any] = {}

    def look(app: Any) -> None:
        seen["status"] = status_of(app)

    keys = [*filtered("buildx*"), "enter", *filtered("ci"), "A"]
    pilot(engine, keys, check=look)
    assert seen["status"] == (1, doc["freed_bytes"])
    before = df_total(engine)
    confirmed, predicted, freed, _ = remove_with_browse(engine, keys, "disk")
    assert confirmed == predicted == doc["freed_bytes"] > 0
    for measured in (freed, before - df_total(engine)):  # BuildKit's databases may grow a few pages
        assert doc["freed_min_bytes"] <= measured <= doc["freed_bytes"]
    assert not du(engine, "buildx_buildkit_ci0")


@pytest.mark.parametrize("builder_engine", ["29.7-containerd"], indirect=True)
def test_gc_deletes_what_disk_said_it_would(builder_engine: Any) -> None:
    """A builder whose GC keeps 2 MiB: two builds take it over; ``disk`` names the records GC's next run
    deletes, and BuildKit's GC (a minute after its last run, at its boot) deletes exactly those."""
    engine = builder_engine
    make_builder(engine, "tiny", config='[worker.oci]\n  [[worker.oci.gcpolicy]]\n    maxUsedSpace = "2MB"\n')
    time.sleep(2)  # its GC runs a second after it boots, on an empty cache; the next run waits a minute
    build(engine, "tiny", CACHE_MOUNT)
    build(engine, "tiny", STEPS, {"data.bin": b"x" * 300_000})
    tiny = builders_of(disk_json(engine))["tiny"]
    outlook = tiny["gc"]
    assert tiny["gc_policy"][0]["max_used_space"] == 2 << 20 and outlook["total_bytes"] > 2 << 20
    assert outlook["deletes_now"] and outlook["deletes_now_bytes"] >= tiny["bytes"] - (2 << 20)
    before = {r["id"] for r in du(engine, "buildx_buildkit_tiny0")}
    assert set(outlook["deletes_now"]) <= before
    deadline = time.monotonic() + 90
    after, last = before, before
    while time.monotonic() < deadline:
        after = {r["id"] for r in du(engine, "buildx_buildkit_tiny0")}
        if after != before and after == last:
            break  # GC has run and is done: a reading taken while it deletes lists some of them still
        last = after
        time.sleep(2)
    assert before - after == set(outlook["deletes_now"])
    ran = cli(engine, "disk")
    assert "builder tiny: " in ran.stdout


def test_plan_with_build_cache_takes_builders_records_and_applies_them(builder_engine: Any) -> None:
    """``plan --build-cache`` lets a builder's records go, in its GC's order among the engine's
    candidates; applied (one ``buildctl prune`` per record in the builder), the engine's accounting drops
    by the plan's figure and exactly those records are gone."""
    engine = builder_engine
    build(engine, "ci", CACHE_MOUNT.replace("count=200", "count=230"))
    settle(engine, ["buildx_buildkit_ci0_state"])
    running = docker(engine, "ps", "--format", "{{.Names}}", "--filter", "name=buildx_buildkit_").split()
    records = {r["id"]: name for name in running for r in du(engine, name)}
    args = ["plan", "--free", "1b", "--build-cache", "--keep", "*", "--min-age", "0", "--format", "json"]
    planned = cli(engine, *args)
    assert planned.returncode == 0, planned.stderr
    doc = json.loads(planned.stdout)
    items = [i for i in doc["items"] if i["kind"] == "builder-cache"]
    assert items and all(i["id"] in records for i in items) and doc["reached"]
    commands = doc["commands"]
    assert all(c.startswith("docker buildx prune --builder ") and "--filter 'id=^" in c for c in commands), (
        commands
    )
    before = df_total(engine)
    applied = cli(engine, *args, "--apply")
    assert applied.returncode == 0, applied.stderr
    after = json.loads(applied.stdout)
    # the records' files go; BuildKit's databases may grow a few pages as it records the removal (some
    # of it after the prune returned: what apply measured and what the engine says a moment later)
    drop = before - df_total(engine)
    assert after["freed_bytes"] == doc["freed_bytes"] > 0 and not doc["freed_bytes_exact"]
    for measured in (after["applied_freed_bytes"], drop):
        assert doc["freed_min_bytes"] <= measured <= doc["freed_bytes"]
    left = {r["id"] for name in running for r in du(engine, name)}
    assert set(records) - left == {i["id"] for i in items}
    assert any(k["kind"] == "builder-cache" and "stopped" in k["reason"] for k in doc["kept"])  # old's
