"""The one interface every source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from layershare.model import ImageContent, Snapshot


class Source(ABC):
    """Something that can say which images exist and what layers they hold."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """Collect everything once and return it as the model.

        Raises a :class:`layershare.errors.SourceError` subclass on failure.
        """


class ContentSource(ABC):
    """Something that can stream an image's layers (an engine's image export, an archive)."""

    @abstractmethod
    def image_content(self, image_id: str) -> ImageContent:
        """One image's layers and their files, read without extracting anything to disk.

        Raises :class:`layershare.errors.ImageNotFound` when the image is gone and
        :class:`layershare.errors.ArchiveError` when its archive is malformed.
        """
