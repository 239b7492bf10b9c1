"""Weighing files and folders as ``du`` does: allocated blocks, hard links once."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

_BLOCK = 512


class DiskUsage:
    """Weighs files and folders as ``du`` counts them: allocated blocks, hard links once."""

    def entry(self, path: Path) -> int:
        """Bytes ``du`` counts for one file or one folder's own entry (not what it holds)."""
        return os.lstat(path).st_blocks * _BLOCK

    def entry_if_present(self, path: Path) -> int:
        """Like :meth:`entry`, 0 for a file that vanished since it was listed (containerd's collector)."""
        try:
            return self.entry(path)
        except FileNotFoundError:
            return 0

    def tree(self, folder: Path) -> int:
        """``du -s``: blocks of a folder and everything in it, hard links once."""
        try:
            top = os.lstat(folder)
        except OSError:
            return 0
        total = top.st_blocks * _BLOCK
        if not stat.S_ISDIR(top.st_mode):
            return total
        seen: set[tuple[int, int]] = set()
        stack = [os.fspath(folder)]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # vanished while walking
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
                    elif info.st_nlink > 1:
                        if (info.st_dev, info.st_ino) in seen:
                            continue
                        seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * _BLOCK
        return total


def engine_measure(paths: Iterable[Path]) -> int:
    """What the engine counts of files and folders when it sizes a volume (moby's directory size):
    every entry but folders, at its length, each inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [os.fspath(p) for p in paths]
    while stack:
        path = stack.pop()
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            try:
                with os.scandir(path) as entries:
                    stack.extend(entry.path for entry in entries)
            except OSError:
                continue
            continue
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total
