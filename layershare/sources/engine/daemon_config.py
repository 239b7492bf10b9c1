"""The engine's own configuration file (``daemon.json``), read as root on the engine's host: the
``dockerd`` process whose data root is the engine's (its ``--data-root``, else the default
``/var/lib/docker``) names it with ``--config-file``, else it is ``/etc/docker/daemon.json``. Nothing
here is in the Engine API; over ssh, or as the ``docker`` group, it is not known.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_ROOT = "/var/lib/docker"
DEFAULT_CONFIG = "/etc/docker/daemon.json"


def _options(argv: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for n, word in enumerate(argv):
        name, equals, value = word.partition("=")
        if name in ("--data-root", "-g", "--graph", "--config-file"):
            found[name.lstrip("-")] = value if equals else (argv[n + 1] if n + 1 < len(argv) else "")
    return found


def daemon_config(data_root: str) -> tuple[Mapping[str, Any] | None, str]:
    """(daemon.json's settings, its path) of the dockerd running with ``data_root`` (its flag, else its
    daemon.json's ``data-root``, else the default); (None, why) where none is found here or its file
    cannot be read. A missing file is ``{}``."""
    wanted = os.path.realpath(data_root)
    why = f"no dockerd with the data root {data_root} runs here"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if not argv or Path(argv[0]).name != "dockerd":
            continue
        options = _options(argv)
        path = options.get("config-file") or DEFAULT_CONFIG
        found, problem = _read(path)
        root = options.get("data-root") or options.get("g") or options.get("graph")
        root = root or str((found or {}).get("data-root") or "") or DEFAULT_ROOT
        if os.path.realpath(root) != wanted:
            continue
        return (found, path) if found is not None else (None, problem)
    return None, why


def _read(path: str) -> tuple[Mapping[str, Any] | None, str]:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return {}, ""
    except OSError as e:
        return None, f"{path} is not readable ({e.strerror})"
    try:
        found = json.loads(text)
    except ValueError:
        return None, f"{path} is not JSON"
    return (found, "") if isinstance(found, dict) else (None, f"{path} is not a JSON object")
