"""Base images and base drift, from layer chains alone.

An image's *base* is the deepest other tagged image whose layer chain is a
proper prefix of the image's chain (``app:1`` built ``FROM runtime:3``).
Chain IDs make this exact: an image is a prefix of another exactly when its
top chain ID appears in the other's chain one position lower than its length.
Without such an image, the OCI label ``org.opencontainers.image.base.name``
names the base (its bytes are then unknown); else the base is unknown.

*Base drift*: the images of one host built on different versions of one
repository (``runtime:2`` and ``runtime:3``, or a tag rebuilt since, which the
label reveals). Rebasing every image onto the newest local version would free
the bytes of the older versions' layers that nothing else uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from layershare.report.index import LayerIndex

NO_BASE = (
    "no other tagged image's layers are a prefix of its layers, "
    "and it has no org.opencontainers.image.base.name label"
)


def repository(reference: str) -> str:
    """``registry:5000/team/runtime:3`` -> ``registry:5000/team/runtime`` (tag and digest dropped)."""
    name = reference.split("@", 1)[0]
    head, sep, last = name.rpartition("/")
    return f"{head}{sep}{last.split(':', 1)[0]}"


def find_bases(index: LayerIndex) -> pd.DataFrame:
    """Per image (index ``image_id``): its base, how it was found and what it weighs.

    Columns: ``base_id`` (None unless found by layers), ``base_reference``,
    ``base_via`` (``layers``, ``label`` or None), ``base_layers``,
    ``base_bytes`` and ``base_share`` (NA when unknown), ``base_reason``,
    ``base_repository``, ``stale_base_id`` (where the label names a local tag
    whose image is not in this image's chain, so the image was built on an
    earlier build of that tag: the tag's image now).
    """
    images, edges = index.images, index.edges
    tagged = images.loc[images["tags"].map(len) > 0]
    tops = edges.loc[edges["image_id"].isin(tagged.index)]
    tops = tops.loc[tops["position"] == tops["image_id"].map(tagged["layers"]) - 1]
    candidates = pd.DataFrame(
        {
            "base_id": tops["image_id"].to_numpy(),
            "chain_id": tops["chain_id"].to_numpy(),
            "created": tops["image_id"].map(tagged["created"]).to_numpy(),
            "base_reference": tops["image_id"].map(tagged["tags"].map(lambda t: sorted(t)[0])).to_numpy(),
        }
    )
    # Several tagged images with one chain (a rebuild that changed only metadata): the oldest wins.
    candidates = candidates.sort_values(["created", "base_reference"], kind="stable").drop_duplicates(
        "chain_id"
    )
    hits = edges.merge(candidates, on="chain_id")
    hits = hits.loc[
        (hits["base_id"] != hits["image_id"])
        & (hits["position"] < hits["image_id"].map(images["layers"]) - 1)
    ]
    deepest = hits.sort_values("position", kind="stable").drop_duplicates("image_id", keep="last")
    deepest = deepest.set_index("image_id")
    out = pd.DataFrame(index=images.index)
    out["base_id"] = deepest["base_id"].reindex(out.index).astype(object)
    out["base_reference"] = deepest["base_reference"].reindex(out.index).astype(object)
    found = out["base_id"].notna()
    out["base_via"] = pd.Series("layers", index=out.index).where(found, None).astype(object)
    out["base_layers"] = (deepest["position"].reindex(out.index) + 1).astype("Int64")
    size = images["size_bytes"]
    out["base_bytes"] = out["base_id"].map(size).astype("Int64")
    labels = images["base_label"]
    use_label = ~found & labels.notna()
    out.loc[use_label, "base_reference"] = labels[use_label]
    out.loc[use_label, "base_via"] = "label"
    out["base_share"] = (out["base_bytes"].astype("Float64") / size.where(size > 0)).astype("Float64")
    out["base_reason"] = ""
    out.loc[use_label, "base_reason"] = (
        "named by its base.name label; no local image is a prefix of its layers"
    )
    out.loc[out["base_via"].isna(), "base_reason"] = NO_BASE
    out["base_repository"] = out["base_reference"].map(repository, na_action="ignore").astype(object)
    out["stale_base_id"] = _stale_labels(index, out)
    return out


def _stale_labels(index: LayerIndex, bases: pd.DataFrame) -> pd.Series:
    """Where the base label names a local tag whose image is not in this image's chain: that image."""
    images = index.images
    owner = {tag: image_id for image_id, tags in images["tags"].items() for tag in tags}
    labelled = images["base_label"].dropna()
    stale: dict[str, str] = {}
    for image_id, label in labelled.items():
        named = owner.get(str(label)) or owner.get(f"{label}:latest")
        if named is None or named == bases.at[image_id, "base_id"]:
            continue
        named_chain = index.chains.get(named, ())
        if not named_chain or named_chain[-1] not in index.chains.get(image_id, ()):
            stale[str(image_id)] = str(named)
    return pd.Series(stale, index=images.index, dtype=object)


@dataclass(frozen=True)
class Drift:
    """One base repository used in several versions on the host."""

    repository: str
    versions: tuple[str, ...]
    images: tuple[str, ...]
    image_ids: tuple[str, ...]
    target: str | None
    freed_bytes: int
    freed_exact: bool
    note: str = ""

    @property
    def count(self) -> int:
        """How many versions of the repository are bases."""
        return len(self.versions)


def base_drift(index: LayerIndex, bases: pd.DataFrame) -> list[Drift]:
    """Base repositories with more than one version in use, largest saving first."""
    images = index.images
    listed = bases.loc[~images["intermediate"].reindex(bases.index).to_numpy(dtype=bool)]
    found = listed.loc[listed["base_repository"].notna()]
    stale = listed.loc[listed["stale_base_id"].notna()]
    stale_refs = [str(images.at[i, "base_label"]) for i in stale.index]
    # One row per (image, base version it was built on).
    uses = pd.concat(
        [
            pd.DataFrame(
                {
                    "image_id": found.index,
                    "repository": found["base_repository"].to_numpy(),
                    "local_id": found["base_id"].to_numpy(),
                    "version": [
                        ref if via == "layers" else f"{ref} (not local)"
                        for ref, via in zip(found["base_reference"], found["base_via"], strict=True)
                    ],
                }
            ),
            pd.DataFrame(
                {
                    "image_id": stale.index,
                    "repository": [repository(r) for r in stale_refs],
                    "local_id": None,
                    "version": [f"{r} (an earlier build)" for r in stale_refs],
                }
            ),
            pd.DataFrame(  # the tag as it is now counts as a version too
                {
                    "image_id": stale.index,
                    "repository": [repository(r) for r in stale_refs],
                    "local_id": stale["stale_base_id"].to_numpy(),
                    "version": stale_refs,
                }
            ),
        ],
        ignore_index=True,
    )
    drifts = []
    for repo, group in uses.groupby("repository", sort=True):
        versions = group.drop_duplicates("version")
        if len(versions) < 2:
            continue
        local = sorted(set(versions["local_id"].dropna()), key=lambda i: (images.at[i, "created"], i))
        name = dict(zip(versions["local_id"], versions["version"], strict=True))
        target = local[-1] if local else None
        unknown = len(versions) - len(local)
        drifts.append(
            Drift(
                repository=str(repo),
                versions=tuple(sorted(versions["version"])),
                images=tuple(sorted({str(images.at[i, "reference"]) for i in group["image_id"]})),
                image_ids=tuple(sorted(set(group["image_id"]))),
                target=name[target] if target else None,
                freed_bytes=_freed_bytes(index, local[:-1], target) if target else 0,
                freed_exact=unknown == 0,
                note=(
                    f"not counting {unknown} version(s) with no local image under that name, "
                    "whose layers cannot be told apart from the images' own"
                    if unknown
                    else ""
                ),
            )
        )
    return sorted(drifts, key=lambda d: (-d.freed_bytes, d.repository))


def _freed_bytes(index: LayerIndex, old: list[str], target: str) -> int:
    """Bytes of the old versions' layers no image outside their dependents uses."""
    if not old:
        return 0
    edges = index.edges
    images = index.images
    tops = edges.loc[edges["image_id"].isin([*old, target])]
    tops = tops.loc[tops["position"] == tops["image_id"].map(images["layers"]) - 1].set_index("image_id")
    old_tops = set(tops.loc[old, "chain_id"])
    target_top = tops.at[target, "chain_id"]
    on_old = set(edges.loc[edges["chain_id"].isin(old_tops), "image_id"])
    on_target = set(edges.loc[edges["chain_id"] == target_top, "image_id"])
    dependents = on_old - on_target
    old_layers = set(edges.loc[edges["image_id"].isin(old), "chain_id"])
    listed = images.index[~images["intermediate"].to_numpy(dtype=bool)]
    others = edges.loc[edges["image_id"].isin(listed) & ~edges["image_id"].isin(dependents), "chain_id"]
    freed = old_layers - set(others)
    return int(index.layers.loc[list(freed), "size_bytes"].sum())
