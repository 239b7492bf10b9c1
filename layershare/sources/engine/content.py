"""The containerd store's content blobs as the engine's export tells them, for a user who may open the
engine's socket but not read its files (the ``docker`` group).

On the containerd store (Engine 28.2 and later) ``LayersSize`` and what a removal frees count each content
blob an image reaches: the index, the manifests present, their configs and layer blobs, each once at its
length. The engine answers the group every blob's length in only one place: the image export
(``GET /images/get?names=...``, an OCI layout whose ``blobs/sha256/<hex>`` members are the store's own
blobs). The export is read as it streams, each member's length taken from its tar header and only the
small JSON documents (index, manifests) kept; nothing touches the disk. Images go out in batches, each
blob once per batch.

An image ID on this store is the digest of its target (a manifest or an index), so what its export says
never changes while the same manifests are present: :class:`~layershare.cache.ContentCache` keeps it, and
a warm run exports only new images. A cached entry is used only where the engine's image list still names
the same available manifests (``Manifests``, API 1.47+).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any
from urllib.parse import urlencode

from layershare.errors import ArchiveError, EngineAPIError
from layershare.sources.archive.reader import ChunkReader
from layershare.sources.engine.plain_api import NotFound, PlainAPI

EXPORT_BATCH = 200  # images per export: every blob once per batch, bounded answers
MAX_DOCUMENT = 4 << 20  # an index or manifest larger than this is not one
STREAM_BUFFER = 1 << 20

# {"blobs": {digest: [length, kind]}, "layer_blobs": [...], "platforms": [...], "manifests": [...],
#  "parts": {manifest: [its own blobs]}}
Entry = dict[str, Any]


def archive_blobs(stream: IO[bytes]) -> tuple[dict[str, int], dict[str, Any], list[str]]:
    """(each blob's length, the JSON documents among the small blobs, the targets ``index.json`` names)
    of an OCI layout archive read as a stream; :class:`ArchiveError` for one that is not."""
    lengths: dict[str, int] = {}
    documents: dict[str, Any] = {}
    targets: list[str] = []
    try:
        with tarfile.open(fileobj=stream, mode="r|", bufsize=STREAM_BUFFER) as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if name.startswith("blobs/sha256/") and member.isfile():
                    digest = "sha256:" + name.removeprefix("blobs/sha256/")
                    lengths[digest] = member.size
                    if member.size <= MAX_DOCUMENT:
                        document = _json(archive, member)
                        if isinstance(document, dict) and ("manifests" in document or "layers" in document):
                            documents[digest] = document
                elif name == "index.json" and member.isfile() and member.size <= MAX_DOCUMENT:
                    index = _json(archive, member)
                    if isinstance(index, dict):
                        targets = [str(m.get("digest", "")) for m in index.get("manifests") or []]
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise ArchiveError(f"the engine's export is not a readable archive ({e})") from e
    return lengths, documents, targets


def _json(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Any:
    body = archive.extractfile(member)
    if body is None:
        return None
    data = body.read()
    if not data.startswith(b"{"):
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def walk(target: str, lengths: Mapping[str, int], documents: Mapping[str, Any]) -> Entry | None:
    """What the engine counts for one image (moby's ``walkPresentChildren``): its target, and for an
    index each manifest present, then each manifest's config and layer blobs, each with its length and
    kind; None where the archive does not hold the target."""
    if target not in lengths:
        return None
    blobs: dict[str, list[Any]] = {}
    layer_blobs: list[str] = []
    platforms: list[str] = []
    manifests: list[str] = []

    def add(digest: str, kind: str) -> bool:
        if digest not in lengths:
            return False
        blobs.setdefault(digest, [lengths[digest], kind])
        return True

    top = documents.get(target)
    pending: list[str] = []
    if isinstance(top, dict) and isinstance(top.get("manifests"), list):
        add(target, "index")
        for descriptor in top["manifests"]:
            digest = str(descriptor.get("digest", ""))
            if digest in documents:  # a platform not pulled is not in the export
                platform = descriptor.get("platform") or {}
                named = "/".join(str(platform[k]) for k in ("os", "architecture") if k in platform)
                platforms += [named] if named else []
                pending.append(digest)
    else:
        pending.append(target)
    parts: dict[str, list[str]] = {}
    for digest in pending:
        manifest = documents.get(digest)
        if not isinstance(manifest, dict):
            continue
        add(digest, "manifest")
        manifests.append(digest)
        config = str((manifest.get("config") or {}).get("digest", ""))
        own = [digest] + ([config] if add(config, "config") else [])
        for layer in manifest.get("layers") or []:
            if add(str(layer.get("digest", "")), "layer"):
                layer_blobs.append(str(layer["digest"]))
                own.append(str(layer["digest"]))
        parts[digest] = list(dict.fromkeys(own))
    if not manifests:
        return None
    return {
        "blobs": blobs,
        "layer_blobs": layer_blobs,
        "platforms": platforms,
        "manifests": manifests,
        "parts": parts,
    }


def _export_stream(plain: PlainAPI | None, api: Any, names: Sequence[str]) -> Iterator[bytes]:
    query = urlencode([("names", n) for n in names])
    if plain is not None:
        yield from plain.stream(f"/images/get?{query}")
        return
    import docker.errors

    try:
        response = api._get(api._url("/images/get"), params={"names": list(names)}, stream=True)
        api._raise_for_status(response)
    except docker.errors.NotFound as e:
        raise NotFound(str(e)) from e
    except docker.errors.APIError as e:
        raise EngineAPIError(f"the engine could not export images: {e.explanation or e}") from e
    yield from response.iter_content(chunk_size=STREAM_BUFFER)


def export_blobs(plain: PlainAPI | None, api: Any, ids: Sequence[str]) -> dict[str, Entry]:
    """What the export says of each image (see :func:`walk`), batch by batch; an image removed meanwhile
    is left out (a batch the engine refuses with 404 is asked again image by image)."""
    found: dict[str, Entry] = {}
    for start in range(0, len(ids), EXPORT_BATCH):
        batch = list(ids[start : start + EXPORT_BATCH])
        try:
            found.update(_read_batch(plain, api, batch))
        except NotFound:
            for image_id in batch:
                try:
                    found.update(_read_batch(plain, api, [image_id]))
                except NotFound:
                    continue  # removed since the image list: the report skips it too
    return found


def _read_batch(plain: PlainAPI | None, api: Any, batch: list[str]) -> dict[str, Entry]:
    chunks = _export_stream(plain, api, batch)
    try:
        stream = io.BufferedReader(ChunkReader(chunks), STREAM_BUFFER)
        lengths, documents, targets = archive_blobs(stream)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    found = {}
    for image_id in batch:
        if image_id in targets or image_id in lengths:
            entry = walk(image_id, lengths, documents)
            if entry is not None:
                found[image_id] = entry
    return found


def available_manifests(summary: Mapping[str, Any]) -> dict[str, int] | None:
    """Each manifest the image list calls available, with its ``Size.Content``; None where the list does
    not say (API before 1.47)."""
    listed = summary.get("Manifests")
    if not isinstance(listed, list):
        return None
    return {
        str(m.get("ID")): int((m.get("Size") or {}).get("Content") or 0)
        for m in listed
        if isinstance(m, Mapping) and m.get("Available") and m.get("ID")
    }


def agrees(entry: Mapping[str, Any], summary: Mapping[str, Any]) -> bool:
    """Whether an export's entry still describes the image as listed: the same manifests available,
    each one's blobs (manifest, config, layers) adding up to the engine's own ``Size.Content``. Without
    the list's manifests, only that it names some."""
    available = available_manifests(summary)
    if available is None:
        return bool(entry.get("manifests"))
    return set(entry.get("manifests") or ()) == set(available) and all(
        manifest_content(entry, m) == size for m, size in available.items()
    )


def manifest_content(entry: Mapping[str, Any], manifest: str) -> int | None:
    """The length of a manifest of the entry, its config and layers, as the export gave them (what the
    engine lists as that manifest's ``Size.Content``); None where the entry holds no such manifest."""
    parts = entry.get("parts", {}).get(manifest)
    if parts is None:
        return None
    blobs = entry["blobs"]
    return sum(int(blobs[d][0]) for d in parts if d in blobs)


def content_blobs(
    plain: PlainAPI | None,
    api: Any,
    summaries: Iterable[Mapping[str, Any]],
    cached: Mapping[str, Entry],
) -> tuple[dict[str, Entry], list[str]]:
    """Each listed image's blobs, from ``cached`` where it still agrees with the list, else from the
    export; and the IDs read from the export this time."""
    found: dict[str, Entry] = {}
    wanted: list[str] = []
    by_id = {str(s["Id"]): s for s in summaries}
    for image_id, summary in by_id.items():
        entry = cached.get(image_id)
        if entry is not None and agrees(entry, summary):
            found[image_id] = entry
        else:
            wanted.append(image_id)
    if wanted:
        found.update(export_blobs(plain, api, wanted))
    return found, wanted
