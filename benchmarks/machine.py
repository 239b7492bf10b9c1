"""The line every benchmark prints first: the machine, Python and the engine measured."""

from __future__ import annotations

import os
import platform

from devengine import PrivateEngine


def describe_machine(engine: PrivateEngine | None) -> str:
    """``machine: x86_64, 2 cores, Linux-…; Python 3.11.7; Engine 20.10.24`` (no engine: without it)."""
    line = (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"Python {platform.python_version()}"
    )
    if engine is None:
        return line
    return f"{line}; Engine {engine.docker('version', '--format', '{{.Server.Version}}').strip()}"
