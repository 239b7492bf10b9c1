"""The commands that look past one machine: ``export`` (one host's Parquet tables) and ``fleet``.

Part of the command line (with :mod:`layershare.cli`, which adds these commands to its group,
and :mod:`layershare.cli.options`): the only modules that write to stdout/stderr or exit.
"""

from __future__ import annotations

import click

from layershare.cli.options import emit, format_option, handle_errors, index_from, source_options, top_option
from layershare.errors import UsageError
from layershare.formats import FleetFormat
from layershare.sources.choice import SourceChoice


@click.command()
@source_options
@click.option(
    "--to",
    "folder",
    required=True,
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="The fleet's folder.",
)
@click.option(
    "--host-name", metavar="NAME", help="This host's name in the fleet (default: the machine's name)."
)
@handle_errors
def export(source: SourceChoice, folder: str, host_name: str | None) -> None:
    """Write this host's images and layers as Parquet tables into a fleet folder (for 'layershare fleet')."""
    import socket

    from layershare.fleet.export import write_export
    from layershare.report.analysis import build_report

    if len(source.for_each_host()) > 1:
        from layershare.errors import UsageError

        raise UsageError("export writes one host: give --host once (and --host-name for each)")
    report = build_report(index_from(source))
    result = write_export(report, folder, host_name or socket.gethostname())
    click.echo(
        f"exported {result.host}: {report.totals.images} images, {report.totals.layers} layers; "
        f"{result.images_written} image chain(s) new in {folder}, {result.images_present} already there",
        err=True,
    )


@click.command()
@format_option(FleetFormat, "Output format: json is layershare.fleet/v1 (every row).")
@top_option(20, "Rows per table (tables only).")
@click.option(
    "--memory-limit",
    default="4GB",
    show_default=True,
    metavar="SIZE",
    help="The engine's memory limit (Spark: the driver's, in local mode); beyond it, DuckDB spills to "
    "--spill-dir.",
)
@click.option(
    "--spill-dir",
    type=click.Path(file_okay=False),
    help="Where DuckDB spills, or Spark keeps its scratch files (default: a temporary folder).",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Who runs the questions: DuckDB, embedded, or Spark SQL (pip install 'layershare[spark]'; Java).",
)
@click.option(
    "--spark-master",
    metavar="URL",
    help="With --engine spark: the cluster to run on (spark://HOST:7077, yarn, ...; default: local, every core).",
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@handle_errors
def fleet(
    fmt: str,
    top: int,
    memory_limit: str,
    spill_dir: str | None,
    engine: str,
    spark_master: str | None,
    paths: tuple[str, ...],
) -> None:
    """Many hosts' exports together (DuckDB, or Spark): hosts, layers by hosts that store them, images on
    most hosts, what removing an image everywhere would free."""
    from layershare.render.fleet import render_fleet

    if spark_master and engine != "spark":
        raise UsageError("--spark-master goes with --engine spark")
    if engine == "spark":
        from layershare.fleet.spark import run_fleet_spark

        result = run_fleet_spark(paths, master=spark_master, memory_limit=memory_limit, spill=spill_dir)
    else:
        from layershare.fleet.query import run_fleet

        result = run_fleet(paths, memory_limit=memory_limit, spill=spill_dir)
    emit(render_fleet(result, FleetFormat(fmt), top=top))
