"""An image's layers as browse shows them: one row per layer, bottom to top, with the instruction that
made it. A layer is stored as one unit on a graphdriver store (``layer:<chain ID>``) and as two on the
containerd store: its unpacked snapshot (``snapshot:<key>``, the key ending in the chain ID) and the
content blob it came as (``blob:<digest>``, the manifest's blob for that diff ID). A row gathers the
units of one layer; whatever else an image holds (its index, manifest and config blobs, the classic
builder's step snapshots) is one more row, so an image's rows add up to what it holds.

A blob is stored once however many layers came from it (the same diff ID on two parents, the empty
layer's tar): it counts in the first row that shows it, as the engine counts it once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from layershare.ids import stored_chain
from layershare.model import Image, Layer, Snapshot
from layershare.sources.history import EntryKind, classify
from layershare.units import human_size

# What the builders put around an instruction in the history: the classic builder's shell and
# ``#(nop)``, BuildKit's ``# buildkit`` comment.
_NOP = re.compile(r"^\s*/bin/sh -c #\(nop\)\s+")
_SHELL = re.compile(r"^\s*(?:RUN\s+)?(\|\d+ .*?)?/bin/sh -c\s+")
# The classic builder names what COPY and ADD took by its digest: ``file:<64 hex>`` shows as 12.
_SOURCE = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")
_BUILDKIT = re.compile(r"\s+# buildkit\s*$")
_SPACES = re.compile(r"[ \t]+")
OTHER = "other"  # the row of what an image holds beside its layers


@dataclass(frozen=True)
class LayerRow:
    """One row of an image's layers: the layer's chain ID (``OTHER`` for the rest of what the image
    holds), the units that store it and count in this row, those counted in an earlier row (a blob
    another layer came from too), what made it, and whether it is a history entry that made no layer."""

    chain_id: str
    units: tuple[str, ...]
    counted_above: tuple[str, ...]
    instruction: str
    position: int
    empty: bool = False


def instruction(layer: Layer | None) -> str:
    """What made a layer, as a person reads it: the instruction without the builder's wrapping
    (``RUN apt-get install …``, ``COPY app.py /app/``); ``imported`` where the image was imported,
    ``(no history)`` where the engine records nothing. Values are masked already (the source did it)."""
    if layer is None:
        return "(no history)"
    return entry_text(layer.created_by, layer.comment) + ("" if layer.created_by_exact else " (?)")


def entry_text(created_by: str, comment: str = "") -> str:
    """One history entry's text, as :func:`instruction` shows it."""
    text = created_by.strip()
    if not text:
        return "imported" if "import" in comment.lower() else "(no history)"
    text = _BUILDKIT.sub("", text)
    if _NOP.match(text):
        text = _NOP.sub("", text)
    elif shell := _SHELL.match(text):
        args = (shell.group(1) or "").strip()
        text = "RUN " + (f"{args} " if args else "") + text[shell.end() :]
    return _SPACES.sub(" ", _SOURCE.sub(r"\1:\2", text)).strip()


class LayerIndex:
    """Which units store each layer and what made it, from the report's collection of the engine."""

    def __init__(self, snapshot: Snapshot | None) -> None:
        self.layers: dict[str, Layer] = {la.chain_id: la for la in snapshot.layers} if snapshot else {}
        self.images: dict[str, Image] = {i.id: i for i in snapshot.images} if snapshot else {}

    def rows(self, image_id: str, holds: Sequence[str], shown: Iterable[str] = ()) -> list[LayerRow]:
        """An image's rows, bottom to top: each layer of its chain (the units of ``holds`` that store
        it), the history entries that made no layer (``empty``) where they fall, then one row of the
        rest. ``shown``: blobs counted in earlier rows already (the global view's)."""
        image = self.images.get(image_id)
        chains = list(image.chain_ids) if image else []
        blob_of = dict(zip(chains, image.layer_blobs, strict=False)) if image else {}
        by_chain: dict[str, list[str]] = {c: [] for c in chains}
        rest: list[str] = []
        for key in holds:
            chain = stored_chain(key)
            if chain is not None and chain not in by_chain and not image:
                by_chain[chain] = []
                chains.append(chain)
            by_chain.get(chain or "", rest).append(key)
        counted = set(shown)
        rows: list[LayerRow] = []
        for chain in chains:
            units = by_chain[chain]
            blob = blob_of.get(chain)
            if blob is not None and f"blob:{blob}" in rest:
                rest.remove(f"blob:{blob}")
                units.append(f"blob:{blob}")
            elif blob is not None and f"blob:{blob}" in counted:
                units.append(f"blob:{blob}")
            mine = tuple(u for u in units if u not in counted)
            counted.update(units)
            layer = self.layers.get(chain)
            rows.append(
                LayerRow(chain, mine, tuple(u for u in units if u not in mine), instruction(layer), 0)
            )
        rows = self._with_empty(image, rows)
        rest = [u for u in rest if u not in counted]
        if rest:
            rows.append(LayerRow(OTHER, tuple(rest), (), other_text(rest), 0))
        return [replace(r, position=n) for n, r in enumerate(rows)]

    def _with_empty(self, image: Image | None, rows: list[LayerRow]) -> list[LayerRow]:
        """The history entries that made no layer (ENV, CMD, LABEL …) placed among the layers, matched
        in order by their text; the layers alone where the history does not line up with them."""
        if image is None or not image.history:
            return rows
        out: list[LayerRow] = []
        k = 0
        for entry in image.history:
            made = entry.makes_layer
            if made is None:
                made = (
                    classify(entry) is not EntryKind.EMPTY
                    and k < len(rows)
                    and (
                        self.layers.get(rows[k].chain_id) is None
                        or self.layers[rows[k].chain_id].created_by == entry.created_by
                    )
                )
            if made and k < len(rows):
                out.append(rows[k])
                k += 1
            elif not made:
                out.append(LayerRow("", (), (), entry_text(entry.created_by, entry.comment), 0, empty=True))
        return out if k == len(rows) else rows


def other_text(units: Sequence[str]) -> str:
    """The row of what an image holds beside its layers: its metadata blobs (index, manifests, config,
    what labels keep) and the classic builder's step snapshots."""
    blobs = sum(1 for u in units if u.startswith("blob:"))
    steps = sum(1 for u in units if u.startswith("snapshot:"))
    parts = [f"{blobs} blob{'s' if blobs != 1 else ''}"] if blobs else []
    parts += [f"{steps} build step{'s' if steps != 1 else ''}"] if steps else []
    return "metadata: " + ", ".join(parts or ["other"])


def parts(
    units: Sequence[str], sizes: Mapping[str, int], above: Sequence[str] = ()
) -> tuple[tuple[str, int], ...]:
    """A layer's figures as the engine counts them: on the containerd store its snapshot (``unpacked``)
    and its blob (``blob``, the compressed layer; ``blob above`` where an earlier row counts it), on a
    graphdriver store the layer alone."""
    snapshots = [sizes.get(u, 0) for u in units if u.startswith("snapshot:")]
    blobs = [sizes.get(u, 0) for u in units if u.startswith("blob:")]
    if not snapshots and not blobs and not above:
        return (("layer", sum(sizes.get(u, 0) for u in units)),)
    found = [("unpacked", sum(snapshots))] if snapshots else []
    found += [("blob", sum(blobs))] if blobs else []
    found += [("blob above", sum(sizes.get(u, 0) for u in above))] if above else []
    return tuple(found)


def figures(found: Sequence[tuple[str, int]]) -> str:
    """``unpacked 12.3MB + blob 4.1MB`` (a graphdriver layer's one figure is the row's size: none)."""
    if len(found) < 2 and (not found or found[0][0] == "layer"):
        return ""
    return " + ".join(
        f"{name} {human_size(size)}" if name != "blob above" else f"blob {human_size(size)} (counted above)"
        for name, size in found
    )
