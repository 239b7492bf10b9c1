"""What a removal takes: references, globs, selectors and ``docker … prune`` commands turned into a
plan, in the order the engine would take them (its rules: :mod:`layershare.free.engine_rules`).

No I/O: everything is decided on an :class:`~layershare.model.holdings.EngineState`.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from layershare.free.builders import prune_builder, remove_builder, remove_builder_records, with_volume
from layershare.free.engine_rules import EngineRules, normalise_reference, repository
from layershare.free.plan import Plan
from layershare.free.prune import LabelFilter, PruneCommand
from layershare.model.holdings import EngineState


@dataclass(frozen=True)
class Selection:
    """What the user asked to remove: references and globs, selectors, and prune commands alike."""

    references: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # full image IDs, each the whole image (browse marks these)
    containers: tuple[str, ...] = ()  # names or IDs: removed first; a running one is kept
    volumes: tuple[str, ...] = ()  # names: removed only when no container left keeps them
    build_records: tuple[str, ...] = ()  # build-cache record IDs: removed when nothing stands on them
    builder_records: tuple[str, ...] = ()  # a buildx builder's records, ``<builder>/<id>``, the same way
    dangling: bool = False
    unused: bool = False
    older_than: float | None = None
    keep_last: int | None = None
    labels: tuple[LabelFilter, ...] = ()
    with_containers: bool = False
    prunes: tuple[PruneCommand, ...] = ()

    def describe(self) -> list[str]:
        """The selection as the user wrote it, one entry each."""
        out = list(self.references) + list(self.images)
        out += [f"--container {c}" for c in self.containers]
        out += [f"--volume {v}" for v in self.volumes]
        out += [f"--build-record {r}" for r in self.build_records]
        out += [f"builder record {r}" for r in self.builder_records]
        out += ["--dangling"] if self.dangling else []
        out += ["--unused"] if self.unused else []
        out += [f"--older-than {self.older_than:g}s"] if self.older_than is not None else []
        out += [f"--keep-last {self.keep_last}"] if self.keep_last is not None else []
        out += [f"--label {f.key}{'' if f.value is None else '=…'}" for f in self.labels]
        out += ["--with-containers"] if self.with_containers else []
        out += [f"--like {p.text}" for p in self.prunes]
        return out


def plan_removal(state: EngineState, selection: Selection, now: float | None = None) -> Plan:
    """What ``selection`` removes from ``state``, as the engine would, and the commands to do it."""
    plan = Plan()
    engine = EngineRules(state, plan, time.time() if now is None else now)
    picked = _picked_tags(state, selection, engine.now)
    if selection.containers:
        engine.remove_stopped_containers(_containers(state, selection.containers))
    if selection.with_containers:
        chosen = set(picked)
        engine.remove_containers(c.id for c in state.containers if c.image_id in chosen)
    for image_id in sorted(picked, key=engine.depth, reverse=True):
        if image_id in engine.alive:
            engine.remove(image_id, picked[image_id])
    if selection.volumes:
        engine.remove_volumes(_volumes(state, selection.volumes))
    if selection.build_records:
        engine.remove_build_records(_build_records(state, selection.build_records))
    if selection.builder_records:
        remove_builder_records(state, plan, selection.builder_records)
    for prune in selection.prunes:
        filters = prune.filters
        if prune.containers:
            engine.prune_containers(filters)
        if prune.volumes:
            engine.prune_volumes(filters, prune.volumes_all)
        if prune.images:
            engine.prune_images(filters, prune.all)
        if prune.build_cache:
            engine.prune_build_cache(filters, prune.all, prune.space)
        if prune.remove_builder:
            remove_builder(state, plan, prune, engine.remove_containers)
            plan.commands.append(prune.text)
            continue
        if prune.builder:
            prune_builder(state, plan, prune, engine.now)
        forced = {"-f", "--force", "-af", "-fa"} & set(prune.text.split())
        plan.commands.append(prune.text if forced else f"{prune.text} -f")
    with_volume(state, plan)  # a builder's state volume takes its records with it
    plan.matched_nothing = not (
        picked
        or selection.prunes
        or plan.removed_images
        or plan.removed_tags
        or plan.containers
        or plan.volumes
        or plan.build_records
        or plan.builder_records
        or plan.refused
    )
    return plan


def _picked_tags(state: EngineState, selection: Selection, now: float) -> dict[str, list[str] | None]:
    """Image ID -> the tags asked for (None: the whole image) from references, globs and selectors."""
    picked: dict[str, list[str] | None] = {}

    def whole(image_id: str) -> None:
        picked[image_id] = None

    def tag(image_id: str, name: str) -> None:
        current = picked.get(image_id, [])
        if current is not None and name not in current:
            picked[image_id] = [*current, name]

    known = {i.id for i in state.images}
    for image_id in selection.images:
        if image_id not in known:
            from layershare.errors import ImageNotFound

            raise ImageNotFound(f"no image {image_id} on this engine")
        whole(image_id)
    for reference in selection.references:
        hits = resolve_reference(state.images, reference)
        if not hits:
            from layershare.errors import ImageNotFound

            raise ImageNotFound(f"no image matches {reference!r} on this engine")
        for image_id, name in hits:
            (tag(image_id, name) if name else whole(image_id))
    selectors = selection.dangling or selection.unused or selection.older_than is not None
    used = {c.image_id for c in state.containers} if selection.unused else set()
    parents = {i.parent_id for i in state.images} if selectors else set()
    for image in state.images if selectors or selection.labels else ():
        intermediate = not image.tags and image.id in parents
        if selection.dangling and not image.tags and not intermediate:
            whole(image.id)
        if selection.unused and image.id not in used and not intermediate:
            whole(image.id)
        old = selection.older_than is not None and image.created < now - selection.older_than
        if old and not intermediate:
            whole(image.id)
        if selection.labels and all(f.matches(image.labels) for f in selection.labels):
            whole(image.id)
    if selection.keep_last is not None:
        for image_id, names in _older_than_last(state, selection.keep_last).items():
            for name in names:
                tag(image_id, name)
    return picked


def _containers(state: EngineState, wanted: tuple[str, ...]) -> list[str]:
    """Container IDs by name, full ID or ID prefix (as ``docker rm`` reads them)."""
    found = []
    for text in wanted:
        name = text.removeprefix("/")
        hits = (
            [c.id for c in state.containers if c.id == text]
            or [c.id for c in state.containers if c.name == name]
            or [c.id for c in state.containers if len(text) >= 4 and c.id.startswith(text)]
        )
        if len(hits) != 1:
            from layershare.errors import ImageNotFound

            why = "no container" if not hits else "more than one container matches"
            raise ImageNotFound(f"{why} {text!r} on this engine")
        found.append(hits[0])
    return list(dict.fromkeys(found))


def _volumes(state: EngineState, wanted: tuple[str, ...]) -> list[str]:
    names = {v.name for v in state.volumes}
    for name in wanted:
        if name not in names:
            from layershare.errors import ImageNotFound

            raise ImageNotFound(f"no volume {name!r} on this engine")
    return list(dict.fromkeys(wanted))


def _build_records(state: EngineState, wanted: tuple[str, ...]) -> list[str]:
    found = []
    for text in wanted:
        hits = [r.id for r in state.build_cache if r.id == text] or [
            r.id for r in state.build_cache if len(text) >= 4 and r.id.startswith(text)
        ]
        if len(hits) != 1:
            from layershare.errors import ImageNotFound

            why = "no build-cache record" if not hits else "more than one build-cache record matches"
            raise ImageNotFound(f"{why} {text!r} on this engine")
        found.append(hits[0])
    return list(dict.fromkeys(found))


def _older_than_last(state: EngineState, keep: int) -> dict[str, list[str]]:
    """Per repository, the tags of images older than the ``keep`` newest creation times."""
    by_repository: dict[str, list[tuple[str, str, float]]] = {}
    for image in state.images:
        for name in image.tags:
            by_repository.setdefault(repository(name), []).append((image.id, name, image.created))
    chosen: dict[str, list[str]] = {}
    for entries in by_repository.values():
        newest = sorted({created for _, _, created in entries}, reverse=True)[:keep]
        for image_id, name, created in entries:
            if created not in newest:
                chosen.setdefault(image_id, []).append(name)
    return chosen


class Named(Protocol):
    """An image as a reference names it: its ID, tags and digests."""

    @property
    def id(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def digests(self) -> tuple[str, ...]: ...


def resolve_reference(images: Iterable[Named], reference: str) -> list[tuple[str, str]]:
    """(image ID, tag or "" for the whole image) that a reference, glob, ID or digest names, as the
    docker CLI reads them (``app`` is ``app:latest``; ``app-*`` any tag of those repositories)."""
    images = list(images)
    text = reference.strip()
    hex_part = text.removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{4,64}", hex_part):
        by_id = [(i.id, "") for i in images if i.id.removeprefix("sha256:").startswith(hex_part)]
        if by_id:
            return by_id
    if "@" in text:  # name@sha256:...: the whole image, as docker image rm reads a digest
        name, _, digest = text.partition("@")
        wanted = {text, f"{normalise_reference(name).rsplit(':', 1)[0]}@{digest}"}
        return [(i.id, "") for i in images if wanted & set(i.digests)]
    if any(ch in text for ch in "*?["):
        pattern = text if ":" in text.rsplit("/", 1)[-1] else f"{text}:*"
        return [(i.id, t) for i in images for t in i.tags if fnmatch.fnmatchcase(t, pattern)]
    name = normalise_reference(text)
    return [(i.id, t) for i in images for t in i.tags if t == name]
