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
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from layershare.model import LayerFiles, StoredCopy

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
    known: Mapping[str, Iterable[StoredCopy]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, LayerFiles]:
    """Each stored layer (chain ID -> (diff ID, its folder; None where it has none)) read: walked, then
    the copies whose length is shared hashed. ``known``: other layers' copies (read otherwise) whose
    lengths count too."""
    walked: dict[str, list[StoredCopy]] = {}
    unread: dict[str, str] = {}
    for chain, (_, folder) in folders.items():
        if folder is None:
            unread[chain] = "its folder is not in the store (not unpacked)"
            continue
        try:
            walked[chain] = walk(folder)
        except Unreadable as e:
            unread[chain] = str(e)
    lengths = Counter(c.size for copies in walked.values() for c in copies)
    lengths.update(c.size for copies in (known or {}).values() for c in copies)
    wanted = [
        (chain, n) for chain, copies in walked.items() for n, c in enumerate(copies) if lengths[c.size] > 1
    ]
    done = 0

    def hashed(item: tuple[str, int]) -> tuple[str, int, str | Unreadable]:
        chain, n = item
        folder = folders[chain][1]
        assert folder is not None
        try:
            return chain, n, sha256_of(folder / walked[chain][n].path)
        except Unreadable as e:
            return chain, n, e

    digests: dict[str, dict[int, str]] = {}
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="layershare-hash") as pool:
        for chain, n, result in pool.map(hashed, wanted):
            done += 1
            if progress is not None and done % 256 == 0:
                progress(done, len(wanted))
            if isinstance(result, Unreadable):
                unread.setdefault(chain, str(result))
            else:
                digests.setdefault(chain, {})[n] = result
    out: dict[str, LayerFiles] = {}
    for chain, (diff, _) in folders.items():
        if chain in unread:
            out[chain] = LayerFiles(chain, diff, (), unread=unread[chain])
            continue
        mine = digests.get(chain, {})
        copies = tuple(
            StoredCopy(c.path, c.size, c.mode, c.uid, c.gid, mine.get(n)) for n, c in enumerate(walked[chain])
        )
        out[chain] = LayerFiles(chain, diff, copies)
    return out
