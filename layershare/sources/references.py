"""Image references (``docker.io/library/app:1``) as the engine's ``distribution/reference`` reads them:
the short form ``docker image ls`` shows, and whether a stored name is in canonical form."""

from __future__ import annotations

import re

DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:localhost|(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*)(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")


def familiar(name: str) -> str:
    """A reference as ``docker image ls`` shows it: ``docker.io/library/app:1`` -> ``app:1``,
    ``docker.io/team/app:1`` -> ``team/app:1``; any other registry's name as it is."""
    short = name.removeprefix("docker.io/")
    if short != name and short.startswith("library/") and "/" not in short.removeprefix("library/"):
        return short.removeprefix("library/")
    return short


def canonical(name: str) -> tuple[str, str]:
    """A name in the canonical form the engine stores (``ParseNamed`` takes it): its repository
    (``docker.io/library/app``) and the rest (``:1``, ``@sha256:...``). Raises ``ValueError`` for any
    other (no registry, ``index.docker.io``, an official image without ``library/``, a bad tag)."""
    rest, at, digest = name.partition("@")
    if at and not DIGEST.fullmatch(digest):
        raise ValueError(f"not a canonical image name: {name!r}")
    repository = rest
    if ":" in rest.rpartition("/")[2]:
        repository, _, tag = rest.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise ValueError(f"not a canonical image name: {name!r}")
    domain, slash, path = repository.partition("/")
    if not (
        slash
        and len(repository) <= 255
        and ("." in domain or ":" in domain or domain == "localhost")
        and domain != "index.docker.io"
        and _DOMAIN.fullmatch(domain)
        and all(_COMPONENT.fullmatch(c) for c in path.split("/"))
        and (domain != "docker.io" or "/" in path)
    ):
        raise ValueError(f"not a canonical image name: {name!r}")
    return repository, name[len(repository) :]
