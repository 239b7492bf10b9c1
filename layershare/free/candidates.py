"""What ``layershare plan`` may take, and when each was last used: the images (tagged, or untagged with
no child; never one a container uses unless ``with_containers`` and its containers are all stopped;
none a rule protects) and, with ``--build-cache``, BuildKit's cache records (not in use), in the order
BuildKit's own collector takes them. No I/O.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from layershare.free.build_cache import after_size_reading, gc_order
from layershare.free.engine_rules import normalise_reference, repository
from layershare.free.target import LastUsed, Rules
from layershare.model import BuildRecord
from layershare.model.holdings import EngineImage, EngineState
from layershare.times import nanoseconds

RECORD = "build:"  # a build-cache record's key among the candidates (an image's is its ID)
BUILDER = "builder:"  # a buildx builder's record's: ``builder:<builder>/<id>``


def record_key(record_id: str) -> str:
    return f"{RECORD}{record_id}"


def builder_key(builder: str, record_id: str) -> str:
    return f"{BUILDER}{builder}/{record_id}"


@dataclass(frozen=True)
class Item:
    """An image, or a build-cache record (``--build-cache``), as the plan names it."""

    image: EngineImage | None
    record: BuildRecord | None = None
    builder: str = ""  # a buildx builder's record: the builder's name

    @property
    def id(self) -> str:
        return self.image.id if self.image is not None else self.record.id if self.record else ""

    @property
    def key(self) -> str:
        """Its key among the candidates: the image's ID, ``build:<record ID>`` or
        ``builder:<builder>/<record ID>``."""
        if self.image is not None:
            return self.image.id
        return builder_key(self.builder, self.id) if self.builder else record_key(self.id)

    @property
    def holder(self) -> str:
        """Its holder key (``image:<ID>``, ``build:<ID>``, ``builder:<builder>/<ID>``): what browse marks."""
        return f"image:{self.image.id}" if self.image is not None else self.key

    @property
    def kind(self) -> str:
        if self.image is not None:
            return "image"
        return "builder-cache" if self.builder else "build-cache"

    @property
    def tags(self) -> tuple[str, ...]:
        return self.image.tags if self.image is not None else ()

    @property
    def name(self) -> str:
        """Its tags, or what a record is (never its description: a command line may hold a secret)."""
        if self.record is not None and self.builder:
            return f"builder {self.builder}'s cache ({self.record.type or 'record'})"
        if self.record is not None:
            return f"build cache ({self.record.type or 'record'})"
        return ", ".join(self.tags) or "<none>"


@dataclass(frozen=True, kw_only=True)
class Chosen(Item):
    """An item the plan removes: what it adds to the plan's figure, in the plan's order, and the total."""

    last_used: LastUsed
    freed_bytes: int
    total_bytes: int


@dataclass(frozen=True, kw_only=True)
class Kept(Item):
    """An item the plan may not take, and why."""

    reason: str


def _too_young(used: LastUsed, rules: Rules) -> str:
    when = datetime.fromtimestamp(used.at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"kept: {used.source} {when}, within --min-age {human_duration(rules.min_age)}"


def eligible_records(
    state: EngineState, rules: Rules, last_used: Mapping[str, LastUsed], now: float
) -> tuple[list[str], list[Kept]]:
    """With ``--build-cache``: the records a plan may take (keys), in BuildKit's gc order (what it prunes
    first), and the others with why not; none without it."""
    if not rules.build_cache:
        return [], []
    kept: list[Kept] = []
    removable: set[str] = set()
    for record in state.build_cache:
        used = last_used[record_key(record.id)]
        reason = ""
        if record.in_use:
            reason = "in use by a build"
        elif now - used.at < rules.min_age:
            reason = _too_young(used, rules)
        if reason:
            kept.append(Kept(None, record, reason=reason))
        else:
            removable.add(record.id)
    records = {r.id: r for r in state.build_cache}
    ordered = [[record_key(rid) for rid, _ in gc_order(records, removable)]]
    now_ns = int(now * 1e9)
    for builder in state.builders:  # each builder's records in its own GC's order
        mine = {r.id: r for r in builder.records or ()}
        allowed: set[str] = set()
        for record in mine.values():
            used = last_used[builder_key(builder.name, record.id)]
            reason = "in use by a build" if record.in_use else ""
            if not builder.running:  # buildx would start it to prune it; a plan leaves it stopped
                reason = reason or f"builder {builder.name} is stopped"
            if not reason and now - used.at < rules.min_age:
                reason = _too_young(used, rules)
            if reason:
                kept.append(Kept(None, record, builder=builder.name, reason=reason))
            else:
                allowed.add(record.id)
        ranked = after_size_reading(mine.values(), builder.use_pending, now_ns)
        ordered.append([builder_key(builder.name, rid) for rid, _ in gc_order(ranked, allowed)])
    return _by_last_use(ordered, last_used), kept


def _by_last_use(lists: list[list[str]], last_used: Mapping[str, LastUsed]) -> list[str]:
    """Several ordered lists as one, each kept in its own order, the one whose next item was used longer
    ago first (the first list on a tie)."""
    merged: list[str] = []
    at = [0] * len(lists)
    while True:
        heads = [(last_used[lst[at[n]]].at, n) for n, lst in enumerate(lists) if at[n] < len(lst)]
        if not heads:
            return merged
        _, n = min(heads)
        merged.append(lists[n][at[n]])
        at[n] += 1


def resolve_uses(state: EngineState, uses: Mapping[str, float]) -> dict[str, float]:
    """The event journal's uses (an image ID, a short one, or a reference) by image ID, as the state
    names them now; what names no image here any more is left out."""
    ids = {i.id for i in state.images}
    by_tag = {normalise_reference(t): i.id for i in state.images for t in i.tags}
    found: dict[str, float] = {}
    for key, at in uses.items():
        image = key if key in ids else by_tag.get(normalise_reference(key))
        short = key if key.startswith("sha256:") else f"sha256:{key}"
        if image is None and len(short) >= 19 and all(c in "0123456789abcdef" for c in short[7:]):
            image = next((i for i in ids if i.startswith(short)), None)  # a short ID
        if image is not None:
            found[image] = max(found.get(image, 0.0), at)
    return found


def last_used_of(
    state: EngineState,
    tagged: Mapping[str, float],
    container_times: Mapping[str, float],
    events: Mapping[str, float] | None = None,
) -> dict[str, LastUsed]:
    """Each image's last use: the newest of the event journal's (by image ID: :func:`resolve_uses`), its
    containers' (started, finished or created), when it was last tagged, and when it was created; each
    build-cache record's (by :func:`record_key`) as BuildKit says it."""
    by_image: dict[str, float] = {}
    for c in state.containers:
        at = container_times.get(c.id) or c.created
        by_image[c.image_id] = max(by_image.get(c.image_id, 0.0), at)
    found = {}
    for image in state.images:
        seen = [
            LastUsed(image.created, "created"),
            LastUsed(tagged.get(image.id, 0.0), "tagged"),
            LastUsed(by_image.get(image.id, 0.0), "container"),
            LastUsed((events or {}).get(image.id, 0.0), "event"),
        ]
        newest = max(seen, key=lambda u: u.at)  # the first of equal times: created before tagged
        found[image.id] = replace(newest, tagged_at=tagged.get(image.id, 0.0))
    for record in state.build_cache:  # BuildKit's own last use (its creation where never used)
        at = nanoseconds(record.last_used) or nanoseconds(record.created) or 0
        found[record_key(record.id)] = LastUsed(at / 1e9, "build-cache")
    for builder in state.builders:
        for record in builder.records or ():
            at = nanoseconds(record.last_used) or nanoseconds(record.created) or 0
            found[builder_key(builder.name, record.id)] = LastUsed(at / 1e9, f"builder {builder.name}")
    return found


def _matches_keep(image: EngineImage, globs: Sequence[str]) -> str | None:
    for glob in globs:
        wanted = normalise_reference(glob) if not any(ch in glob for ch in "*?[") else glob
        for tag in image.tags:
            if fnmatch.fnmatchcase(tag, wanted) or fnmatch.fnmatchcase(tag, glob):
                return glob
    return None


def unmatched_keeps(state: EngineState, rules: Rules) -> list[str]:
    """The ``--keep`` globs no image's tag matches (a warning: perhaps a typo)."""
    return [g for g in rules.keep if not any(_matches_keep(i, (g,)) for i in state.images)]


def eligible(
    state: EngineState, rules: Rules, last_used: Mapping[str, LastUsed], now: float
) -> tuple[list[EngineImage], list[Kept]]:
    """The images a plan may take, and the others with why not (records: :func:`eligible_records`)."""
    parents = {i.parent_id for i in state.images if i.parent_id}
    users: dict[str, list[str]] = {}
    running: set[str] = set()
    for c in state.containers:
        users.setdefault(c.image_id, []).append(c.name)
        if c.running:
            running.add(c.image_id)
    newest: set[str] = set()
    if rules.keep_last is not None:
        by_repo: dict[str, list[EngineImage]] = {}
        for image in state.images:
            for repo in dict.fromkeys(repository(t) for t in image.tags):
                by_repo.setdefault(repo, []).append(image)
        for images in by_repo.values():
            images.sort(key=lambda i: (last_tagged(i, last_used), i.created, i.id), reverse=True)
            newest.update(i.id for i in images[: rules.keep_last])
    candidates: list[EngineImage] = []
    kept: list[Kept] = []
    for image in state.images:
        if not image.tags and image.id in parents:
            continue  # a hidden parent goes with its children, never on its own
        used = last_used[image.id]
        glob = _matches_keep(image, rules.keep)
        label = next((f for f in rules.keep_labels if f.matches(image.labels)), None)
        reason = ""
        if image.id in running:
            reason = "used by a running container"
        elif image.id in users and not rules.with_containers:
            reason = f"used by container {', '.join(sorted(users[image.id]))} (--with-containers removes stopped ones)"
        elif glob is not None:
            reason = f"kept: matches --keep {glob}"
        elif label is not None:
            reason = f"kept: label {label.key} (--keep-label)"
        elif image.id in newest:
            reason = f"kept: among the {rules.keep_last} newest of its repository (--keep-last)"
        elif now - used.at < rules.min_age:
            reason = _too_young(used, rules)
        if reason:
            kept.append(Kept(image, reason=reason))
        else:
            candidates.append(image)
    return candidates, kept


def last_tagged(image: EngineImage, last_used: Mapping[str, LastUsed]) -> float:
    """When the image was last tagged, or created where the engine does not say."""
    used = last_used.get(image.id)
    return used.tagged_at if used is not None and used.tagged_at else image.created


def human_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"
