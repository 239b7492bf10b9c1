"""Image archives as a source: ``docker save`` files and OCI image layout folders, no engine needed.

Each archive is streamed once (:mod:`layershare.sources.archive`). A layer's
size is what a graphdriver engine stores for it once loaded: the bytes of its
files, counted from the archive's tar (tested against Engine 20.10's layer
store). History comes from each image's configuration, whose ``empty_layer``
flags say exactly which entry made which layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from layershare.errors import ArchiveError, ImageNotFound
from layershare.ids import chain_ids
from layershare.model import EngineInfo, HistoryEntry, Image, ImageContent, Layer, Snapshot
from layershare.redact import redact_created_by
from layershare.sources.archive.reader import read_archive, read_layout_folder
from layershare.sources.interface import ContentSource, Source
from layershare.times import now_iso


class ArchiveSource(Source, ContentSource):
    """One or more image archives (files or OCI layout folders), read without extracting anything."""

    def __init__(self, paths: Sequence[str | Path], *, show_values: bool = False) -> None:
        self.paths = [Path(p) for p in paths]
        self.show_values = show_values
        self._contents: dict[str, ImageContent] | None = None

    def _read(self) -> dict[str, ImageContent]:
        if self._contents is None:
            contents: dict[str, ImageContent] = {}
            for path in self.paths:
                for image in _read_path(path):
                    known = contents.get(image.config_digest)
                    if known is not None:  # the same image in two archives: one image, all its tags
                        image = _with_tags(image, known.tags)
                    contents[image.config_digest] = image
            self._contents = contents
        return self._contents

    def image_content(self, image_id: str) -> ImageContent:
        """The layers of one image of the archives (read once, with everything else)."""
        try:
            return self._read()[image_id]
        except KeyError:
            raise ImageNotFound(f"no image {image_id} in {', '.join(map(str, self.paths))}") from None

    def snapshot(self) -> Snapshot:
        """Every image of the archives, its layers and history, as the model."""
        contents = self._read()
        layers: dict[str, Layer] = {}
        images = []
        unfitting = 0
        for image_id, content in sorted(contents.items()):
            chain = chain_ids(list(content.diff_ids))
            history = tuple(self._shown(h) for h in content.history)
            if not content.layer_entries and content.diff_ids:
                unfitting += 1
            for k, (layer, chain_id) in enumerate(zip(content.layers, chain, strict=True)):
                entry = history[content.layer_entries[k]] if content.layer_entries else None
                layers.setdefault(
                    chain_id,
                    Layer(
                        chain_id=chain_id,
                        diff_id=layer.diff_id,
                        parent_chain_id=chain[k - 1] if k else None,
                        size_bytes=layer.size_bytes,
                        created_by=entry.created_by if entry else "",
                        comment=entry.comment if entry else "",
                        created_by_exact=entry is not None,
                    ),
                )
            images.append(
                Image(
                    id=image_id,
                    tags=content.tags,
                    digests=(),
                    created=content.created,
                    size_bytes=sum(layer.size_bytes for layer in content.layers),
                    diff_ids=content.diff_ids,
                    chain_ids=tuple(chain),
                    history=history,
                    labels=content.labels,
                )
            )
        notes = [
            "image archives: sizes are the layers' unpacked bytes, what an engine with a graphdriver "
            "store (overlay2) keeps once the images are loaded"
        ]
        if unfitting:
            notes.append(
                f"{unfitting} image(s) have a history that does not fit their layers: instructions not shown"
            )
        engine = EngineInfo(
            host=", ".join(str(p) for p in self.paths),
            version="",
            api_version="",
            image_store="archive",
            storage_driver="",
        )
        return Snapshot(
            engine=engine,
            images=tuple(images),
            layers=tuple(layers.values()),
            notes=tuple(notes),
            collected_at=now_iso(),
        )

    def _shown(self, entry: HistoryEntry) -> HistoryEntry:
        if self.show_values:
            return entry
        return HistoryEntry(
            created=entry.created,
            created_by=redact_created_by(entry.created_by),
            size_bytes=entry.size_bytes,
            comment=entry.comment,
        )


def _read_path(path: Path) -> list[ImageContent]:
    if path.is_dir():
        return read_layout_folder(path)
    try:
        with path.open("rb") as stream:
            return read_archive(stream, name=str(path))
    except OSError as e:
        raise ArchiveError(f"cannot read {path}: {e.strerror or e}") from e


def _with_tags(image: ImageContent, more: tuple[str, ...]) -> ImageContent:
    from dataclasses import replace

    return replace(image, tags=tuple(dict.fromkeys((*more, *image.tags))))
