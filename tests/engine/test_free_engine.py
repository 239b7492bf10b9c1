"""``layershare free`` on real engines: predict, then really remove, then hold the prediction against
what the engine's own accounting (``GET /system/df``) and the data root's allocated bytes dropped by.

Each engine (20.10 overlay2; Engine 29.7.2 on the containerd store with its CLI 29.7.2, and on overlay2
driven by Debian's 20.10 CLI; 28.5.2 on the containerd store with its CLI: where the engine's rules
differ) holds the example images, the state of
``disk_state.py`` (a running container with a volume, stopped ones with logs, BuildKit cache) and of
``free_state.py``. The tests run in order on one engine each: every removal changes what follows.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from disk_state import build_disk_state
from engines import (
    api_calls_since,
    cli,
    df_total,
    engine_with_state,
    run_unprivileged,
    run_unprivileged_python,
    system_df,
)
from free_state import build_free_state, replenish, settle
from support import RECORDING

pytestmark = pytest.mark.engine


@pytest.fixture(
    scope="module",
    params=[
        "20.10-overlay2",
        "29.7-containerd",
        "29.7-overlay2",
        "28.5-containerd",
        "29.7-containerd+group",
        "28.5-containerd+group",
    ],
)
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An engine of the kind; ``+group``: every ``free`` runs as uid 65534 with the socket opened to it
    (a member of the docker group, who cannot read the engine's files), with a cache of its own."""
    kind, _, who = str(request.param).partition("+")

    def build(private: Any) -> None:
        build_disk_state(private)
        build_free_state(private)
        settle(private)

    for private in engine_with_state(kind, build):
        private.as_group = who == "group"
        private.group_cache = Path(tempfile.mkdtemp(prefix="layershare-group-cache-"))
        os.chmod(private.group_cache, 0o777)
        try:
            yield private
        finally:
            shutil.rmtree(private.group_cache, ignore_errors=True)


def data_paths(engine: Any) -> list[str]:
    """Everything under the data root that holds data, metadata left out: layer folders (snapshots and
    blobs), containers' logs, volumes."""
    root = Path(engine.data_root)
    found: list[Path] = []
    overlay = root / "overlay2"
    if overlay.is_dir():
        found += [p for p in overlay.iterdir() if p.name != "l"]
    store = root / "containerd" / "daemon"
    found += list((store / "io.containerd.content.v1.content" / "blobs" / "sha256").glob("*"))
    found += list((store / "io.containerd.snapshotter.v1.overlayfs" / "snapshots").glob("*"))
    for folder in (root / "containers").iterdir():
        found += [p for p in folder.iterdir() if "-json.log" in p.name or p.name == "local-logs"]
    found += [p for p in (root / "volumes").iterdir() if p.is_dir()]
    return [str(p) for p in found]


def data_bytes(engine: Any) -> int:
    paths = data_paths(engine)
    out = subprocess.run(
        ["du", "-sxc", "--block-size=1", *paths], capture_output=True, text=True, check=False
    )
    return int(out.stdout.splitlines()[-1].split()[0])


def quiet(engine: Any) -> tuple[int, int]:
    """(df total, data bytes) once two readings a moment apart agree (containerd collects in the background)."""
    last = (df_total(engine), data_bytes(engine))
    for _ in range(40):
        time.sleep(0.3)
        now = (df_total(engine), data_bytes(engine))
        if now == last:
            return now
        last = now
    pytest.fail("the engine never settled")


def as_group(engine: Any) -> bool:
    """Whether this module's ``free`` runs as the docker group on ``engine`` (other modules' engines:
    as root)."""
    return bool(getattr(engine, "as_group", False))


def free(engine: Any, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    if as_group(engine):
        cache = {"LAYERSHARE_CACHE_DIR": str(engine.group_cache)}
        ran = run_unprivileged(engine, ["free", "--format", "json", *args], {**cache, **(env or {})})
        result: Any = ran
    else:
        result = cli(engine, "free", "--format", "json", *args, env=env)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    assert doc["schema"] == "layershare.free/v1"
    return doc


def carry_out(engine: Any, doc: dict[str, Any], env: dict[str, str] | None = None) -> None:
    """Run the commands layershare printed, in its order, with the docker CLI."""
    for command in doc["commands"]:
        words = shlex.split(command)
        assert words[0] == "docker", command
        if words[1] == "buildx":  # no buildx here: what it asks BuildKit for, through the engine's API
            buildx_prune(engine, words[3:])
            continue
        subprocess.run(
            ["docker", *words[1:]], env={**engine.env(), **(env or {})}, check=True, capture_output=True
        )


def predicted_then_done(engine: Any, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Predict, carry it out, and hold both figures against what really went."""
    before = quiet(engine)
    images_before = all_images(engine)
    mark = len(engine.log())
    doc = free(engine, *args, env=env)
    calls = api_calls_since(engine, mark)
    changing = [c for c in calls if c[0] not in ("GET", "HEAD")]
    assert calls and changing == [], changing  # layershare itself only reads (the log shows its calls)
    carry_out(engine, doc, env)
    after = quiet(engine)
    gone = images_before - all_images(engine)
    predicted = {i["id"] for i in doc["images"] if i["removed"]}
    assert gone == predicted, (sorted(gone - predicted), sorted(predicted - gone))
    dropped = before[0] - after[0]
    if doc["freed_bytes_exact"]:
        assert dropped == doc["freed_bytes"] == doc["freed_min_bytes"] == doc["freed_max_bytes"], (
            args,
            dropped,
            doc,
        )
    else:  # what BuildKit's cache keeps is not in the group's answers: a range, said so
        assert as_group(engine) and any("freed_bytes is an estimate" in n for n in doc["notes"]), doc
        assert doc["freed_min_bytes"] <= dropped <= doc["freed_max_bytes"], (args, dropped, doc)
    if as_group(engine):  # the allocated bytes need the engine's files
        assert doc["freed_disk_bytes"] is None and any("needs root" in n for n in doc["notes"])
        assert parts_add_up(doc)
        return doc
    assert doc["freed_disk_bytes"] is not None
    on_disk = before[1] - after[1]
    if doc["freed_disk_uncertain_bytes"] == 0:
        assert on_disk == doc["freed_disk_bytes"], (args, on_disk, doc)
    else:  # blobs BuildKit's build history names: a range, said so
        assert engine.containerd and any("build history" in n for n in doc["notes"])
        assert (
            doc["freed_disk_bytes"] <= on_disk <= doc["freed_disk_bytes"] + doc["freed_disk_uncertain_bytes"]
        )
    assert parts_add_up(doc)
    return doc


def parts_add_up(doc: dict[str, Any]) -> bool:
    parts = (
        sum(i["freed_bytes"] for i in doc["images"])
        + sum(c["freed_bytes"] for c in doc["containers"])
        + sum(v["freed_bytes"] for v in doc["volumes"])
        + doc["build_cache_bytes"]
        + doc["shared_within_selection_bytes"]
    )
    return bool(parts == doc["freed_bytes"])


def buildx_prune(engine: Any, options: list[str]) -> None:
    """``docker buildx prune OPTIONS`` as ``POST /build/prune`` (API 1.48+ has its space limits)."""
    from layershare.free.prune import parse_bytes

    params: dict[str, Any] = {}
    while options:
        word = options.pop(0)
        if word in ("-a", "--all"):
            params["all"] = "1"
        elif word.startswith("--") and word != "--force":
            params[word[2:]] = str(parse_bytes(options.pop(0)))
    api = docker.APIClient(base_url=engine.host, version="auto")
    api._raise_for_status(api._post(api._url("/build/prune"), params=params))


def all_images(engine: Any) -> set[str]:
    return set(engine.docker("images", "-a", "-q", "--no-trunc").split())


def tags(engine: Any) -> set[str]:
    return set(engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}").split())


def image(doc: dict[str, Any], tag: str) -> dict[str, Any]:
    return next(i for i in doc["images"] if tag in i["tags"])


# For each image, read once as the test's user: browse's running total with it marked alone (browse's
# own reading of the engine and its marks, without the terminal: the browse tests drive that), and
# free's answer for it (the plan and figures ``layershare free IMAGE`` prints, on that one reading).
ANSWERS = """
import json
from layershare.browse.marks import Marks
from layershare.browse.session import read_engine
from layershare.free.selection import Selection, plan_removal
from layershare.free.whatif import what_if
from layershare.render.free import free_document
from layershare.sources.choice import SourceChoice
state = read_engine(SourceChoice(hosts=(HOST,)), None)().state
found = {}
for image in state.images:
    marks = Marks(state)
    marks.toggle("image:" + image.id)
    selection = Selection(images=(image.id,))
    doc = free_document(what_if(state, plan_removal(state, selection), selection.describe()))
    found[image.id] = {"browse": [marks.status().freed_bytes, marks.status().estimated], "free": doc}
print(json.dumps(found))
"""


def answers(engine: Any, as_group: bool) -> dict[str, dict[str, Any]]:
    code = ANSWERS.replace("HOST", repr(engine.host))
    if as_group:
        result = run_unprivileged_python(engine, code, {"LAYERSHARE_CACHE_DIR": str(engine.group_cache)})
    else:
        result = subprocess.run(
            [sys.executable, "-c", code], env=engine.env(), capture_output=True, text=True
        )
    assert result.returncode == 0, result.stderr
    found: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return found


def test_one_answer_per_image(engine: Any) -> None:
    """For every image free would remove on its own: report's unique bytes, free's figure and browse's
    running total are one number for the same user; as the docker group they are root's, exact, but
    where BuildKit's build cache leaves the drop open (then free gives a range holding root's exact
    figure and browse says it is an estimate). First: nothing is removed yet."""
    env = {"LAYERSHARE_CACHE_DIR": str(engine.group_cache)}
    ran = run_unprivileged(engine, ["report", "--format", "json"], env) if engine.as_group else None
    report = json.loads(ran.stdout if ran is not None else cli(engine, "report", "--format", "json").stdout)
    roots = {i["id"]: i for i in json.loads(cli(engine, "report", "--format", "json").stdout)["images"]}
    ours = answers(engine, engine.as_group)
    roots_free = answers(engine, False) if engine.as_group else ours
    checked, estimated, kept_by_cache = 0, 0, 0
    for image in report["images"]:
        doc = ours[image["id"]]["free"]
        (row,) = [i for i in doc["images"] if i["id"] == image["id"]]
        if not row["removed"] or len(doc["images"]) > 1:
            continue  # blocked, or hidden parents go with it: not one image's own figure
        shown, browse_estimated = ours[image["id"]]["browse"]
        assert shown == doc["freed_bytes"], image["tags"]  # the image's row leaves out a record counted again
        assert browse_estimated == (not doc["freed_bytes_exact"]), image["tags"]
        if engine.as_group:
            assert image["unique_bytes"] == roots[image["id"]]["unique_bytes"], image["tags"]
        checked += 1
        if not doc["freed_bytes_exact"]:  # root reads what BuildKit's cache keeps: its figure is the drop
            estimated += 1
            truth = roots_free[image["id"]]["free"]["freed_bytes"]
            assert doc["freed_min_bytes"] <= truth <= doc["freed_max_bytes"], (image["tags"], truth, doc)
        elif image["unique_bytes"] != doc["freed_bytes"]:
            # The report's unique bytes count a layer BuildKit's cache keeps as docker system df -v does;
            # removing the image leaves it counted, under the cache: free says so in kept_by.
            why = (image["tags"], image["unique_bytes"], doc)
            assert any("build cache" in reason for reason in row["kept_by"]), why
            kept_by_cache += 1
    assert checked >= 15 and (estimated == 0 or engine.as_group), (checked, estimated)
    assert kept_by_cache <= 3, kept_by_cache  # the BuildKit-built examples only
    # The same figures as the command prints, for one image: the library's answer above is free's.
    image = next(i for i in report["images"] if "overwrite:1" in i["tags"])
    assert free(engine, image["id"])["freed_bytes"] == ours[image["id"]]["free"]["freed_bytes"]


def test_one_tag_of_a_multi_tag_image_frees_nothing(engine: Any) -> None:
    doc = predicted_then_done(engine, "multi:latest")
    assert doc["freed_bytes"] == 0 and doc["freed_disk_bytes"] == (None if engine.as_group else 0)
    multi = image(doc, "multi:1")
    assert multi["removed_tags"] == ["multi:latest"] and not multi["removed"]
    assert "multi:1" in tags(engine) and "multi:latest" not in tags(engine)


def test_without_access_to_the_data_root(engine: Any, tmp_path: Path) -> None:
    """As a user who can open the socket but not read the data root (uid 65534): the engine's figure
    remains (exact on the graphdriver store), the disk figure is null, and a note says why."""
    if engine.as_group:
        pytest.skip("every free of this engine runs as the docker group")
    as_root = free(engine, "versions:*")
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(tmp_path, 0o777)
    os.chmod(cache, 0o777)
    result = run_unprivileged(
        engine, ["free", "--format", "json", "versions:*"], {"LAYERSHARE_CACHE_DIR": str(cache)}
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["freed_disk_bytes"] is None and as_root["freed_disk_bytes"] is not None
    assert any("not readable" in n and ("estimate" in n or "needs root" in n) for n in doc["notes"])
    assert {i["id"] for i in doc["images"]} == {i["id"] for i in as_root["images"]}
    assert doc["freed_bytes"] == as_root["freed_bytes"] > 0 and doc["freed_bytes_exact"]


def test_all_the_tags_of_an_image_free_its_own_layer(engine: Any) -> None:
    doc = predicted_then_done(engine, "multi:1", "other-repo/multi:2")
    multi = image(doc, "multi:1")
    assert multi["removed"] and multi["freed_bytes"] == doc["freed_bytes"] >= 60_000
    assert "multi:1" not in tags(engine)


def test_a_glob_over_apps_sharing_a_layer(engine: Any) -> None:
    doc = predicted_then_done(engine, "grp-*")
    assert {t for i in doc["images"] for t in i["removed_tags"]} == {"grp-a:1", "grp-b:1"}
    assert all(i["removed"] for i in doc["images"] if i["tags"])
    # The 150 kB layer both stand on goes only because both go.
    assert doc["shared_within_selection_bytes"] >= 150_000
    assert image(doc, "grp-a:1")["freed_bytes"] >= 20_000 and image(doc, "grp-b:1")["freed_bytes"] >= 30_000


def test_an_image_a_container_uses_is_blocked(engine: Any) -> None:
    doc = predicted_then_done(engine, "used:1")
    used = image(doc, "used:1")
    assert used["blocked_by"] == ["used by container user-of-used"] and not used["removed"]
    assert doc["freed_bytes"] == 0 and doc["commands"] == []
    refused = subprocess.run(["docker", "image", "rm", "used:1"], env=engine.env(), capture_output=True)
    assert refused.returncode != 0  # the engine agrees


def test_the_same_with_its_containers(engine: Any) -> None:
    doc = predicted_then_done(engine, "used:1", "--with-containers")
    assert [c["name"] for c in doc["containers"]] == ["user-of-used"]
    assert image(doc, "used:1")["removed"] and doc["freed_bytes"] >= 70_000
    assert doc["commands"][0] == "docker rm user-of-used"


def test_a_base_still_needed_by_another_app(engine: Any) -> None:
    doc = predicted_then_done(engine, "base-x:1", "on-x-one:1")
    assert image(doc, "on-x-one:1")["removed"]
    base = image(doc, "base-x:1")
    assert base["freed_bytes"] == 0  # its layer stays under on-x-two:1
    if not engine.containerd:
        assert base["blocked_by"] and "built on it" in base["blocked_by"][0]
    engine.docker("image", "inspect", "on-x-two:1")


def test_older_than(engine: Any) -> None:
    api = docker.APIClient(base_url=engine.host, version="auto")
    # The BuildKit-style images the corpus loads were created on 2026-01-01; everything else today.
    old = {i["Id"] for i in api.images() if i["Created"] < time.time() - 30 * 86400}
    doc = predicted_then_done(engine, "--older-than", "30d")
    assert old and old == {i["id"] for i in doc["images"]}


def test_keep_last(engine: Any) -> None:
    doc = predicted_then_done(engine, "--keep-last", "1")
    removed = {t for i in doc["images"] for t in i["removed_tags"]}
    assert {"versions:1", "versions:2"} <= removed and "versions:3" not in removed
    assert "versions:3" in tags(engine)


def test_a_selection_that_matches_nothing(engine: Any) -> None:
    doc = free(engine, "--label", "no.such.label=x")
    assert doc["freed_bytes"] == 0 and doc["images"] == [] and doc["commands"] == []
    assert doc["notes"][0].startswith("the selection matches nothing")


PRESETS = [
    "docker container prune",
    "docker image prune",
    "docker volume prune",
    "docker builder prune",
    "docker builder prune -a",
    "docker container prune --filter until={until}",
    "docker system prune",
    "docker image prune -a --filter until={until}",
    "docker system prune -a",
    "docker system prune -a --volumes",
    "docker image prune -a",
]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_prune_preset(engine: Any, preset: str) -> None:
    n = PRESETS.index(preset)
    replenish(engine, n)
    # A timestamp, not a duration: the prediction and the real prune a few seconds later agree.
    time.sleep(1.1)
    until = int(time.time())
    time.sleep(1.1)
    doc = predicted_then_done(engine, "--like", preset.format(until=until))
    assert doc["freed_bytes"] > 0 or preset.startswith("docker image prune -a"), doc
    names = {c["name"] for c in doc["containers"]}
    if "container" in preset or "system" in preset:
        assert f"stopped-{n}" in names and "writer" not in names  # a running container stays
    if "volume" in preset or "--volumes" in preset:
        assert "appdata" not in {v["name"] for v in doc["volumes"]}  # the running writer's volume stays
        assert any(note.startswith("volumes: API") for note in doc["notes"])


def build_cache_total(engine: Any) -> int:
    return sum(int(r["Size"]) for r in system_df(engine).get("BuildCache") or [] if not r["Shared"])


SPACE_LIMITS = [
    "docker builder prune --keep-storage {just_under}",
    "docker builder prune --keep-storage {half}",
    "docker buildx prune --max-used-space {half}",
    "docker buildx prune --min-free-space {free_and_half}",
]


# BuildKit's gc mode is 29.7's on either store: not again on 29.7 overlay2 (CI time).
@pytest.mark.parametrize(
    "engine",
    [
        "20.10-overlay2",
        "29.7-containerd",
        "28.5-containerd",
        "29.7-containerd+group",
        "28.5-containerd+group",
    ],
    indirect=True,
)
@pytest.mark.parametrize("preset", SPACE_LIMITS)
def test_build_cache_pruned_down_to_a_size(engine: Any, preset: str) -> None:
    """``builder prune --keep-storage`` (the CLI's own) and buildx's ``--max-used-space`` and
    ``--min-free-space``: BuildKit removes one record at a time, least recently and least often used
    first, until the unshared cache is under what it keeps; layershare names the same records."""
    # A cache of one build's records (the earlier tests' go first): BuildKit ranks at most 12 records
    # in a set order; among more, or two used at the same instant as often, its choice is its own.
    engine.docker("builder", "prune", "-a", "-f")
    replenish(engine, 100 + SPACE_LIMITS.index(preset))
    total = build_cache_total(engine)
    stat = os.statvfs(Path(engine.data_root) / "buildkit")
    half = total // 2
    values = {"just_under": total - 1, "half": half, "free_and_half": stat.f_bsize * stat.f_bfree + half}
    keep = total - 1 if "just_under" in preset else (total - half if "min-free" in preset else half)
    records_before = {r["ID"] for r in system_df(engine).get("BuildCache") or []}
    predicted = free(engine, "--like", preset.format(**values))
    assert not any("ranks some build-cache records equally" in n for n in predicted["notes"]), predicted
    doc = predicted_then_done(engine, "--like", preset.format(**values))
    if "buildx" in preset and engine.kind.startswith("20.10"):  # API 1.41 has no such limits: a full prune
        assert any("from API 1.48" in n for n in doc["notes"])
        assert {r["ID"] for r in system_df(engine).get("BuildCache") or []} <= records_before - set(
            doc["build_cache_records"]
        )
        return
    records_after = {r["ID"] for r in system_df(engine).get("BuildCache") or []}
    assert set(doc["build_cache_records"]) == records_before - records_after, preset
    assert doc["build_cache_records"] and records_after, preset  # some went, not all
    assert build_cache_total(engine) < keep


def test_volume_prune_follows_the_api_version(engine: Any) -> None:
    """From API 1.42 a volume prune takes anonymous volumes only (-a: named too); below, every unused one."""
    if engine.containerd:  # Engine 20.10 speaks API 1.41 at most: only the old rule there
        replenish(engine, 90)
        env = {"DOCKER_API_VERSION": "1.45"}
        doc = predicted_then_done(engine, "--like", "docker volume prune", env=env)
        names = {v["name"] for v in doc["volumes"]}
        assert "named-90" not in names and any(len(n) == 64 for n in names)  # anonymous ones only
        doc = predicted_then_done(engine, "--like", "docker volume prune -a", env=env)
        assert "named-90" in {v["name"] for v in doc["volumes"]}
    replenish(engine, 91)
    old = {"DOCKER_API_VERSION": "1.41"}
    doc = predicted_then_done(engine, "--like", "docker volume prune", env=old)
    assert "named-91" in {v["name"] for v in doc["volumes"]}
    assert any("API 1.41 prunes every unused local volume" in note for note in doc["notes"])


def test_the_engine_is_only_read_and_bad_input_is_one_line(engine: Any) -> None:
    for args, code in (
        (["no-such-image:1"], 6),
        (["--older-than", "3 days"], 2),
        (["--like", "docker image prune --filter until=forever"], 2),
        (["--like", "docker image ls"], 2),
        (["--recording", str(RECORDING)], 2),
    ):
        result = cli(engine, "free", *args)
        assert result.returncode == code, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_library_answers_the_same(engine: Any) -> None:
    from layershare import EngineSource
    from layershare.free.selection import Selection
    from layershare.free.space import free_space

    replenish(engine, 99)
    with EngineSource(engine.host) as source:
        result = free_space(source, Selection(references=("dangle-99:1",)))
    doc = free(engine, "dangle-99:1")
    assert result.freed_bytes == doc["freed_bytes"] >= 16_000
    assert docker.APIClient(base_url=engine.host, version="auto").inspect_image("dangle-99:1")
