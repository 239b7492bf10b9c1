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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from layershare.model import LayerFiles, StoredCopy
from layershare.sources.dupes.cache import LayerFilesCache
from layershare.sources.stores.tarsplit import crc64s

CHUNK = 1 << 20
WORKERS = max(2, min(8, 2 * (os.cpu_count() or 1)))


def files_folder(path: str | Path) -> Path:
    """Where a stored layer's files are under the folder the store names for it: an overlay layer's
    ``diff``, a containerd snapshot's ``fs``, else the folder itself (vfs)."""
    for inner in ("diff", "fs"):
        if os.path.isdir(os.path.join(path, inner)):
            return Path(path, inner)
    return Path(path)


class Unreadable(Exception):
    """A layer's folder could not be walked or one of its files read."""


def walk(root: Path, crcs: Mapping[str, str] | None = None) -> list[StoredCopy]:
    """The stored copies under one layer's folder, without their digests (``crcs``: each path's CRC-64,
    where the store keeps them)."""
    found: list[StoredCopy] = []
    inodes: dict[int, int] = {}  # inode -> its copy in ``found``
    crcs = crcs or {}
    start = len(str(root)) + 1
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue  # a symlink, a whiteout (a character device), a socket
                    st = entry.stat(follow_symlinks=False)
                    if not st.st_size:
                        continue
                    path = entry.path[start:]
                    crc = crcs.get(path)
                    if st.st_nlink > 1:  # hard links: one copy, named by its first path A-Z
                        crc = None  # tar-split gives a link's entry no content: not trusted here
                        if st.st_ino in inodes:
                            first = inodes[st.st_ino]
                            if path < found[first].path:
                                found[first] = replace(found[first], path=path)
                            continue
                        inodes[st.st_ino] = len(found)
                    found.append(
                        StoredCopy(
                            path,
                            st.st_size,
                            stat.S_IMODE(st.st_mode),
                            st.st_uid,
                            st.st_gid,
                            None,
                            crc,
                        )
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


def candidates(listed: Mapping[str, Sequence[StoredCopy]], times: Mapping[str, int]) -> list[tuple[str, int]]:
    """The copies to hash: those not hashed yet that another stored copy may hold the same content as
    (the same length, and the same CRC-64 where both are known). ``times``: how many stored layers
    each listing stands for (a diff ID on two parents is stored twice)."""
    by_size: Counter[int] = Counter()
    by_crc: Counter[tuple[int, str]] = Counter()
    unknown: Counter[int] = Counter()  # copies of each length whose CRC-64 is not known
    for key, copies in listed.items():
        n = times.get(key, 1)
        for c in copies:
            by_size[c.size] += n
            if c.crc64 is None:
                unknown[c.size] += n
            else:
                by_crc[(c.size, c.crc64)] += n
    wanted = []
    for key, copies in listed.items():
        for i, c in enumerate(copies):
            if c.digest is not None or by_size[c.size] < 2:
                continue
            if c.crc64 is None or unknown[c.size] or by_crc[(c.size, c.crc64)] > 1:
                wanted.append((key, i))
    return wanted


def read_folders(
    folders: Mapping[str, tuple[str, Path | None, Path | None]],
    cache: LayerFilesCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, LayerFiles]:
    """Each stored layer (chain ID -> (diff ID, its folder (None where it has none), its tar-split where
    the store keeps one)) read: walked (once per diff ID; not at all where ``cache`` has it), then the
    copies another stored copy may share content with hashed, once per diff ID, on threads."""
    folder_of: dict[str, Path] = {}  # a diff ID (or a chain ID where the diff is not known) -> a folder
    split_of: dict[str, Path] = {}
    key_of: dict[str, str] = {}
    unread: dict[str, str] = {}
    for chain, (diff, folder, split) in folders.items():
        key = diff or chain
        key_of[chain] = key
        if folder is None:
            unread[key] = "its folder is not in the store (not unpacked)"
            continue
        folder_of.setdefault(key, folder)
        if split is not None:
            split_of.setdefault(key, split)
    listed: dict[str, list[StoredCopy]] = {}
    changed: set[str] = set()
    for key, folder in folder_of.items():
        cached = cache.get(key) if cache is not None and key.startswith("sha256:") else None
        if cached is not None:
            listed[key] = list(cached)
            continue
        try:
            listed[key] = walk(folder, crc64s(split_of[key]) if key in split_of else None)
            changed.add(key)
        except Unreadable as e:
            unread[key] = str(e)
    times = Counter(key_of.values())
    wanted = candidates(listed, times)
    batches = _batches(wanted, listed)

    def hashed(batch: list[tuple[str, int]]) -> list[tuple[str, int, str | Unreadable]]:
        out: list[tuple[str, int, str | Unreadable]] = []
        for key, n in batch:
            try:
                out.append((key, n, sha256_of(folder_of[key] / listed[key][n].path)))
            except Unreadable as e:
                out.append((key, n, e))
        return out

    done = 0
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="layershare-hash") as pool:
        for results in pool.map(hashed, batches):
            done += len(results)
            if progress is not None:
                progress(done, len(wanted))
            for key, n, result in results:
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
    for chain, (diff, _, _) in folders.items():
        key = key_of[chain]
        if key in unread:
            out[chain] = LayerFiles(chain, diff, (), unread=unread[key])
        else:
            out[chain] = LayerFiles(chain, diff, tuple(listed[key]))
    return out


def _batches(
    wanted: Sequence[tuple[str, int]], listed: Mapping[str, Sequence[StoredCopy]]
) -> list[list[tuple[str, int]]]:
    """The files to hash in batches (at most 1,000 files or 64 MB each): one thread's task is many small
    files or a few large ones, not one file (a task per file costs more than hashing a small one)."""
    batches: list[list[tuple[str, int]]] = [[]]
    weight = 0
    for key, n in wanted:
        size = listed[key][n].size
        if batches[-1] and (len(batches[-1]) >= 1000 or weight + size > 64 << 20):
            batches.append([])
            weight = 0
        batches[-1].append((key, n))
        weight += size
    return [b for b in batches if b]
