"""Image archives: what ``docker save`` (``GET /images/{name}/get``) writes, read as a stream.

Both layouts engines write are read: the classic one (``manifest.json``,
``<id>/layer.tar``) and the OCI image layout (``index.json``, ``oci-layout``,
``blobs/sha256/...``) of newer engines and the containerd store. Nothing is
extracted to disk and memory stays bounded: each layer is read once, in
archive order (:mod:`~layershare.sources.archive.layers`), and kept only as
its list of paths and sizes; the configs then say which layers each image
stacks, in which order.

A malformed or hostile archive (paths escaping the archive, links out of it,
absurd sizes, truncation, a layer it names but does not hold) raises
:class:`~layershare.errors.ArchiveError`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import posixpath
import tarfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal

from layershare.errors import ArchiveError
from layershare.model import ImageContent, LayerContent
from layershare.sources.archive.layers import (
    CHUNK,
    GZIP_MAGIC,
    MAX_MEMBER_BYTES,
    MAX_PATH_CHARS,
    ZSTD_MAGIC,
    ChunkReader,
    Prefixed,
    decompressed,
    read_layer,
    sniff,
    stream_members,
)
from layershare.sources.image_config import config_history, oci_labels
from layershare.sources.image_config import diff_ids as config_diff_ids

MAX_JSON_BYTES = 16 * 1024 * 1024

__all__ = ["ChunkReader", "read_archive", "read_layer", "read_layout_folder"]


def _safe_join(base: str, target: str, what: str) -> str:
    """``target`` resolved against ``base`` inside the archive; refuses anything outside it."""
    if target.startswith("/"):
        raise ArchiveError(f"{what} points outside the archive ({target!r})")
    joined = posixpath.normpath(posixpath.join(base, target))
    if joined == ".." or joined.startswith("../"):
        raise ArchiveError(f"{what} points outside the archive ({target!r})")
    return joined


def _member_name(name: str) -> str:
    if len(name) > MAX_PATH_CHARS:
        raise ArchiveError(f"member name of {len(name)} characters")
    return _safe_join("", name, f"member {name!r}")


class _Collector:
    """What one pass over an archive (or an OCI layout folder) keeps: layers, JSON documents, links."""

    def __init__(self, name: str, hash_files: bool = False) -> None:
        self.name = name
        self.hash_files = hash_files
        self.layers: dict[str, LayerContent] = {}
        self.documents: dict[str, Any] = {}
        self.links: dict[str, str] = {}

    def link(self, path: str, target: str, symbolic: bool) -> None:
        base = posixpath.dirname(path) if symbolic else ""
        self.links[path] = _safe_join(base, target, f"{self.name}: link {path!r}")

    def file(self, path: str, size: int, body: IO[bytes]) -> None:
        if size > MAX_MEMBER_BYTES:
            raise ArchiveError(f"{self.name}: member {path!r} claims an absurd size ({size} bytes)")
        head = body.read(512)
        kind = sniff(head)
        if kind == "json" and size <= MAX_JSON_BYTES:
            try:
                self.documents[path] = json.loads(head + body.read())
            except ValueError:
                return
        elif kind in ("tar", "gzip", "zstd"):
            where = f"{self.name}: {path}"
            layer = read_layer(Prefixed(head, body), kind, where, hash_files=self.hash_files)  # type: ignore[arg-type]
            self.layers[layer.diff_id] = layer

    def images(self) -> list[ImageContent]:
        return _images(self.name, self.layers, self.documents, self.links)


def read_archive(stream: IO[bytes], *, name: str = "archive", hash_files: bool = False) -> list[ImageContent]:
    """Every image an image archive holds, with its layers' contents, in one pass over ``stream``
    (``hash_files``: each layer's stored copies with their digests too).

    The archive itself may be gzip- or zstd-compressed (``docker save | gzip``).
    """
    collector = _Collector(name, hash_files)
    head = stream.read(4)
    raw: IO[bytes] = io.BufferedReader(Prefixed(head, stream), CHUNK)
    if head.startswith(GZIP_MAGIC):
        raw = decompressed(raw, "gzip")
    elif head.startswith(ZSTD_MAGIC):
        raw = decompressed(raw, "zstd")
    try:
        outer = tarfile.open(fileobj=raw, mode="r|", bufsize=CHUNK)  # noqa: SIM115 - closed with the stream
        for member in stream_members(outer):
            path = _member_name(member.name)
            if member.isdir():
                continue
            if member.issym() or member.islnk():
                collector.link(path, member.linkname, symbolic=member.issym())
            elif member.isfile():
                body = outer.extractfile(member)
                assert body is not None
                collector.file(path, member.size, body)
            else:
                raise ArchiveError(f"{name}: member {path!r} is not a file, folder or link")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ArchiveError(f"{name}: not a complete image archive ({e})") from e
    except Exception as e:
        if type(e).__module__.startswith("zstandard"):
            raise ArchiveError(f"{name}: corrupt zstd data ({e})") from e
        raise
    return collector.images()


def read_layout_folder(folder: Path, *, hash_files: bool = False) -> list[ImageContent]:
    """Every image of an OCI image layout folder (``index.json``, ``blobs/``), each file read once."""
    name = str(folder)
    collector = _Collector(name, hash_files)
    if not (folder / "index.json").is_file():
        raise ArchiveError(f"{name}: no index.json: not an OCI image layout")
    root = folder.resolve()
    for path in sorted(p for p in folder.rglob("*") if not p.is_dir()):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            target = os.readlink(path)
            collector.link(relative, target, symbolic=True)
            if not path.resolve().is_relative_to(root):
                raise ArchiveError(f"{name}: link {relative!r} points outside the layout")
            continue
        if not path.is_file():
            raise ArchiveError(f"{name}: {relative!r} is not a file, folder or link")
        try:
            with path.open("rb") as body:
                collector.file(relative, path.stat().st_size, body)
        except OSError as e:
            raise ArchiveError(f"{name}: cannot read {relative}: {e.strerror or e}") from e
    return collector.images()


def _document(documents: Mapping[str, Any], links: Mapping[str, str], path: str) -> Any:
    seen = 0
    while path in links and seen < 40:
        path, seen = links[path], seen + 1
    return documents.get(path)


def _images(
    name: str, layers: Mapping[str, LayerContent], documents: Mapping[str, Any], links: Mapping[str, str]
) -> list[ImageContent]:
    oci = "index.json" in documents or "oci-layout" in documents or "oci-layout" in links
    layout: Literal["docker", "oci"] = "oci" if oci else "docker"
    configs: list[tuple[str, tuple[str, ...]]] = []  # (config path, tags)
    manifest = documents.get("manifest.json")
    if isinstance(manifest, list):
        for entry in manifest:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("Config"), str):
                raise ArchiveError(f"{name}: manifest.json entry without a Config")
            configs.append((_member_name(entry["Config"]), tuple(entry.get("RepoTags") or ())))
    elif isinstance(documents.get("index.json"), Mapping):
        configs = list(_oci_configs(name, documents, documents["index.json"], (), 0))
    else:
        raise ArchiveError(f"{name}: neither manifest.json nor index.json: not an image archive")
    images = []
    for config_path, tags in configs:
        config = _document(documents, links, config_path)
        if not isinstance(config, Mapping):
            raise ArchiveError(f"{name}: image config {config_path} is missing or not JSON")
        diff_ids = config_diff_ids(config)
        if diff_ids is None:
            raise ArchiveError(f"{name}: image config {config_path} has no rootfs.diff_ids")
        missing = [d for d in diff_ids if d not in layers]
        if missing:
            raise ArchiveError(f"{name}: layer {missing[0]} of {config_path} is not in the archive")
        contents = tuple(layers[d] for d in diff_ids)
        history, layer_entries = config_history(config, [layer.size_bytes for layer in contents])
        images.append(
            ImageContent(
                config_digest="sha256:" + posixpath.basename(config_path).removesuffix(".json"),
                tags=tags,
                diff_ids=tuple(diff_ids),
                layers=contents,
                layout=layout,
                created=str(config.get("created") or ""),
                platform="/".join(str(config[k]) for k in ("os", "architecture") if config.get(k)),
                history=history,
                layer_entries=layer_entries,
                labels=oci_labels(config),
            )
        )
    return images


def _oci_configs(
    name: str, documents: Mapping[str, Any], index: Mapping[str, Any], tags: tuple[str, ...], depth: int
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Config paths of the manifests an OCI index names, descending into nested indexes.

    A platform whose manifest is not in the archive (not present locally) is skipped.
    """
    if depth > 8:
        raise ArchiveError(f"{name}: OCI indexes nested too deep")
    for descriptor in index.get("manifests") or []:
        digest = str(descriptor.get("digest", ""))
        annotations = descriptor.get("annotations") or {}
        tag = annotations.get("io.containerd.image.name") or annotations.get(
            "org.opencontainers.image.ref.name"
        )
        these = (*tags, tag) if tag and tag not in tags else tags
        blob = documents.get(_member_name("blobs/" + digest.replace(":", "/", 1)))
        if not isinstance(blob, Mapping):
            continue
        if "manifests" in blob:
            yield from _oci_configs(name, documents, blob, these, depth + 1)
        elif isinstance(blob.get("config"), Mapping):
            yield _member_name("blobs/" + str(blob["config"].get("digest", "")).replace(":", "/", 1)), these
