"""``layershare browse``: the full-screen explorer, built on Textual (why: docs/browse.md). The app never
reads an engine on its own thread: engines are read, walked and (``--allow-removal``, once confirmed)
changed by workers, so keys are answered at once; keys pressed before the first screen are kept and
played once the rows are there, and a filter takes every key typed after ``/``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Static

from layershare.browse.levels import Level, cells, headers, top_level
from layershare.browse.marks import plan_lines, status_text
from layershare.browse.node import MEASURES, Measure, Node, View
from layershare.browse.rows import Rows, line
from layershare.browse.screens import APP_BINDINGS, Confirm, Keys, confirm_text
from layershare.browse.session import EngineView, Removed, as_error, remove_marked
from layershare.errors import LayershareError
from layershare.render.safe import visible as safe
from layershare.units import human_size

SORTS = ("size", "name")


class BrowseApp(App[None]):
    """The explorer of one or several engines."""

    TITLE = "layershare browse"
    CSS_PATH = "browse.tcss"
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS

    def __init__(
        self,
        loaders: Sequence[Callable[[], EngineView]],
        *,
        view: View = "disk",
        filters: Sequence[str] = (),
        allow_removal: bool = False,
    ) -> None:
        super().__init__()
        self.loaders = list(loaders)
        self.view_name: View = view
        self.filters = tuple(filters)
        self.allow_removal = allow_removal
        self.views: list[EngineView] = []
        self.stack: list[Level] = []
        self.loaded = False
        self.pending: list[tuple[str, tuple[Any, ...]]] = []
        self.sort = "size"
        self.measure: Measure = "unique"
        self.empty = False  # the history entries that made no layer, among an image's layers
        self.error: LayershareError | None = None
        self.plan: list[str] = []
        self.last_removal: Removed | None = None
        self.parent_bytes = 1
        self.filtering = False  # a filter is being typed: keys go to it
        self.typing = ""

    # --- layout ---
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("layershare browse · reading the engine…"), id="top")
            yield Static(Text(""), id="path")
            yield Rows()  # not focusable: every key goes through the app's bindings (and waits for the rows)
            yield Static(Text(""), id="message")
            yield Static(Text(""), id="filter")
            yield Static(Text("Marked 0 · reading…"), id="status")

    def on_mount(self) -> None:
        self._columns()
        self.load()

    def on_resize(self) -> None:
        if self.loaded:
            self._columns()
            self._rows()

    def _columns(self) -> None:
        self.query_one(Rows).fit(self.size.width, self._row_cells)

    # --- reading (workers) ---
    @work(thread=True, exclusive=True, group="read")
    def load(self) -> None:
        views = []
        try:
            for loader in self.loaders:
                views.append(loader())
        except Exception as e:
            self.call_from_thread(self._fail, as_error(e))
            return
        self.call_from_thread(self._loaded, views)

    def _fail(self, error: LayershareError) -> None:
        if not self.loaded:
            self.error = error
            self.exit()
            return
        self.say(str(error), error=True)

    def _loaded(self, views: list[EngineView]) -> None:
        marked = [list(v.marks.marked) for v in self.views]
        self.views = views
        for view, keys in zip(views, marked, strict=False):
            holders = {n.key for n in view.tree.image_nodes() + view.tree.container_nodes()}
            holders |= {n.key for n in view.tree.volume_nodes() + view.tree.build_nodes()}
            holders |= {n.key for n in view.tree.builder_nodes()}
            view.marks.keep([k for k in keys if k in holders])
        self.stack = [top_level(self.views, self.view_name)]
        first = not self.loaded
        self.loaded = True
        self._rows()
        self._status()
        for number, view in enumerate(views):
            if view.walk is not None and self.view_name in ("disk", "dupes"):
                self.walk(number)
        if first:
            if said := [v.opening for v in views if v.opening]:
                self.say("; ".join(said))
            pending, self.pending = self.pending, []
            for action, args in pending:
                getattr(self, f"action_{action}")(*args)

    @work(thread=True, group="walk")
    def walk(self, number: int) -> None:
        view = self.views[number]
        try:
            assert view.walk is not None
            report = view.walk()
        except Exception as e:
            self.call_from_thread(self.say, f"{view.label}: not read: {as_error(e)}", True)
            return
        self.call_from_thread(self._walked, view, report)

    def _walked(self, view: EngineView, report: Any) -> None:
        message = view.tree.walked(report)
        for level in self.stack:
            if level.engine is not None and self.views[level.engine] is view and level.parent_key == "":
                level.nodes = view.tree.roots(self.view_name)
        self._rows(keep_cursor=True)
        if message:
            self.say(message)

    def _rows(self, keep_cursor: bool = False) -> None:
        level = self.stack[-1]
        current = level.shown[level.cursor].key if keep_cursor and level.shown[level.cursor :] else None
        level.shown = level.rows(self.filters, self.sort, self.measure, self.empty)
        self.parent_bytes = sum(n.size(self.measure) or 0 for n in level.shown) or 1
        if current is not None:
            level.cursor = next((i for i, n in enumerate(level.shown) if n.key == current), level.cursor)
        level.cursor = min(level.cursor, max(0, len(level.shown) - 1))
        self.query_one(Rows).show(level.shown, level.cursor, headers(level))
        self._path()

    def _row_cells(self, node: Node) -> list[Text]:
        level = self.stack[-1]
        marks = self.views[level.engine].marks if level.engine is not None else None
        return cells(node, self.parent_bytes, marks, self.measure, level.blobs)

    def _path(self) -> None:
        level = self.stack[-1]
        crumbs = " / ".join(safe(lv.title) for lv in self.stack)
        extra = f"  [filter {safe(level.filter)}]" if level.filter else ""
        self.query_one("#path", Static).update(line(f"{crumbs}{extra}  ({level.count(self.empty)})"))
        engines = self.views[0].short if len(self.views) == 1 else f"{len(self.views)} engines"
        sort = "bottom to top" if level.layered and self.sort == "name" else self.sort
        top = f"? keys · sort {sort} · images: {self.measure} · {safe(engines)}"
        self.query_one("#top", Static).update(line(top))

    def _status(self) -> None:
        if not self.views:
            return
        text = status_text([v.marks.status() for v in self.views])
        self.query_one("#status", Static).update(line(text))

    def say(self, text: str, error: bool = False) -> None:
        """One line above the status line (errors too: never a traceback)."""
        self.query_one("#message", Static).update(line(safe(text), "bold red" if error else "yellow"))

    # --- keys ---
    def _defer(self, action: str, *args: Any) -> bool:
        if self.loaded:
            return False
        self.pending.append((action, args))
        return True

    def action_move(self, step: int) -> None:
        if self._defer("move", step):
            return
        level = self.stack[-1]
        if not level.shown:
            return
        level.cursor = max(0, min(len(level.shown) - 1, level.cursor + step))
        self.query_one(Rows).move(level.cursor)

    def action_open(self) -> None:
        if self._defer("open"):
            return
        level = self.stack[-1]
        if not level.shown:
            return
        node = level.shown[level.cursor]
        if node.kind == "engine":
            number = int(node.key.split(":")[1])
            view = self.views[number]
            self.stack.append(Level(view.label, view.tree.roots(self.view_name), number))
            self._rows()
            return
        if not node.opens:
            return
        if node.children is None and node.load is not None:
            if node.kind == "layer":
                self.say(f"reading the files of {safe(node.name)}…")
                self.read_children(node, level.engine)
                return
            node.children = node.load()
        self.stack.append(Level(node.name, node.children or [], level.engine, parent_key=node.key))
        self._rows()

    @work(thread=True, group="files")
    def read_children(self, node: Node, engine: int | None) -> None:
        try:
            assert node.load is not None
            children = node.load()
        except Exception as e:
            self.call_from_thread(self.say, str(as_error(e)), True)
            return
        self.call_from_thread(self._opened, node, children, engine)

    def _opened(self, node: Node, children: list[Node], engine: int | None) -> None:
        node.children = children
        self.say("")
        if (
            self.stack[-1].shown[self.stack[-1].cursor :]
            and self.stack[-1].shown[self.stack[-1].cursor] is node
        ):
            self.stack.append(Level(node.name, children, engine, parent_key=node.key))
            self._rows()

    def action_up(self) -> None:
        if self._defer("up"):
            return
        if len(self.stack) > 1:
            self.stack.pop()
            self._rows()

    def action_mark(self) -> None:
        if self._defer("mark"):
            return
        level = self.stack[-1]
        if not level.shown:
            return
        node = level.shown[level.cursor]
        if not node.markable or level.engine is None:
            self.say(
                f"{node.kind}s are not marked: mark images, containers, volumes, build-cache records or builders"
            )
            return
        self.views[level.engine].marks.toggle(node.key)
        self.query_one(Rows).refresh()
        self._status()
        self.action_move(1)

    def action_mark_all(self) -> None:
        if self._defer("mark_all"):
            return
        level = self.stack[-1]
        keys = [n.key for n in level.shown if n.markable]
        if level.engine is None or not keys:
            self.say("nothing here can be marked")
            return
        self.views[level.engine].marks.mark_all(keys)
        self._rows(keep_cursor=True)
        self._status()

    def action_cycle(self, setting: str) -> None:
        """``s`` sorts by size or by name (layers: bottom to top), ``u`` weighs images another way, ``e``
        shows or hides the history entries that made no layer (ENV, CMD, LABEL …)."""
        if self._defer("cycle", setting):
            return
        options: tuple[Any, ...] = {"sort": SORTS, "measure": MEASURES, "empty": (False, True)}[setting]
        setattr(self, setting, options[(options.index(getattr(self, setting)) + 1) % len(options)])
        self._rows(keep_cursor=True)

    def action_filter(self) -> None:
        """Type a filter: the keys that follow go to it (even typed at once, before the screen moves)."""
        self.typing = self.stack[-1].filter if self.stack else ""
        self.filtering = True
        self._show_filter()

    def on_key(self, event: events.Key) -> None:
        if not self.filtering:
            return
        event.prevent_default()  # no binding fires while a filter is typed
        event.stop()
        if event.key in ("enter", "escape"):
            self.filtering = False
            self._show_filter()
            if event.key == "enter":
                self.action_apply_filter(self.typing.strip())
        elif event.key == "backspace":
            self.typing = self.typing[:-1]
            self._show_filter()
        elif event.character and event.character.isprintable():
            self.typing += event.character
            self._show_filter()

    def _show_filter(self) -> None:
        box = self.query_one("#filter", Static)
        box.set_class(self.filtering, "open")
        hint = "   (a glob or part of a name; Enter applies, Esc cancels)"
        box.update(line(f"/{safe(self.typing)}▏{hint}" if self.filtering else ""))

    def action_apply_filter(self, text: str) -> None:
        if self._defer("apply_filter", text):
            return
        self.stack[-1].filter = text
        self.stack[-1].cursor = 0
        self._rows()

    def action_clear_filter(self) -> None:
        if self.stack and self.stack[-1].filter:
            self.stack[-1].filter = ""
            self._rows()

    def action_keys(self) -> None:
        self.push_screen(Keys())

    def action_reread(self) -> None:
        if self._defer("reread"):
            return
        self.say("reading the engines again…")
        self.load()

    def action_quit_with_plan(self) -> None:
        self.plan = plan_lines([(v.label, v.marks) for v in self.views])
        self.exit()

    # --- removal ---
    def action_remove(self) -> None:
        if self._defer("remove"):
            return
        if not self.allow_removal:
            self.say("removal is off: start layershare browse --allow-removal to remove what is marked (d)")
            return
        level = self.stack[-1]
        number = level.engine if level.engine is not None else 0
        view = self.views[number]
        commands = view.marks.commands()
        if not commands:
            self.say("nothing marked that would go: mark images, stopped containers, volumes or records")
            return
        text = confirm_text(view.label, view.marks.status().freed_bytes, commands)

        def answered(yes: bool | None) -> None:
            if yes:
                self.say("removing…")
                self.carry_out(number)
            else:
                self.say("nothing removed")

        self.push_screen(Confirm(text), answered)

    @work(thread=True, exclusive=True, group="read")
    def carry_out(self, number: int) -> None:
        view = self.views[number]
        try:
            removed = remove_marked(view)
        except Exception as e:
            self.call_from_thread(self.say, str(as_error(e)), True)
            self._reload(number)
            return
        self.last_removal = removed
        view.marks.clear()
        self._reload(number)
        self.call_from_thread(
            self.say,
            f"predicted {human_size(removed.predicted_bytes)} ({removed.predicted_bytes:,} B), "
            f"freed {human_size(removed.freed_bytes)} ({removed.freed_bytes:,} B)",
        )

    def _reload(self, number: int) -> None:
        view = self.views[number]
        try:
            assert view.reload is not None
            fresh = view.reload()
        except Exception as e:
            self.call_from_thread(self.say, str(as_error(e)), True)
            return
        views = list(self.views)
        views[number] = fresh
        self.call_from_thread(self._loaded, views)
