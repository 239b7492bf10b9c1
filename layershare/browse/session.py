"""``layershare browse``'s dealings with engines: read each engine's state (as ``free`` reads it), walk
its data root in the background (as ``disk`` does; the ``dupes`` view: read every layer's files, as
``dupes`` does), read a layer's files on demand, and, only with
``--allow-removal`` once the user confirmed, carry out the plan and weigh what the engine freed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from layershare.browse.marks import Marks
from layershare.browse.tree import EngineTree, state_of_snapshot
from layershare.disk.categories import DiskReport, disk_report
from layershare.errors import LayershareError, StateChanged
from layershare.free.holders import fingerprint
from layershare.ids import chain_ids
from layershare.model import EngineState
from layershare.render.naming import describe_engine
from layershare.sources.choice import SourceChoice, open_source

if TYPE_CHECKING:
    from layershare.dupes.analysis import DupesReport
    from layershare.free.target import Planning


@dataclass
class EngineView:
    """One engine as browse shows it: its tree, its marks, and what reads it."""

    label: str
    tree: EngineTree
    marks: Marks
    engine: Any = None  # EngineSource of a Docker engine; None for a containerd node
    data_root: str | None = None
    walk: Callable[[], DiskReport | DupesReport] | None = None  # what a worker reads after (the view's)
    reload: Callable[[], EngineView] | None = None  # the same engine read again, afresh
    opening: str = ""  # said once it opens (``--plan``: what the plan marked)

    @property
    def state(self) -> EngineState:
        return self.tree.state

    @property
    def short(self) -> str:
        """The engine in a few words, for the top line: ``Engine 29.7.2 containerd store at unix:///…``."""
        engine = self.state.engine
        store = engine.storage_driver if engine.image_store != "containerd" else "containerd store"
        if not engine.api_version:
            return self.label
        where = self.engine.where if self.engine is not None else engine.host
        return f"Engine {engine.version.split('+')[0]} {store} at {where}"


def loaders(
    choice: SourceChoice, data_root: str | None, planning: Planning | None = None, view: str = "disk"
) -> list[Callable[[], EngineView]]:
    """One loader per engine the options name (several ``-H``, or a containerd node); a Docker engine's
    reading begins at once (:func:`read_engine`). ``planning``: each engine opens with ``plan``'s
    choice for it marked. ``view`` ``dupes``: what a worker reads after is every layer's files (else
    the data root's walk, for ``disk``)."""
    return [
        _with_dupes(load, c) if view == "dupes" else load for load, c in _loaders(choice, data_root, planning)
    ]


def _with_dupes(load: Callable[[], EngineView], choice: SourceChoice) -> Callable[[], EngineView]:
    """The loader, its view's worker reading every layer's files (``layershare dupes``)."""

    def loaded() -> EngineView:
        from dataclasses import replace

        from layershare.dupes.analysis import analyse
        from layershare.sources.dupes.collect import collect

        return replace(load(), walk=lambda: analyse(collect(choice)))

    return loaded


def _loaders(
    choice: SourceChoice, data_root: str | None, planning: Planning | None
) -> list[tuple[Callable[[], EngineView], SourceChoice]]:
    if choice.recording or choice.archives:
        from layershare.errors import UsageError

        raise UsageError("browse reads live engines: --recording and --archive hold no containers or volumes")
    if choice.containerd_root:
        if data_root:
            from layershare.errors import UsageError

            raise UsageError(
                "--data-root names a Docker engine's data root; --containerd-root is read as given"
            )
        if planning is not None:
            from layershare.errors import UsageError

            raise UsageError("--plan plans on a Docker engine's rules: not on a containerd node")
        return [(lambda: _node_view(choice), choice)]
    each = choice.for_each_host()
    if data_root and len(each) > 1:
        from layershare.errors import UsageError

        raise UsageError("--data-root names one engine's data root: give --host once")
    return [(read_engine(c, data_root, planning), c) for c in each]


def read_engine(
    choice: SourceChoice, data_root: str | None, planning: Planning | None = None
) -> Callable[[], EngineView]:
    """Begin reading a Docker engine's state now (its lists and ``/system/df`` asked on threads, while
    the terminal UI is imported); the callable returned finishes it, as ``layershare free`` reads
    containers, volumes and build cache."""
    from layershare.sources.choice import open_engine
    from layershare.sources.holdings.reader import HoldingsReader

    engine = open_engine(choice)
    reader = HoldingsReader(engine, data_root=data_root)
    reader.begin(with_df=True)
    used = False  # builders are read as the state is (root: their files; the group: one exec each)

    def finish() -> EngineView:
        nonlocal used
        if used:  # read again (r): a fresh engine source, nothing kept from the first reading
            return read_engine(choice, data_root)()
        used = True
        state = reader.state(with_df=True, builders=True)
        tree = EngineTree(
            state,
            paths=reader.paths,
            read_files=lambda i, c: files_from_export(engine, i, c),
            snapshot=reader.snapshot,
        )
        marks, opening = Marks(state), ""
        if planning is not None:
            opening = _mark_plan(reader, state, planning, marks)
        return EngineView(
            describe_engine(state.engine),
            tree,
            marks,
            engine=engine,
            data_root=data_root,
            walk=lambda: _walk(engine, data_root, reader),
            reload=lambda: read_engine(choice, data_root)(),
            opening=opening,
        )

    return finish


def _mark_plan(reader: Any, state: EngineState, planning: Planning, marks: Marks) -> str:
    """Mark what ``plan`` chooses on this reading (the images, and the stopped containers that go first
    with ``--with-containers``); what to say of it."""
    from layershare.free.space import plan_on
    from layershare.units import human_size

    choice = plan_on(reader, state, planning.target, planning.rules).choice
    marks.keep([f"container:{c}" for c in choice.plan.containers] + [c.holder for c in choice.chosen])
    verdict = "reached" if choice.reached else "NOT reached (the most these rules free)"
    return (
        f"Plan: target {verdict}, {len(choice.chosen)} least recently used item(s) marked "
        f"({planning.target.describe()}, {human_size(choice.measured)})"
    )


def _walk(engine: Any, data_root: str | None, reader: Any) -> DiskReport:
    """The data root walked as ``disk`` walks it, on the images the first reading collected."""
    from layershare.sources.disk.source import DiskSource

    return disk_report(DiskSource(engine, data_root=data_root, reader=reader).snapshot())


def _node_view(choice: SourceChoice) -> EngineView:
    from layershare.sources.containerd.disk import NodeDiskSource
    from layershare.sources.containerd.source import ContainerdSource

    source = open_source(choice)
    assert isinstance(source, ContainerdSource)
    snapshot = source.snapshot()
    state = state_of_snapshot(snapshot)
    return EngineView(
        describe_engine(state.engine),
        EngineTree(state, snapshot=snapshot),
        Marks(state, rules=False),
        walk=lambda: disk_report(NodeDiskSource(source).snapshot()),
        reload=lambda: _node_view(choice),
    )


def files_from_export(engine: Any, image_id: str, chain_id: str) -> list[tuple[str, int]]:
    """A layer's files, streamed from the engine's export of one image (nothing written to disk)."""
    content = engine.image_content(image_id)
    chains = chain_ids(content.diff_ids)
    for layer, chain in zip(content.layers, chains, strict=False):
        if chain == chain_id:
            return [("/" + f.path, f.size_bytes) for f in layer.files if f.kind == "file"]
    return []


# --- removal (--allow-removal, after the user confirmed) ---


@dataclass(frozen=True)
class Removed:
    """What a removal was predicted to free and what the engine's accounting dropped by."""

    predicted_bytes: int
    freed_bytes: int
    commands: tuple[str, ...]


def remove_marked(view: EngineView) -> Removed:
    """Carry out the marks' plan, if the engine is still in the state it was planned on (else
    :class:`StateChanged`), and weigh the drop in the engine's accounting."""
    engine = view.engine
    if engine is None or view.reload is None:
        raise StateChanged("nothing is removed on a containerd node: no dockerd decides what may go")
    commands = view.marks.commands()
    predicted = view.marks.status().freed_bytes
    if fingerprint(view.reload().state) != fingerprint(view.state):
        raise StateChanged("the engine changed since it was read (images, tags, containers, volumes or build "
                           "cache): nothing was removed; it is read again")  # fmt: skip
    from layershare.sources.engine.removal import accounting, carry_out

    before = accounting(engine)
    carry_out(engine, commands)
    return Removed(predicted, before - accounting(engine), tuple(commands))


def as_error(error: BaseException) -> LayershareError:
    """Any failure of a worker as layershare's error: its first line, never a traceback."""
    if isinstance(error, LayershareError):
        return error
    text = str(error).strip().splitlines()
    return LayershareError(f"{type(error).__name__}: {text[0] if text else 'failed'}")
