"""Removals and prunes one after another, in generated orders, on real engines: before each step
``layershare free`` predicts what the engine's accounting (``GET /system/df``) drops by, the step's
commands are run with the engine's own CLI, and the drop must equal the prediction.

The images are the shape that tripped the containerd store's rule: a classic-builder family whose
siblings share an untagged intermediate (their chains break when the first sibling takes it), own
intermediates above it, a container created from an intermediate by its ID, a stopped container on a
sibling, a second tag, and dangling prunes that take the intermediates of tagged images. Each seed
builds its own family (new random bytes) and plays its own order; the seed is in the test's name.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from engines import cli, engine_with_state
from free_state import build, random_file, settle
from test_free_engine import predicted_then_done, tags

pytestmark = pytest.mark.engine

SIBLINGS = (1, 2, 3, 4)


@pytest.fixture(
    scope="module", params=["29.7-containerd", "28.5-containerd", "29.7-overlay2", "20.10-overlay2"]
)
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from engine_with_state(request.param, settle)


def build_family(engine: Any, p: str) -> None:
    """``{p}-root:1`` (an import), ``{p}-base:1`` on it (two steps), four siblings on the base sharing
    their first step, each with two steps of its own; a container made from sibling 2's own
    intermediate by its ID, a stopped container of sibling 3, a second tag on sibling 4."""
    from corpus import busybox_rootfs

    engine.docker("import", "-", f"{p}-root:1", input_bytes=busybox_rootfs({"etc/family": p.encode()}))
    build(engine, f"{p}-base:1", f"FROM {p}-root:1\n" + random_file("/b1", 40) + random_file("/b2", 30))
    shared = f"FROM {p}-base:1\n" + random_file("/shared", 60)  # the same step: the builder reuses it
    for k in SIBLINGS:
        build(
            engine,
            f"{p}-sib-{k}:1",
            shared + random_file(f"/own{k}a", 10 + k) + random_file(f"/own{k}b", 20 + k),
        )
    api = docker.APIClient(base_url=engine.host, version="auto")
    parent = api.inspect_image(f"{p}-sib-2:1").get("Parent") or next(
        i["ParentId"] for i in api.images(all=True) if f"{p}-sib-2:1" in (i.get("RepoTags") or [])
    )
    assert parent, "the classic builder records sibling 2's parent"
    engine.docker("create", "--name", f"{p}-on-step", "--network", "none", parent, "true")
    engine.docker("create", "--name", f"{p}-user", "--network", "none", f"{p}-sib-3:1", "true")
    engine.docker("tag", f"{p}-sib-4:1", f"{p}-sib-4:2")
    settle(engine)


def unique_bytes(engine: Any, reference: str) -> int | None:
    """The report's unique bytes of the image ``reference`` names, where that is its only tag."""
    result = cli(engine, "report", "--format", "json", "--no-cache")
    assert result.returncode == 0, result.stderr
    found = [i for i in json.loads(result.stdout)["images"] if reference in i["tags"]]
    return int(found[0]["unique_bytes"]) if found and found[0]["tags"] == [reference] else None


def steps(p: str, seed: int) -> list[list[str]]:
    """The ``free`` arguments of one generated order: each removal by tag, a glob over the siblings,
    a stopped container's image with its container, and dangling and container prunes."""
    chosen = [[f"{p}-sib-{k}:1"] for k in SIBLINGS if k != 3]
    chosen += [["--with-containers", f"{p}-sib-3:1"], [f"{p}-sib-4:2"], [f"{p}-base:1"], [f"{p}-root:1"]]
    chosen += [["--like", "docker image prune"], ["--like", "docker container prune"]]
    rng = random.Random(seed)
    rng.shuffle(chosen)
    if rng.random() < 0.5:  # a glob over the siblings somewhere in the first half
        chosen.insert(rng.randrange(len(chosen) // 2 + 1), [f"{p}-sib-*"])
    chosen.insert(rng.randrange(len(chosen) + 1), ["--like", "docker image prune"])
    return chosen


# The containerd store's rule is the one in question: three orders each there, one on overlay2.
SEEDS = [("29.7-containerd", 1), ("29.7-containerd", 2), ("29.7-containerd", 3), ("28.5-containerd", 4),
         ("28.5-containerd", 5), ("28.5-containerd", 6), ("29.7-overlay2", 7), ("20.10-overlay2", 8)]  # fmt: skip


@pytest.mark.parametrize(("engine", "seed"), SEEDS, indirect=["engine"])
def test_each_step_frees_what_free_predicted(engine: Any, seed: int) -> None:
    p = f"q{seed}"
    build_family(engine, p)
    played = []
    for args in steps(p, seed):
        present = tags(engine)
        names = [a for a in args if a.startswith(p) and "*" not in a]
        if any(n not in present for n in names):
            continue  # an earlier step took it
        unique = unique_bytes(engine, args[0]) if engine.containerd and len(args) == 1 else None
        doc = predicted_then_done(engine, *args)
        played.append((" ".join(args), doc["freed_bytes"], len(doc["images"])))
        removed = [i for i in doc["images"] if i["removed"] and i["tags"]]
        if unique is not None and len(removed) == 1 and not doc["containers"]:
            # The report's unique bytes are what removing the image alone frees, after any sequence.
            assert unique == doc["freed_bytes"], (args, unique, doc["freed_bytes"], played)
    assert len(played) >= 6, played
    # Every step is held to the engine above; the order must also have freed real bytes (on a graphdriver
    # store less: a layer goes only with the last image on it).
    assert sum(freed for _, freed, _ in played) > 100_000, played
