"""Stored layers read from their folders, as root on the engine's host: a graphdriver layer's ``diff``
folder (overlay2, fuse-overlayfs, vfs) or a containerd snapshot's ``fs``.

Each folder is walked once for its regular, non-empty files (an inode once: hard links inside a layer
count once; whiteouts are character devices and opaque folders are folders, so neither is a file).
Only files whose length another stored copy shares are read afterwards, to hash them: no other file
can hold the same content. They are hashed on threads (hashlib releases the GIL), each streamed in
chunks. A file that vanishes or cannot be read marks its layer unread; nothing else is lost.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from layershare.model import LayerFiles, StoredCopy
from layershare.sources.dupes.cache import LayerFilesCache

CHUNK = 1 << 20
WORKERS = max(2, min(8, 2 * (os.cpu_count() or 1)))


class Unreadable(Exception):
    """A layer's folder could not be walked or one of its files read."""


def walk(root: Path) -> list[StoredCopy]:
    """The stored copies under one layer's folder, without their digests."""
    found: list[StoredCopy] = []
    inodes: dict[int, int] = {}  # inode -> its copy in ``found``
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        pending.append(Path(entry.path))
                    elif stat.S_ISREG(st.st_mode) and st.st_size > 0:
                        path = os.path.relpath(entry.path, root)
                        if st.st_ino in inodes:  # a hard link: one copy, named by its first path A-Z
                            first = inodes[st.st_ino]
                            if path < found[first].path:
                                found[first] = replace(found[first], path=path)
                            continue
                        inodes[st.st_ino] = len(found)
                        found.append(
                            StoredCopy(path, st.st_size, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
                        )
        except OSError as e:
            raise Unreadable(f"{e.filename or folder}: {e.strerror or e}") from e
    return found


def sha256_of(path: Path) -> str:
    """A file's content digest, streamed."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    except OSError as e:
        raise Unreadable(f"{path}: {e.strerror or e}") from e
    return f"sha256:{digest.hexdigest()}"


def read_folders(
    folders: Mapping[str, tuple[str, Path | None]],
    cache: LayerFilesCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, LayerFiles]:
    """Each stored layer (chain ID -> (diff ID, its folder; None where it has none)) read: walked (once
    per diff ID; not at all where ``cache`` has it), then the copies whose length another stored copy
    shares hashed, once per diff ID."""
    folder_of: dict[str, Path] = {}  # a diff ID (or a chain ID where the diff is not known) -> a folder
    key_of: dict[str, str] = {}
    unread: dict[str, str] = {}
    for chain, (diff, folder) in folders.items():
        key = diff or chain
        key_of[chain] = key
        if folder is None:
            unread[key] = "its folder is not in the store (not unpacked)"
        else:
            folder_of.setdefault(key, folder)
    listed: dict[str, list[StoredCopy]] = {}
    changed: set[str] = set()
    for key, folder in folder_of.items():
        cached = cache.get(key) if cache is not None and key.startswith("sha256:") else None
        if cached is not None:
            listed[key] = list(cached)
            continue
        try:
            listed[key] = walk(folder)
            changed.add(key)
        except Unreadable as e:
            unread[key] = str(e)
    lengths: Counter[int] = Counter()
    for key in key_of.values():  # each stored layer's copies: a diff ID on two parents counts twice
        lengths.update(c.size for c in listed.get(key, ()))
    wanted = [
        (k, n)
        for k, copies in listed.items()
        for n, c in enumerate(copies)
        if c.digest is None and lengths[c.size] > 1
    ]

    def hashed(item: tuple[str, int]) -> tuple[str, int, str | Unreadable]:
        key, n = item
        try:
            return key, n, sha256_of(folder_of[key] / listed[key][n].path)
        except Unreadable as e:
            return key, n, e

    done = 0
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="layershare-hash") as pool:
        for key, n, result in pool.map(hashed, wanted):
            done += 1
            if progress is not None and done % 256 == 0:
                progress(done, len(wanted))
            if isinstance(result, Unreadable):
                unread.setdefault(key, str(result))
            else:
                listed[key][n] = replace(listed[key][n], digest=result)
                changed.add(key)
    if cache is not None:
        for key in changed - unread.keys():
            if key.startswith("sha256:"):
                cache.put(key, listed[key])
    out: dict[str, LayerFiles] = {}
    for chain, (diff, _) in folders.items():
        key = key_of[chain]
        if key in unread:
            out[chain] = LayerFiles(chain, diff, (), unread=unread[key])
        else:
            out[chain] = LayerFiles(chain, diff, tuple(listed[key]))
    return out
