"""The removal model a page carries: an engine's state reduced to what removing whole images needs,
so that the page's "what if I remove these" panel replays ``layershare free IMAGE…`` in the browser.

Engine-free tests hold the page's replay (``render/page/report.js``) to :func:`layershare.free.whatif.free`
on hundreds of generated states.
"""

from __future__ import annotations

from dataclasses import dataclass

from layershare.free.holders import GARBAGE
from layershare.free.whatif import holdings
from layershare.model import EngineState


@dataclass(frozen=True)
class ImageRemovalModel:
    """An engine's state reduced to what removing whole images by ID needs, as plain lists, so a page
    can replay ``layershare free IMAGE…`` (without ``--with-containers``) for any pick of images.

    Positions index :attr:`image_ids` and the units. A unit counts in the engine's totals while it is
    held (by an image, or by a holder an image removal never takes: ``unit_kept``; or by
    containerd's pending garbage, ``unit_garbage``, swept once any image is deleted), unless it is
    counted only with images (``unit_with_images``) and no image holds it, or an image holds one of
    its ``unit_uncounted_under`` (a build-cache record the engine then calls shared).
    """

    containerd: bool
    image_ids: list[str]
    image_tagged: list[bool]
    image_parent: list[int]
    # Its parent (the classic builder's Parent label) names an image the engine no longer has: on the
    # containerd store such a broken chain keeps every parent.
    image_parent_gone: list[bool]
    image_users: list[list[str]]
    image_holds: list[list[int]]
    unit_bytes: list[int]
    unit_with_images: list[bool]
    unit_uncounted_under: list[list[int]]
    unit_kept: list[bool]
    unit_garbage: list[bool]
    notes: list[str]


def image_removal_model(state: EngineState) -> ImageRemovalModel:
    """The :class:`ImageRemovalModel` of a state (the rules :func:`plan_removal` and :func:`what_if` apply)."""
    keys = sorted(state.units)
    position = {key: i for i, key in enumerate(keys)}
    held = holdings(state)
    kinds = held["holder"].str.split(":", n=1).str[0]
    kept = set(held.loc[(kinds != "image") & (held["holder"] != GARBAGE), "unit"])
    garbage = set(held.loc[held["holder"] == GARBAGE, "unit"])
    images = list(state.images)
    by_id = {image.id: i for i, image in enumerate(images)}
    users: dict[str, list[str]] = {}
    for container in state.containers:
        users.setdefault(container.image_id, []).append(container.name)
    return ImageRemovalModel(
        containerd=state.engine.image_store == "containerd",
        image_ids=[i.id for i in images],
        image_tagged=[bool(i.tags) for i in images],
        image_parent=[by_id.get(i.parent_id, -1) for i in images],
        image_parent_gone=[bool(i.parent_id) and i.parent_id not in by_id for i in images],
        image_users=[sorted(users.get(i.id, [])) for i in images],
        image_holds=[sorted({position[k] for k in i.holds if k in position}) for i in images],
        unit_bytes=[state.units[k].bytes for k in keys],
        unit_with_images=[state.units[k].counted_with_images for k in keys],
        unit_uncounted_under=[
            [position[u] for u in state.units[k].uncounted_under if u in position] for k in keys
        ],
        unit_kept=[k in kept for k in keys],
        unit_garbage=[k in garbage for k in keys],
        notes=list(state.notes),
    )
