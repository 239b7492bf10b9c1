"""One walk of a folder tree that attributes every allocated byte to an owner, as ``du -x`` counts it.

Each entry is ``lstat``-ed once. Allocated bytes (blocks x 512) are counted
for every inode once (hard links once, across all roots of one walk), folders
included; apparent bytes are the sizes of everything that is not a folder.
Other file systems mounted inside (a running container's ``merged``, its
``shm``) are not entered, as ``du -x`` does not. Files that vanish while the
walk runs are skipped and counted, never an error.

Who owns an entry is decided by :class:`Rules`, consulted only down to the
depth its rules reach; deeper entries belong to their folder's owner.

With ``workers`` above one, the folders below which no rule reaches (a layer's
folder, a volume's data) are walked by that many processes at once (the walk
forks: each child walks its share and sends its totals back through a pipe).
Hard-linked files are then counted by the parent, each inode once as before.
"""

from __future__ import annotations

import marshal
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from layershare.model import Category

Owner = tuple[Category, str]  # a category and an item in it ("" for the category as a whole)
Naming = Callable[[str], Owner]  # a folder's child name -> its owner

# Processes that walk the folders no rule reaches (layers, volumes' data) at once: one per core, up to 4.
WALKERS = min(4, os.cpu_count() or 1)


@dataclass
class Rules:
    """Who owns what under one root: exact relative paths, then what a folder's other children are.

    ``exact`` maps a path relative to the root (``overlay2/<id>``) to its owner;
    ``children`` maps a folder's relative path to a function naming the owner
    of each child no exact rule names (``overlay2`` -> an orphan per folder).
    Anything else belongs to its folder's owner; the root itself to ``root``.
    """

    root: Owner
    exact: dict[str, Owner] = field(default_factory=dict)
    children: dict[str, Naming] = field(default_factory=dict)

    def ruled_paths(self) -> frozenset[str]:
        """The folders some rule reaches below: every folder above a path a rule names, and every folder
        whose children a naming rule names. Below any other folder, everything is that folder's owner's."""
        paths: set[str] = {""}
        for path, own in [(p, False) for p in self.exact] + [(p, True) for p in self.children]:
            parts = path.split("/") if path else []
            paths.update("/".join(parts[:k]) for k in range(1, len(parts) + (1 if own else 0)))
        return frozenset(paths)

    @property
    def depth(self) -> int:
        """How deep the rules reach (components of the longest path they name, plus one for children)."""
        deepest = [p.count("/") + 1 for p in self.exact] + [p.count("/") + 2 for p in self.children]
        return max(deepest, default=0)


@dataclass
class Tally:
    """Running totals of one owner (mutable while walking)."""

    bytes: int = 0
    disk_bytes: int = 0


@dataclass
class WalkResult:
    """What a walk found: totals per owner, per root, and what vanished or could not be read."""

    owners: dict[Owner, Tally] = field(default_factory=dict)
    roots: dict[str, int] = field(default_factory=dict)
    vanished: int = 0
    unreadable: list[str] = field(default_factory=list)


# A folder below every rule, walked apart: its path, owner, root and the root's device.
Job = tuple[str, Owner, str, int]
# What a walker sends back: per owner [bytes, disk_bytes], per root its blocks, vanished entries,
# unreadable folders, and the hard-linked files it met (device, inode, blocks, size, owner, root).
Partial = tuple[
    dict[Owner, list[int]], dict[str, int], int, list[str], list[tuple[int, int, int, int, Owner, str]]
]
# Below this many folders, forking costs more than it saves.
_FEWEST_JOBS = 64


def walk(roots: Mapping[str, Rules], *, workers: int = 1, fewest_jobs: int = _FEWEST_JOBS) -> WalkResult:
    """Walk each root (an absolute folder path -> its rules); hard links count once across them all.

    ``workers`` above one walks the folders no rule reaches in that many processes at once, when
    there are at least ``fewest_jobs`` of them (fewer are walked here: forking would cost more).
    """
    result = WalkResult()
    seen: set[tuple[int, int]] = set()
    jobs: list[Job] | None = [] if workers > 1 else None
    for root, rules in roots.items():
        result.roots[root] = _walk_one(root, rules, result, seen, jobs)
    if jobs:
        _walk_jobs(jobs, workers if len(jobs) >= fewest_jobs else 1, result, seen)
    return result


def _walk_one(
    root: str, rules: Rules, result: WalkResult, seen: set[tuple[int, int]], jobs: list[Job] | None = None
) -> int:
    owners = result.owners
    top = os.lstat(root)
    device = top.st_dev
    total = top.st_blocks * 512
    _tally(owners, rules.root).disk_bytes += total
    limit = rules.depth
    exact, children = rules.exact, rules.children
    ruled_paths = rules.ruled_paths() if jobs is not None else None
    is_dir = stat.S_ISDIR
    stack: list[tuple[str, str, Owner, int]] = [(root, "", rules.root, 0)]
    push = stack.append
    while stack:
        path, rel, owner, depth = stack.pop()
        try:
            entries = os.scandir(path)
        except FileNotFoundError:
            result.vanished += 1
            continue
        except OSError:
            result.unreadable.append(path)
            continue
        ruled = depth < limit  # below the rules' reach every entry is its folder's owner's
        naming = children.get(rel) if ruled else None
        here = _tally(owners, owner)
        apparent = blocks = 0
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    result.vanished += 1
                    continue
                folder = is_dir(info.st_mode)
                if folder:
                    if info.st_dev != device:
                        continue  # another file system mounted here: du -x does not enter it either
                elif info.st_nlink > 1:
                    inode = (info.st_dev, info.st_ino)
                    if inode in seen:
                        continue
                    seen.add(inode)
                used = info.st_blocks * 512
                total += used
                if ruled:
                    child_rel = f"{rel}/{entry.name}" if rel else entry.name
                    child = exact.get(child_rel) or (naming(entry.name) if naming is not None else owner)
                    apart = folder and ruled_paths is not None and child_rel not in ruled_paths
                    if child != owner:
                        tally = _tally(owners, child)
                        tally.disk_bytes += used
                        if apart:
                            jobs.append((entry.path, child, root, device))  # type: ignore[union-attr]
                        elif folder:
                            push((entry.path, child_rel, child, depth + 1))
                        else:
                            tally.bytes += info.st_size
                        continue
                    if apart:
                        jobs.append((entry.path, owner, root, device))  # type: ignore[union-attr]
                    elif folder:
                        push((entry.path, child_rel, owner, depth + 1))
                elif folder:
                    push((entry.path, "", owner, depth + 1))
                blocks += used
                if not folder:
                    apparent += info.st_size
        here.disk_bytes += blocks
        here.bytes += apparent
    return total


def _tally(owners: dict[Owner, Tally], owner: Owner) -> Tally:
    tally = owners.get(owner)
    if tally is None:
        tally = owners[owner] = Tally()
    return tally


def _walk_plain(jobs: Sequence[Job]) -> Partial:
    """Walk folders no rule reaches: every entry is its folder's owner's; hard links are sent back, not counted."""
    owners: dict[Owner, list[int]] = {}
    roots: dict[str, int] = {}
    vanished = 0
    unreadable: list[str] = []
    links: list[tuple[int, int, int, int, Owner, str]] = []
    is_dir = stat.S_ISDIR
    for top, owner, root, device in jobs:
        apparent = blocks = 0
        stack = [top]
        while stack:
            path = stack.pop()
            try:
                entries = os.scandir(path)
            except FileNotFoundError:
                vanished += 1
                continue
            except OSError:
                unreadable.append(path)
                continue
            with entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        vanished += 1
                        continue
                    if is_dir(info.st_mode):
                        if info.st_dev != device:
                            continue
                        blocks += info.st_blocks * 512
                        stack.append(entry.path)
                    elif info.st_nlink > 1:
                        links.append(
                            (info.st_dev, info.st_ino, info.st_blocks * 512, info.st_size, owner, root)
                        )
                    else:
                        blocks += info.st_blocks * 512
                        apparent += info.st_size
        tally = owners.setdefault(owner, [0, 0])
        tally[0] += apparent
        tally[1] += blocks
        roots[root] = roots.get(root, 0) + blocks
    return owners, roots, vanished, unreadable, links


def _walk_jobs(jobs: list[Job], workers: int, result: WalkResult, seen: set[tuple[int, int]]) -> None:
    """Walk the folders set apart, in ``workers`` processes (this one included), and add up what they found."""
    shares = [jobs[k::workers] for k in range(workers)]
    children = [(share, _fork(share)) for share in shares[1:]]
    partials = [_walk_plain(shares[0])]
    for share, child in children:
        found = _collect(child)
        partials.append(found if found is not None else _walk_plain(share))  # a failed child: walk it here
    for owners, roots, vanished, unreadable, links in partials:
        for owner, (apparent, blocks) in owners.items():
            tally = _tally(result.owners, owner)
            tally.bytes += apparent
            tally.disk_bytes += blocks
        for root, blocks in roots.items():
            result.roots[root] += blocks
        result.vanished += vanished
        result.unreadable.extend(unreadable)
        for dev, ino, blocks, size, owner, root in links:
            if (dev, ino) in seen:
                continue
            seen.add((dev, ino))
            tally = _tally(result.owners, tuple(owner))  # type: ignore[arg-type]
            tally.bytes += size
            tally.disk_bytes += blocks
            result.roots[root] += blocks


def _fork(share: Sequence[Job]) -> tuple[int, int] | None:
    """Walk ``share`` in a child process; its pid and the pipe its totals come through (None: not forked)."""
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: walk, send, leave without running the parent's exit handlers
        code = 1
        try:
            os.close(read_end)
            payload = marshal.dumps(_walk_plain(share))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(child: tuple[int, int] | None) -> Partial | None:
    """What a child sent, once it has exited; None when it failed."""
    if child is None:
        return None
    pid, read_end = child
    with os.fdopen(read_end, "rb") as source:
        payload = source.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    try:
        found: Partial = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return found
