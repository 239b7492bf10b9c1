"""Which API version the user's docker CLI would speak to an engine: it decides what some engine calls do
(``volume prune`` takes every unused volume below API 1.42, anonymous ones only from 1.42).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from layershare.model import version_tuple


def cli_api_version(engine_api: str) -> str:
    """The API version the user's docker CLI would speak to this engine: ``DOCKER_API_VERSION``, else
    the lower of the engine's and the CLI's own (``docker version``, client side only; remembered per
    binary in the cache folder), else the engine's."""
    pinned = os.environ.get("DOCKER_API_VERSION")
    if pinned:
        return pinned
    client = _client_api_version()
    if client and version_tuple(client) < version_tuple(engine_api):
        return client
    return engine_api


def _client_api_version() -> str:
    docker = shutil.which("docker")
    if not docker:
        return ""
    try:
        info = os.stat(docker)
    except OSError:
        return ""
    from layershare.cache import usable_cache_dir

    key = f"{os.path.realpath(docker)}:{info.st_size}:{info.st_mtime_ns}"
    folder = usable_cache_dir()
    memo = (folder or Path("/nonexistent")) / "docker-cli-api.json"
    try:
        known = json.loads(memo.read_text())
        if isinstance(known, dict) and isinstance(known.get(key), str):
            return str(known[key])
    except (OSError, ValueError):
        pass
    try:
        out = subprocess.run(
            [docker, "version", "--format", "{{.Client.APIVersion}}"],
            capture_output=True, text=True, timeout=10, check=False,
            env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"},
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    client = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    if client and folder is not None:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            memo.write_text(json.dumps({key: client}))
        except OSError:
            pass  # nothing to remember it in: ask again next time
    return client
