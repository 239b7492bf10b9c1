"""Image archives (``docker save`` files, OCI layout folders) as a source, read as streams."""

from layershare.sources.archive.reader import read_archive, read_layout_folder
from layershare.sources.archive.source import ArchiveSource

__all__ = ["ArchiveSource", "read_archive", "read_layout_folder"]
