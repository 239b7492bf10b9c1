"""What every command shares: the source options, the source they name, errors as exit codes.

Part of the command line (with :mod:`layershare.cli`): the only modules that
write to stdout/stderr or exit.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum, IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from layershare.errors import (
    ArchiveError,
    ConfigError,
    ContainerdStoreError,
    DataRootError,
    EngineAPIError,
    EnginePermissionDenied,
    EngineUnreachable,
    ImageNotFound,
    LayershareError,
    SnapshotError,
    StateChanged,
    UsageError,
)
from layershare.formats import choices
from layershare.render.safe import terminal_text, visible
from layershare.sources.choice import SourceChoice, open_source
from layershare.sources.interface import Source

if TYPE_CHECKING:
    from layershare.report.index import LayerIndex

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(IntEnum):
    """Exit codes layershare documents (README, "Exit codes")."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    ENGINE_UNREACHABLE = 3
    PERMISSION_DENIED = 4
    ENGINE_ERROR = 5
    IMAGE_NOT_FOUND = 6
    BAD_INPUT = 7
    TARGET_NOT_REACHED = 8  # plan: the target is out of reach under the rules given
    STATE_CHANGED = 9  # plan --apply, browse: the engine changed since the plan was made; nothing removed
    INTERRUPTED = 130


_EXIT_FOR: list[tuple[type[LayershareError], ExitCode]] = [
    (EngineUnreachable, ExitCode.ENGINE_UNREACHABLE),
    (EnginePermissionDenied, ExitCode.PERMISSION_DENIED),
    (EngineAPIError, ExitCode.ENGINE_ERROR),
    (ImageNotFound, ExitCode.IMAGE_NOT_FOUND),
    (SnapshotError, ExitCode.BAD_INPUT),
    (ArchiveError, ExitCode.BAD_INPUT),
    (DataRootError, ExitCode.BAD_INPUT),
    (ContainerdStoreError, ExitCode.BAD_INPUT),
    (StateChanged, ExitCode.STATE_CHANGED),
    (ConfigError, ExitCode.USAGE),
    (UsageError, ExitCode.USAGE),
]


def exit_code_for(error: LayershareError) -> ExitCode:
    """The documented exit code for an error."""
    for kind, code in _EXIT_FOR:
        if isinstance(error, kind):
            return code
    return ExitCode.BAD_INPUT


def fail(message: str, code: ExitCode) -> NoReturn:
    for line in message.rstrip("\n").split("\n"):
        click.echo(f"layershare: error: {visible(line)}", err=True)
    sys.exit(int(code))


def emit(text: str) -> None:
    """Write a rendered output to stdout: no control character of the data reaches the terminal
    (:func:`~layershare.render.safe.terminal_text`)."""
    click.echo(terminal_text(text), nl=False)


def source_options(func: F) -> F:
    """Options every command that reads images shares: where from, how shown."""

    @click.option(
        "--host",
        "-H",
        "hosts",
        multiple=True,
        metavar="URL",
        help="Docker host URL (default: DOCKER_HOST, the docker context, or the local socket). "
        "'report' and 'disk' take it several times (one section per engine and their sums), 'metrics' and "
        "'serve' too (an engine label each).",
    )
    @click.option(
        "--context",
        "-c",
        metavar="NAME",
        help="Docker context to use (default: DOCKER_CONTEXT or the docker CLI's current context).",
    )
    @click.option(
        "--recording",
        type=click.Path(dir_okay=False),
        help="Read a recording written by 'layershare record' instead of an engine.",
    )
    @click.option(
        "--archive",
        "archives",
        multiple=True,
        type=click.Path(),
        metavar="PATH",
        help="Read image archives instead of an engine: docker save files (plain, gzip or zstd) or OCI "
        "layout folders (repeatable).",
    )
    @click.option(
        "--containerd-root",
        type=click.Path(file_okay=False, readable=False),  # layershare says what it cannot read
        metavar="DIR",
        help="Read containerd's own files instead of an engine, as root on a node: its root folder "
        "(/var/lib/containerd on most nodes).",
    )
    @click.option(
        "--namespace",
        metavar="NAME",
        help="With --containerd-root: the namespace to read (default k8s.io, the kubelet's; moby is "
        "Docker's), or 'all'.",
    )
    @click.option(
        "--show-values",
        is_flag=True,
        help="Show ENV/LABEL/ARG values in instructions (masked by default).",
    )
    @click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr.")
    @click.option(
        "--cache-dir",
        type=click.Path(file_okay=False),
        envvar="LAYERSHARE_CACHE_DIR",
        help="Where image answers are cached (default: $XDG_CACHE_HOME/layershare or ~/.cache/layershare; "
        "env LAYERSHARE_CACHE_DIR).",
    )
    @click.option(
        "--no-cache", is_flag=True, help="Ask the engine about every image; read and write no cache."
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        no_cache, cache_dir = kwargs.pop("no_cache"), kwargs.pop("cache_dir")
        try:
            kwargs["source"] = SourceChoice(
                hosts=tuple(kwargs.pop("hosts")),
                context=kwargs.pop("context"),
                recording=kwargs.pop("recording"),
                archives=tuple(kwargs.pop("archives")),
                containerd_root=kwargs.pop("containerd_root"),
                namespace=kwargs.pop("namespace"),
                show_values=kwargs.pop("show_values"),
                cache_dir=None if no_cache else _cache_dir(cache_dir),
                quiet=kwargs.pop("quiet"),
            )
        except UsageError as e:
            fail(str(e), ExitCode.USAGE)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _cache_dir(option: str | None) -> Path | None:
    from layershare.cache import chosen_cache_dir

    return chosen_cache_dir(option)


def format_option(formats: type[Enum], help_text: str) -> Callable[[F], F]:
    """The ``--format/-f`` option with the formats a command can write (every member of ``formats``)."""
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(choices(formats)),
        default="table",
        show_default=True,
        help=help_text,
    )


def images_options(func: F) -> F:
    """``--all`` and ``--filter``: which images a report or a tree covers (as ``build_report`` takes them)."""
    func = click.option(
        "--filter",
        "references",
        multiple=True,
        metavar="GLOB",
        help="Only images whose tag, digest or ID matches (repeatable).",
    )(func)
    return click.option(
        "--all",
        "-a",
        "include_all",
        is_flag=True,
        help="Also cover the classic builder's intermediate images.",
    )(func)


def top_option(default: int, help_text: str) -> Callable[[F], F]:
    """The ``--top/-n`` option: how many rows a table shows (json and csv always hold every row)."""
    return click.option(
        "--top", "-n", type=click.IntRange(min=1), default=default, show_default=True, help=help_text
    )


def source_from(choice: SourceChoice) -> Source:
    """The one source the options name, with a progress bar on a terminal."""
    return open_source(choice, progress=progress_bar("collecting images", choice.quiet))


def index_from(choice: SourceChoice) -> LayerIndex:
    """The index of the one source the options name."""
    from layershare.report.index import LayerIndex

    return LayerIndex.from_snapshot(source_from(choice).snapshot())


def progress_bar(label: str, quiet: bool) -> Callable[[int, int], None] | None:
    """A tqdm bar on stderr, only on a terminal and only once work lasts over a second."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="image", delay=1.0, leave=False, file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            bar = None

    return update


def handle_errors(func: F) -> F:
    """Turn layershare's typed errors into one stderr line and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LayershareError as e:
            fail(str(e), exit_code_for(e))
        except KeyboardInterrupt:
            fail("interrupted", ExitCode.INTERRUPTED)
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(int(ExitCode.OK))

    return wrapper  # type: ignore[return-value]
