"""The commands that follow engines over time: ``diff``, ``metrics`` and ``serve``.

Part of the command line (with :mod:`layershare.cli`, which adds these commands to its group,
and :mod:`layershare.cli.options`): the only modules that write to stdout/stderr or exit.
"""

from __future__ import annotations

from dataclasses import replace

import click

from layershare.cli.options import emit, format_option, handle_errors, source_from, source_options, top_option
from layershare.errors import UsageError
from layershare.formats import DiffFormat
from layershare.sources.choice import SourceChoice


@click.command()
@source_options
@format_option(
    DiffFormat, "Output format: markdown is ready to paste in a pull request; json is layershare.diff/v1."
)
@top_option(20, "Rows per table (tables only).")
@click.option(
    "--files",
    is_flag=True,
    help="Also compare the files the two images hold (streams both images' layers; engines and archives).",
)
@click.argument("old")
@click.argument("new")
@handle_errors
def diff(source: SourceChoice, fmt: str, top: int, files: bool, old: str, new: str) -> None:
    """What changed from OLD to NEW: two images, or two saved reports or recordings of a host.

    OLD and NEW are each an image reference on the engine, or a path: a saved
    'report --format json', a 'record' file, a docker save archive or an OCI layout
    (told by content). An image against a host is compared with the host's image of
    the same repository.
    """
    from layershare.diff.sides import Sides, compare
    from layershare.render.diff import render_diff

    sides = Sides(source, source_from)
    result = compare(sides.side(old), sides.side(new), files=files)
    emit(render_diff(result, DiffFormat(fmt), top=top))


@click.command()
@source_options
@top_option(100, "Per-image series for this many images (largest unique bytes first).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the metrics to this file atomically (node_exporter's textfile collector), not stdout.",
)
@click.option("--no-disk", is_flag=True, help="Leave out layershare_disk_bytes (no walk of the data root).")
@handle_errors
def metrics(source: SourceChoice, top: int, output: str | None, no_disk: bool) -> None:
    """Prometheus metrics of each engine (text format): physical, logical and listed bytes, per-image
    size, shared and unique bytes, the disk's categories, layershare_up."""
    from layershare.metrics.samples import collect_disk, collect_images, with_keeper
    from layershare.render.prometheus import render_metrics
    from layershare.sources.choice import open_engine

    samples = []
    for choice in source.for_each_host():
        sample = collect_images(open_engine(choice), top=top)
        if sample.up and not no_disk:
            categories, seconds, _why = collect_disk(open_engine(choice))
            sample = replace(sample, disk=categories, disk_seconds=seconds)
        samples.append(with_keeper(sample))
    text = render_metrics(samples)
    if output:
        _write_atomically(output, text)
    else:
        click.echo(text, nl=False)  # the exposition format escapes its own label values
    failures = [s.failure for s in samples if s.failure is not None]
    if failures:  # the metrics say layershare_up 0; the exit code says why
        raise failures[0]


def _write_atomically(path: str, text: str) -> None:
    """Write next to ``path`` and rename, so a reader never sees half a file."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=".layershare-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from e


@click.command()
@source_options
@click.option(
    "--listen",
    default="127.0.0.1:9473",
    show_default=True,
    metavar="ADDRESS:PORT",
    help="Where /metrics is served.",
)
@top_option(100, "Per-image series for this many images (largest unique bytes first).")
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds between reads of the images (nothing is re-read while the engine's state is unchanged).",
)
@click.option(
    "--disk-interval",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds between walks of the disk (logs and writable layers grow without changing the state).",
)
@click.option("--no-disk", is_flag=True, help="Leave out layershare_disk_bytes (no walk of the data root).")
@handle_errors
def serve(
    source: SourceChoice, listen: str, top: int, interval: float, disk_interval: float, no_disk: bool
) -> None:
    """Serve Prometheus metrics on /metrics, refreshed in the background (until stopped)."""
    import signal
    import threading

    from layershare.serve import Exporter
    from layershare.serve import serve as serve_metrics
    from layershare.sources.choice import open_engine

    choices_ = source.for_each_host()
    for choice in choices_:
        open_engine(choice)  # a recording or archives is refused here, before listening
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    exporter = Exporter(
        choices_,
        open_engine,
        top=top,
        interval=interval,
        disk_interval=None if no_disk else disk_interval,
    )
    click.echo(f"layershare: serving http://{listen}/metrics", err=True)
    try:
        serve_metrics(exporter, listen, stop)
    except KeyboardInterrupt:
        stop.set()
