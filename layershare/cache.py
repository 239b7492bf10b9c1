"""A content-addressed cache of what never changes for an image ID: its inspect and history.

An image ID is the digest of the image's configuration, so what the engine
says about one image ID (its layers, its history) stays the same as long as
the image exists. layershare keeps those answers, already trimmed and with
secrets masked, in one file per engine under the cache folder
(``$LAYERSHARE_CACHE_DIR``, else ``$XDG_CACHE_HOME/layershare``, else
``~/.cache/layershare``), so a warm run asks the engine only for its image and
container lists. Tags, sizes and containers always come fresh.

A second, smaller cache keeps rendered reports by a digest of everything a
report depends on (the engine's image and container lists, the options,
layershare's version): when nothing changed on the engine, a warm run prints
the stored report without importing the analysis libraries at all. Plans are
kept the same way (:mod:`layershare.free.served`).

Each file is one header line (schema, engine, the sha256 of the payload) and
one JSON payload line. A file that is truncated, corrupt, of another version
or for another engine is ignored and rewritten, never trusted. Writes go to a
unique temporary file renamed into place, so runs at the same time never see
a half-written file; the last writer wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

CACHE_SCHEMA = "layershare.cache/v1"
REPORT_CACHE_SCHEMA = "layershare.report-cache/v1"
CONTENT_CACHE_SCHEMA = "layershare.content-cache/v1"
USE_JOURNAL_SCHEMA = "layershare.use-journal/v1"
KEEPER_SCHEMA = "layershare.keeper/v1"
KEPT_REPORTS = 16
CACHE_DIR_ENV = "LAYERSHARE_CACHE_DIR"

Entry = dict[str, Any]  # {"inspect": {...}, "history": [...]}


def default_cache_dir() -> Path:
    """``$LAYERSHARE_CACHE_DIR``, else ``$XDG_CACHE_HOME/layershare``, else ``~/.cache/layershare``."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "layershare"


# Set (as in layershare's container image): use the cache folder only where it already exists (a volume
# mounted there); otherwise nothing is written.
CACHE_IF_PRESENT_ENV = "LAYERSHARE_CACHE_IF_PRESENT"


def usable_cache_dir() -> Path | None:
    """:func:`default_cache_dir`, or None where ``LAYERSHARE_CACHE_IF_PRESENT`` is set and it is absent."""
    folder = default_cache_dir()
    if os.environ.get(CACHE_IF_PRESENT_ENV) and not folder.is_dir():
        return None
    return folder


def chosen_cache_dir(option: str | None) -> Path | None:
    """The cache folder for ``--cache-dir`` (which click also fills from ``LAYERSHARE_CACHE_DIR``): the
    option given on the command line, else :func:`usable_cache_dir` (None: no cache)."""
    from_environment = option is not None and option == os.environ.get(CACHE_DIR_ENV)
    return Path(option) if option and not from_environment else usable_cache_dir()


def engine_key(info: Mapping[str, Any]) -> str:
    """Which engine a cache file belongs to: its ID, data root and storage driver."""
    identity = "\0".join(str(info.get(k) or "") for k in ("ID", "DockerRootDir", "Driver", "ServerVersion"))
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def write_checked(path: Path, header: Mapping[str, Any], payload: bytes) -> bool:
    """Write ``header`` (with the payload's sha256 added) and ``payload`` to ``path``, atomically.

    A unique temporary file is renamed into place, so readers never see half a
    file. False when the folder cannot be written (a cache only costs speed).
    """
    line = json.dumps({**header, "sha256": hashlib.sha256(payload).hexdigest()}).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:16]}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(line + b"\n" + payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True


def read_checked(path: Path, **expected: str) -> bytes | None:
    """The payload of a file :func:`write_checked` wrote, if its header has ``expected`` and its
    checksum holds; None for a missing, truncated, corrupt or foreign file."""
    try:
        header_line, payload = path.read_bytes().split(b"\n", 1)
        header = json.loads(header_line)
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict) or any(header.get(k) != v for k, v in expected.items()):
        return None
    if header.get("sha256") != hashlib.sha256(payload).hexdigest():
        return None
    return payload


def _valid(image_id: str, entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    inspect, history = entry.get("inspect"), entry.get("history")
    if not isinstance(inspect, dict) or inspect.get("Id") != image_id or not isinstance(history, list):
        return False
    layers = (inspect.get("RootFS") or {}).get("Layers")
    return isinstance(layers, list) and all(isinstance(h, dict) for h in history)


class ImageCache:
    """The cache file of one engine: each image ID's inspect and history."""

    schema = CACHE_SCHEMA
    prefix = "images"

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.key = key
        self.path = folder / f"{self.prefix}-{key}.json"

    @staticmethod
    def valid(image_id: str, entry: Any) -> bool:
        """Whether a stored entry has the shape this cache keeps."""
        return _valid(image_id, entry)

    def load(self) -> dict[str, Entry]:
        """Every valid cached entry by image ID; ``{}`` for a missing or untrustworthy file."""
        payload = read_checked(self.path, schema=self.schema, engine=self.key)
        if payload is None:
            return {}
        try:
            entries = json.loads(payload)
        except ValueError:
            return {}
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if isinstance(k, str) and self.valid(k, v)}

    def save(self, entries: Mapping[str, Entry]) -> None:
        """Replace the file with ``entries``, atomically; a folder that cannot be written is skipped."""
        payload = json.dumps(entries, separators=(",", ":"), sort_keys=True).encode()
        write_checked(self.path, {"schema": self.schema, "engine": self.key}, payload)


class ContentCache(ImageCache):
    """The containerd store's content blobs of each image ID as the engine's export gave them
    (:mod:`layershare.sources.engine.content`): immutable for the ID while its manifests are present, so
    each image is exported once. Kept apart from the image cache, which root's runs use too."""

    schema = CONTENT_CACHE_SCHEMA
    prefix = "content"

    @staticmethod
    def valid(image_id: str, entry: Any) -> bool:
        """An entry of :func:`~layershare.sources.engine.content.walk`'s shape."""
        if not isinstance(entry, dict) or not isinstance(entry.get("blobs"), dict):
            return False
        blobs = entry["blobs"]
        return (
            all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) for v in blobs.values())
            and isinstance(entry.get("manifests"), list)
            and isinstance(entry.get("parts"), dict)
            and isinstance(entry.get("layer_blobs"), list)
        )


class UseJournal(ImageCache):
    """When each image was last used, as the engine's events said (``plan``, the keeper): image ID or
    reference -> seconds since the epoch, and ``""`` -> the time of the newest event read. Written
    whole and atomically, so a restart, or ``kill -9``, keeps what was read before it."""

    schema = USE_JOURNAL_SCHEMA
    prefix = "uses"

    @staticmethod
    def valid(image_id: str, entry: Any) -> bool:
        return isinstance(entry, (int, float)) and not isinstance(entry, bool)

    def times(self) -> dict[str, float]:
        """The journal: name -> seconds (``""``: the newest event read)."""
        return {k: float(cast(float, v)) for k, v in self.load().items()}

    def save_times(self, times: Mapping[str, float]) -> None:
        self.save(cast(Mapping[str, Entry], times))


class KeeperCounters(UseJournal):
    """What the keeper (``plan --watch --apply``) did since it started, name -> number, rewritten whole
    after each check; ``serve`` and ``metrics`` beside it read it (``layershare_keeper_*``)."""

    schema = KEEPER_SCHEMA
    prefix = "keeper"


class ReportCache:
    """Rendered reports of one engine, keyed by the digest of their inputs (the newest few kept)."""

    prefix = "reports"

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder / f"{self.prefix}-{key}"

    @staticmethod
    def key(state_digest: str, options: object) -> str:
        """The key of one report: the engine's state and the options that shape the output."""
        return hashlib.sha256(f"{state_digest}\0{json.dumps(options, sort_keys=True)}".encode()).hexdigest()

    def get(self, key: str) -> str | None:
        """The stored report, or None when missing or damaged."""
        body = read_checked(self.folder / key, schema=REPORT_CACHE_SCHEMA)
        if body is None:
            return None
        try:
            return body.decode()
        except UnicodeDecodeError:
            return None

    def put(self, key: str, text: str) -> None:
        """Store a report atomically, keeping only the newest few."""
        if not write_checked(self.folder / key, {"schema": REPORT_CACHE_SCHEMA}, text.encode()):
            return
        try:
            stored = sorted(
                (p for p in self.folder.iterdir() if not p.name.startswith(".")),
                key=lambda p: p.stat().st_mtime,
            )
            for old in stored[:-KEPT_REPORTS]:
                old.unlink(missing_ok=True)
        except OSError:
            return
