"""The engine's rules for removing images and pruning, applied to an :class:`EngineState`.

Read from moby (``daemon/images/image_delete.go`` and ``image_prune.go``, the
containerd store's ``image_delete.go`` and ``image_prune.go``) and BuildKit's
cache pruning, then corrected by measurement on real engines: removing a tag
removes the image only with its last tag; an image a container uses is
blocked; an image another image is built on (the classic builder's parent
chain) is only untagged; an untagged parent goes with its last child on a
graphdriver store; a prune keeps what running containers use. The containerd
store walks the parents as :mod:`layershare.free.parent_chain` says.
No I/O; :mod:`layershare.free.selection` drives it.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from layershare.free.build_cache import keep_bytes, prune_to, remove_records
from layershare.free.parent_chain import label_chain, parents_taken
from layershare.free.plan import Plan
from layershare.free.prune import BuildSpace, PruneFilters
from layershare.model import Container, EngineImage, EngineState, version_tuple
from layershare.model.holdings import API_VOLUME_PRUNE_ANONYMOUS
from layershare.times import unix_time


def repository(tag: str) -> str:
    """``team/app:2`` -> ``team/app``."""
    return tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag


def normalise_reference(reference: str) -> str:
    """``app`` -> ``app:latest`` (a reference without a tag names ``latest``, as docker reads it)."""
    if "@" in reference:
        return reference
    return reference if ":" in reference.rsplit("/", 1)[-1] else f"{reference}:latest"


@dataclass(frozen=True)
class _StateIndex:
    """A state's lookups, made once per state: a plan is made on every key press in ``browse``."""

    images: dict[str, EngineImage]
    containers: dict[str, Container]
    containers_of: dict[str, list[Container]]
    children_of: dict[str, set[str]]
    parent_of: dict[str, str]


_LAST_INDEX: list[tuple[EngineState, _StateIndex]] = []


def _index_of(state: EngineState) -> _StateIndex:
    if _LAST_INDEX and _LAST_INDEX[0][0] is state:
        return _LAST_INDEX[0][1]
    containers_of: dict[str, list[Container]] = {}
    for c in state.containers:
        containers_of.setdefault(c.image_id, []).append(c)
    children_of: dict[str, set[str]] = {}
    for image in state.images:
        children_of.setdefault(image.parent_id, set()).add(image.id)
    index = _StateIndex(
        images={i.id: i for i in state.images},
        containers={c.id: c for c in state.containers},
        containers_of=containers_of,
        children_of=children_of,
        parent_of={i.id: i.parent_id for i in state.images},
    )
    _LAST_INDEX[:] = [(state, index)]
    return index


class _Tags(dict[str, list[str]]):
    """Image ID -> its tags as a plan leaves them; an image not yet touched reads its own."""

    def __init__(self, images: dict[str, EngineImage]) -> None:
        super().__init__()
        self.images = images

    def __missing__(self, image_id: str) -> list[str]:
        tags = self[image_id] = list(self.images[image_id].tags)
        return tags


class EngineRules:
    """The engine's rules for removing images and pruning, applied to a state (mutable while planning)."""

    def __init__(self, state: EngineState, plan: Plan, now: float) -> None:
        self.state = state
        self.plan = plan
        self.now = now
        index = _index_of(state)
        self.images = index.images
        self.tags = _Tags(index.images)  # each image's tags as planned so far, copied when first read
        self.alive = set(index.images)
        self.containers = index.containers
        self.removed_containers: set[str] = set()
        self.containerd = state.engine.image_store == "containerd"
        self.containers_of = index.containers_of
        self.children_of = index.children_of
        self.parent_of = index.parent_of

    # --- who uses what ---
    def depth(self, image_id: str) -> int:
        """How many parents an image stands on (children are removed before their parents)."""
        depth, current = 0, self.images[image_id].parent_id
        while current in self.images and depth < 1000:
            depth, current = depth + 1, self.images[current].parent_id
        return depth

    def users(self, image_id: str) -> list[str]:
        return sorted(
            c.name for c in self.containers_of.get(image_id, ()) if c.id not in self.removed_containers
        )

    def _named(self, image_id: str) -> bool:
        return bool(self.tags[image_id])

    def _used(self, image_id: str) -> bool:
        return bool(self.users(image_id))

    def children(self, image_id: str) -> list[str]:
        return sorted(i for i in self.children_of.get(image_id, ()) if i in self.alive)

    # --- docker image rm ---
    def remove(self, image_id: str, tags: Sequence[str] | None) -> None:
        """``docker image rm`` of some tags of an image (None: the image itself, all its tags)."""
        current = self.tags[image_id]
        wanted = list(current) if tags is None else [t for t in tags if t in current]
        image = self.images[image_id]
        users = self.users(image_id)
        last = not [t for t in current if t not in wanted]
        if last and users:
            self.plan.blocked_by.setdefault(image_id, []).extend(f"used by container {n}" for n in users)
            return
        if wanted:
            self.plan.removed_tags.setdefault(image_id, []).extend(wanted)
            self.tags[image_id] = [t for t in current if t not in wanted]
            self.plan.commands.append("docker image rm " + " ".join(shlex.quote(t) for t in wanted))
        if not last:
            kept = ", ".join(self.tags[image_id])
            self.plan.notes.append(f"tag removed, image kept: {image_id[7:19]} is still tagged {kept}")
            return
        if self.containerd:
            self._delete_containerd(image, by_name=bool(wanted))
            return
        children = self.children(image_id)
        if children:
            self.plan.blocked_by.setdefault(image_id, []).extend(
                f"image {c[7:19]} is built on it" for c in children
            )
            if not wanted:
                self.plan.notes.append(f"{image_id[7:19]} is kept: other images are built on it")
            return
        if not wanted:
            self.plan.commands.append(f"docker image rm {image_id[7:19]}")
        self._delete(image)

    def _delete_containerd(self, image: EngineImage, by_name: bool) -> None:
        """The containerd store's ``docker image rm`` of an image's last name (moby ``deleteAll``): its
        parents are walked first (:func:`label_chain`); its record goes, kept as a dangling one when it
        had a name and other images are built on it; then the parents :func:`parents_taken` names."""
        chain = label_chain(image.id, self.parent_of, self.alive)
        children = self.children(image.id)
        if children and by_name:
            self.plan.blocked_by.setdefault(image.id, []).extend(
                f"image {c[7:19]} is built on it" for c in children
            )
        else:
            if not by_name:
                self.plan.commands.append(f"docker image rm {image.id[7:19]}")
            self._delete(image, cascade=False)
        self.plan.collects_garbage = True  # the named record's synchronous delete runs the collector
        nearest = image.parent_id
        if chain is None and nearest in self.alive and parents_taken((nearest,), self._named, self._used):
            self.plan.notes.append(
                f"{image.id[7:19]}'s untagged parents stay: a link further up its parent chain is gone "
                "(the containerd store then removes none of them)"
            )
        for parent in parents_taken(chain, self._named, self._used):
            self._delete(self.images[parent], cascade=False)

    def _delete(self, image: EngineImage, cascade: bool = True) -> None:
        self.alive.discard(image.id)
        self.plan.removed_images.add(image.id)
        self.plan.collects_garbage = self.containerd  # a synchronous delete runs containerd's collector
        if cascade:
            self._prune_parents(image)

    def _prune_parents(self, image: EngineImage) -> None:
        """A graphdriver store prunes an untagged parent no container uses that the deleted image
        leaves without children, up the chain (moby ``daemon/images/image_delete.go``)."""
        parent = image.parent_id
        if parent not in self.alive or self.tags[parent] or self.users(parent):
            return
        if not self.children(parent):
            self._delete(self.images[parent])

    # --- prunes ---
    def prune_containers(self, filters: PruneFilters) -> None:
        chosen = [
            c
            for c in self.state.containers
            if not c.running and c.id not in self.removed_containers and filters.matches(c.created, c.labels)
        ]
        self.remove_containers([c.id for c in chosen], command=None)

    def remove_containers(self, ids: Iterable[str], command: str | None = "docker rm") -> None:
        chosen = [self.containers[i] for i in ids if i not in self.removed_containers]
        for c in chosen:
            self.removed_containers.add(c.id)
            self.plan.containers.append(c.id)
        if command and chosen:
            running = [c.name for c in chosen if c.running]
            stopped = [c.name for c in chosen if not c.running]
            if running:
                self.plan.commands.append("docker rm -f " + " ".join(running))
            if stopped:
                self.plan.commands.append(f"{command} " + " ".join(stopped))

    def remove_stopped_containers(self, ids: Iterable[str]) -> None:
        """``docker rm`` of containers asked for by name: a running one is never removed (no ``-f``)."""
        stopped = []
        for cid in ids:
            c = self.containers[cid]
            if c.running:
                self.plan.refused.setdefault(f"container:{cid}", []).append(
                    f"container {c.name} is {c.state}: a running container is never removed"
                )
            else:
                stopped.append(cid)
        self.remove_containers(stopped)

    def remove_volumes(self, names: Iterable[str]) -> None:
        """``docker volume rm``: refused while a container that stays mounts the volume."""
        chosen = []
        for name in names:
            users = sorted(
                c.name
                for c in self.state.containers
                if name in c.volumes and c.id not in self.removed_containers
            )
            if users:
                self.plan.refused.setdefault(f"volume:{name}", []).extend(
                    f"volume {name} is used by container {u}" for u in users
                )
            elif name not in self.plan.volumes:
                chosen.append(name)
                self.plan.volumes.append(name)
        if chosen:
            self.plan.commands.append("docker volume rm " + " ".join(shlex.quote(n) for n in chosen))

    def remove_build_records(self, ids: Iterable[str]) -> None:
        """``docker builder prune -a -f --filter id=…`` of records asked for by ID (:func:`remove_records`)."""
        remove_records(self.state, self.plan, ids)

    def prune_volumes(self, filters: PruneFilters, everything: bool) -> None:
        api = version_tuple(self.state.api_version)
        anonymous_only = api >= API_VOLUME_PRUNE_ANONYMOUS and not everything
        rule = (
            f"volumes: API {self.state.api_version} prunes anonymous volumes only (add -a for named ones)"
            if anonymous_only
            else f"volumes: API {self.state.api_version} prunes every unused local volume"
            + ("" if api < API_VOLUME_PRUNE_ANONYMOUS else " (-a)")
        )
        self.plan.notes.append(rule)
        for v in self.state.volumes:
            users = [
                c
                for c in self.state.containers
                if v.name in c.volumes and c.id not in self.removed_containers
            ]
            if v.driver != "local" or users or (anonymous_only and not v.anonymous):
                continue
            if not all(f.matches(v.labels) for f in filters.labels):
                continue
            self.plan.volumes.append(v.name)

    def prune_images(self, filters: PruneFilters, everything: bool) -> None:
        if everything:
            self._prune_all_images(filters)
            return
        for image_id in sorted(self.alive):
            image = self.images[image_id]
            if self.tags[image_id] or image_id not in self.alive:
                continue
            if self.children(image_id) and not self.containerd:
                continue  # moby's image prune takes only the untagged images nothing is built on
            if not filters.matches(image.created, image.labels) or self.users(image_id):
                continue
            # The containerd store deletes each pruned image record alone, parents untouched.
            self._delete(image, cascade=not self.containerd)

    def _prune_all_images(self, filters: PruneFilters) -> None:
        if self.containerd:
            self._prune_all_containerd(filters)
            return
        candidates = [
            self.images[i]
            for i in sorted(self.alive)
            if not (not self.tags[i] and self.children(i))
            and filters.matches(self.images[i].created, self.images[i].labels)
        ]
        # Children before parents: a parent's last tag removed while a child stays only untags it.
        pending = sorted(candidates, key=lambda i: self.depth(i.id), reverse=True)
        for image in pending:
            if image.id not in self.alive:
                continue
            users = self.users(image.id)
            tags = list(self.tags[image.id])
            if users:
                kept = self._tags_kept_for_containers(image, tags)
                gone = [t for t in tags if t not in kept]
                if gone:
                    self.plan.removed_tags.setdefault(image.id, []).extend(gone)
                    self.tags[image.id] = kept
                self.plan.blocked_by.setdefault(image.id, []).extend(f"used by container {n}" for n in users)
                continue
            if tags:
                self.plan.removed_tags.setdefault(image.id, []).extend(tags)
                self.tags[image.id] = []
            if self.children(image.id):
                continue  # untagged; goes when its last child goes
            self._delete(image)
        # Parents untagged above whose children all went.
        for image in candidates:
            idle = not self.children(image.id) and not self.users(image.id)
            if image.id in self.alive and not self.tags[image.id] and idle:
                self._delete(image)

    def _prune_all_containerd(self, filters: PruneFilters) -> None:
        """The containerd store's ``image prune -a``: every image record the filters match, except the
        names containers were created from; an image a container uses stays (as dangling if need be)."""
        for image_id in sorted(self.alive):
            image = self.images[image_id]
            if not filters.matches(image.created, image.labels):
                continue
            tags = list(self.tags[image_id])
            if self.users(image_id):
                kept = self._tags_kept_for_containers(image, tags)
                gone = [t for t in tags if t not in kept]
                if gone:
                    self.plan.removed_tags.setdefault(image_id, []).extend(gone)
                    self.tags[image_id] = kept
                self.plan.blocked_by.setdefault(image_id, []).extend(
                    f"used by container {n}" for n in self.users(image_id)
                )
                continue
            if tags:
                self.plan.removed_tags.setdefault(image_id, []).extend(tags)
                self.tags[image_id] = []
            self._delete(image, cascade=False)

    def _tags_kept_for_containers(self, image: EngineImage, tags: list[str]) -> list[str]:
        """Which tags ``image prune -a`` leaves on an image containers use."""
        if not tags:
            return []
        if not self.containerd:
            # moby deletes each tag in turn; the last one left is refused (a container uses it).
            return sorted(tags)[-1:]
        named = {
            normalise_reference(c.image)
            for c in self.containers.values()
            if c.image_id == image.id and c.id not in self.removed_containers
        }
        return [t for t in tags if t in named]

    def prune_build_cache(
        self, filters: PruneFilters, everything: bool, space: BuildSpace | None = None
    ) -> None:
        """BuildKit's prune: every unused record the filters and ``-a`` allow, leaves first (a record
        another kept record stands on stays); with space limits, one record at a time (gc mode)."""
        records = {r.id: r for r in self.state.build_cache}
        removable = {
            r.id
            for r in records.values()
            if not r.in_use
            and (filters.until is None or unix_time(r.last_used or r.created) < filters.until)
            and (everything or (r.type not in ("internal", "frontend") and not r.shared))
        }
        total = sum(r.bytes for r in records.values() if not r.shared)  # BuildKit's DiskUsage, unshared
        keep = keep_bytes(self.state, self.plan, total, space) if space else 0
        if keep:
            prune_to(self.plan, records, removable, total, keep)
            return
        # A record another kept record stands on stays.
        changed = True
        while changed:
            changed = False
            for r in records.values():
                if r.id not in removable:
                    for parent in r.parents:
                        if parent in removable:
                            removable.discard(parent)
                            changed = True
        self.plan.build_records.extend(sorted(removable))
