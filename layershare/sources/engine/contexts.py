"""Which engine is meant, and how messages name it: docker contexts as the docker CLI keeps them.

No Docker SDK here: the fast paths (a local unix socket) choose and name their engine without it.

The folder is ``$DOCKER_CONFIG``, else ``~/.docker``. A context named NAME is
``contexts/meta/<sha256(NAME)>/meta.json`` (its Docker endpoint's ``Host`` and
``SkipTLSVerify``), with TLS files under ``contexts/tls/<sha256(NAME)>/docker/``;
``config.json``'s ``currentContext`` names the CLI's current one. (The Docker
SDK's own lookup misses contexts when ``config.json`` does not exist.)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from layershare.errors import EngineUnreachable


@dataclass(frozen=True)
class DockerContext:
    """One context's Docker endpoint."""

    name: str
    host: str
    skip_tls_verify: bool = False
    ca_cert: str | None = None
    client_cert: tuple[str, str] | None = None


def config_dir() -> Path:
    """The docker CLI's configuration folder."""
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def current_context_name() -> str | None:
    """``DOCKER_CONTEXT``, else the CLI's ``currentContext``, else None (the default context)."""
    name = os.environ.get("DOCKER_CONTEXT")
    if name:
        return name
    try:
        config = json.loads((config_dir() / "config.json").read_text())
    except (OSError, ValueError):
        return None
    current = config.get("currentContext") if isinstance(config, dict) else None
    return current if isinstance(current, str) and current else None


def load_context(name: str) -> DockerContext | None:
    """The context named ``name``; None for ``default`` (``DOCKER_HOST`` or the local socket)."""
    if name == "default":
        return None
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir() / "contexts" / "meta" / digest / "meta.json"
    try:
        endpoint = json.loads(meta.read_text())["Endpoints"]["docker"]
        host = str(endpoint["Host"])
    except (OSError, ValueError, KeyError, TypeError):
        raise EngineUnreachable(f"no docker context named {name!r} (see 'docker context ls')") from None
    tls = config_dir() / "contexts" / "tls" / digest / "docker"
    ca, cert, key = (tls / f for f in ("ca.pem", "cert.pem", "key.pem"))
    return DockerContext(
        name=name,
        host=host,
        skip_tls_verify=bool(endpoint.get("SkipTLSVerify")),
        ca_cert=str(ca) if ca.is_file() else None,
        client_cert=(str(cert), str(key)) if cert.is_file() and key.is_file() else None,
    )


def chosen_context(name: str | None) -> DockerContext | None:
    """The docker context to use (``name``, ``DOCKER_CONTEXT``, the CLI's current one), or None for
    the default (``DOCKER_HOST`` or the local socket), as the docker CLI decides."""
    name = name or current_context_name()
    return load_context(name) if name else None


def describe_host(host: str | None) -> str:
    """The engine a host URL (or the environment) names, as messages say it."""
    return host or os.environ.get("DOCKER_HOST") or "the default Docker socket"
