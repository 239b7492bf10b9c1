"""Typed errors: every failure layershare knows how to explain to a person.

Only the CLI turns these into one line on stderr and an exit code
(see :class:`layershare.cli.options.ExitCode`).
"""

from __future__ import annotations


class LayershareError(Exception):
    """Base of every error layershare raises on purpose."""


class SourceError(LayershareError):
    """A source (engine, snapshot file) could not be read."""


class EngineUnreachable(SourceError):
    """No engine answers at the configured host."""


class EnginePermissionDenied(SourceError):
    """The engine's socket exists but this user may not open it."""


class EngineAPIError(SourceError):
    """The engine answered with an error the collector cannot work around."""


class ImageNotFound(SourceError):
    """An image the user named is not on the engine."""


class SnapshotError(SourceError):
    """A recorded snapshot file is missing, malformed or of another version."""


class ArchiveError(SourceError):
    """An image archive (``docker save`` stream or file) is malformed or hostile."""


class DataRootError(SourceError):
    """A data root named with ``--data-root`` is not this engine's (or not a Docker data root at all)."""


class ConfigError(LayershareError):
    """A check policy (config file or command-line rule) is invalid."""


class UsageError(LayershareError):
    """Options that cannot go together (``--host`` with ``--archive``, several hosts where one is read)."""


class ContainerdStoreError(SourceError):
    """A containerd root named with ``--containerd-root`` is missing, not a containerd root, or unreadable."""


class StateChanged(LayershareError):
    """The engine is no longer in the state a removal was planned on (``browse``, ``plan --apply``):
    nothing was removed."""
