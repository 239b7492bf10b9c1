"""How tables name things in one line: engines, long instructions. Cheap to import (no pandas)."""

from __future__ import annotations

from layershare.model import EngineInfo

_MAX_INSTRUCTION = 60


def shorten(text: str, width: int = _MAX_INSTRUCTION) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def describe_engine(engine: EngineInfo) -> str:
    """``Engine 20.10.24 (API 1.41, graphdriver, overlay2) at unix:///...``, or the archives read."""
    if engine.image_store == "archive":
        return f"Image archives: {engine.host}"
    driver = f", {engine.storage_driver}" if engine.storage_driver else ""
    return (
        f"Engine {engine.version} (API {engine.api_version}, {engine.image_store}{driver}) at {engine.host}"
    )
