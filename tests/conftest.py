"""Shared fixtures: recorded corpora for unit tests, a real private engine for engine tests."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(ROOT / "examples"))

RECORDED = sorted(DATA.glob("corpus-engine-*.json"))


@pytest.fixture(params=RECORDED, ids=[p.stem for p in RECORDED])
def recording(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A recording of the example corpus from a real engine, with its ground truth."""
    data: dict[str, Any] = json.loads(Path(request.param).read_text())
    return data


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """A private dockerd (debug log on) holding the example corpus; stopped afterwards."""
    from corpus import build_corpus

    from layershare.devengine import start_private_engine

    if shutil.which("dockerd") is None or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("engine tests need root and dockerd (apt-get install docker.io)")
        pytest.skip("engine tests need root and dockerd (apt-get install docker.io)")
    private = start_private_engine(debug=True)
    try:
        build_corpus(private.docker)
        yield private
    finally:
        private.stop()
