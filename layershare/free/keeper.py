"""The keeper (``plan --watch --apply``): one process that holds a target on a host or a CI runner.

Every few seconds it reads the engine's events (:mod:`layershare.sources.engine.events`) into the use
journal; when one says something changed (a pull, load, build, tag, a container created, started,
stopped or removed), and at least every ``interval`` seconds, it plans. Only when the target is
missed does it act: it plans to the target tightened by ``margin`` (so that it does not run again at
the next pull) and carries that out, as ``plan --apply`` does, then logs one line with predicted and
freed. A state changed between plan and removal, or an engine that does not answer, is a line too,
and it tries again; SIGTERM or SIGINT stop it between two steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace

from layershare.errors import LayershareError, StateChanged, UsageError
from layershare.free.choose import PlanResult
from layershare.free.target import Rules, Target
from layershare.sources.engine import EngineSource

POLL_SECONDS = 2.0


def with_margin(target: Target, margin: float) -> Target:
    """The target the keeper frees to once it is missed: ``margin`` (a share of it) beyond it."""
    if target.kind == "images_under":
        return replace(target, size=max(0, round(target.size * (1 - margin))))
    if target.share is not None:
        return replace(target, share=min(1.0, target.share * (1 + margin)))
    return replace(target, size=round(target.size * (1 + margin)))


@dataclass
class KeeperCounts:
    """What the keeper did, for its log and the metrics (saved after each check: :func:`save_counts`)."""

    checks: int = 0
    actions: int = 0
    removed_images: int = 0
    freed_bytes: int = 0
    predicted_bytes: int = 0
    errors: int = 0
    started_at: float = field(default_factory=time.time)
    last_check_at: float = 0.0
    last_action_at: float = 0.0


def save_counts(engine: EngineSource, counts: KeeperCounts) -> None:
    """The counts into the cache folder, for ``serve`` and ``metrics`` (nothing without a cache folder)."""
    from layershare.cache import KeeperCounters, engine_key

    if engine.cache_dir is not None:
        KeeperCounters(engine.cache_dir, engine_key(engine.light_answers()["info"])).save_times(
            asdict(counts)
        )


def keep(
    open_engine: Callable[[], AbstractContextManager[EngineSource]],
    target: Target,
    rules: Rules,
    *,
    margin: float,
    interval: float,
    stop: threading.Event,
    log: Callable[[str], None],
    data_root: str | None = None,
    api_version: str | None = None,
) -> KeeperCounts:
    """Hold ``target`` on the engine ``open_engine`` opens (afresh for each plan; one stays open to
    read the events) until ``stop`` is set; returns what it did."""
    from layershare.free.journal import read_uses
    from layershare.free.space import apply_plan, plan_space

    if target.kind == "free":
        raise UsageError("the keeper holds --images-under or --disk-free (a --free target is met once)")
    counts = KeeperCounts()
    saved: KeeperCounts | None = None
    tighter = with_margin(target, margin)
    last_plan = 0.0
    log(f"keeping {target.describe()} (acting then to {tighter.describe()}), every {interval:g}s at least")
    with open_engine() as watcher:
        while not stop.is_set():
            now = time.time()
            try:
                _, new = read_uses(watcher, now)
                if new or now - last_plan >= interval:
                    last_plan = now
                    counts.checks += 1
                    counts.last_check_at = now
                    with open_engine() as engine:
                        planned = plan_space(
                            engine, target, rules, data_root=data_root, api_version=api_version
                        )
                    if planned.choice.needed > 0:
                        with open_engine() as engine:
                            planned = plan_space(
                                engine, tighter, rules, data_root=data_root, api_version=api_version
                            )
                            if planned.result.commands:
                                planned = apply_plan(
                                    engine, planned, data_root=data_root, api_version=api_version
                                )
                        _acted(counts, planned, log)
            except StateChanged:
                log("the engine changed while planning: planning again")
                last_plan = 0.0
            except LayershareError as e:
                counts.errors += 1
                log(f"error: {e}")
            if counts != saved:
                try:
                    save_counts(watcher, counts)
                    saved = replace(counts)
                except LayershareError:
                    pass  # the engine did not answer: it said why above, or will at the next step
            stop.wait(POLL_SECONDS)
    log(f"stopped after {counts.checks} checks, {counts.actions} removals, {counts.freed_bytes:,} B freed")
    return counts


def _acted(counts: KeeperCounts, planned: PlanResult, log: Callable[[str], None]) -> None:
    choice, result = planned.choice, planned.result
    tags = ", ".join(c.tags[0] if c.tags else c.name for c in choice.chosen) or "-"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if planned.applied_bytes is None:
        log(f"{stamp} target missed by {choice.needed:,} B: nothing may go ({len(choice.kept)} images kept)")
        return
    counts.actions += 1
    images = sum(1 for c in choice.chosen if c.image is not None)
    counted = len(choice.chosen) - images
    records = f" and {counted} build-cache record(s)" if counted else ""
    counts.removed_images += images
    counts.freed_bytes += planned.applied_bytes
    counts.predicted_bytes += result.freed_bytes
    counts.last_action_at = time.time()
    reached = "target reached" if choice.reached else "target NOT reached"
    log(
        f"{stamp} removed {images} image(s){records} ({tags}): predicted {result.freed_bytes:,} B, "
        f"freed {planned.applied_bytes:,} B; {reached}"
    )
