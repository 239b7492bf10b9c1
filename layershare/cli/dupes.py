"""``layershare dupes``: files stored more than once across stored layers, and the base that would share them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from layershare.cli.options import (
    emit,
    format_option,
    handle_errors,
    progress_bar,
    source_options,
    top_option,
)
from layershare.formats import DupesFormat
from layershare.sources.choice import SourceChoice

if TYPE_CHECKING:
    from layershare.dupes.analysis import DupesReport


@click.command()
@source_options
@format_option(DupesFormat, "Output format. json and csv give exact bytes (layershare.dupes/v1).")
@top_option(20, "Contents and suggestions shown (tables only).")
@click.argument("images", nargs=-1, metavar="[IMAGE|GLOB]...")
@handle_errors
def dupes(source: SourceChoice, fmt: str, top: int, images: tuple[str, ...]) -> None:
    """Files stored more than once across the stored layers of IMAGES (every image by default): what a
    content-addressed store would save, what shared layers would save, and which base would hold them.
    Reads each stored layer's files: the layer store's folders as root, else the engine's export."""
    from layershare.reporting import dupes_text

    emit(dupes_text(source, images, DupesFormat(fmt), top, lambda: dupes_of(source, images)))


def dupes_of(source: SourceChoice, images: tuple[str, ...] = ()) -> DupesReport:
    """What ``dupes`` finds on one source (a line on stderr for each layer it could not read)."""
    from layershare.dupes.analysis import analyse, named
    from layershare.sources.dupes.collect import collect

    chosen = collect(source, lambda found: named(found, images), progress_bar("hashing files", source.quiet))
    report = analyse(chosen)
    for chain, why in report.unread:
        click.echo(f"layershare: layer {chain} was not read: {why}", err=True)
    return report
