"""Stored plans (:mod:`layershare.free.served`): served only while they hold, never when damaged."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from layershare.cache import engine_key
from layershare.free.served import PlanCache, ServedPlans

INFO = {"ID": "unit", "DockerRootDir": "/nowhere", "Driver": "overlay2", "ServerVersion": "28.5.2"}


class _Engine:
    """What :class:`ServedPlans` takes of an engine to read its store (no engine is asked here)."""

    show_values = False

    def __init__(self, folder: Path) -> None:
        self.cache_dir = folder

    def light_answers(self) -> dict[str, Any]:
        return {"info": INFO, "version": {}, "containers": []}


def stored(folder: Path, payload: object) -> ServedPlans:
    PlanCache(folder, engine_key(INFO)).put("k", payload if isinstance(payload, str) else json.dumps(payload))
    return ServedPlans(_Engine(folder), [], None)  # type: ignore[arg-type]


def test_a_stored_plan_is_served_with_the_time_it_is_served(tmp_path: Path) -> None:
    plans = stored(tmp_path, {"text": "at \x00collected-at\x00.", "reached": False, "holds_until": None})
    found = plans.get("k")
    assert found is not None and not found.reached
    assert found.text.startswith("at 20") and "\x00" not in found.text
    assert plans.get("other") is None and plans.get(None) is None


def test_a_plan_past_its_min_age_boundary_is_not_served(tmp_path: Path) -> None:
    ahead = stored(tmp_path, {"text": "x", "reached": True, "holds_until": time.time() + 60})
    assert ahead.get("k") is not None
    past = stored(tmp_path, {"text": "x", "reached": True, "holds_until": time.time() - 1})
    assert past.get("k") is None


def test_a_damaged_stored_plan_is_not_served(tmp_path: Path) -> None:
    for payload in ("not json", {"text": "x"}, {"text": "x", "reached": True, "holds_until": "soon"}):
        assert stored(tmp_path, payload).get("k") is None, payload
