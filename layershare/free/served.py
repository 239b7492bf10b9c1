"""Plans served again while nothing they rest on changed, as reports are (:mod:`layershare.reporting`).

A plan rests on the engine's images and tags (the report's state digest), its containers and whether
each runs, the use journal (every ``plan`` first reads the engine's events since its last read into
it: a pull, tag, build, container start or stop changes it), BuildKit's records (its databases' files
where the data root is readable, else ``GET /system/df?type=build-cache``, API 1.42+), containerd's
metadata as root on the containerd store, the options, and the clock only through ``--min-age``: a
stored plan holds until the first image it kept for being too young would be old enough. A digest of
all of that keys the rendered text; a run that finds it prints it, stamped with the time it is served,
without importing the analysis libraries.

Never served: ``--disk-free`` (the file system's free bytes move all the time), ``--apply`` and
``--watch`` (they read the engine afresh), and a plan whose engine changed while it was made: it is
not stored when the engine's events name any image or container change since the key was read (every
pull, tag, removal, build, container start or stop is one), or BuildKit's records moved. Without a
cache folder nothing is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layershare.cache import ReportCache, engine_key
from layershare.sources.engine import EngineSource
from layershare.times import now_iso
from layershare.version import __version__

_PLAN_REVISION = 1  # changes whenever a plan's text changes within a version
_COLLECTED_AT = "\x00collected-at\x00"
# Events that reading causes and that change nothing: an image exported (the docker group's plan on the
# containerd store reads the engine's export), a container's files copied out.
_READS = frozenset({"save", "export", "archive-path"})


class PlanCache(ReportCache):
    """Rendered plans of one engine, keyed by the digest of what they rest on."""

    prefix = "plans"


@dataclass(frozen=True)
class Served:
    """A plan as the command prints it: its text, whether it reached its target (the exit code), and
    the warnings for stderr."""

    text: str
    reached: bool
    warnings: tuple[str, ...] = ()


class ServedPlans:
    """The stored plans of one engine for one set of options."""

    def __init__(self, engine: EngineSource, options: list[object], data_root: str | None) -> None:
        self.engine = engine
        self.options = options
        self.data_root = data_root
        self.cache = (
            PlanCache(engine.cache_dir, engine_key(engine.light_answers()["info"]))
            if engine.cache_dir
            else None
        )
        self._asked: tuple[float, object] = (0.0, None)  # when the key was read, and BuildKit's part

    def key(self) -> str | None:
        """The digest of everything the plan rests on now; None where it cannot be told cheaply."""
        from layershare.free.journal import read_uses

        if self.cache is None or self.engine.show_values:
            return None
        builds = self._build_cache()
        if builds is None:
            return None
        self._asked = (time.time(), builds)
        uses, _ = read_uses(self.engine, self._asked[0])
        containers = sorted(
            (str(c.get("Id")), str(c.get("ImageID")), str(c.get("State")))
            for c in self.engine.light_answers()["containers"] or []
        )
        rests_on = [
            __version__,
            _PLAN_REVISION,
            self.options,
            self.engine.state_digest(),
            containers,
            sorted(uses.items()),
            builds,
        ]
        return hashlib.sha256(json.dumps(rests_on, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str | None) -> Served | None:
        """The plan stored under ``key``, if it still holds now."""
        if key is None or self.cache is None:
            return None
        stored = self.cache.get(key)
        if stored is None:
            return None
        try:
            payload = json.loads(stored)
            text, reached, until = str(payload["text"]), bool(payload["reached"]), payload["holds_until"]
            warnings = tuple(str(w) for w in payload.get("warnings") or ())
            if until is not None and time.time() >= float(until):
                return None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return Served(text.replace(_COLLECTED_AT, now_iso(), 1), reached, warnings)

    def put(self, key: str | None, planned: Served, collected_at: str, holds_until: float | None) -> None:
        """Keep a plan made on the state ``key`` names (``collected_at``: the time its text holds),
        unless the engine changed while it was made."""
        from layershare.errors import SourceError
        from layershare.sources.engine.events import read_events

        if key is None or self.cache is None:
            return
        # Every change to images and containers is an event: none since the key was read, and
        # BuildKit's records as they were, means the plan was made on the state the key names.
        try:
            events = read_events(self.engine, self._asked[0], time.time())
        except SourceError:
            return
        if any(str(e.get("Action") or "").split(":", 1)[0] not in _READS for e in events):
            return
        if self._build_cache() != self._asked[1]:
            return
        text = planned.text
        text = planned.text
        body = text.replace(collected_at, _COLLECTED_AT, 1) if collected_at else text
        payload = {"text": body, "reached": planned.reached, "warnings": list(planned.warnings)}
        self.cache.put(key, json.dumps({**payload, "holds_until": holds_until}))

    def _build_cache(self) -> object | None:
        """What tells whether BuildKit's records (or containerd's metadata) changed; None where that
        cannot be told cheaply (then the plan is made afresh, and any real fault is said there)."""
        from layershare.errors import LayershareError

        try:
            return self._build_cache_state()
        except LayershareError:
            return None

    def _build_cache_state(self) -> object | None:
        info = self.engine.light_answers()["info"]
        root = self.data_root or ("" if self.engine.over_ssh else str(info.get("DockerRootDir") or ""))
        if root and os.access(root, os.R_OK | os.X_OK):
            from layershare.sources.answers import is_containerd_store
            from layershare.sources.stores.containerd import find_store_near
            from layershare.sources.stores.containerd_meta import META_DB

            files = sorted(Path(root, "buildkit").glob("*.db"))
            containerd = find_store_near(root) if is_containerd_store(info) else None
            if containerd is not None:
                files.append(containerd / META_DB)
            return [_stat(f) for f in files]
        from layershare.model import version_tuple

        if version_tuple(str(self.engine.light_answers()["version"].get("ApiVersion") or "0")) < (1, 42):
            return None  # /system/df would size every container and volume: not cheap
        from layershare.sources.engine.system_df import system_df

        answer: Any = system_df(self.engine, type=["build-cache"])
        return sorted(json.dumps(r, sort_keys=True, default=str) for r in answer.get("BuildCache") or [])


def _stat(path: Path) -> tuple[str, int, int, int]:
    try:
        found = path.stat()
    except OSError:
        return (str(path), 0, 0, 0)
    return (str(path), found.st_ino, found.st_size, found.st_mtime_ns)
