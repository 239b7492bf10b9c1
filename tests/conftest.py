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
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import RECORDINGS, need, private_engine  # noqa: E402

RECORDED = RECORDINGS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that opens the browser is marked ``browser``: ``make unit`` leaves it to ``make test``."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


TIER_SECONDS: dict[str, float] = {}


def _tier(report: pytest.TestReport) -> str:
    """Which tier a test belongs to: engine (a real engine), browser, slow (a JVM, a wheel), or unit."""
    if report.nodeid.startswith("tests/engine/"):
        return "engine"
    for tier in ("browser", "slow"):
        if tier in report.keywords:
            return tier
    return "unit"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Sum each test's set-up, call and tear-down into its tier's time."""
    TIER_SECONDS[_tier(report)] = TIER_SECONDS.get(_tier(report), 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Each tier's time, for CI's log (the run must stay well inside its time)."""
    if TIER_SECONDS:
        parts = ", ".join(f"{tier} {seconds / 60:.1f} min" for tier, seconds in sorted(TIER_SECONDS.items()))
        terminalreporter.write_line(f"time by tier: {parts}")


@pytest.fixture(params=RECORDED, ids=[p.stem for p in RECORDED])
def recording(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A recording of the example corpus from a real engine, with its ground truth."""
    data: dict[str, Any] = json.loads(Path(request.param).read_text())
    return data


@pytest.fixture(scope="session")
def engine26() -> Iterator[Any]:
    """A private Engine 26.1 with the containerd image store, holding the example corpus."""
    with private_engine("26.1-containerd") as private:
        yield private


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (its own browser download cannot work here)."""
    from pages import CHROMIUM, CHROMIUM_ARGS

    need(Path(CHROMIUM).exists(), "page tests need Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "page tests need Playwright for Python (pip install playwright)")
        raise
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def engine26_graphdriver() -> Iterator[Any]:
    """A private Engine 26.1 with the classic graphdriver store (overlay2), holding the example corpus."""
    with private_engine("26.1-overlay2") as private:
        yield private


@pytest.fixture(scope="session")
def podman() -> Iterator[Any]:
    """Podman's Docker-compatible API on a private root, holding the BuildKit-style example images."""
    from corpus import buildkit_images, write_load_archive
    from devengine import start_private_podman

    need(shutil.which("podman") is not None and os.geteuid() == 0, "podman tests need root and podman")
    private = start_private_podman()
    try:
        archive = private.folder / "buildkit.tar"
        write_load_archive(buildkit_images(), archive)
        private.docker("load", "-q", "-i", str(archive))
        yield private
    finally:
        private.stop()


@pytest.fixture(params=["engine", "engine26_graphdriver"], ids=["20.10-overlay2", "26.1-overlay2"])
def graphdriver_engine(request: pytest.FixtureRequest) -> Any:
    """Each graphdriver engine in turn (Engine 20.10 and 26.1, overlay2)."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """A private dockerd (Engine 20.10, debug log on) holding the example corpus; stopped afterwards."""
    with private_engine("20.10-overlay2") as private:
        yield private
