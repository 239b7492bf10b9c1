"""``layershare browse`` on real engines: the status line against ``layershare free --format json`` for the
same selection (driven headless by Textual's pilot), the app in a real terminal (tmux), and, with
``--allow-removal``, a removal whose drop in the engine's accounting is the figure the confirmation showed.

The engines (20.10 overlay2, and Engine 29.7.2 on its default containerd store) hold the example
images and the removal tests' state (``disk_state.py``, ``free_state.py``): layers two apps share, an
image a container uses, an image with three tags, running and stopped containers, volumes, BuildKit
cache. The tests of a module run in order on one engine; the removals come last.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from devengine import PrivateEngineError
from disk_state import build_disk_state
from engines import (
    api_calls_since,
    cli,
    df_total,
    engine_with_state,
    open_to_others,
    run_unprivileged,
    system_df,
    unprivileged_script,
)
from free_state import build as build_image
from free_state import build_free_state, settle
from support import ROOT, need, run_async

from layershare.browse.app import BrowseApp, Rows
from layershare.browse.screens import Confirm
from layershare.browse.session import loaders
from layershare.sources.choice import SourceChoice

pytestmark = pytest.mark.engine

STATUS = re.compile(r"Marked (\d+) · frees \S+ \(([\d,]+) B\)")


# An instruction that would set the terminal's title, clear the screen and style the row, were it not
# shown as text.
HOSTILE_RUN = "echo '\x1b]0;pwned\x07[bold red]boom[/] \x1b[2J' > /h"


@pytest.fixture(scope="module", params=["20.10-overlay2", "29.7-containerd"])
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    def build(private: Any) -> None:
        build_disk_state(private)
        build_free_state(private)
        build_image(private, "hostile-layer:1", f"FROM distro-a:1\nRUN {HOSTILE_RUN}\nENV A=1\n")
        settle(private)

    yield from engine_with_state(request.param, build)


def free(engine: Any, *args: str) -> dict[str, Any]:
    result = cli(engine, "free", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def pilot(
    engine: Any, keys: list[str], *, view: str = "disk", check: Callable[[BrowseApp], None] | None = None,
    allow_removal: bool = False, wait: Callable[[BrowseApp], bool] | None = None, host: str | None = None,
    size: tuple[int, int] = (120, 40),
) -> BrowseApp:  # fmt: skip
    """Drive browse on the engine (or at ``host``) headless: press ``keys`` once the rows are there,
    wait for ``wait``, let ``check`` look, quit with q."""

    async def run() -> BrowseApp:
        choice = SourceChoice(hosts=(host or engine.host,))
        app = BrowseApp(loaders(choice, None), view=view, allow_removal=allow_removal)  # type: ignore[arg-type]
        async with app.run_test(size=size) as pilot:
            while not app.loaded:
                await pilot.pause(0.05)
            for key in keys:
                await pilot.press(key)
            deadline = time.monotonic() + 120
            while wait is not None and not wait(app) and time.monotonic() < deadline:
                await pilot.pause(0.1)
            if check is not None:
                check(app)
            await pilot.press("q")
        if app.error is not None:
            raise app.error
        return app

    return run_async(run())


def filtered(text: str) -> list[str]:
    """Keys that filter the rows shown to ``text`` (a glob or part of a name)."""
    return ["slash", *[{"*": "asterisk", ":": "colon", "-": "minus", "/": "slash", ".": "full_stop"}.get(c, c)
                       for c in text], "enter"]  # fmt: skip


def status_of(app: BrowseApp) -> tuple[int, int]:
    found = STATUS.search(str(app.query_one("#status").render()))
    assert found, app.query_one("#status").render()
    return int(found.group(1)), int(found.group(2).replace(",", ""))


def image_id(engine: Any, tag: str) -> str:
    return str(engine.docker("image", "inspect", "--format", "{{.Id}}", tag).strip())


def test_images_sharing_a_layer_count_it_once(engine: Any) -> None:
    seen: dict[str, Any] = {}
    pilot(engine, [*filtered("grp-*"), "A"], view="images",
          check=lambda app: seen.update(status=status_of(app), plan=app.plan))  # fmt: skip
    doc = free(engine, image_id(engine, "grp-a:1"), image_id(engine, "grp-b:1"))
    assert seen["status"] == (2, doc["freed_bytes"])
    assert doc["shared_within_selection_bytes"] > 0  # the layer they share, counted once


def test_without_the_flag_it_only_reads(engine: Any) -> None:
    mark = len(engine.log())
    seen: dict[str, str] = {}
    keys = [
        "enter",
        "enter",
        "r",
        *filtered("grp-*"),
        "A",
        "d",
    ]  # open a category and an image, read again, d
    pilot(engine, keys, check=lambda app: seen.update(message=str(app.query_one("#message").render())))
    assert "--allow-removal" in seen["message"]
    calls = api_calls_since(engine, mark)
    assert calls and [c for c in calls if c[0] not in ("GET", "HEAD")] == []  # the engine's own debug log


def test_a_blocked_image_and_a_multi_tag_image(engine: Any) -> None:
    seen: dict[str, Any] = {}

    def look(app: BrowseApp) -> None:
        seen["status"] = status_of(app)
        marks = app.views[0].marks
        seen["why"] = {key: marks.why_kept(key) for key in marks.marked}

    app = pilot(
        engine, [*filtered("used:1"), "A", "escape", *filtered("multi:*"), "A"], view="images", check=look
    )
    used, multi = image_id(engine, "used:1"), image_id(engine, "multi:1")
    doc = free(engine, used, multi)
    assert seen["status"] == (2, doc["freed_bytes"]) and doc["freed_bytes"] > 0
    assert seen["why"][f"image:{used}"] == "used by container user-of-used"
    assert seen["why"][f"image:{multi}"] == ""
    assert app.plan == doc["commands"]
    assert "docker image rm multi:1 multi:latest other-repo/multi:2" in app.plan


def test_containers_and_volumes_with_the_same_rules_as_free(engine: Any) -> None:
    anonymous = json.loads(engine.docker("inspect", "anon-user"))[0]["Mounts"][0]["Name"]
    seen: dict[str, Any] = {}

    def look(app: BrowseApp) -> None:
        seen["status"] = status_of(app)
        marks = app.views[0].marks
        seen["why"] = {key: marks.why_kept(key) for key in marks.marked}
        seen["marked"] = list(marks.marked)

    keys = [
        *filtered("containers*"),
        "enter",
        *filtered("*[ger]"),
        "A",
        "backspace",
        "escape",
    ]  # logger, anon-user, writer
    keys += [
        *filtered("volumes*"),
        "enter",
        "A",
    ]  # every volume: appdata, dangling, the anonymous one (a random hex name no filter can be sure of)
    app = pilot(engine, keys, check=look)
    names = {c.id: c.name for c in app.views[0].state.containers}
    containers = sorted(names[k.split(":", 1)[1]] for k in seen["marked"] if k.startswith("container:"))
    volumes = sorted(k.split(":", 1)[1] for k in seen["marked"] if k.startswith("volume:"))
    assert {"logger", "anon-user", "writer"} <= set(containers)
    assert {"appdata", "dangling", anonymous} <= set(volumes)
    args = []  # as browse marked them, in that order
    for key in seen["marked"]:
        kind, _, ident = key.partition(":")
        args += ["--container", names[ident]] if kind == "container" else ["--volume", ident]
    doc = free(engine, *args)
    assert seen["status"][1] == doc["freed_bytes"] > 0
    writer = next(k for k, n in names.items() if n == "writer")
    assert "running" in seen["why"][f"container:{writer}"]  # a running container is never removed
    assert "used by container writer" in seen["why"]["volume:appdata"]
    assert seen["why"][f"volume:{anonymous}"] == ""  # its container goes first
    assert {r["item"] for r in doc["refused"]} == {k for k, why in seen["why"].items() if why}
    assert app.plan == doc["commands"]


# --- a real terminal ---


# Textual imports its driver (and termios) and widgets lazily: loaded before root is dropped, as the Python
# install itself may sit in a folder only root reads (pyenv under /root).
TEXTUAL_FIRST = (
    "import contextlib, importlib, io, pkgutil, termios, tty, textual\n"
    "with contextlib.redirect_stdout(io.StringIO()):  # a module or two print when imported\n"
    "    for module in pkgutil.walk_packages(textual.__path__, 'textual.'):\n"
    "        if 'demo' not in module.name and not module.name.endswith('__main__'):\n"
    "            try:\n                importlib.import_module(module.name)\n"
    "            except Exception:\n                pass\n"
)


class Terminal:
    """``layershare browse`` in a tmux pane of a given size; stdout and stderr go to files."""

    def __init__(self, engine: Any, args: list[str], size: tuple[int, int], folder: Path, user: bool = False):
        self.name = f"browse{os.getpid()}{size[0]}"
        self.out, self.err, self.rc = folder / "plan.sh", folder / "stderr", folder / "rc"
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in engine.env().items() if k.startswith("DOCKER"))
        run = [sys.executable, "-m", "layershare", "browse", *args]
        if user:  # as uid 65534, who may open the socket (the docker group) but not read the data root
            run = [sys.executable, "-c", TEXTUAL_FIRST + unprivileged_script(["browse", *args])]
        command = f"cd {shlex.quote(str(ROOT))} && env {env} TERM=xterm-256color {shlex.join(run)} > {self.out} 2> {self.err}; echo $? > {self.rc}; sleep 600"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]),
                        command], check=True)  # fmt: skip

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-N", "-t", self.name], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def keys(self, *keys: str, at_once: bool = False) -> None:
        """Press ``keys`` one after another, or all in one write (as fast as a paste)."""
        for batch in [list(keys)] if at_once else [[k] for k in keys]:
            subprocess.run(["tmux", "send-keys", "-t", self.name, *batch], check=True)
            time.sleep(0.15)

    def finished(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (self.rc.exists() and self.rc.read_text().strip()):
            time.sleep(0.1)  # the shell makes the file, then writes the code
        return int(self.rc.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    need(shutil.which("tmux") is not None, "browse's terminal tests need tmux (apt-get install tmux)")
    opened: list[Terminal] = []

    def open_terminal(engine: Any, args: list[str], size: tuple[int, int], **options: Any) -> Terminal:
        folder = tmp_path / f"{size[0]}x{size[1]}"
        folder.mkdir(exist_ok=True)
        opened.append(Terminal(engine, args, size, folder, **options))
        return opened[-1]

    yield open_terminal
    for t in opened:
        t.close()


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_in_a_real_terminal_filter_mark_quit(engine: Any, terminal: Any, size: tuple[int, int]) -> None:
    term = terminal(engine, ["-H", engine.host, "images"], size)
    screen = term.wait_for("Marked 0 · frees")
    lines = screen.splitlines()
    assert len(lines) == size[1] and all(len(line) <= size[0] for line in lines), screen
    assert lines[size[1] - 1].startswith("Marked 0 · frees"), screen  # the status line, at the bottom
    term.keys("/", "grp-*", "Enter", at_once=True)  # typed at once: every key after / is the filter's
    screen = term.wait_for("[filter grp-*]")
    assert "grp-a:1" in screen and "grp-b:1" in screen and "multi:1" not in screen
    term.keys("A")
    screen = term.wait_for("Marked 2 · frees")
    term.keys("q")
    assert term.finished() == 0
    doc = free(engine, image_id(engine, "grp-a:1"), image_id(engine, "grp-b:1"))
    assert f"({doc['freed_bytes']:,} B)" in screen
    assert sorted(term.out.read_text().splitlines()) == sorted(doc["commands"])  # stdout: only the plan
    assert term.err.read_text() == ""


def test_without_the_data_root_it_says_what_needs_root(engine: Any, terminal: Any) -> None:
    with open_to_others(engine):
        term = terminal(engine, ["-H", engine.host], (100, 30), user=True)
        screen = term.wait_for("needs root", timeout=90)
        assert "images (stored layers)" in screen and "Marked 0 · frees" in screen
        # The largest image's largest layer: its files are streamed from the engine's export.
        term.keys("/", "images*", "Enter", "Enter", "/", "bk-ambiguous:1", "Enter", "Enter", "Enter")
        screen = term.wait_for("/bin/busybox", timeout=60)
        # As the docker group a layer is one row (its snapshot and its blob on the containerd store), as for root.
        assert "bk-ambiguous:1 / ADD rootfs.tar /" in screen, screen  # the largest layer: what made it
        term.keys("q")
        assert term.finished() == 0 and term.out.read_text() == ""


def as_the_group(engine: Any, *args: str) -> dict[str, Any]:
    result = run_unprivileged(engine, [*args, "--format", "json"])
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.mark.parametrize("tag", ["overwrite:1", "bk-built:1"])
def test_as_the_docker_group_one_figure_per_image(engine: Any, terminal: Any, tag: str) -> None:
    """As uid 65534 with the socket (the docker group): browse's total for one marked image is free's
    figure for it and report's unique bytes; where BuildKit's cache leaves the drop open (an image it
    built, on the containerd store) the status line and free both say it is an estimate."""
    with open_to_others(engine):
        term = terminal(engine, ["-H", engine.host, "images"], (160, 30), user=True)
        term.wait_for("Marked 0 · frees", timeout=90)
        term.keys("/", tag, "Enter", at_once=True)
        term.wait_for(f"[filter {tag}]")
        term.keys("A")
        screen = term.wait_for("Marked 1 · frees")
        term.keys("q")
        assert term.finished() == 0
    marked = STATUS.search(screen)
    assert marked, screen
    freed = as_the_group(engine, "free", image_id(engine, tag))
    unique = next(i for i in as_the_group(engine, "report")["images"] if tag in i["tags"])["unique_bytes"]
    (row,) = [i for i in freed["images"] if tag in i["tags"]]
    # The image's own row leaves out what its hidden parents (removed with it) hold alone; the total
    # and the report's unique bytes count it.
    assert row["removed"] and int(marked.group(2).replace(",", "")) == freed["freed_bytes"] == unique
    estimated = engine.containerd and tag.startswith("bk-")
    assert ("an estimate" in screen) == estimated == (not freed["freed_bytes_exact"])
    if estimated:
        assert freed["freed_min_bytes"] < freed["freed_bytes"] <= freed["freed_max_bytes"]


def test_it_opens_with_the_plan_marked_and_the_marks_stay_the_persons(engine: Any, terminal: Any) -> None:
    """``browse --plan`` with plan's target and rules (in a real terminal at 80x24): the images the plan
    chooses are marked, and the status line is the plan's exact figure; the plan's own commands on
    stdout at q. Unmarking one of them shows ``free``'s figure for the rest: the marks are the person's."""
    everything = json.loads(cli(engine, "plan", "--format", "json", "--free", "1TB", "--min-age", "0").stdout)
    assert len(everything["items"]) >= 3
    rules = ["--free", str(everything["freed_bytes"] // 2), "--min-age", "0"]
    planned = json.loads(cli(engine, "plan", "--format", "json", *rules).stdout)
    assert planned["reached"] and len(planned["items"]) >= 2
    chosen = [i["id"] for i in planned["items"]]
    term = terminal(engine, ["-H", engine.host, "images", "--plan", *rules], (80, 24))
    screen = term.wait_for("Plan: target reached, ")
    assert "Marked 0" not in screen, screen
    marked = STATUS.search(screen)
    assert marked, screen
    assert int(marked.group(2).replace(",", "")) == planned["freed_bytes"], (screen, planned)
    term.keys("q")
    assert term.finished() == 0
    assert sorted(term.out.read_text().splitlines()) == sorted(planned["commands"])
    # The person unmarks the newest chosen image: the total is free's for the others.
    term = terminal(engine, ["-H", engine.host, "images", "--plan", *rules], (100, 30))
    term.wait_for("Plan: target reached, ")
    newest = next(i for i in planned["items"] if i["id"] == chosen[-1])
    name = newest["tags"][0] if newest["tags"] else newest["id"][7:19]
    term.keys("/", name, "Enter", at_once=True)
    term.wait_for(f"[filter {name}]")
    term.keys("Space")
    screen = term.wait_for(
        f"Marked {len(STATUS.search(screen).group(1)) and int(marked.group(1)) - 1} · frees"
    )
    rest = free(engine, *chosen[:-1])
    assert f"({rest['freed_bytes']:,} B)" in screen, (screen, rest)
    term.keys("q")
    assert term.finished() == 0
    refused = cli(engine, "browse", "--plan", "-H", engine.host)
    assert refused.returncode == 2 and "needs a target" in refused.stderr


# --- removal, last: it changes the engine ---


# --- an image's layers: one row per layer, with what made it ---

WRAPPING = {"/bin/sh", "-c", "#(nop)", "#", "buildkit", "RUN"}


def words(text: str) -> list[str]:
    """An instruction's own words, as a person reads them: without the builder's wrapping (the shell,
    ``#(nop)``, BuildKit's comment) and with a COPY source's digest named by 12 hex."""
    text = re.sub(r"\b(file|dir):([0-9a-f]{12})[0-9a-f]{52}\b", r"\1:\2", text)
    return [w for w in text.split() if w not in WRAPPING]


def history_of(engine: Any, image: str) -> list[tuple[str, str, int]]:
    """``docker history --no-trunc --format json``, oldest first: each entry's instruction and comment,
    with the API's exact bytes beside (the CLI prints them rounded). Debian's 20.10 CLI (the one 29.7's
    overlay2 store is driven with here) has no ``--format json``: the API's own answer, the same data."""
    exact = docker.APIClient(base_url=engine.host, version="auto").history(image)
    try:
        out = engine.docker("history", "--no-trunc", "--format", "json", image)
        printed = [json.loads(line) for line in out.splitlines()]
    except (PrivateEngineError, ValueError):
        printed = [{"CreatedBy": e["CreatedBy"], "Comment": e["Comment"]} for e in exact]
    assert len(printed) == len(exact)
    return [(p["CreatedBy"], p["Comment"], int(e["Size"])) for p, e in zip(printed, exact, strict=True)][::-1]


def chains(diff_ids: list[str]) -> list[str]:
    """The OCI image spec's chain IDs of a list of diff IDs."""
    found = [diff_ids[0]]
    for diff in diff_ids[1:]:
        found.append("sha256:" + hashlib.sha256(f"{found[-1]} {diff}".encode()).hexdigest())
    return found


def saved_layer_blobs(engine: Any, tag: str) -> list[int]:
    """The size of the blob each layer came as, from the image's manifest in ``docker save``'s OCI layout."""
    data = subprocess.run(["docker", "save", tag], env=engine.env(), capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:

        def blob(digest: str) -> Any:
            member = archive.extractfile(f"blobs/sha256/{digest.removeprefix('sha256:')}")
            assert member is not None
            return json.loads(member.read())

        top = json.loads(archive.extractfile("index.json").read())["manifests"][0]  # type: ignore[union-attr]
        manifest = blob(top["digest"])
        while "manifests" in manifest:  # an index: this machine's platform
            manifest = blob(
                next(
                    m for m in manifest["manifests"] if m.get("platform", {}).get("architecture") == "amd64"
                )["digest"]
            )
        return [int(layer["size"]) for layer in manifest["layers"]]


def test_every_layer_is_one_row_saying_what_made_it_as_history_does(engine: Any) -> None:
    """Every tagged image: one row per layer of its RootFS, bottom to top, each the chain ID's; every
    history entry that made a non-empty layer has its row with the instruction's words and its bytes
    (the layer's on overlay2; on the containerd store the snapshot's, beside the blob's size in the
    image's manifest); the entries that made no layer are rows of their own, hidden until asked."""
    view = loaders(SourceChoice(hosts=(engine.host,)), None)[0]()
    checked = 0
    for image in view.state.images:
        if not image.tags:
            continue
        rows = sorted(view.tree.layers_of(image.id), key=lambda n: n.order)
        layers = [r for r in rows if r.kind == "layer"]
        diff_ids = json.loads(engine.docker("image", "inspect", image.id))[0]["RootFS"]["Layers"]
        expected = chains(diff_ids)  # one row per layer, bottom to top, keyed by its chain ID
        assert len(layers) == len(expected) and all(
            r.key.endswith(c) for r, c in zip(layers, expected, strict=False)
        ), image.tags
        history = history_of(engine, image.id)
        assert len([r for r in rows if r.kind in ("layer", "empty")]) == len(history), image.tags
        for (created_by, comment, size), row in zip(
            history, [r for r in rows if r.kind in ("layer", "empty")], strict=True
        ):
            if not created_by:
                assert row.name == ("imported" if "Imported" in comment else "(no history)")
            else:
                assert words(row.name.removesuffix(" (?)")) == words(created_by) or "***" in row.name, (
                    row.name,
                    created_by,
                )
            if row.kind == "empty":
                assert size == 0
                continue
            figures = dict(row.parts)
            if size:
                assert figures["unpacked" if engine.containerd else "layer"] == size, (image.tags, row.name)
                checked += 1
        if engine.containerd:
            blobs = [dict(r.parts).get("blob", dict(r.parts).get("blob above")) for r in layers]
            saved = saved_layer_blobs(engine, image.tags[0])
            if engine.kind.startswith("26."):  # before 28.2 the engine counts no blob: nor does the row
                saved = [0] * len(saved)
            assert blobs == saved, image.tags
            assert all(r.bytes == sum(v for k, v in r.parts if k != "blob above") for r in layers)
        else:
            assert all(r.bytes == dict(r.parts)["layer"] for r in layers)
    assert checked > 40


def test_an_images_layers_on_screen_and_the_entries_that_made_none(engine: Any) -> None:
    """The layers of an image with a LABEL: bottom to top with s, the LABEL's row only after e, each
    row's line inside the screen's 80 columns with the short chain ID and the instruction's start."""
    tag = "on-rebuilt:1"
    seen: list[tuple[list[str], list[str], str]] = []

    def look(app: BrowseApp) -> None:
        level = app.stack[-1]
        rows = app.query_one(Rows)
        lines = [rows.render_line(y).text for y in range(len(level.shown) + 1)]
        seen.append(([n.kind for n in level.shown], lines, str(app.query_one("#path").render())))

    def at(keys: list[str]) -> None:
        pilot(engine, [*filtered(tag), "enter", *keys], view="images", check=look, size=(80, 24))

    at([])
    at(["s"])
    at(["s", "e"])
    hidden, ordered, shown = seen[0], seen[1], seen[2]
    assert "empty" not in hidden[0] and "e shows 1 made no layer" in hidden[2]
    kinds = [k for k in shown[0] if k != "other"]  # the image's metadata comes after its layers
    assert kinds[-1] == "empty" and "e hides 1" in shown[2]
    assert "LABEL org.opencontainers" in shown[1][shown[0].index("empty") + 1]
    history = history_of(engine, tag)
    diff_ids = json.loads(engine.docker("image", "inspect", tag))[0]["RootFS"]["Layers"]
    lines = ordered[1][1:]
    assert len(lines) == len(diff_ids) + (1 if engine.containerd else 0)  # the image's metadata: one row
    for chain, (created_by, _, _) in zip(
        chains(diff_ids), [h for h in history if "LABEL" not in h[0]], strict=True
    ):
        (line,) = [x for x in lines if chain.removeprefix("sha256:")[:12] in x]
        assert len(line) <= 80
        assert (" ".join(words(created_by)[:2]) if created_by else "imported") in line, (line, created_by)
    assert all(len(x) <= 80 for x in hidden[1] + shown[1])


def test_the_layers_view_holds_each_layer_once_and_adds_up_to_layers_size(engine: Any) -> None:
    """The global ``layers`` view: each stored layer one row (its snapshot and blob together on the
    containerd store), what images hold beside their layers one more; the rows add up to the engine's
    ``LayersSize``; the imported bases say so."""

    def look(app: BrowseApp) -> None:
        rows = app.stack[-1].shown
        layers = [r for r in rows if r.kind == "layer"]
        assert len({r.key for r in layers}) == len(layers)
        assert sum(r.bytes or 0 for r in rows) == system_df(engine)["LayersSize"]
        base = chains(json.loads(engine.docker("image", "inspect", "distro-a:1"))[0]["RootFS"]["Layers"])[0]
        assert next(r for r in layers if r.key == f"layer:{base}").name == "imported"
        lines = [app.query_one(Rows).render_line(y).text for y in range(1, 23)]
        assert all(len(x) <= 80 for x in lines)

    pilot(engine, [], view="layers", check=look, size=(80, 24))


def test_a_hostile_instruction_shows_as_text(engine: Any) -> None:
    """An instruction holding escape sequences and Rich markup: the row shows them as characters."""
    texts: list[str] = []

    def look(app: BrowseApp) -> None:
        rows = app.query_one(Rows)
        texts.extend(rows.render_line(y).text for y in range(len(app.stack[-1].shown) + 1))

    pilot(engine, [*filtered("hostile-layer:1"), "enter", "s"], view="images", check=look, size=(200, 30))
    (line,) = [t for t in texts if "echo" in t]
    assert "RUN echo '\\x1b]0;pwned\\x07[bold red]boom[/] \\x1b[2J' > /h" in line, line
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", "".join(texts))


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_an_images_layers_in_a_real_terminal(engine: Any, terminal: Any, size: tuple[int, int]) -> None:
    """In tmux: the layers of an image, each on one line inside the screen, with its chain ID and the
    start of its instruction; the hostile instruction as text, the terminal's title untouched."""
    term = terminal(engine, ["-H", engine.host, "images"], size)
    term.wait_for("Marked 0 · frees")
    term.keys("/", "legacy-app:1", "Enter", at_once=True)
    term.wait_for("[filter legacy-app:1]")
    term.keys("Enter", "s")
    screen = term.wait_for("bottom to top")
    lines = screen.splitlines()
    assert len(lines) == size[1] and all(len(x) <= size[0] for x in lines), screen
    diff_ids = json.loads(engine.docker("image", "inspect", "legacy-app:1"))[0]["RootFS"]["Layers"]
    made = [h for h in history_of(engine, "legacy-app:1") if (words(h[0]) or [""])[0] != "ENV"]
    for chain, (created_by, _, _) in zip(chains(diff_ids), made, strict=True):
        (line,) = [x for x in lines if chain.removeprefix("sha256:")[:12] in x]
        assert (" ".join(words(created_by)[:2]) if created_by else "imported") in line, screen
    assert "ENV RUNTIME_VERSION" not in screen
    term.keys("e")
    screen = term.wait_for("ENV RUNTIME_VERSION=***")
    term.keys("Left", "Escape")
    term.keys("/", "hostile-layer:1", "Enter", at_once=True)
    term.wait_for("[filter hostile-layer:1]")
    term.keys("Enter")
    screen = term.wait_for("RUN echo")
    assert "\\x1b]0;pwned\\x07" in screen, screen
    title = subprocess.run(["tmux", "display-message", "-p", "-t", term.name, "#{pane_title}"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert "pwned" not in title
    term.keys("q")
    assert term.finished() == 0 and term.out.read_text() == "" and term.err.read_text() == ""


def test_a_changed_state_is_refused(engine: Any) -> None:
    seen: dict[str, Any] = {}

    def change_then_confirm(app: BrowseApp) -> bool:
        if "changed" not in seen:
            if not isinstance(app.screen, Confirm):
                return False
            seen["changed"] = engine.docker("tag", "grp-a:1", "grp-a:sneaked-in")  # between marking and y
            app.screen.action_answer(True)
            return False
        seen["message"] = str(app.query_one("#message").render())
        return "changed since it was read" in seen["message"]

    before = {i["Id"] for i in system_df(engine)["Images"]}
    pilot(
        engine,
        [*filtered("versions:*"), "A", "d"],
        view="images",
        allow_removal=True,
        wait=change_then_confirm,
    )
    assert "nothing was removed" in seen["message"]
    assert {i["Id"] for i in system_df(engine)["Images"]} == before  # every image is still there
    engine.docker("image", "rm", "grp-a:sneaked-in")


def remove_with_browse(engine: Any, keys: list[str], view: str) -> tuple[int, int, int, str]:
    """Mark with ``keys``, press d, read the confirmation, press y: the confirmed bytes, the predicted
    and the freed bytes browse then shows, and its message."""
    seen: dict[str, Any] = {}

    def confirm_then_wait(app: BrowseApp) -> bool:
        if "confirmed" not in seen:
            if not isinstance(app.screen, Confirm):
                return False
            seen["confirmed"] = str(app.screen.text)  # what the confirmation shows
            app.screen.action_answer(True)  # y
            return False
        seen["message"] = str(app.query_one("#message").render())
        return seen["message"].startswith("predicted") or "Error" in seen["message"]

    pilot(engine, [*keys, "d"], view=view, allow_removal=True, wait=confirm_then_wait)
    confirmed = re.search(r"frees \S+ \(([\d,]+) B\)", seen["confirmed"])
    shown = re.search(r"predicted \S+ \(([\d,]+) B\), freed \S+ \(([\d,]+) B\)", seen["message"])
    assert confirmed and shown, (seen["confirmed"], seen["message"])
    predicted, freed = (int(g.replace(",", "")) for g in shown.groups())
    return int(confirmed.group(1).replace(",", "")), predicted, freed, seen["message"]


def test_allow_removal_removes_and_the_drop_is_the_confirmed_figure(engine: Any) -> None:
    before = df_total(engine)
    doc = free(engine, *(image_id(engine, t) for t in ("grp-a:1", "grp-b:1", "on-x-one:1")))
    keys = [*filtered("grp-*"), "A", "escape", *filtered("on-x-one:1"), "A"]
    confirmed, predicted, freed, _ = remove_with_browse(engine, keys, "images")
    assert confirmed == predicted == freed == doc["freed_bytes"] == before - df_total(engine) > 0
    tags = {t for i in system_df(engine)["Images"] for t in i.get("RepoTags") or []}
    assert not {"grp-a:1", "grp-b:1", "on-x-one:1"} & tags and "base-x:1" in tags


def test_removing_a_build_cache_record(engine: Any) -> None:
    record = next(r for r in system_df(engine)["BuildCache"] if r["Type"] == "exec.cachemount")
    doc = free(engine, "--build-record", record["ID"])
    assert doc["commands"] == [f"docker builder prune -a -f --filter id={record['ID']}"]
    before = df_total(engine)
    confirmed, predicted, freed, _ = remove_with_browse(engine, [*filtered(record["ID"][:12]), "A"], "cache")
    assert confirmed == predicted == freed == doc["freed_bytes"] == before - df_total(engine) > 0
    assert record["ID"] not in {r["ID"] for r in system_df(engine)["BuildCache"]}


def test_the_engine_going_away_is_one_line(engine: Any) -> None:
    seen: dict[str, Any] = {}

    def stop_then_reread(app: BrowseApp) -> bool:
        if "stopped" not in seen:
            engine.stop()
            seen["stopped"] = True
            app.action_reread()
            return False
        seen["message"] = str(app.query_one("#message").render())
        return "reading" not in seen["message"] and bool(seen["message"])

    pilot(engine, [], view="images", wait=stop_then_reread)
    assert "\n" not in seen["message"] and "Traceback" not in seen["message"]
    assert re.search(r"engine|connect|socket", seen["message"], re.I), seen["message"]
