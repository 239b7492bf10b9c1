"""``max-duplicate-bytes``: what an image's own layers store again that another stored layer holds.

An image's own layers are those above its base (the report's base detection; every layer where no
base is known). A stored copy in one of them counts when a stored layer other than its own holds the
same content (SHA-256): the base, another image, another of the image's own layers. Each copy counts
once, at its length; the largest are named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from layershare.ids import short_id
from layershare.model import DupesInput
from layershare.units import human_size

NAMED = 3


def own_duplicates(found: DupesInput, own: Mapping[str, Sequence[str]]) -> dict[str, tuple[int, str]]:
    """For each image (ID -> its own chain IDs): the duplicate bytes and the sentence naming the files."""
    holders: dict[str, set[str]] = defaultdict(set)
    for chain, read in found.layers.items():
        for copy in read.copies:
            if copy.digest is not None:
                holders[copy.digest].add(chain)
    names: dict[str, str] = {}
    for image in found.images:
        for chain in image.chain_ids:
            names.setdefault(chain, image.tags[0] if image.tags else f"<none> {short_id(image.id)}")
    out: dict[str, tuple[int, str]] = {}
    for image_id, chains in own.items():
        hits: list[tuple[int, str, str]] = []
        unread = [c for c in chains if found.layers.get(c) is None or found.layers[c].unread]
        for chain in chains:
            layer = found.layers.get(chain)
            for copy in layer.copies if layer is not None else ():
                elsewhere = holders.get(copy.digest or "", set()) - {chain}
                if elsewhere:
                    other = sorted(elsewhere)[0]
                    where = (
                        "another of its own layers" if other in chains else names.get(other, short_id(other))
                    )
                    hits.append((copy.size, "/" + copy.path, where))
        hits.sort(key=lambda h: (-h[0], h[1]))
        total = sum(h[0] for h in hits)
        named = ", ".join(
            f"{path} {human_size(size)} (also in {where})" for size, path, where in hits[:NAMED]
        )
        more = f" and {len(hits) - NAMED} more files" if len(hits) > NAMED else ""
        detail = f"{len(hits)} files: {named}{more}" if hits else "no file stored elsewhere"
        if unread:
            detail += f"; {len(unread)} own layer(s) not read, so at least this"
        out[image_id] = (total, detail)
    return out
