"""How outputs name things: an engine in one line or as a JSON object, long instructions. No pandas."""

from __future__ import annotations

import re
from typing import Any

from layershare.model import EngineInfo
from layershare.render.safe import visible

_MAX_INSTRUCTION = 60


def shorten(text: str, width: int = _MAX_INSTRUCTION) -> str:
    """One line of at most ``width`` characters, control characters shown escaped (:func:`visible`)."""
    line = visible(" ".join(text.split()))
    return line if len(line) <= width else _PARTIAL_ESCAPE.sub("", line[: width - 1]) + "…"


# The start of an escape the cut would leave half-shown (``\x1`` of ``\x1b``).
_PARTIAL_ESCAPE = re.compile(r"\\(x[0-9a-f]?|u[0-9a-f]{0,3}|U[0-9a-f]{0,7})?$")


def describe_engine(engine: EngineInfo) -> str:
    """``Engine 20.10.24 (API 1.41, graphdriver, overlay2) at unix:///...``, the archives read, or the
    containerd root and namespaces read."""
    if engine.image_store == "archive":
        return f"Image archives: {engine.host}"
    if engine.image_store == "containerd" and not engine.api_version:  # read from containerd's own files
        return f"containerd ({engine.storage_driver}) at {engine.host}"
    driver = f", {engine.storage_driver}" if engine.storage_driver else ""
    return (
        f"Engine {engine.version} (API {engine.api_version}, {engine.image_store}{driver}) at {engine.host}"
    )


def engine_document(engine: EngineInfo) -> dict[str, Any]:
    """The engine a document describes, as every JSON contract writes it."""
    return {
        "host": engine.host,
        "version": engine.version,
        "api_version": engine.api_version,
        "image_store": engine.image_store,
        "storage_driver": engine.storage_driver,
        "os": engine.os,
        "arch": engine.arch,
        **({"namespaces": list(engine.namespaces)} if engine.namespaces else {}),
    }
