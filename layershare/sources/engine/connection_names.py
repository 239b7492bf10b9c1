"""How messages name an engine (no SDK import: the fast paths use it too)."""

from __future__ import annotations

import os


def describe_host(host: str | None) -> str:
    """The engine a host URL (or the environment) names, as messages say it."""
    return host or os.environ.get("DOCKER_HOST") or "the default Docker socket"
