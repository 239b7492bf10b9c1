"""What a command can write and how a report is sorted: plain enums, cheap to import.

The command line builds its ``--format`` and ``--sort`` choices from these, so
``layershare --help`` and a warm report never import pandas. Each format maps
to one renderer in :mod:`layershare.render` (reports) or
:mod:`layershare.render.check` (check results).
"""

from __future__ import annotations

from enum import Enum


class OutputFormat(str, Enum):
    """Formats ``report`` and ``history`` can write."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"


class DiskFormat(str, Enum):
    """Formats ``disk`` can write."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


class CheckFormat(str, Enum):
    """Formats ``check`` can write."""

    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    GITHUB = "github"
    MARKDOWN = "markdown"


class BuildersFormat(str, Enum):
    """Formats ``builders`` can write."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


class FreeFormat(str, Enum):
    """Formats ``free`` can write."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


class DupesFormat(str, Enum):
    """Formats ``dupes`` can write."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


class DiffFormat(str, Enum):
    """Formats ``diff`` can write."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


class FleetFormat(str, Enum):
    """Formats ``fleet`` can write."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


class TreeFormat(str, Enum):
    """Formats ``tree`` can write."""

    TABLE = "table"
    JSON = "json"
    DOT = "dot"
    MERMAID = "mermaid"


class SortKey(str, Enum):
    """Columns the images table can be sorted by (largest first, reference A-Z)."""

    UNIQUE = "unique"
    SIZE = "size"
    SHARED = "shared"
    LAYERS = "layers"
    CONTAINERS = "containers"
    CREATED = "created"
    REFERENCE = "reference"


def choices(kind: type[Enum]) -> list[str]:
    """The values of an enum, in order: what a ``--format`` or ``--sort`` option accepts."""
    return [str(member.value) for member in kind]
