"""``layershare free`` and ``layershare plan`` as library calls: read the engine, plan the removal (or
choose one that reaches a target), weigh what it frees.

Nothing is removed: the engine is only read (GET and HEAD requests, and its
files where readable).
"""

from __future__ import annotations

from dataclasses import replace

from layershare.free.candidates import last_used_of, resolve_uses
from layershare.free.choose import PlanResult, choose, images_total
from layershare.free.holders import fingerprint
from layershare.free.journal import read_uses
from layershare.free.plan import Plan
from layershare.free.selection import Selection, plan_removal
from layershare.free.target import Rules, Target
from layershare.free.whatif import FreeResult, freed_units, holdings, what_if
from layershare.model import SOFT, EngineState
from layershare.sources.engine import EngineSource
from layershare.sources.holdings.reader import HoldingsReader


def needs_df(selection: Selection) -> bool:
    """Whether the engine's sizes of containers, volumes or build cache are needed (``/system/df``)."""
    explicit = selection.containers or selection.volumes or selection.build_records
    return (
        bool(explicit)
        or selection.with_containers
        or any(p.containers or p.volumes or p.build_cache or p.builder for p in selection.prunes)
    )


def free_space(
    engine: EngineSource,
    selection: Selection,
    *,
    data_root: str | None = None,
    api_version: str | None = None,
    now: float | None = None,
) -> FreeResult:
    """What removing ``selection`` from a live engine would free, exactly, and how to do it."""
    source = HoldingsReader(engine, data_root=data_root, api_version=api_version)
    state = source.state(
        with_df=needs_df(selection),
        cli_api=any(p.volumes for p in selection.prunes),
        builders=any(p.builder for p in selection.prunes),
    )
    return _weighed(source, state, plan_removal(state, selection, now), selection.describe())


def _weighed(source: HoldingsReader, state: EngineState, plan: Plan, selection: list[str]) -> FreeResult:
    """``free``'s figures for a plan, the disk bytes of what surely goes and what may (units only a soft
    holder keeps besides) measured where the data root is readable."""
    held = holdings(state)
    if state.disk_readable:
        gone = freed_units(held, plan)
        gone += freed_units(held[~held["holder"].str.startswith(f"other:{SOFT}")], plan)
        state = _with_disk(source, state, [k for k in set(gone) if state.units[k].disk_bytes is None])
    return what_if(state, plan, selection, held)


def _with_disk(source: HoldingsReader, state: EngineState, keys: list[str]) -> EngineState:
    """The state with the allocated bytes of ``keys`` measured on disk."""
    disk = source.disk_bytes(sorted(keys))
    return replace(
        state, units={k: replace(u, disk_bytes=disk.get(k, u.disk_bytes)) for k, u in state.units.items()}
    )


def plan_space(
    engine: EngineSource,
    target: Target,
    rules: Rules,
    *,
    data_root: str | None = None,
    api_version: str | None = None,
    now: float | None = None,
) -> PlanResult:
    """The least-harm removals from a live engine that reach ``target`` (nothing is removed), with
    ``free``'s exact figures for them."""
    source = HoldingsReader(engine, data_root=data_root, api_version=api_version)
    return plan_on(source, source.state(with_df=True, builders=rules.build_cache), target, rules, now)


def plan_on(
    source: HoldingsReader, state: EngineState, target: Target, rules: Rules, now: float | None = None
) -> PlanResult:
    """:func:`plan_space` on a state ``source`` read (with ``/system/df``), as browse read it."""
    import time

    from layershare.sources.holdings.last_used import last_used_answers

    now = time.time() if now is None else now
    engine = source.engine
    needed, filesystem = 0, None
    if target.kind == "disk_free":
        filesystem = data_root_space(state, source)
        wanted = target.size if target.share is None else round(target.share * filesystem[1])
        needed = wanted - filesystem[0]
        state = _with_disk(source, state, list(state.units))
    elif target.kind == "images_under":
        needed = images_total(state) - target.size
    else:
        needed = target.size
    tagged, container_times = last_used_answers(
        engine, [i.id for i in state.images], [c.id for c in state.containers], data_root=source.data_root
    )
    last_used = last_used_of(state, tagged, container_times, resolve_uses(state, read_uses(engine, now)[0]))
    choice = choose(state, target, needed, rules, last_used, now)
    result = _weighed(source, state, choice.plan, choice.selection.describe())
    # The plan holds until --min-age lets another image go (or the engine changes).
    ends = [u.at + rules.min_age for u in last_used.values() if u.at + rules.min_age > now]
    return PlanResult(choice, result, filesystem, fingerprint(state), holds_until=min(ends, default=None))


def apply_plan(
    engine: EngineSource, planned: PlanResult, *, data_root: str | None = None, api_version: str | None = None
) -> PlanResult:
    """Carry out a plan through the engine's API (by tag, children first, nothing forced), if the engine
    is still in the state it was made on (else :class:`~layershare.errors.StateChanged`, nothing
    removed); the plan with what the engine's accounting dropped by."""
    from layershare.errors import StateChanged
    from layershare.sources.engine.removal import accounting, carry_out

    with engine.afresh() as fresh:
        now = HoldingsReader(fresh, data_root=data_root, api_version=api_version).state(with_df=False)
    if fingerprint(now) != planned.fingerprint:
        raise StateChanged(
            "the engine changed since the plan was made (images, tags, containers, volumes or build cache): "
            "nothing was removed; plan again"
        )
    before = accounting(engine)
    carry_out(engine, list(planned.result.commands))
    return replace(planned, applied_bytes=before - accounting(engine))


def data_root_space(state: EngineState, source: HoldingsReader) -> tuple[int, int]:
    """(bytes free to a user, the file system's size) of the data root's file system; a clear error
    where it cannot be read from here."""
    import os

    from layershare.errors import UsageError

    root = source.data_root
    if not state.disk_readable or root is None:
        raise UsageError(
            "--disk-free needs the engine's data root (root on the engine's host, not a remote engine): "
            "use --free or --images-under"
        )
    stat = os.statvfs(root)
    return stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize
