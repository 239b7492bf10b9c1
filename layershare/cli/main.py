"""The command group and the commands that read images: report, history, tree, check, disk, free,
record (with :mod:`layershare.cli.over_time` and :mod:`layershare.cli.fleet` added to the group)."""

from __future__ import annotations

from typing import cast

import click

from layershare.cli.browse import browse
from layershare.cli.check import check
from layershare.cli.dupes import dupes
from layershare.cli.fleet import export, fleet
from layershare.cli.options import (
    emit,
    format_option,
    handle_errors,
    images_options,
    index_from,
    source_from,
    source_options,
    top_option,
)
from layershare.cli.over_time import diff, metrics, serve
from layershare.cli.plan import plan
from layershare.errors import ImageNotFound, UsageError
from layershare.formats import (
    BuildersFormat,
    DiskFormat,
    FreeFormat,
    OutputFormat,
    SortKey,
    TreeFormat,
    choices,
)
from layershare.sources.choice import SourceChoice
from layershare.version import __version__

REPORT_FORMAT_HELP = "Output format. json and csv give exact bytes."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="layershare")
def cli() -> None:
    """How much disk your Docker images really use: shared, unique and physical bytes."""


@cli.command()
@source_options
@format_option(OutputFormat, REPORT_FORMAT_HELP)
@images_options
@top_option(20, "Rows per table (tables only).")
@click.option(
    "--sort",
    type=click.Choice(choices(SortKey)),
    default="unique",
    show_default=True,
    help="Sort the images table.",
)
@click.option(
    "--disk",
    "with_disk",
    is_flag=True,
    help="With --format html: also the categories of 'layershare disk' (walks the data root).",
)
@click.option(
    "--dupes",
    "with_dupes",
    is_flag=True,
    help="With --format html: also the files stored more than once ('layershare dupes': reads every layer).",
)
@handle_errors
def report(
    source: SourceChoice,
    fmt: str,
    include_all: bool,
    top: int,
    sort: str,
    references: tuple[str, ...],
    with_disk: bool,
    with_dupes: bool,
) -> None:
    """Summary, images and most-shared layers: listed vs logical vs physical size. --format html writes
    one self-contained page (redirect it to a file) with a treemap and a what-if panel."""
    from layershare.cli.dupes import dupes_of
    from layershare.reporting import ReportOptions, report_page, report_text

    options = ReportOptions(
        fmt=OutputFormat(fmt),
        include_intermediate=include_all,
        top=top,
        sort=SortKey(sort),
        references=references,
    )
    if (with_disk or with_dupes) and options.fmt is not OutputFormat.HTML:
        raise UsageError(
            "--disk and --dupes go with --format html (alone: layershare disk, layershare dupes)"
        )
    sources = [source_from(choice) for choice in source.for_each_host()]
    if options.fmt is OutputFormat.HTML:
        dupes = [dupes_of(choice) for choice in source.for_each_host()] if with_dupes else None
        emit(report_page(sources, options, with_disk=with_disk, dupes=dupes))
        return
    emit(report_text(sources, options))


@cli.command()
@source_options
@format_option(OutputFormat, REPORT_FORMAT_HELP)
@click.argument("image")
@handle_errors
def history(source: SourceChoice, fmt: str, image: str) -> None:
    """One image's layers, oldest first, with size, chain ID and sharing."""
    from layershare.ids import short_id
    from layershare.render.report import render_history
    from layershare.report.analysis import find_image, image_history

    index = index_from(source)
    image_id = find_image(index, image)
    if image_id is None:
        raise ImageNotFound(f"no image {image!r} on {index.engine.host}")
    tags = cast(list[str], index.images.at[image_id, "tags"])
    title = f"{', '.join(tags) or '<none>'} ({short_id(image_id)})"
    emit(render_history(image_history(index, image_id), title, image_id, OutputFormat(fmt)))


@cli.command()
@source_options
@format_option(
    TreeFormat, "Output format: an indented text tree, layershare.tree/v1 JSON, Graphviz dot, Mermaid."
)
@images_options
@handle_errors
def tree(source: SourceChoice, fmt: str, include_all: bool, references: tuple[str, ...]) -> None:
    """The sharing tree: every image under the images it shares layers with, with the bytes its own
    layers add and the physical bytes of everything built on it."""
    from layershare.render.tree import render_tree
    from layershare.report.analysis import build_report
    from layershare.report.tree import sharing_tree

    if len(source.for_each_host()) > 1:
        raise UsageError("tree reads one engine: give --host once")
    report = build_report(index_from(source), include_intermediate=include_all, references=references)
    emit(render_tree(sharing_tree(report), TreeFormat(fmt)))


@cli.command()
@source_options
@format_option(DiskFormat, "Output format. json and csv give exact bytes.")
@click.option(
    "--data-root",
    metavar="DIR",
    help="The engine's data root as seen from here (default: what the engine says, DockerRootDir). "
    "It must hold this engine's layers, or it is refused.",
)
@top_option(10, "Rows per item table (tables only).")
@handle_errors
def disk(source: SourceChoice, fmt: str, data_root: str | None, top: int) -> None:
    """Where every byte under the engine's data root went: images, containers, logs, volumes,
    build cache, metadata and orphans, and what a prune would reclaim."""
    from layershare.disk.categories import disk_report
    from layershare.render.disk import render_disk
    from layershare.sources.choice import open_disk

    reports = [disk_report(reader.snapshot()) for reader in open_disk(source, data_root=data_root)]
    emit(render_disk(reports, DiskFormat(fmt), top=top))


@cli.command()
@source_options
@format_option(BuildersFormat, "Output format. json gives exact bytes (layershare.builders/v1).")
@click.argument("names", nargs=-1, metavar="[BUILDER]...")
@top_option(10, "Largest records shown per builder (tables only).")
@handle_errors
def builders(source: SourceChoice, fmt: str, names: tuple[str, ...], top: int) -> None:
    """The buildx builders on the engine (docker-container driver): their cache records as BuildKit
    counts them, their state volumes, their GC policy and what their GC will delete first."""
    from layershare.render.builders import render_builders
    from layershare.sources.choice import open_engine
    from layershare.sources.engine.builders import read_builders

    if len(source.for_each_host()) > 1:
        raise UsageError("builders reads one engine: give --host once")
    with open_engine(source) as engine:
        info, found = read_builders(engine, names)
    missing = sorted(set(names) - {b.name for b in found})
    if missing:
        raise UsageError(f"no buildx builder named {', '.join(missing)} on {info.host}")
    emit(render_builders(info, found, BuildersFormat(fmt), top=top))


@cli.command()
@source_options
@format_option(FreeFormat, "Output format. json gives exact bytes (layershare.free/v1).")
@click.argument("images", nargs=-1, metavar="[IMAGE|GLOB]...")
@click.option("--dangling", is_flag=True, help="Select untagged images (as docker images -f dangling=true).")
@click.option("--unused", is_flag=True, help="Select images no container uses.")
@click.option(
    "--older-than", metavar="DURATION", help="Select images created before now minus DURATION (30d, 12h)."
)
@click.option(
    "--keep-last",
    metavar="N",
    type=click.IntRange(min=0),
    help="Per repository, keep the images of the N newest creation times and select the older ones.",
)
@click.option(
    "--label", "labels", multiple=True, metavar="KEY[=VALUE]", help="Select images with this label."
)
@click.option(
    "--with-containers",
    is_flag=True,
    help="Also remove the containers that use the selected images (docker rm, then docker image rm).",
)
@click.option(
    "--like",
    "likes",
    multiple=True,
    metavar="'docker … prune …'",
    help="Reproduce a prune command exactly as docker would run it here (repeatable).",
)
@click.option(
    "--container",
    "containers",
    multiple=True,
    metavar="NAME|ID",
    help="Also remove this stopped container, before the images (repeatable; a running one is kept).",
)
@click.option(
    "--volume",
    "volumes",
    multiple=True,
    metavar="NAME",
    help="Also remove this volume, unless a container that stays mounts it (repeatable).",
)
@click.option(
    "--build-record",
    "build_records",
    multiple=True,
    metavar="ID",
    help="Also remove this build-cache record, unless it is in use or a record that stays stands on it "
    "(repeatable; IDs as docker system df -v lists them).",
)
@click.option("--data-root", metavar="DIR", help="The engine's data root as seen from here.")
@click.option(
    "--api-version",
    metavar="VERSION",
    help="The API version your docker CLI speaks (default: DOCKER_API_VERSION, else negotiated); "
    "it decides which volumes a volume prune takes.",
)
@handle_errors
def free(
    source: SourceChoice,
    fmt: str,
    images: tuple[str, ...],
    dangling: bool,
    unused: bool,
    older_than: str | None,
    keep_last: int | None,
    labels: tuple[str, ...],
    with_containers: bool,
    likes: tuple[str, ...],
    containers: tuple[str, ...],
    volumes: tuple[str, ...],
    build_records: tuple[str, ...],
    data_root: str | None,
    api_version: str | None,
) -> None:
    """What removing images (or running a prune) would free, exactly, before you do it. Never removes
    anything: prints what would go, what blocks it, and the docker commands that would do it."""
    from layershare.free.prune import LabelFilter, parse_duration, parse_prune
    from layershare.free.selection import Selection
    from layershare.free.space import free_space
    from layershare.render.free import render_free
    from layershare.sources.choice import open_engine

    selection = Selection(
        references=images,
        dangling=dangling,
        unused=unused,
        older_than=parse_duration(older_than) if older_than is not None else None,
        keep_last=keep_last,
        labels=tuple(LabelFilter.parse(label) for label in labels),
        with_containers=with_containers,
        prunes=tuple(parse_prune(text) for text in likes),
        containers=containers,
        volumes=volumes,
        build_records=build_records,
    )
    if len(source.for_each_host()) > 1:
        raise UsageError("free reads one engine: give --host once")
    with open_engine(source) as engine:
        result = free_space(engine, selection, data_root=data_root, api_version=api_version)
    emit(render_free(result, FreeFormat(fmt)))


@cli.command()
@click.option(
    "--host",
    "-H",
    metavar="URL",
    help="Docker host URL (default: DOCKER_HOST or the local socket).",
)
@click.option("--show-values", is_flag=True, help="Keep ENV/LABEL/ARG values (masked by default).")
@click.argument("output", type=click.Path(dir_okay=False, writable=True))
@handle_errors
def record(host: str | None, show_values: bool, output: str) -> None:
    """Save the engine's answers to a file that --recording reads back (for bug reports and tests)."""
    from layershare.sources.engine import EngineSource
    from layershare.sources.recording import save_recording

    save_recording(EngineSource(host, show_values=show_values).record(), output)
    click.echo(f"recorded to {output}", err=True)


for _command in (diff, metrics, serve, export, fleet, browse, plan, dupes, check):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``layershare`` command."""
    cli(prog_name="layershare")
