"""What the marked rows free: marks become ``free``'s selection, planned by the engine's rules, and the
freed bytes kept as a running total (:class:`~layershare.free.running.RunningTotal`). No terminal here.

On a Docker engine the figure is ``layershare free``'s ``freed_bytes`` for the same images, containers,
volumes and build-cache records. On containerd without dockerd there are no removal rules: the
figure is the bytes the marked images alone hold (layers no unmarked image holds), labelled so.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace

from layershare.free.holders import open_range, removed_holders
from layershare.free.plan import Plan
from layershare.free.prune import parse_prune
from layershare.free.running import RunningTotal
from layershare.free.selection import Selection, plan_removal
from layershare.model import EngineState
from layershare.units import human_size

KINDS = ("image", "container", "volume", "build", "builder")


@dataclass(frozen=True)
class Status:
    """The status line's figures: how many rows are marked and the bytes they free."""

    marked: int
    freed_bytes: int
    rules: bool
    estimated: bool = False  # the engine's answers leave part of it open (free gives the range)

    def text(self) -> str:
        what = "frees" if self.rules else "the marked images alone hold"
        line = f"Marked {self.marked} · {what} {human_size(self.freed_bytes)} ({self.freed_bytes:,} B)"
        return line + (ESTIMATED if self.estimated else "")


ESTIMATED = ", an estimate (BuildKit's cache: free gives the range)"


class Marks:
    """The marked holders of one engine, their plan and what it frees (``rules`` False: a node)."""

    def __init__(self, state: EngineState, *, rules: bool = True) -> None:
        self.state = state
        self.rules = rules
        self.marked: dict[str, None] = {}  # holder keys, in the order marked
        self.total = RunningTotal(state)
        self.plan = Plan()

    def toggle(self, key: str) -> None:
        if key in self.marked:
            del self.marked[key]
        else:
            self.marked[key] = None
        self._replan()

    def mark_all(self, keys: list[str]) -> None:
        """Mark every one of ``keys``; when all are marked already, unmark them."""
        if all(k in self.marked for k in keys):
            for k in keys:
                self.marked.pop(k, None)
        else:
            self.marked.update(dict.fromkeys(keys))
        self._replan()

    def keep(self, keys: list[str]) -> None:
        """Mark exactly ``keys`` (the marks that still name something after the engine is read again)."""
        self.marked = dict.fromkeys(keys)
        self._replan()

    def clear(self) -> None:
        self.marked.clear()
        self._replan()

    def selection(self) -> Selection:
        by_kind: dict[str, list[str]] = {k: [] for k in KINDS}
        for key in self.marked:
            kind, _, ident = key.partition(":")
            by_kind[kind].append(ident)
        builders = [n for n in by_kind["builder"] if "/" not in n]
        return Selection(
            images=tuple(by_kind["image"]),
            containers=tuple(by_kind["container"]),
            volumes=tuple(by_kind["volume"]),
            build_records=tuple(by_kind["build"]),
            builder_records=tuple(n for n in by_kind["builder"] if "/" in n),  # a plan's (browse --plan)
            # a marked builder: what its prune takes (every record no build holds)
            prunes=tuple(
                parse_prune(f"docker buildx prune --builder {shlex.quote(n)} -a -f") for n in builders
            ),
        )

    def _replan(self) -> None:
        if self.rules:
            self.plan = plan_removal(self.state, self.selection())
            self.total.update(removed_holders(self.plan))
        else:  # no dockerd: nothing decides what may go, each marked image simply goes
            images = {k.partition(":")[2] for k in self.marked if k.startswith("image:")}
            self.plan = replace(Plan(), removed_images=images)
            self.total.update({f"image:{i}" for i in images})

    def status(self) -> Status:
        return Status(len(self.marked), self.total.freed_bytes, self.rules, self._estimated())

    def _estimated(self) -> bool:
        """Whether what goes touches what the engine's answers leave open (:attr:`EngineState.uncertain`)."""
        if not self.state.uncertain:
            return False
        return open_range(self.state, removed_holders(self.plan), self.total.left()) != (0, 0)

    def why_kept(self, key: str) -> str:
        """Why a marked row stays (a container, a tag on another image, a running container), or ""."""
        if key not in self.marked:
            return ""
        kind, _, ident = key.partition(":")
        if kind == "image":
            reasons = list(self.plan.blocked_by.get(ident, []))
            if not reasons and ident not in self.plan.removed_images and self.rules:
                reasons = ["kept"]
            return "; ".join(dict.fromkeys(reasons))
        return "; ".join(dict.fromkeys(self.plan.refused.get(key, [])))

    def commands(self) -> list[str]:
        """The docker commands that would remove what is marked (``free``'s lines), none when nothing is."""
        return list(self.plan.commands) if self.rules and self.marked else []


def status_text(statuses: list[Status]) -> str:
    """The status line of one engine, or of several added up."""
    if len(statuses) == 1:
        return statuses[0].text()
    marked, freed = sum(s.marked for s in statuses), sum(s.freed_bytes for s in statuses)
    verb = "frees" if all(s.rules for s in statuses) else "frees (nodes: what the marked images alone hold)"
    line = f"Marked {marked} · {verb} {human_size(freed)} ({freed:,} B)"
    return line + (ESTIMATED if any(s.estimated for s in statuses) else "")


def plan_lines(engines: list[tuple[str, Marks]]) -> list[str]:
    """The commands that remove what is marked, engine after engine (a comment names each when there
    are several): what ``q`` prints."""
    lines: list[str] = []
    for label, marks in engines:
        found = marks.commands()
        if found and len(engines) > 1:
            lines.append(f"# {label}")
        lines += found
    return lines
