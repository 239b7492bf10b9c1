"""Which source the user named: an engine (or several), a recording, or image archives.

:class:`SourceChoice` is what the command line's shared options (or a library
caller) say; :func:`open_source` turns it into a :class:`Source`. Only the
chosen kind's module is imported, so naming archives never loads the Docker SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from layershare.errors import SnapshotError, UsageError
from layershare.model import SavedDisk
from layershare.sources.interface import DiskReader, Source

if TYPE_CHECKING:
    from layershare.sources.containerd import ContainerdSource
    from layershare.sources.engine import EngineSource

Progress = Callable[[int, int], None]

_FLAGS = {
    "hosts": "--host",
    "context": "--context",
    "recording": "--recording",
    "archives": "--archive",
    "containerd_root": "--containerd-root",
}


@dataclass(frozen=True)
class SourceChoice:
    """Where images are read from, and how.

    At most one of ``hosts`` (engine URLs), ``context`` (a docker context),
    ``recording`` (a file of ``layershare record``), ``archives`` (``docker
    save`` files or OCI layout folders) and ``containerd_root`` (containerd's
    root folder on a node, read in ``namespace``: a name or ``all``); none means
    the engine of the environment. ``cache_dir`` None reads and writes no cache.
    ``quiet`` asks for no progress display.
    """

    hosts: tuple[str, ...] = ()
    context: str | None = None
    recording: str | None = None
    archives: tuple[str, ...] = ()
    containerd_root: str | None = None
    namespace: str | None = None
    show_values: bool = False
    cache_dir: Path | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        chosen = [name for name in _FLAGS if getattr(self, name)]
        if len(chosen) > 1:
            raise UsageError(f"{_FLAGS[chosen[0]]} and {_FLAGS[chosen[1]]} cannot be used together")
        if self.namespace and not self.containerd_root:
            raise UsageError("--namespace reads containerd: give --containerd-root too (/var/lib/containerd)")

    @property
    def reads_engine(self) -> bool:
        """True when the choice names a live Docker engine (not a recording, archives or containerd's files)."""
        return not (self.recording or self.archives or self.containerd_root)

    def for_each_host(self) -> list[SourceChoice]:
        """One choice per ``--host`` (one with no host when none is given)."""
        if len(self.hosts) <= 1:
            return [self]
        return [
            SourceChoice(
                hosts=(host,), show_values=self.show_values, cache_dir=self.cache_dir, quiet=self.quiet
            )
            for host in self.hosts
        ]


def open_engine(choice: SourceChoice, *, progress: Progress | None = None) -> EngineSource:
    """The live engine a choice names; :class:`UsageError` for a recording, archives or containerd."""
    if choice.containerd_root:
        raise UsageError(
            "this command reads a live Docker engine; --containerd-root is read by report, history, tree, diff, disk, "
            "check and export"
        )
    if choice.recording or choice.archives:
        raise UsageError(
            "this command reads a live engine: --recording and --archive hold no containers, volumes or files"
        )
    from layershare.sources.engine import EngineSource

    source = open_source(choice, progress=progress)
    assert isinstance(source, EngineSource)
    return source


def open_disk(choice: SourceChoice, *, data_root: str | None = None) -> list[DiskReader]:
    """The disk reader of each root a choice names: a node's containerd root, else each live engine
    (``data_root``: one engine's data root as seen from here, proved before it is walked)."""
    if choice.containerd_root:  # containerd on a node: its root is what is walked
        if data_root:
            raise UsageError(
                "--data-root names a Docker engine's data root; --containerd-root is read as given"
            )
        from layershare.sources.containerd.disk import NodeDiskSource

        return [NodeDiskSource(_containerd_source(choice))]
    each = choice.for_each_host()
    if data_root and len(each) > 1:
        raise UsageError("--data-root names one engine's data root: give --host once")
    from layershare.sources.disk.source import DiskSource

    return [DiskSource(open_engine(c), data_root=data_root) for c in each]


def open_source(choice: SourceChoice, *, progress: Progress | None = None) -> Source:
    """The one source a choice names: archives, a recording, else an engine (with its cache).

    Raises :class:`UsageError` for several hosts (see :meth:`SourceChoice.for_each_host`).
    """
    if choice.archives:
        from layershare.sources.archive import ArchiveSource

        return ArchiveSource(choice.archives, show_values=choice.show_values)
    if choice.recording:
        from layershare.sources.recording import RecordingSource

        return RecordingSource(choice.recording)
    if choice.containerd_root:
        return _containerd_source(choice)
    if len(choice.hosts) > 1:
        raise UsageError("only 'report' reads several engines: give --host once")
    from layershare.sources.engine import EngineSource

    return EngineSource(
        choice.hosts[0] if choice.hosts else None,
        show_values=choice.show_values,
        progress=progress,
        cache_dir=choice.cache_dir,
        context=choice.context,
    )


def _containerd_source(choice: SourceChoice) -> ContainerdSource:
    from layershare.sources.containerd import DEFAULT_NAMESPACE, ContainerdSource

    assert choice.containerd_root
    return ContainerdSource(
        choice.containerd_root, choice.namespace or DEFAULT_NAMESPACE, show_values=choice.show_values
    )


def open_path(path: str | Path, *, show_values: bool = False) -> Source:
    """A file or folder the user named, its kind told by its content.

    A JSON file is a saved report (``layershare.report/v1``) or a recording; anything else is an
    image archive (a ``docker save`` file, plain or compressed, or an OCI layout folder).
    Raises :class:`layershare.errors.SnapshotError` for JSON of another kind.
    """
    import json

    where = Path(path)
    if where.is_file():
        try:
            with where.open("rb") as f:
                head = f.read(64).lstrip()
        except OSError as e:
            raise SnapshotError(f"cannot read {where}: {e.strerror or e}") from e
        if head.startswith(b"{"):
            from layershare.sources.answers import RECORDING_SCHEMA
            from layershare.sources.recording.report import REPORT_SCHEMA, ReportFileSource

            try:
                document = json.loads(where.read_bytes())
            except (OSError, ValueError) as e:
                raise SnapshotError(f"{where} is not valid JSON: {e}") from e
            schema = document.get("schema") if isinstance(document, dict) else None
            if schema == REPORT_SCHEMA:
                return ReportFileSource(where, document)
            if schema == RECORDING_SCHEMA:
                from layershare.sources.recording import RecordingSource

                return RecordingSource(where)
            raise SnapshotError(
                f"{where} is JSON but neither a layershare report ({REPORT_SCHEMA}) nor a recording "
                f"(schema {schema!r})"
            )
    from layershare.sources.archive import ArchiveSource

    return ArchiveSource([where], show_values=show_values)


def open_saved(path: str | Path, *, show_values: bool = False) -> Source | SavedDisk:
    """Like :func:`open_path`, and a saved ``layershare disk --format json`` read back as a :class:`SavedDisk`."""
    import json

    from layershare.sources.recording.disk_file import is_disk_document, saved_disk

    where = Path(path)
    if where.is_file():
        try:
            with where.open("rb") as f:
                json_like = f.read(64).lstrip().startswith(b"{")
            document = json.loads(where.read_bytes()) if json_like else None
        except (OSError, ValueError):
            document = None  # open_path says what is wrong with it
        if is_disk_document(document):
            assert isinstance(document, dict)
            return saved_disk(where, document)
    return open_path(where, show_values=show_values)
