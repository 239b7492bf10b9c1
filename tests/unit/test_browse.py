"""``layershare browse`` without an engine: the running total against the planner, and the app driven
headless by Textual's pilot on generated states and on the recorded corpus.

The running total is held to :func:`~layershare.free.whatif.what_if` (``free``'s figure) after every
key of long random sequences; the status line the app shows is held to the same. The engine tests
(``tests/engine/test_browse_engine.py``) hold it to ``layershare free --format json`` on real engines.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from generated import generated_state
from support import run_async
from textual import _wait

from layershare.browse.app import BrowseApp, Rows
from layershare.browse.marks import Marks
from layershare.browse.session import EngineView
from layershare.browse.tree import EngineTree, state_of_snapshot
from layershare.free.holders import removed_holders
from layershare.free.running import RunningTotal
from layershare.free.selection import Selection, plan_removal
from layershare.free.whatif import holdings, what_if
from layershare.model import Container, EngineImage, EngineState, StoredUnit, Volume

DATA = Path(__file__).resolve().parents[1] / "data"
# The bytes may be negative: removing images can make the engine count a build-cache record again.
# The pilot waits, after each key, until the process has been idle for Textual's sleep granularity
# (1/50 s, twice): a fifth of it still tells idle from busy, and the keys' tests run four times faster.
_wait.SLEEP_GRANULARITY = 1 / 250
_wait.SLEEP_IDLE = _wait.SLEEP_GRANULARITY / 20

STATUS = re.compile(r"Marked (\d+) · (frees|the marked images alone hold) \S+ \((-?[\d,]+) B\)")


def with_volumes(state: EngineState, seed: int) -> EngineState:
    """``state`` with volumes: one mounted by each container, one nobody mounts."""
    rng = random.Random(seed)
    units = dict(state.units)
    containers, volumes = [], []
    for n, c in enumerate(state.containers):
        name = f"vol{n}"
        units[f"volume:{name}"] = StoredUnit(f"volume:{name}", "volume", rng.randint(1, 9999), None)
        volumes.append(Volume(name, "local", units[f"volume:{name}"].bytes, (c.name,)))
        containers.append(replace(c, volumes=(name,)))
    units["volume:loose"] = StoredUnit("volume:loose", "volume", 4321, None)
    volumes.append(Volume("loose", "local", 4321))
    return replace(state, containers=tuple(containers), volumes=(*volumes,), units=units)


def planned(state: EngineState, keys: list[str]) -> int:
    """``free``'s freed_bytes for the items behind browse's row keys."""
    kinds: dict[str, list[str]] = {"image": [], "container": [], "volume": [], "build": []}
    for key in keys:
        kind, _, ident = key.partition(":")
        kinds[kind].append(ident)
    selection = Selection(
        images=tuple(kinds["image"]),
        containers=tuple(kinds["container"]),
        volumes=tuple(kinds["volume"]),
        build_records=tuple(kinds["build"]),
    )
    if _HELD[:1] != [state]:
        _HELD[:] = [state, holdings(state)]  # one state's pairs, built once for its many selections
    return what_if(state, plan_removal(state, selection), held=_HELD[1]).freed_bytes


_HELD: list[Any] = []


@pytest.mark.parametrize("first", [0, 5, 10, 15, 20])  # five seeds each: spread over make unit's cores
def test_the_running_total_is_the_planners_figure_after_every_key(first: int) -> None:
    for seed in range(first, first + 5):
        for containerd in (False, True):
            state = with_volumes(generated_state(seed, containerd), seed)
            total = RunningTotal(state)
            rng = random.Random(seed)
            keys = [f"image:{i.id}" for i in state.images] + [f"container:{c.id}" for c in state.containers]
            keys += [f"volume:{v.name}" for v in state.volumes]
            marked: list[str] = []
            for _ in range(8):
                key = rng.choice(keys)
                marked = [k for k in marked if k != key] if key in marked else [*marked, key]
                marks = Marks(state)
                marks.keep(marked)
                got = total.update(removed_holders(marks.plan))
                assert got == planned(state, marked), (seed, containerd, marked)
                assert marks.status().freed_bytes == got


def test_shared_layers_count_once_and_blocked_images_say_why() -> None:
    units = {
        "layer:base": StoredUnit("layer:base", "layer", 1000, None, counted_with_images=True),
        "layer:a": StoredUnit("layer:a", "layer", 10, None, counted_with_images=True),
        "layer:b": StoredUnit("layer:b", "layer", 20, None, counted_with_images=True),
        "container:c1": StoredUnit("container:c1", "container", 5, None),
    }
    state = replace(
        generated_state(0, False),
        images=(
            EngineImage("sha256:" + "a" * 64, ("a:1",), 1.0, holds=("layer:base", "layer:a")),
            EngineImage("sha256:" + "b" * 64, ("b:1", "b:latest"), 2.0, holds=("layer:base", "layer:b")),
            EngineImage("sha256:" + "c" * 64, ("c:1",), 3.0, holds=("layer:base",)),
        ),
        containers=(
            Container("c1", "runner", "c:1", "sha256:" + "c" * 64, "running", holds=("container:c1",)),
        ),
        units=units,
        others={},
    )
    marks = Marks(state)
    marks.keep(["image:sha256:" + "a" * 64, "image:sha256:" + "b" * 64])
    assert marks.status().freed_bytes == 30  # the base stays: c:1 holds it
    marks.keep(["image:sha256:" + "a" * 64, "image:sha256:" + "b" * 64, "image:sha256:" + "c" * 64])
    assert marks.status().freed_bytes == 30  # c:1 is blocked by its running container
    assert marks.why_kept("image:sha256:" + "c" * 64) == "used by container runner"
    assert marks.commands() == ["docker image rm a:1", "docker image rm b:1 b:latest"]
    marks.keep(["container:c1"])
    assert (
        marks.why_kept("container:c1") == "container runner is running: a running container is never removed"
    )
    assert marks.commands() == []


# --- the app, driven by the pilot ---


def view_of(state: EngineState, rules: bool = True) -> Callable[[], EngineView]:
    return lambda: EngineView("Engine (generated)", EngineTree(state), Marks(state, rules=rules))


def drive(
    loaders: list[Callable[[], EngineView]],
    keys: list[str],
    *,
    view: str = "images",
    size: tuple[int, int] = (80, 24),
    check: Callable[[BrowseApp], None] | None = None,
    wait_loaded: bool = True,
    **options: Any,
) -> BrowseApp:
    """Run the app headless, press ``keys`` (once the rows are there, unless not ``wait_loaded``), let
    ``check`` look, then quit with q."""

    async def run() -> BrowseApp:
        app = BrowseApp(loaders, view=view, **options)  # type: ignore[arg-type]
        async with app.run_test(size=size) as pilot:
            while wait_loaded and not app.loaded:
                await pilot.pause(0.01)
            await pilot.press(*keys)
            while not app.loaded:
                await pilot.pause(0.01)
            await pilot.pause()
            if check is not None:
                check(app)
            await pilot.press("q")
        return app

    return run_async(run())


def screen_text(app: BrowseApp) -> str:
    """The screen as a person reads it (the SVG's text, entities unescaped)."""
    import html

    svg = app.export_screenshot()
    return html.unescape(" ".join(re.findall(r">([^<>]*)</text>", svg))).replace("\xa0", " ")


def status(app: BrowseApp) -> tuple[int, int]:
    found = STATUS.search(str(app.query_one("#status").render()))
    assert found, app.query_one("#status").render()
    return int(found.group(1)), int(found.group(3).replace(",", ""))


def test_the_status_line_is_the_planners_figure_on_generated_states() -> None:
    for seed in range(4):
        state = with_volumes(generated_state(seed, seed % 2 == 1), seed)
        rng = random.Random(seed)
        keys = [rng.choice(["space", "j", "j", "k", "space"]) for _ in range(8)]
        seen: dict[str, Any] = {}

        def look(app: BrowseApp, seen: dict[str, Any] = seen) -> None:
            seen["marked"] = list(app.views[0].marks.marked)
            seen["status"] = status(app)

        app = drive([view_of(state)], keys, check=look)
        assert seen["status"] == (len(seen["marked"]), planned(state, seen["marked"]))
        expected = Marks(state)
        expected.keep(seen["marked"])
        assert app.plan == expected.commands()


def recorded_state(path: Path) -> EngineState:
    """The recorded corpus as ``free`` would read it without the data root (no /system/df, no volumes)."""
    from layershare.sources.holdings.reader import EngineAnswers, HoldingsReader
    from layershare.sources.holdings.store import EngineStore
    from layershare.sources.recording import engine_info_from
    from layershare.sources.recording.file import RecordingSource

    raw = json.loads(path.read_text())
    answers = EngineAnswers(
        engine_info_from(raw["info"], raw["version"], raw["host"]),
        EngineStore(raw["info"], "/nonexistent"),
        list(raw["containers"]),
        [],
        list(raw["images"]),
    )

    class NoValues:
        show_values = False

    reader = HoldingsReader(NoValues())  # type: ignore[arg-type]
    return reader.state_from(answers, {}, RecordingSource(path).snapshot(), readable=False)


@pytest.mark.parametrize("path", sorted(DATA.glob("corpus-engine-*.json")), ids=lambda p: p.stem)
def test_the_status_line_on_the_recorded_corpus(path: Path) -> None:
    state = recorded_state(path)
    seen: dict[str, Any] = {}

    def look(app: BrowseApp) -> None:
        seen["marked"] = list(app.views[0].marks.marked)
        seen["status"] = status(app)
        seen["screen"] = screen_text(app)

    # Mark the first five rows (largest unique bytes first), then every row shown, then unmark all.
    drive([view_of(state)], ["space"] * 5, check=look)
    assert len(seen["marked"]) == 5
    assert seen["status"] == (5, planned(state, seen["marked"]))
    assert f"({seen['status'][1]:,} B)" in seen["screen"]
    drive([view_of(state)], ["A"], check=look)
    parents = {i.parent_id for i in state.images}
    listed = [i for i in state.images if i.tags or i.id not in parents]  # as docker image ls lists them
    assert seen["status"] == (len(listed), planned(state, seen["marked"]))
    assert seen["status"][1] > 0


def test_keys_before_the_first_screen_are_kept() -> None:
    state = generated_state(3, False)

    def slow() -> EngineView:
        time.sleep(0.5)
        return view_of(state)()

    seen: dict[str, Any] = {}

    def look(app: BrowseApp) -> None:
        seen["marked"] = list(app.views[0].marks.marked)
        seen["cursor"] = app.stack[-1].cursor
        seen["rows"] = [n.key for n in app.stack[-1].shown]

    drive([slow], ["j", "space"], check=look, wait_loaded=False)
    assert seen["marked"] == [seen["rows"][1]]  # the second row: j, then Space


def test_q_prints_the_commands_and_nothing_when_nothing_is_marked() -> None:
    state = generated_state(1, False)
    assert drive([view_of(state)], []).plan == []
    app = drive([view_of(state)], ["space"])
    marks = Marks(state)
    marks.keep([n.key for n in EngineTree(state).image_nodes() if n.key in app.views[0].marks.marked])
    assert app.plan == marks.commands() and app.plan


def test_d_without_the_flag_says_how_and_removes_nothing() -> None:
    state = generated_state(2, False)
    seen: dict[str, str] = {}
    drive(
        [view_of(state)],
        ["space", "d"],
        check=lambda app: seen.update(msg=str(app.query_one("#message").render())),
    )
    assert "--allow-removal" in seen["msg"]


HOSTILE = ["[bold]x[/bold]:1", "esc\x1b[2J:2", "bell\x07[red]:3"]


def hostile_state() -> EngineState:
    units = {f"layer:{n}": StoredUnit(f"layer:{n}", "layer", 100 * (n + 1), None, counted_with_images=True)
             for n in range(3)}  # fmt: skip
    images = tuple(
        EngineImage(f"sha256:{n:064x}", (tag,), float(n), holds=(f"layer:{n}",))
        for n, tag in enumerate(HOSTILE)
    )
    return replace(generated_state(0, False), images=images, containers=(), units=units, others={})


def test_hostile_strings_are_shown_as_text_and_change_nothing() -> None:
    seen: dict[str, Any] = {}

    def look(app: BrowseApp) -> None:
        seen["screen"] = screen_text(app)
        seen["lines"] = [app.query_one(Rows).render_line(y).text for y in range(1, 4)]

    drive([lambda: view_of(hostile_state())()], [], check=look)
    text = "\n".join(seen["lines"])
    assert "[bold]x[/bold]:1" in text  # markup shown, not applied
    assert "esc\\x1b[2J:2" in text and "\x1b" not in text  # the escape shown escaped, never sent
    assert "bell\\x07[red]:3" in text and "\x07" not in text
    assert "[bold]x[/bold]:1" in seen["screen"]


def test_it_fits_80_by_24_and_the_status_line_is_always_there() -> None:
    state = generated_state(5, True)
    for size in ((80, 24), (200, 50)):
        seen: dict[str, Any] = {}

        def look(app: BrowseApp, size: tuple[int, int] = size, seen: dict[str, Any] = seen) -> None:
            assert app.size.width == size[0] and app.size.height == size[1]
            seen["status_y"] = app.query_one("#status").region.y
            seen["rows"] = [
                app.query_one(Rows).render_line(y) for y in range(app.query_one(Rows).size.height)
            ]

        drive([view_of(state)], ["end", "k"], size=size, check=look)
        assert seen["status_y"] == size[1] - 1
        assert all(strip.cell_length <= size[0] for strip in seen["rows"])


def test_filter_sort_measure_and_open() -> None:
    state = generated_state(7, False)
    seen: dict[str, Any] = {}

    def look(app: BrowseApp) -> None:
        level = app.stack[-1]
        seen["names"] = [n.name for n in level.shown]
        seen["title"] = level.title

    tagged = [i.tags[0] for i in state.images if i.tags]
    wanted = tagged[0].split(":")[0] + ":*"  # a glob
    drive([view_of(state)], ["slash", *wanted, "enter"], check=look)
    assert seen["names"] and all(name.startswith(wanted[:-1]) for name in seen["names"])
    assert len(seen["names"]) < len(state.images)
    drive([view_of(state)], ["s"], check=look)
    assert seen["names"] == sorted(seen["names"], key=str.lower)
    drive([view_of(state)], ["enter"], check=look)  # an image opens into its layers
    assert seen["title"] != "images"


def test_a_node_without_dockerd_labels_the_bytes_the_marked_images_alone_hold() -> None:
    from layershare.sources.recording.file import RecordingSource

    snapshot = RecordingSource(DATA / "corpus-engine-20.10.json").snapshot()
    state = state_of_snapshot(snapshot)
    seen: dict[str, Any] = {}
    drive([view_of(state, rules=False)], ["space", "space"],
          check=lambda app: seen.update(status=str(app.query_one("#status").render())))  # fmt: skip
    assert "the marked images alone hold" in seen["status"]
    marked = STATUS.search(seen["status"])
    assert marked and marked.group(1) == "2"


def test_several_engines_each_a_row_and_the_plan_names_each() -> None:
    first, second = generated_state(1, False), generated_state(2, True)

    def named(state: EngineState, label: str) -> Callable[[], EngineView]:
        return lambda: EngineView(label, EngineTree(state), Marks(state))

    seen: dict[str, Any] = {}

    def look(app: BrowseApp) -> None:
        seen["top"] = [n.name for n in app.stack[0].shown]
        seen["status"] = status(app)
        seen["marked"] = [list(v.marks.marked) for v in app.views]

    keys = ["enter", "A", "backspace", "j", "enter", "A"]  # every image of each engine
    app = drive([named(first, "engine one"), named(second, "engine two")], keys, check=look)
    assert sorted(seen["top"]) == ["engine one", "engine two"]
    expected = planned(first, seen["marked"][0]) + planned(second, seen["marked"][1])
    assert seen["status"] == (len(first.images) + len(second.images), expected)
    one, two = Marks(first), Marks(second)
    one.keep(seen["marked"][0])
    two.keep(seen["marked"][1])
    assert app.plan == [*(["# engine one", *one.commands()] if one.commands() else []),
                        *(["# engine two", *two.commands()] if two.commands() else [])]  # fmt: skip


def test_the_filter_option_keeps_the_items_that_match() -> None:
    state = generated_state(7, False)
    tagged = sorted(i.tags[0] for i in state.images if i.tags)
    seen: dict[str, Any] = {}
    drive([view_of(state)], [], filters=(tagged[0], tagged[-1].split(":")[0] + ":*"),
          check=lambda app: seen.update(names=sorted(n.name for n in app.stack[-1].shown)))  # fmt: skip
    assert seen["names"] == sorted({tagged[0], tagged[-1]})


def test_an_images_unique_bytes_are_what_removing_it_alone_frees() -> None:
    """The `images` view's unique bytes, on generated states of both stores (hidden parents, shared
    layers), equal the planner's freed bytes for that image alone, where nothing but images holds its
    units and no container uses it; the report's unique bytes follow the same rule."""
    compared = with_parents = 0
    for seed in range(60):
        state = generated_state(seed, seed % 2 == 1)
        # Pending garbage goes with any delete on the containerd store: no image's own bytes.
        state = replace(state, others={k: v for k, v in state.others.items() if k != "garbage"})
        kept = {k for keys in state.others.values() for k in keys}
        kept |= {k for u in state.units.values() for k in u.uncounted_under}
        used = {c.image_id for c in state.containers}
        nodes = {n.key.removeprefix("image:"): n for n in EngineTree(state).image_nodes()}
        held = holdings(state)
        for image in state.images:
            node = nodes.get(image.id)
            if node is None or image.id in used:
                continue
            plan = plan_removal(state, Selection(images=(image.id,)))
            if kept & {k for i in removed_holders(plan) if i.startswith("image:") for k in
                       next(x for x in state.images if f"image:{x.id}" == i).holds}:  # fmt: skip
                continue
            assert node.sizes["unique"] == what_if(state, plan, held=held).freed_bytes, (seed, image.tags)
            compared += 1
            with_parents += len(removed_holders(plan)) > 1
    assert compared > 100 and with_parents > 5
