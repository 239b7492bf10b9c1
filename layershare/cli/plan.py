"""``layershare plan``: the removals that reach a disk target, least recently used first (removed only
with ``--apply``); exit 8 when the target is out of reach, so that a cron job notices."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import click

from layershare.cli.options import ExitCode, F, emit, fail, format_option, handle_errors, source_options
from layershare.errors import UsageError
from layershare.formats import FreeFormat
from layershare.sources.choice import SourceChoice

if TYPE_CHECKING:
    from layershare.free.target import Planning, Rules, Target


def planning_options(func: F) -> F:
    """The target (one of --free, --images-under, --disk-free) and the protections, as one ``planning``
    argument (None where no target is given: ``plan`` requires one, ``browse`` opens unmarked)."""

    @click.option(
        "--free",
        "free_size",
        metavar="SIZE",
        help="Target: the engine's accounting drops by at least SIZE (20GB, 1.5GiB, bytes).",
    )
    @click.option(
        "--images-under", metavar="SIZE", help="Target: the images' LayersSize is at most SIZE afterwards."
    )
    @click.option(
        "--disk-free",
        metavar="SIZE|PCT%",
        help="Target: at least SIZE (or PCT% of it) free on the data root's file system afterwards "
        "(needs the data root).",
    )
    @click.option(
        "--keep",
        "keeps",
        multiple=True,
        metavar="GLOB",
        help="Never remove an image with a tag matching GLOB (repeatable).",
    )
    @click.option(
        "--keep-label",
        "keep_labels",
        multiple=True,
        metavar="KEY[=VALUE]",
        help="Never remove an image with this label (repeatable).",
    )
    @click.option(
        "--keep-last",
        metavar="N",
        type=click.IntRange(min=0),
        help="Per repository, never remove the N most recently tagged images.",
    )
    @click.option(
        "--min-age",
        metavar="DURATION",
        default="1h",
        show_default=True,
        help="Never remove an image created, tagged or used more recently (0 turns it off).",
    )
    @click.option(
        "--with-containers",
        is_flag=True,
        help="Images only stopped containers use may go too, their containers first (never a running one).",
    )
    @click.option(
        "--build-cache",
        is_flag=True,
        help="BuildKit's cache records may go too (never one in use), in BuildKit's own gc order, each "
        "where its last use falls among the images.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from layershare.free.prune import LabelFilter, parse_duration
        from layershare.free.target import Planning, Rules, parse_target

        given = [kwargs.pop(k) for k in ("free_size", "images_under", "disk_free")]
        keeps, labels, last = kwargs.pop("keeps"), kwargs.pop("keep_labels"), kwargs.pop("keep_last")
        min_age, with_containers = kwargs.pop("min_age"), kwargs.pop("with_containers")
        build_cache = kwargs.pop("build_cache")
        planning = None
        if any(given):
            try:
                target = parse_target(*given)
                rules = Rules(
                    keep=keeps,
                    keep_labels=tuple(LabelFilter.parse(label) for label in labels),
                    keep_last=last,
                    min_age=0.0 if min_age.strip() == "0" else parse_duration(min_age),
                    with_containers=with_containers,
                    build_cache=build_cache,
                )
            except UsageError as e:
                fail(str(e), ExitCode.USAGE)
            options = [target.kind, target.text, keeps, labels, last, min_age, with_containers, build_cache]
            planning = Planning(target, rules, options)
        return func(*args, planning=planning, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.command()
@source_options
@format_option(FreeFormat, "Output format. json gives exact bytes (layershare.plan/v1).")
@planning_options
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Carry the plan out through the engine's API (by tag, children first, nothing forced), unless the "
    "engine changed since it was read (exit 9); prints what was predicted against what went.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="With --apply: keep the target (--images-under or --disk-free), planning when the engine's events "
    "say something changed and every --interval; acts only when the target is missed. SIGTERM stops it.",
)
@click.option(
    "--interval",
    metavar="DURATION",
    default="5m",
    show_default=True,
    help="--watch: plan at least this often.",
)
@click.option(
    "--margin",
    metavar="PCT%",
    default="5%",
    show_default=True,
    help="--watch: once the target is missed, free this much of it beyond it.",
)
@click.option("--data-root", metavar="DIR", help="The engine's data root as seen from here.")
@click.option(
    "--api-version", metavar="VERSION", help="The API version your docker CLI speaks (as for free)."
)
@click.pass_context
@handle_errors
def plan(
    ctx: click.Context,
    source: SourceChoice,
    fmt: str,
    planning: Planning | None,
    apply_: bool,
    watch: bool,
    interval: str,
    margin: str,
    data_root: str | None,
    api_version: str | None,
) -> None:
    """Choose the removals that reach a target, hurting least: the least recently used images first,
    each figure exact (free's union), no image more than the target needs. Prints the images, what each
    frees, the total and the docker commands, in order; removes them only with --apply."""
    from layershare.free.served import Served, ServedPlans
    from layershare.sources.choice import open_engine

    if planning is None:
        raise UsageError("give one target: --free SIZE, --images-under SIZE or --disk-free SIZE|PCT%")
    target, rules = planning.target, planning.rules
    if len(source.for_each_host()) > 1:
        raise UsageError("plan reads one engine: give --host once")
    if watch:
        _keep(source, target, rules, apply_, interval, margin, data_root, api_version)
        return
    options: list[object] = [fmt, *planning.options, data_root, api_version]
    with open_engine(source) as engine:
        # A plan made on the same state with the same options is served again (never with --apply, nor
        # for --disk-free, whose free bytes move all the time).
        served = None if apply_ or target.kind == "disk_free" else ServedPlans(engine, options, data_root)
        key = served.key() if served is not None else None
        found = served.get(key) if served is not None else None
        if found is None:
            from layershare.free.space import apply_plan, plan_space
            from layershare.render.plan import render_plan

            planned = plan_space(engine, target, rules, data_root=data_root, api_version=api_version)
            if apply_ and planned.result.commands:
                planned = apply_plan(engine, planned, data_root=data_root, api_version=api_version)
            warnings = tuple(f"--keep {g} matches no image here" for g in planned.choice.unmatched_keeps)
            found = Served(render_plan(planned, FreeFormat(fmt)), planned.choice.reached, warnings)
            if served is not None:
                served.put(key, found, planned.result.collected_at, planned.holds_until)
    emit(found.text)
    for warning in found.warnings:  # perhaps a typo: on stderr too, not only in the plan's notes
        click.echo(f"layershare: warning: {warning}", err=True)
    reached = found.reached
    if not reached:
        ctx.exit(ExitCode.TARGET_NOT_REACHED)


def _keep(
    source: SourceChoice,
    target: Target,
    rules: Rules,
    apply_: bool,
    interval: str,
    margin: str,
    data_root: str | None,
    api_version: str | None,
) -> None:
    """``--watch``: the keeper, until SIGTERM or SIGINT; one line per action on stdout."""
    import signal
    import sys
    import threading

    from layershare.errors import ConfigError
    from layershare.free.keeper import keep
    from layershare.free.prune import parse_duration
    from layershare.policy.thresholds import parse_ratio
    from layershare.sources.choice import open_engine

    if not apply_:
        raise UsageError("--watch acts: give --apply with it (plan alone never removes)")
    try:
        share = parse_ratio(margin, most=None)
    except ConfigError as e:
        raise UsageError(f"--margin: {e}") from e
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())

    def log(line: str) -> None:
        emit(line + "\n")
        sys.stdout.flush()

    keep(
        lambda: open_engine(source),
        target,
        rules,
        margin=share,
        interval=parse_duration(interval),
        stop=stop,
        log=log,
        data_root=data_root,
        api_version=api_version,
    )
