"""Weighing files and folders as ``du`` does: allocated blocks, hard links once."""

from __future__ import annotations

import os
from pathlib import Path

_BLOCK = 512


class DiskUsage:
    """Weighs files and folders as ``du`` counts them: allocated blocks, hard links once."""

    def entry(self, path: Path) -> int:
        """Bytes ``du`` counts for one file or one folder's own entry (not what it holds)."""
        return os.lstat(path).st_blocks * _BLOCK

    def tree(self, folder: Path) -> int:
        """``du -s``: blocks of a folder and everything in it, hard links once."""
        seen: set[tuple[int, int]] = set()
        total = 0
        stack = [folder]
        while stack:
            current = stack.pop()
            try:
                info = os.lstat(current)
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * _BLOCK
            if os.path.isdir(current) and not os.path.islink(current):
                try:
                    stack.extend(Path(current, name) for name in os.listdir(current))
                except OSError:
                    continue
        return total
