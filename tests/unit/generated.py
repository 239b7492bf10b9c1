"""Engine states made by hand from a seed, for the tests that hold a replay of the planner to it (the
page's what-if panel, browse's running total): images on parents (some untagged), shared layers,
containers, and units something other than an image keeps."""

from __future__ import annotations

import random

from layershare.model import Container, EngineImage, EngineInfo, EngineState, StoredUnit


def image_id(rng: random.Random) -> str:
    return f"sha256:{rng.getrandbits(256):064x}"


def generated_state(seed: int, containerd: bool) -> EngineState:
    """An engine state made from ``seed``: images on parents (some untagged, some gone: an earlier removal
    took them), shared layers, containers, and units something other than an image keeps (the build
    cache; on containerd, pending garbage)."""
    rng = random.Random(seed)
    units: dict[str, StoredUnit] = {}

    def unit(kind: str) -> str:
        key = f"{kind}:{len(units)}"
        units[key] = StoredUnit(key, kind, rng.choice([0, 1, 7, 512, 4096, 65536]) * rng.randint(1, 9),  # type: ignore[arg-type]
                                None, counted_with_images=not containerd)  # fmt: skip
        return key

    images: list[EngineImage] = []
    for n in range(rng.randint(1, 10)):
        parent = rng.choice(images) if images and rng.random() < 0.6 else None
        own = [unit("snapshot" if containerd else "layer") for _ in range(rng.randint(0, 2))]
        if containerd:
            own += [unit("blob") for _ in range(rng.randint(1, 2))]
        shared = [rng.choice(list(units))] if units and rng.random() < 0.3 else []
        tags = tuple(f"app{n}:{t}" for t in range(rng.choice([0, 0, 1, 1, 1, 2])))
        images.append(
            EngineImage(
                image_id(rng),
                tags,
                float(n),
                parent.id if parent else (image_id(rng) if rng.random() < 0.25 else ""),
                holds=tuple(dict.fromkeys([*(parent.holds if parent else ()), *own, *shared])),
            )
        )
    containers = []
    for n, image in enumerate(rng.sample(images, k=rng.randint(0, min(2, len(images))))):
        key = f"container:c{n}"
        units[key] = StoredUnit(key, "container", rng.randint(0, 4096), None)
        state = rng.choice(["running", "exited"])
        held = (key, *(image.holds if not containerd else ()))
        containers.append(Container(f"c{n}", f"box{n}", image.tags[0] if image.tags else image.id,
                                    image.id, state, holds=held))  # fmt: skip
    others: dict[str, tuple[str, ...]] = {}
    layers = [k for k in units if not k.startswith("container:")]
    for n in range(
        rng.randint(0, 2)
    ):  # build-cache records that keep a layer, counted while no image holds it
        if layers:
            kept = rng.choice(layers)
            key = f"build:{n}"
            units[key] = StoredUnit(key, "build_cache", rng.randint(1, 9999), None, uncounted_under=(kept,))
            others[f"build cache {n}"] = (key, kept)
    if containerd and rng.random() < 0.5:
        others["garbage"] = (unit("blob"),)
    engine = EngineInfo(
        host="unix:///generated",
        version="29.7.2",
        api_version="1.55",
        image_store="containerd" if containerd else "graphdriver",
        storage_driver="overlayfs" if containerd else "overlay2",
    )
    return EngineState(engine, tuple(images), tuple(containers), (), (), units, others, "1.55", True)
