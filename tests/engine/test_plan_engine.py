"""``layershare plan`` on real engines: the plan's commands really run, in its order, with the engine's
own CLI, and the engine's accounting (``GET /system/df``) drops by exactly the plan's ``freed_bytes``;
its target met; keep rules, ``--min-age`` and a container's last start; an unreachable target's exit
code; bad targets. On every engine x store a user runs: 20.10, 26.1, 28.5 and 29.7, each store it has.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import api_calls_since, cli, df_total, run_unprivileged, system_df
from free_state import build, random_file, settle
from support import private_engine
from test_over_time_engine import free_port, scrape, start_serve, stop, wait_for

pytestmark = pytest.mark.engine

KINDS = [
    "20.10-overlay2",
    "26.1-overlay2",
    "26.1-containerd",
    "28.5-overlay2",
    "28.5-containerd",
    "29.7-overlay2",
    "29.7-containerd",
]


def build_plan_state(engine: Any) -> None:
    """On an imported system (made now, as everything here): apps on a shared base, a lone image with
    two tags, an image a stopped container uses, one a running container uses."""
    from corpus import busybox_rootfs

    engine.docker(
        "import",
        "--change",
        "ENV PATH=/bin",
        "-",
        "plan-os:1",
        input_bytes=busybox_rootfs({"etc/os-release": b"ID=plan\n"}),
    )
    build(engine, "plan-base:1", "FROM plan-os:1\n" + random_file("/base.bin", 200))
    for name, size in (("plan-a", 30), ("plan-b", 60), ("plan-c", 90)):
        build(engine, f"{name}:1", "FROM plan-base:1\n" + random_file(f"/{name}.bin", size))
        time.sleep(1.1)  # creation times in whole seconds: each its own
    build(engine, "plan-lone:1", "FROM plan-os:1\n" + random_file("/lone.bin", 120))
    engine.docker("tag", "plan-lone:1", "plan-lone:latest")
    build(engine, "plan-stopped:1", "FROM plan-os:1\n" + random_file("/stopped.bin", 40))
    engine.docker("create", "--name", "plan-stopped-box", "--network", "none", "plan-stopped:1", "true")
    build(engine, "plan-running:1", "FROM plan-os:1\n" + random_file("/running.bin", 40))
    engine.docker(
        "run",
        "-d",
        "--name",
        "plan-running-box",
        "--network",
        "none",
        "plan-running:1",
        "busybox",
        "sleep",
        "3600",
    )


@pytest.fixture(scope="module", params=KINDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    with private_engine(request.param, corpus=False, build=build_plan_state) as private:
        yield private


def quiet(engine: Any) -> int:
    """The df total once two readings a moment apart agree (containerd collects in the background)."""
    last = df_total(engine)
    for _ in range(40):
        time.sleep(0.3)
        now = df_total(engine)
        if now == last:
            return now
        last = now
    pytest.fail("the engine never settled")


def plan(engine: Any, *args: str, code: int = 0) -> dict[str, Any]:
    result = cli(engine, "plan", "--format", "json", *args)
    assert result.returncode == code, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    assert doc["schema"] == "layershare.plan/v1"
    return doc


def carry_out(engine: Any, doc: dict[str, Any]) -> None:
    """Run the plan's commands, in its order, with the engine's own docker CLI."""
    for command in doc["commands"]:
        words = shlex.split(command)
        assert words[0] == "docker", command
        engine.docker(*words[1:])


def all_images(engine: Any) -> set[str]:
    return set(engine.docker("images", "-a", "-q", "--no-trunc").split())


def planned_then_done(engine: Any, *args: str, at_least: int | None = None) -> dict[str, Any]:
    """Plan, check the plan only read (and, for a ``--free`` target of ``at_least``, that leaving any
    chosen image out frees less), carry it out, and hold ``freed_bytes`` to the engine's drop."""
    before = quiet(engine)
    mark = len(engine.log())
    doc = plan(engine, *args)
    changing = [c for c in api_calls_since(engine, mark) if c[0] not in ("GET", "HEAD")]
    assert changing == [], changing
    assert doc["reached"] and doc["freed_bytes_exact"]
    if at_least is not None:
        assert doc["freed_bytes"] >= at_least
        chosen = [i["id"] for i in doc["items"]]
        for left_out in chosen:
            rest = [i for i in chosen if i != left_out]
            without = (
                json.loads(cli(engine, "free", "--format", "json", *rest).stdout)["freed_bytes"]
                if rest
                else 0
            )
            assert without < at_least, (left_out, without)
    images = all_images(engine)
    carry_out(engine, doc)
    assert before - quiet(engine) == doc["freed_bytes"], (args, doc)
    assert {i["id"] for i in doc["items"] if i["kind"] == "image"} <= images - all_images(engine)
    assert doc["items"] == sorted(doc["items"], key=lambda i: i["last_used"])  # least recently used first
    return doc


def tags(doc: dict[str, Any]) -> set[str]:
    return {t for i in doc["items"] for t in i["tags"]}


def test_a_target_the_images_just_built_may_not_meet_under_min_age(engine: Any) -> None:
    """Everything here was built minutes ago: under the default --min-age 1h the images kept say why,
    the target is out of reach, exit 8; nothing is removed."""
    images = all_images(engine)
    doc = plan(engine, "--free", "100kB", code=8)
    assert not doc["reached"]
    built = {k["tags"][0]: k["reason"] for k in doc["kept"] if k["tags"]}
    assert "--min-age" in built["plan-a:1"] and "running container" in built["plan-running:1"]
    assert all_images(engine) == images


def test_the_plan_reaches_the_target_with_the_oldest_images_and_the_drop_is_exact(engine: Any) -> None:
    """Newest last: plan-c, plan-b, plan-a were built in that order, a second apart. 60 kB is met by the
    oldest app layers first, never by more images than it needs."""
    doc = planned_then_done(
        engine,
        "--free",
        "80kB",
        "--min-age",
        "0",
        "--keep",
        "plan-os:*",
        "--keep",
        "plan-lone:*",
        at_least=80_000,
    )
    assert sum(i["freed_bytes"] for i in doc["items"]) == doc["freed_bytes"]
    assert tags(doc) & {"plan-a:1", "plan-b:1"} and "plan-c:1" not in tags(doc)


def test_keep_rules_and_an_image_a_stopped_container_uses(engine: Any) -> None:
    doc = plan(engine, "--free", "1TB", "--min-age", "0", "--keep", "plan-lone:latest", code=8)
    kept = {k["tags"][0]: k["reason"] for k in doc["kept"] if k["tags"]}
    assert "--keep plan-lone:latest" in kept["plan-lone:1"]
    assert "plan-stopped-box" in kept["plan-stopped:1"] and "running" in kept["plan-running:1"]
    assert "plan-running:1" not in tags(doc)
    with_containers = plan(engine, "--free", "1TB", "--min-age", "0", "--with-containers", code=8)
    assert "plan-stopped:1" in tags(with_containers) and "plan-running:1" not in tags(with_containers)
    assert "docker rm plan-stopped-box" in with_containers["commands"]
    used = next(i for i in with_containers["items"] if "plan-stopped:1" in i["tags"])
    assert used["last_used_source"] in ("created", "container", "tagged", "event")


def test_a_container_started_now_makes_its_image_recently_used(engine: Any) -> None:
    engine.docker("start", "plan-stopped-box")
    engine.docker("wait", "plan-stopped-box")
    doc = plan(engine, "--free", "1TB", "--min-age", "0", "--with-containers", code=8)
    used = next(i for i in doc["items"] if "plan-stopped:1" in i["tags"])
    # Its start is both the container's StartedAt and an event the journal read: the newest wins.
    assert used["last_used_source"] in ("container", "event") and doc["items"][-1] == used
    kept = plan(engine, "--free", "1TB", "--with-containers", code=8)  # --min-age 1h: it ran just now
    assert any(
        "plan-stopped:1" in k["tags"]
        and re.search(r"(container|event) 20\d\d-\d\d-\d\d [\d:]+ UTC, within --min-age 1h", k["reason"])
        for k in kept["kept"]
    )


def test_the_stores_files_say_when_each_image_was_last_tagged_as_inspect_does(engine: Any) -> None:
    """As root the plan reads LastTagTime from the store's files (imagedb's lastUpdated; containerd's
    image records' updatedat) instead of inspecting every image: for every image, tagged again or
    never, the same second inspect says."""
    from layershare.sources.stores.tag_times import tag_times
    from layershare.times import unix_time

    time.sleep(1.1)
    engine.docker("tag", "plan-os:1", "plan-os:again")
    info = json.loads(engine.docker("info", "--format", "{{json .}}"))
    ids = sorted(set(engine.docker("images", "-a", "-q", "--no-trunc").split()))
    files = tag_times(info, info["DockerRootDir"], ids)
    assert files is not None
    inspect = {
        i["Id"]: float(max(unix_time(i["Metadata"]["LastTagTime"]), 0))
        for i in json.loads(engine.docker("image", "inspect", *ids))
    }
    assert files == inspect
    again = next(
        i for i in ids if "plan-os:again" in engine.docker("image", "inspect", "-f", "{{.RepoTags}}", i)
    )
    assert files[again] >= time.time() - 60
    engine.docker("rmi", "plan-os:again")


def inspected(engine: Any, mark: int) -> list[str]:
    """What a plan made (not served) asks after ``mark``: the engine's ``/system/df`` and each
    container's inspect (as root the images' last tag times come from the store's files)."""
    return [
        p
        for _, p in api_calls_since(engine, mark)
        if re.search(r"/system/df|/containers/[0-9a-f]{12,}/json", p)
    ]


def test_a_plan_is_served_again_until_what_it_rests_on_changes(engine: Any, tmp_path: Path) -> None:
    """The same plan twice: the second is served from the cache folder (nothing but the lists asked), the same
    but for when it was collected. A tag given again to the same image (nothing in the image list
    changes; its LastTagTime and the events do) makes it plan again, with that image now the most
    recently used; so does a build-cache prune (BuildKit's records change)."""
    where = {"LAYERSHARE_CACHE_DIR": str(tmp_path)}
    args = ("plan", "--format", "json", "--free", "1TB", "--min-age", "0", "--keep", "plan-os:*")

    def served(expect_served: bool) -> dict[str, Any]:
        mark = len(engine.log())
        ran = cli(engine, *args, env=where)
        assert ran.returncode == 8, ran.stderr
        assert (inspected(engine, mark) == []) == expect_served, inspected(engine, mark)
        doc: dict[str, Any] = json.loads(ran.stdout)
        return doc

    quiet(engine)  # containerd's collector done: its metadata, which the plan rests on, settled
    first = served(False)
    again = served(True)
    assert again == {**first, "collected_at": again["collected_at"]}
    oldest = first["items"][0]
    assert oldest["id"] != first["items"][-1]["id"]
    time.sleep(1.1)  # last-used times in whole seconds
    engine.docker("tag", oldest["tags"][0], oldest["tags"][0])
    quiet(engine)
    retagged = served(False)
    moved = next(i for i in retagged["items"] if i["id"] == oldest["id"])
    assert moved["last_used"] > oldest["last_used"] and moved["last_used_source"] in ("tagged", "event")
    assert retagged["items"][-1]["id"] == oldest["id"]
    served(True)
    engine.docker("builder", "prune", "-af")
    served(False)


def test_a_plan_made_while_the_engine_changed_is_not_kept(engine: Any, tmp_path: Path) -> None:
    """The library's steps: the key read, then a tag (an event) before the plan is stored: not stored;
    the same without a change between: stored and served."""
    from layershare import EngineSource
    from layershare.free.served import Served, ServedPlans

    quiet(engine)
    for change, kept in ((True, False), (False, True)):
        with EngineSource(engine.host, cache_dir=tmp_path / str(change)) as source:
            plans = ServedPlans(source, ["race"], None)
            key = plans.key()
            if change:
                engine.docker("tag", "plan-os:1", "plan-os:racing")
            plans.put(key, Served("the plan", True), "", None)
            assert (plans.get(key) is not None) == kept
    engine.docker("rmi", "plan-os:racing")


def test_a_served_plan_holds_only_until_min_age_lets_an_image_go(engine: Any, tmp_path: Path) -> None:
    """An image tagged now is kept under --min-age 6s; once 6 s have passed the same plan (served a
    moment ago) takes it."""
    where = {"LAYERSHARE_CACHE_DIR": str(tmp_path)}
    args = ("plan", "--format", "json", "--free", "1TB", "--min-age", "6s", "--keep", "plan-os:*")
    time.sleep(6.5)  # everything else older than --min-age
    engine.docker("tag", "plan-lone:1", "plan-lone:now")
    young = json.loads(cli(engine, *args, env=where).stdout)
    assert any("plan-lone:now" in k["tags"] and "--min-age 6s" in k["reason"] for k in young["kept"])
    assert json.loads(cli(engine, *args, env=where).stdout)["items"] == young["items"]  # served
    time.sleep(6.5)
    older = json.loads(cli(engine, *args, env=where).stdout)
    assert "plan-lone:now" in tags(older)
    engine.docker("rmi", "plan-lone:now")


def test_images_under_a_size(engine: Any) -> None:
    layers = int(system_df(engine)["LayersSize"])
    target = layers - 100_000
    planned_then_done(engine, "--images-under", str(target), "--min-age", "0", "--keep", "plan-os:*")
    assert int(system_df(engine)["LayersSize"]) <= target


def test_bad_targets_are_one_line_and_exit_2(engine: Any) -> None:
    for args in (["--free", "1GB", "--images-under", "2GB"], ["--free", "-5GB"], ["--disk-free", "120%"], []):
        result = cli(engine, "plan", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    typo = cli(engine, "plan", "--free", "1B", "--min-age", "0", "--keep", "plan-oss:*")
    assert typo.returncode in (0, 8), typo.stderr  # a warning, not an error (exit 2)
    assert typo.stderr == "layershare: warning: --keep plan-oss:* matches no image here\n"
    assert "Note: --keep plan-oss:* matches no image here" in typo.stdout


def test_apply_refuses_a_changed_state(engine: Any) -> None:
    """The library's two steps with a tag added between them: nothing is removed, StateChanged."""
    from layershare import EngineSource
    from layershare.errors import StateChanged
    from layershare.free.space import apply_plan, plan_space
    from layershare.free.target import Rules, Target

    with EngineSource(engine.host) as source:
        planned = plan_space(source, Target("free", 1, "1"), Rules(min_age=0, keep=("plan-os:*",)))
        assert planned.result.commands
        engine.docker("tag", "plan-os:1", "plan-os:moved")
        images = all_images(engine)
        with pytest.raises(StateChanged):
            apply_plan(source, planned)
    assert all_images(engine) == images


def test_apply_removes_and_says_what_went(engine: Any) -> None:
    """``--apply``: the plan carried out through the engine's API; what the engine's accounting dropped
    by is the plan's freed_bytes, and the chosen images are gone."""
    for n in (1, 2):  # something to take, whatever the tests before took
        build(engine, f"plan-extra-{n}:1", "FROM plan-os:1\n" + random_file(f"/extra{n}.bin", 20))
    before = quiet(engine)
    images = all_images(engine)
    doc = plan(engine, "--free", "1", "--min-age", "0", "--keep", "plan-os:*", "--apply")
    assert doc["applied"] and doc["items"]
    assert doc["applied_freed_bytes"] == doc["freed_bytes"] == before - quiet(engine)
    assert {i["id"] for i in doc["items"] if i["kind"] == "image"} <= images - all_images(engine)
    table = cli(engine, "plan", "--free", "1", "--min-age", "0", "--keep", "plan-os:*", "--apply")
    assert table.returncode == 0, table.stderr
    said = re.search(
        r"Removed: predicted ([\d,]+) B, the engine's accounting dropped by ([\d,]+) B", table.stdout
    )
    assert said and said.group(1) == said.group(2) != "0", table.stdout


class Keeper:
    """``layershare plan --watch --apply`` as a process of its own, its stdout read line by line."""

    def __init__(self, engine: Any, cache: Path, *args: str) -> None:
        command = [
            sys.executable,
            "-m",
            "layershare",
            "plan",
            "--watch",
            "--apply",
            "--cache-dir",
            str(cache),
        ]
        self.process = subprocess.Popen([*command, *args], env=engine.env(), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never came: {self.seen}")


def test_the_keeper_holds_a_target_across_a_restart_and_stops_on_sigterm(engine: Any, tmp_path: Path) -> None:
    """Images loaded past the target: the keeper sees the events and brings LayersSize back under it,
    predicted equal to freed; killed with -9 and started again, its journal still holds the uses it
    read; SIGTERM stops it cleanly."""
    if engine.kind not in ("20.10-overlay2", "29.7-containerd"):
        pytest.skip("the keeper on 20.10 overlay2 and 29.7 containerd (CI time)")
    cache = tmp_path / "cache"
    target = int(system_df(engine)["LayersSize"]) + 150_000
    keep = [
        "--images-under",
        str(target),
        "--min-age",
        "0",
        "--keep",
        "plan-os:*",
        "--margin",
        "0%",
        "--interval",
        "1h",
    ]
    keeper = Keeper(engine, cache, *keep)
    try:
        keeper.wait_for("keeping images")
        for n in (1, 2, 3):
            build(engine, f"plan-keep-{n}:1", "FROM plan-os:1\n" + random_file(f"/keep{n}.bin", 100))
        line = keeper.wait_for("removed ")
        said = re.search(
            r"removed (\d+) image\(s\).*predicted ([\d,]+) B, freed ([\d,]+) B; target reached", line
        )
        assert said and said.group(2) == said.group(3), line
        assert int(system_df(engine)["LayersSize"]) <= target
        # serve beside it, on the same cache folder: the keeper's counts in its metrics
        port = free_port()
        server = start_serve(engine, port, "--no-disk", "--cache-dir", str(cache))
        try:
            values = wait_for(lambda: scrape(port).get("layershare_keeper_actions"))
            families = scrape(port)
        finally:
            stop(server)
        assert [s.value for s in values] == [1.0]
        freed = int(said.group(3).replace(",", ""))
        assert [s.value for s in families["layershare_keeper_freed_bytes"]] == [freed]
        assert [s.value for s in families["layershare_keeper_predicted_bytes"]] == [freed]
        assert [s.value for s in families["layershare_keeper_removed_images"]] == [int(said.group(1))]
        assert families["layershare_keeper_last_action_timestamp_seconds"][0].value > time.time() - 300
        keeper.process.kill()  # kill -9: the journal was written whole (renamed into place) or not at all
        keeper.process.wait()
        journal = next(cache.glob("uses-*.json")).read_text()
        assert "plan-keep-3:1" in journal
        keeper = Keeper(engine, cache, *keep)
        keeper.wait_for("keeping images")
        assert "plan-keep-3:1" in next(cache.glob("uses-*.json")).read_text()
        keeper.process.send_signal(signal.SIGTERM)
        keeper.wait_for("stopped after", timeout=30)
        assert keeper.process.wait(timeout=30) == 0
    finally:
        if keeper.process.poll() is None:
            keeper.process.kill()


def test_disk_free_counts_the_bytes_that_leave_the_disk(engine: Any) -> None:
    """What the data root's file system has free now, plus the allocated bytes the chosen images take
    off it (freed_disk_bytes, measured as du does): at least the target."""
    if not engine.kind.startswith("29.7"):
        pytest.skip("the disk target on Engine 29.7, both stores (CI time)")
    for n in (1, 2):
        build(engine, f"plan-disk-{n}:1", "FROM plan-os:1\n" + random_file(f"/disk{n}.bin", 100))
    probe = plan(engine, "--disk-free", "1B", "--min-age", "0")
    wanted = probe["filesystem"]["free_bytes"] + 150_000
    doc = plan(engine, "--disk-free", str(wanted), "--min-age", "0", "--keep", "plan-os:*")
    assert doc["reached"] and doc["items"], doc
    assert doc["measured_bytes"] == doc["freed_disk_bytes"] >= wanted - doc["filesystem"]["free_bytes"]


def test_as_the_docker_group_the_same_plan_as_roots_and_served_again(engine: Any) -> None:
    """As uid 65534 with the socket (the docker group, no data root): the images everything these rules
    allow takes are root's, the figure root's (exact, said so); the same plan a second time is the
    same but for when it was collected, served from the group's own cache folder where the engine
    answers for BuildKit's records alone."""
    if engine.kind not in ("20.10-overlay2", "29.7-containerd"):
        pytest.skip("the docker group's plan on 20.10 overlay2 and 29.7 containerd (CI time)")
    rules = ("--free", "1TB", "--min-age", "0", "--keep", "plan-os:*")
    root = plan(engine, *rules, code=8)
    folder = Path(tempfile.mkdtemp(prefix="layershare-group-cache-"))  # pytest's folders are root's alone
    os.chmod(folder, 0o777)
    env = {"LAYERSHARE_CACHE_DIR": str(folder)}
    docs = []
    try:
        for _ in range(2):
            ran = run_unprivileged(engine, ["plan", "--format", "json", *rules], env)
            assert ran.returncode == 8, ran.stderr
            docs.append(json.loads(ran.stdout))
        stored = bool(list(folder.glob("plans-*/*")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    group, again = docs
    assert {i["id"] for i in group["items"]} == {i["id"] for i in root["items"]} != set()
    assert group["freed_bytes_exact"] and group["freed_bytes"] == root["freed_bytes"], (group, root)
    assert again == {**group, "collected_at": again["collected_at"]}
    # Kept where BuildKit's records can be asked alone (API 1.42+); 20.10's API would size every
    # container and volume for them, so there it is planned afresh each time.
    assert stored == (engine.kind != "20.10-overlay2")


def test_build_cache_goes_too_with_the_flag_and_the_drop_is_exact(engine: Any) -> None:
    """With --build-cache BuildKit's records are candidates (never without): every tagged image kept,
    the records alone; the first in BuildKit's order as a reachable target, then everything these
    rules allow (images and records), each carried out with the engine's CLI and the drop equal."""
    build(
        engine,
        "plan-bk:1",
        "FROM plan-os:1\nRUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/c.bin bs=1000 "
        "count=90 2>/dev/null && echo bk > /built\n",
        buildkit=True,
    )
    settle(engine)
    only_records = ("--min-age", "0", "--keep", "*")
    assert plan(engine, "--free", "1TB", *only_records, code=8)["items"] == []
    every = plan(engine, "--free", "1TB", "--build-cache", *only_records, code=8)
    assert every["items"] and {i["kind"] for i in every["items"]} == {"build-cache"}
    assert all(i["last_used_source"] == "build-cache" and i["tags"] == [] for i in every["items"])
    assert every["commands"][0].startswith("docker builder prune -a -f --filter id=")
    # The first record that frees something, as a target: it, and at most those before it in BuildKit's
    # order (a record that stands on it must go first), nothing after.
    n = next(n for n, i in enumerate(every["items"]) if i["freed_bytes"] > 0)
    first = every["items"][n]
    doc = planned_then_done(engine, "--free", str(first["freed_bytes"]), "--build-cache", *only_records)
    ids = [i["id"] for i in doc["items"]]
    assert first["id"] in ids and set(ids) <= {i["id"] for i in every["items"][: n + 1]}, (doc, every)
    # Everything these rules allow, images and records, in one plan: the drop is its figure.
    build(
        engine,
        "plan-bk:2",
        "FROM plan-os:1\nRUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/d.bin bs=1000 "
        "count=70 2>/dev/null && echo bk2 > /built\n",
        buildkit=True,
    )
    settle(engine)
    before = quiet(engine)
    mixed = plan(engine, "--free", "1TB", "--build-cache", "--min-age", "0", "--keep", "plan-os:*", code=8)
    assert {i["kind"] for i in mixed["items"]} == {"image", "build-cache"}
    carry_out(engine, mixed)
    assert before - quiet(engine) == mixed["freed_bytes"], mixed


def test_a_use_the_journal_read_outlives_its_container_and_the_engines_restart(
    engine: Any, tmp_path: Path
) -> None:
    """A container of an image runs and is removed: only the engine's events say the image was used.
    A plan reads them into the journal; the engine restarts (its event buffer, in memory, is gone); the
    next plan still has that use from the journal, at the same time; a plan without the journal has
    not. (Last, the engine restarts.)"""
    if engine.kind not in ("20.10-overlay2", "29.7-containerd"):
        pytest.skip("the journal across an engine restart on 20.10 overlay2 and 29.7 containerd (CI time)")
    build(engine, "plan-journal:1", "FROM plan-os:1\n" + random_file("/journal.bin", 30))
    time.sleep(1.1)  # its use a second after it was made
    engine.docker("run", "--rm", "--network", "none", "plan-journal:1", "true")
    args = ("plan", "--format", "json", "--free", "1TB", "--min-age", "0", "--keep", "plan-os:*")

    def last_use(folder: Path) -> dict[str, Any]:
        doc = json.loads(cli(engine, *args, env={"LAYERSHARE_CACHE_DIR": str(folder)}).stdout)
        found: dict[str, Any] = next(i for i in doc["items"] if "plan-journal:1" in i["tags"])
        return found

    first = last_use(tmp_path / "kept")
    assert first["last_used_source"] == "event", first
    engine.halt()
    engine.resume()
    assert "plan-journal" not in engine.docker("events", "--since", "0", "--until", str(int(time.time())))
    again = last_use(tmp_path / "kept")
    assert (again["last_used_source"], again["last_used"]) == ("event", first["last_used"])
    assert last_use(tmp_path / "none")["last_used_source"] in ("created", "tagged")
