"""The interfaces sources implement: images as the model, image contents, cheap state, a disk."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from layershare.model import DiskSnapshot, ImageContent, Snapshot

if TYPE_CHECKING:
    from layershare.cache import ReportCache


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


class StatefulSource(Source):
    """A source that changes (a live engine) and can tell cheaply whether it did.

    Equal :meth:`state_digest` values mean equal snapshots, so a rendered report
    can be stored under the digest and served again without collecting.
    """

    @abstractmethod
    def state_digest(self) -> str:
        """A digest of everything a report depends on."""

    @abstractmethod
    def report_cache(self) -> ReportCache | None:
        """Where rendered reports of this source are kept, or None when they must not be."""

    @property
    @abstractmethod
    def complete(self) -> bool:
        """False when the last snapshot skipped something (it is then not worth storing)."""


class DiskReader(ABC):
    """Something that can say where the bytes under an engine's (or a node's) root went."""

    @abstractmethod
    def snapshot(self) -> DiskSnapshot:
        """Read once and return the disk as the model.

        Raises a :class:`layershare.errors.LayershareError` subclass on failure.
        """
