"""The one interface every source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from layershare.model import Snapshot


class Source(ABC):
    """Something that can say which images exist and what layers they hold."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """Collect everything once and return it as the model.

        Raises a :class:`layershare.errors.SourceError` subclass on failure.
        """
