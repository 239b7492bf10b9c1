"""When each image was last tagged (inspect's ``Metadata.LastTagTime``), from the image store's own files
as root on the engine's host, instead of one inspect per image:

- the graphdriver store writes ``image/<driver>/imagedb/metadata/sha256/<hex>/lastUpdated`` (Go's
  RFC 3339 with nanoseconds) on every tag, build, commit and import (moby's ``SetLastUpdated``);
  an image never tagged so has no file, and inspect says Go's zero time (here 0);
- the containerd store answers the newest ``UpdatedAt`` of the image records whose target is the
  image (its names and its dangling record), or the epoch where there is none: containerd keeps
  ``updatedat`` in each record as Go's ``Time.MarshalBinary``.

Whole seconds, as inspect's figure is read (:func:`~layershare.times.unix_time`). None where the
files cannot be read here (then the engine is asked).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from layershare.sources.answers import is_containerd_store
from layershare.sources.stores.boltdb import Tree
from layershare.sources.stores.containerd_meta import NAMESPACE, bucket
from layershare.times import unix_time

# Seconds from 0001-01-01 (Go's internal epoch) to 1970-01-01.
_GO_TO_UNIX = 62_135_596_800


def tag_times(info: Mapping[str, Any], data_root: str, image_ids: Iterable[str]) -> dict[str, float] | None:
    """Image ID -> when it was last tagged (0: never), from the store's files under ``data_root``;
    None where they cannot be read here."""
    if is_containerd_store(info):
        from layershare.sources.stores.records import read_records

        records = read_records({**info, "DockerRootDir": data_root})
        if records is None:
            return None
        updated = record_times(records.meta)
        return {i: float(updated.get(i, 0)) for i in image_ids}
    folder = Path(data_root, "image", str(info.get("Driver") or "overlay2"), "imagedb", "metadata", "sha256")
    if not os.access(folder.parent.parent, os.R_OK | os.X_OK):
        return None
    found: dict[str, float] = {}
    for image_id in image_ids:
        try:
            text = (folder / image_id.removeprefix("sha256:") / "lastUpdated").read_text()
        except FileNotFoundError:
            text = ""  # never tagged since it was stored: Go's zero time
        except OSError:
            return None
        found[image_id] = float(max(unix_time(text.strip()), 0))
    return found


def record_times(meta: Tree) -> dict[str, int]:
    """Target digest -> the newest ``updatedat`` of the engine's image records pointing at it."""
    newest: dict[str, int] = {}
    for record in bucket(meta, NAMESPACE, b"images").values():
        if not isinstance(record, dict):
            continue
        target = record.get(b"target")
        digest = target.get(b"digest") if isinstance(target, dict) else None
        stamp = record.get(b"updatedat")
        if not isinstance(digest, bytes) or not isinstance(stamp, bytes):
            continue
        at = go_binary_time(stamp)
        key = digest.decode(errors="replace")
        if at is not None:
            newest[key] = max(newest.get(key, 0), at)
    return newest


def go_binary_time(data: bytes) -> int | None:
    """Unix seconds of a Go ``Time.MarshalBinary`` (version 1 or 2); None where it is not one."""
    if len(data) not in (15, 16) or data[0] not in (1, 2):
        return None
    return int.from_bytes(data[1:9], "big", signed=True) - _GO_TO_UNIX
