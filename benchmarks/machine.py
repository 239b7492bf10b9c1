"""The line every benchmark prints first: the machine, Python and the engine measured.

Before it, layershare is byte-compiled, as ``pip install`` leaves it: where ``PYTHONDONTWRITEBYTECODE``
is set (as on some CI machines) a checkout would otherwise compile every module it imports on every
start, about 0.05 s that no installed copy pays.
"""

from __future__ import annotations

import compileall
import os
import platform
from pathlib import Path

from devengine import PrivateEngine

PACKAGE = Path(__file__).resolve().parents[1] / "layershare"


def describe_machine(engine: PrivateEngine | None) -> str:
    """``machine: x86_64, 2 cores, Linux-…; Python 3.11.7; Engine 20.10.24`` (no engine: without it),
    once layershare is byte-compiled."""
    compileall.compile_dir(str(PACKAGE), quiet=1)
    line = (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"Python {platform.python_version()}; layershare byte-compiled"
    )
    if engine is None:
        return line
    return f"{line}; Engine {engine.docker('version', '--format', '{{.Server.Version}}').strip()}"
