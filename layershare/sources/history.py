"""Map an image's history entries onto its layers.

The Engine API lists history entries (oldest first here) with a size, but not
whether an entry made a layer: metadata instructions make none, while some real
layers are zero bytes (``RUN mkdir``, ``WORKDIR``, ``RUN rm``). An entry with a
size above zero always made a layer; metadata instructions never do; every
other zero-byte entry may or may not have. This module finds every assignment
of entries to layers that fits the layer count and any extra facts a source
knows (how many layers an intermediate image had, sizes known from other
images), and says per layer whether its size and instruction are certain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from layershare.model import HistoryEntry

_METADATA_WORDS = frozenset(
    {
        "ENV",
        "LABEL",
        "CMD",
        "ENTRYPOINT",
        "EXPOSE",
        "USER",
        "VOLUME",
        "ARG",
        "MAINTAINER",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    }
)
# Classic builder: "/bin/sh -c #(nop)  ENV X=1" (any shell form before "#(nop)").
_NOP = re.compile(r"#\(nop\)\s+([A-Z]+)")
# BuildKit writes the bare instruction: "ENV X=1", "RUN /bin/sh -c ... # buildkit".
_BARE = re.compile(r"^\s*([A-Z]+)\b")


class EntryKind(Enum):
    """What an entry's size and text say about whether it made a layer."""

    LAYER = "layer"  # size above zero: certainly a layer
    EMPTY = "empty"  # a metadata instruction: certainly no layer
    MAYBE = "maybe"  # zero bytes, and the text cannot tell


def instruction_word(created_by: str) -> str | None:
    """The Dockerfile instruction an entry records (``RUN``, ``ENV`` ...), if it says."""
    nop = _NOP.search(created_by)
    if nop:
        return nop.group(1)
    if "/bin/sh -c " in created_by or created_by.startswith("|"):
        return "RUN"
    bare = _BARE.match(created_by)
    if bare and (bare.group(1) in _METADATA_WORDS or bare.group(1) in {"RUN", "COPY", "ADD", "WORKDIR"}):
        return bare.group(1)
    return None


def classify(entry: HistoryEntry) -> EntryKind:
    """Classify one history entry from its size and instruction text."""
    if entry.size_bytes > 0:
        return EntryKind.LAYER
    if instruction_word(entry.created_by) in _METADATA_WORDS:
        return EntryKind.EMPTY
    return EntryKind.MAYBE


@dataclass(frozen=True)
class LayerAssignment:
    """The history entry taken for one layer, and how certain that is."""

    entry_index: int
    size_bytes: int
    size_exact: bool
    created_by_exact: bool


class HistoryMismatch(Exception):
    """No assignment of entries to layers fits the facts given."""


def map_history(
    entries: Sequence[HistoryEntry],
    n_layers: int,
    *,
    layers_through: Mapping[int, int] | None = None,
    known_sizes: Mapping[int, int] | None = None,
) -> tuple[LayerAssignment, ...]:
    """Assign history entries (oldest first) to ``n_layers`` layers.

    ``layers_through[i] = c`` says entries ``0..i`` made exactly ``c`` layers
    (known from an intermediate or base image). ``known_sizes[k] = s`` says
    layer ``k`` is ``s`` bytes (known from the same diff ID elsewhere, or the
    engine's layer store). Raises :class:`HistoryMismatch` when nothing fits.
    """
    if entries and all(e.makes_layer is not None for e in entries):
        # The image's configuration says which entries made layers: nothing to infer.
        chosen = [i for i, e in enumerate(entries) if e.makes_layer]
        if len(chosen) == n_layers:
            return tuple(LayerAssignment(i, entries[i].size_bytes, True, True) for i in chosen)
    kinds = [classify(e) for e in entries]
    through = dict(layers_through or {})
    sizes = dict(known_sizes or {})
    n_sure = sum(1 for k in kinds if k is EntryKind.LAYER)
    n_maybe = sum(1 for k in kinds if k is EntryKind.MAYBE)
    if n_sure == n_layers or n_sure + n_maybe == n_layers:
        # The count alone forces the assignment; it stands if the facts agree with it.
        take_maybe = n_sure != n_layers
        chosen = [
            i for i, k in enumerate(kinds) if k is EntryKind.LAYER or (take_maybe and k is EntryKind.MAYBE)
        ]
        if _agrees(entries, chosen, through, sizes):
            return tuple(LayerAssignment(i, entries[i].size_bytes, True, True) for i in chosen)
    return _solve(entries, kinds, n_layers, through, sizes)


def _agrees(
    entries: Sequence[HistoryEntry],
    chosen: Sequence[int],
    through: Mapping[int, int],
    sizes: Mapping[int, int],
) -> bool:
    """Whether a forced assignment fits the known sizes and layer counts."""
    if any(sizes.get(k, entries[i].size_bytes) != entries[i].size_bytes for k, i in enumerate(chosen)):
        return False
    return all(sum(1 for c in chosen if c <= i) == count for i, count in through.items())


def _solve(
    entries: Sequence[HistoryEntry],
    kinds: Sequence[EntryKind],
    n_layers: int,
    through: Mapping[int, int],
    sizes: Mapping[int, int],
) -> tuple[LayerAssignment, ...]:
    m = len(entries)

    def can_skip(i: int, k: int) -> bool:
        return kinds[i] is not EntryKind.LAYER and through.get(i, k) == k

    def can_take(i: int, k: int) -> bool:
        return (
            kinds[i] is not EntryKind.EMPTY
            and k < n_layers
            and sizes.get(k, entries[i].size_bytes) == entries[i].size_bytes
            and through.get(i, k + 1) == k + 1
        )

    # forward[i][k]: after entries 0..i-1, k layers placed is reachable.
    forward = [[False] * (n_layers + 1) for _ in range(m + 1)]
    forward[0][0] = True
    for i in range(m):
        for k in range(n_layers + 1):
            if not forward[i][k]:
                continue
            if can_skip(i, k):
                forward[i + 1][k] = True
            if can_take(i, k):
                forward[i + 1][k + 1] = True
    if not forward[m][n_layers]:
        raise HistoryMismatch(f"{m} history entries cannot make {n_layers} layers")
    # backward[i][k]: from entries i.. with k layers placed, the end is reachable.
    backward = [[False] * (n_layers + 1) for _ in range(m + 1)]
    backward[m][n_layers] = True
    for i in range(m - 1, -1, -1):
        for k in range(n_layers + 1):
            backward[i][k] = (can_skip(i, k) and backward[i + 1][k]) or (
                can_take(i, k) and backward[i + 1][k + 1]
            )
    candidates: list[list[int]] = [[] for _ in range(n_layers)]
    for i in range(m):
        for k in range(n_layers):
            if forward[i][k] and can_take(i, k) and backward[i + 1][k + 1]:
                candidates[k].append(i)
    # One assignment to show: the earliest feasible entry for each layer.
    chosen: list[int] = []
    i, k = 0, 0
    while k < n_layers:
        if can_take(i, k) and backward[i + 1][k + 1] and forward[i][k]:
            chosen.append(i)
            k += 1
        i += 1
    out = []
    for k, idx in enumerate(chosen):
        cands = candidates[k]
        size_exact = len({entries[c].size_bytes for c in cands}) == 1
        out.append(LayerAssignment(idx, entries[idx].size_bytes, size_exact, len(cands) == 1))
    return tuple(out)
