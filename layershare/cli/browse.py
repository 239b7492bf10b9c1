"""``layershare browse``: the explorer on the controlling terminal; stdout carries only the plan."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from layershare.cli.options import emit, handle_errors, source_options
from layershare.cli.plan import planning_options
from layershare.errors import UsageError
from layershare.sources.choice import SourceChoice

if TYPE_CHECKING:
    from layershare.free.target import Planning

VIEW_CHOICES = ("disk", "images", "containers", "volumes", "cache", "layers", "dupes")


@contextlib.contextmanager
def on_the_terminal() -> Iterator[None]:
    """Draw on the controlling terminal whatever stdin, stdout and stderr are (``browse > plan.sh``);
    afterwards they are the user's again."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError as e:
        raise UsageError(f"browse needs a terminal to draw on (/dev/tty: {e.strerror})") from e
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    # The size is the terminal's own: COLUMNS and LINES, which the size lookup would take first, may be
    # stale (exported at another size, or by whatever started this process).
    sizes = {name: os.environ.pop(name) for name in ("COLUMNS", "LINES") if name in os.environ}
    try:
        for fd in (0, 1, 2):
            os.dup2(tty, fd)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((0, 1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(tty)
        os.environ.update(sizes)


@click.command()
@source_options
@click.argument("view", type=click.Choice(VIEW_CHOICES), default="disk", required=False)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="GLOB",
    help="Show only the items whose name matches (repeatable: any of them).",
)
@click.option(
    "--data-root",
    metavar="DIR",
    help="The engine's data root as seen from here (default: what the engine says, DockerRootDir).",
)
@click.option(
    "--allow-removal",
    is_flag=True,
    help="Let d remove what is marked, through the engine's API, after a confirmation with the exact bytes.",
)
@click.option(
    "--plan",
    "plan_marked",
    is_flag=True,
    help="Open with plan's choice marked (give its target and rules: --free, --images-under or "
    "--disk-free, --keep, --min-age...); change the marks and see the exact total.",
)
@planning_options
@handle_errors
def browse(
    source: SourceChoice,
    view: str,
    filters: tuple[str, ...],
    data_root: str | None,
    allow_removal: bool,
    plan_marked: bool,
    planning: Planning | None,
) -> None:
    """Explore the whole engine in the terminal: categories, items, an image's layers, a layer's largest
    files. Mark items with Space and see exactly what they free (free's figure, a union); q prints the
    docker commands that would remove them (browse > plan.sh). VIEW: disk (default), images, containers,
    volumes, cache or layers."""
    from layershare.browse.session import loaders

    if plan_marked and planning is None:
        raise UsageError("--plan needs a target: --free SIZE, --images-under SIZE or --disk-free SIZE|PCT%")
    if planning is not None and not plan_marked:
        raise UsageError("a target (--free, --images-under, --disk-free) goes with --plan")
    with on_the_terminal():
        reading = loaders(
            source, data_root, planning, view
        )  # the engine answers while the terminal UI is imported
        from layershare.browse.app import BrowseApp

        app = BrowseApp(reading, view=view, filters=filters, allow_removal=allow_removal)  # type: ignore[arg-type]
        app.run()
    if app.error is not None:
        raise app.error
    if app.plan:
        emit("\n".join(app.plan) + "\n")
