"""The library serves reports from its cache, for library callers as for the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import layershare
from layershare.cache import ReportCache
from layershare.formats import OutputFormat, SortKey
from layershare.model import Snapshot
from layershare.reporting import ReportOptions, report_text
from layershare.sources.interface import StatefulSource
from layershare.sources.recording import snapshot_from_recording


class RecordedEngine(StatefulSource):
    """A recorded engine that says its state like a live one, and counts its collections."""

    def __init__(self, recording: dict[str, Any], cache: Path | None, state: str = "state-1") -> None:
        self.recording, self.cache, self.state = recording, cache, state
        self.collections = 0

    def snapshot(self) -> Snapshot:
        self.collections += 1
        return snapshot_from_recording(self.recording)

    def state_digest(self) -> str:
        return self.state

    def report_cache(self) -> ReportCache | None:
        return ReportCache(self.cache, "engine") if self.cache else None

    @property
    def complete(self) -> bool:
        return True


def _figures(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    doc.pop("collected_at")
    return doc


def test_an_unchanged_engine_is_answered_from_the_cache(recording: dict[str, Any], tmp_path: Path) -> None:
    options = ReportOptions(fmt=OutputFormat.JSON, sort=SortKey.SIZE)
    engine = RecordedEngine(recording, tmp_path)
    first = report_text(engine, options)
    second = report_text(engine, options)
    assert engine.collections == 1
    assert (
        _figures(first) == _figures(second) == _figures(report_text(RecordedEngine(recording, None), options))
    )
    assert json.loads(second)["collected_at"] >= json.loads(first)["collected_at"]
    report_text(engine, ReportOptions(fmt=OutputFormat.JSON))  # other options: collected again
    assert engine.collections == 2
    engine.state = "state-2"  # anything changed on the engine: collected again
    report_text(engine, options)
    assert engine.collections == 3


def test_without_a_cache_every_call_collects(recording: dict[str, Any]) -> None:
    engine = RecordedEngine(recording, None)
    report_text(engine)
    report_text(engine)
    assert engine.collections == 2


@pytest.mark.parametrize("name", layershare.__all__)
def test_every_public_name_has_a_home(name: str) -> None:
    assert getattr(layershare, name) is not None
