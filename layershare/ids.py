"""Content addresses: chain IDs as the OCI image spec defines them, and IDs as people read them.

ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def chain_ids(diff_ids: Sequence[str]) -> tuple[str, ...]:
    """Return the chain ID of every prefix of ``diff_ids`` (``sha256:...`` strings)."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            digest = hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest()
            out.append(f"sha256:{digest}")
    return tuple(out)


def short_id(content_id: str) -> str:
    """``sha256:6dd2aaaa9550...`` -> ``6dd2aaaa9550``, as ``docker image ls`` shows IDs
    (``k8s.io/6dd2aaaa9550`` for an ID one containerd namespace of several holds)."""
    namespace, plain = split_namespace(content_id)
    short = plain.removeprefix("sha256:")[:12]
    return f"{namespace}/{short}" if namespace else short


def qualified(namespace: str, content_id: str) -> str:
    """``k8s.io/sha256:…``: an ID as one containerd namespace holds it, where several are read at once
    (each namespace keeps its own image names and snapshots)."""
    return f"{namespace}/{content_id}"


def split_namespace(key: str) -> tuple[str, str]:
    """``k8s.io/sha256:…`` -> (``k8s.io``, ``sha256:…``); a plain ID has the namespace ``""``."""
    namespace, slash, content_id = key.partition("/")
    if slash and content_id.startswith("sha256:"):
        return namespace, content_id
    return "", key


def stored_chain(unit_key: str) -> str | None:
    """The chain ID a stored layer unit holds: a graphdriver layer's (``layer:<chain>``), a snapshot's
    name (``snapshot:moby/17/<chain>`` on the engine's own snapshotter, ``snapshot:<chain>`` elsewhere);
    None for any other unit."""
    kind, _, ident = unit_key.partition(":")
    if kind == "layer":
        return ident
    if kind == "snapshot":
        return ident.split("/", 2)[2] if ident.count("/") >= 2 else ident
    return None
