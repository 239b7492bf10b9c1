"""One walk of a folder tree that attributes every allocated byte to an owner, as ``du -x`` counts it.

Each entry is ``lstat``-ed once. Allocated bytes (blocks x 512) are counted
for every inode once (hard links once, across all roots of one walk), folders
included; apparent bytes are the sizes of everything that is not a folder.
Other file systems mounted inside (a running container's ``merged``, its
``shm``) are not entered, as ``du -x`` does not. Files that vanish while the
walk runs are skipped and counted, never an error.

Who owns an entry is decided by :class:`Rules`, consulted only down to the
depth its rules reach; deeper entries belong to their folder's owner.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from layershare.model import Category

Owner = tuple[Category, str]  # a category and an item in it ("" for the category as a whole)
Naming = Callable[[str], Owner]  # a folder's child name -> its owner


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


def walk(roots: Mapping[str, Rules]) -> WalkResult:
    """Walk each root (an absolute folder path -> its rules); hard links count once across them all."""
    result = WalkResult()
    seen: set[tuple[int, int]] = set()
    for root, rules in roots.items():
        result.roots[root] = _walk_one(root, rules, result, seen)
    return result


def _walk_one(root: str, rules: Rules, result: WalkResult, seen: set[tuple[int, int]]) -> int:
    owners = result.owners
    top = os.lstat(root)
    device = top.st_dev
    total = top.st_blocks * 512
    _tally(owners, rules.root).disk_bytes += total
    limit = rules.depth
    exact, children = rules.exact, rules.children
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
                    if child != owner:
                        tally = _tally(owners, child)
                        tally.disk_bytes += used
                        if folder:
                            push((entry.path, child_rel, child, depth + 1))
                        else:
                            tally.bytes += info.st_size
                        continue
                    if folder:
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
