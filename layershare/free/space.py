"""``layershare free`` as a library call: read the engine, plan the removal, weigh what it frees.

Nothing is removed: the engine is only read (GET and HEAD requests, and its
files where readable).
"""

from __future__ import annotations

from dataclasses import replace

from layershare.free.selection import Selection, plan_removal
from layershare.free.whatif import FreeResult, freed_units, holdings, what_if
from layershare.model import SOFT
from layershare.sources.engine import EngineSource
from layershare.sources.holdings.reader import HoldingsReader


def needs_df(selection: Selection) -> bool:
    """Whether the engine's sizes of containers, volumes or build cache are needed (``/system/df``)."""
    explicit = selection.containers or selection.volumes or selection.build_records
    return (
        bool(explicit)
        or selection.with_containers
        or any(p.containers or p.volumes or p.build_cache for p in selection.prunes)
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
    state = source.state(with_df=needs_df(selection), cli_api=any(p.volumes for p in selection.prunes))
    plan = plan_removal(state, selection, now)
    held = holdings(state)
    if state.disk_readable:
        # Measure what surely goes and what may (units only a soft holder keeps besides).
        gone = freed_units(held, plan)
        gone += freed_units(held[~held["holder"].str.startswith(f"other:{SOFT}")], plan)
        disk = source.disk_bytes(sorted(set(gone)))
        units = dict(state.units)
        for key, size in disk.items():
            units[key] = replace(units[key], disk_bytes=size)
        state = replace(state, units=units)
    return what_if(state, plan, selection.describe(), held)
