"""The use journal: when each image was last used, as the engine's events said, kept in the cache
folder across runs and restarts (:class:`~layershare.cache.UseJournal`). Every ``plan`` reads the
events since the journal's last read into it first (the engine's buffer holds only its last 256).
"""

from __future__ import annotations

from layershare.sources.engine import EngineSource


def read_uses(engine: EngineSource, now: float) -> tuple[dict[str, float], int]:
    """The use journal of the engine (in the cache folder), with the engine's events since its last read
    added and saved: (image ID or reference -> when last used, how many events said a use since the
    last read). Without a cache folder, the events the engine still holds (its last 256)."""
    from layershare.cache import UseJournal, engine_key
    from layershare.errors import SourceError
    from layershare.sources.engine.events import read_events, uses

    folder = engine.cache_dir
    journal = UseJournal(folder, engine_key(engine.light_answers()["info"])) if folder is not None else None
    entries = journal.times() if journal is not None else {}
    try:
        events = read_events(engine, float(entries.get("", 0.0)), now)
    except SourceError:
        events = []  # the journal as it was: events cost only precision
    used = uses(events)
    for name, at in used.items():
        entries[name] = max(float(entries.get(name, 0.0)), at)
    if journal is not None:
        entries[""] = now
        journal.save_times(entries)
    entries.pop("", None)
    return entries, len(used)
