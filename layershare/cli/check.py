"""``layershare check``: gate images in CI against a policy (bases, drift, waste, growth, duplicates)."""

from __future__ import annotations

import sys
from typing import Any

import click

from layershare.cli.options import (
    ExitCode,
    emit,
    format_option,
    handle_errors,
    progress_bar,
    source_from,
    source_options,
)
from layershare.errors import UsageError
from layershare.formats import CheckFormat
from layershare.model import DupesInput
from layershare.sources.choice import SourceChoice


@click.command()
@source_options
@format_option(
    CheckFormat,
    "Output format: junit for CI test reports, github for annotations (plus $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Policy file (pyproject.toml or .layershare.toml). Default: the nearest one at or above the "
    "working directory.",
)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a rule's fail level, or 'off' (repeatable), e.g. --rule max-base-size=500MB.",
)
@click.option(
    "--warn",
    "warns",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a rule's warn level (repeatable), e.g. --warn max-image-size=1GB.",
)
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the results as JUnit XML to this file (for CI test reports).",
)
@click.option(
    "--no-content",
    is_flag=True,
    help="Do not stream image contents: the wasted-bytes rules skip.",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="[IMAGE=]REF_OR_FILE",
    help="Compare with a baseline for max-growth and max-growth-percent: an image on the engine (e.g. "
    "main's build, pulled or loaded first), or a saved report/recording/archive (the image of the same "
    "repository). IMAGE= pairs it with one checked image (repeatable).",
)
@click.argument("images", nargs=-1, metavar="[IMAGE]...")
@handle_errors
def check(
    source: SourceChoice,
    fmt: str,
    config: str | None,
    rules: tuple[str, ...],
    warns: tuple[str, ...],
    junit_xml: str | None,
    no_content: bool,
    baselines: tuple[str, ...],
    images: tuple[str, ...],
) -> None:
    """Gate images in CI: bases, base drift, wasted bytes and growth over a baseline, against a policy.

    With no IMAGE, every image on the engine is checked. Exit 0 when every
    rule passes (warnings allowed), 1 when one fails, 2 on a usage or policy error.
    """
    import os

    from layershare.diff.sides import Sides, baseline_diffs
    from layershare.policy.config import load_policy
    from layershare.policy.gate import run_check, select_for_check
    from layershare.render.check import render_check, render_check_junit, render_check_markdown
    from layershare.sources.interface import ContentSource

    policy = load_policy(config, rules=rules, warns=warns)
    sides = Sides(source, source_from)
    reader, index = sides.engine()
    image_ids = select_for_check(index, images)
    diffs, reasons = baseline_diffs(sides, image_ids, baselines) if baselines else ({}, {})
    read_content = None
    if isinstance(reader, ContentSource) and not no_content:
        read_content = reader.image_content
    progress = progress_bar("reading image contents", source.quiet)
    dupes = _dupes(source, policy, no_content)
    result = run_check(
        index,
        policy,
        image_ids,
        read_content=read_content,
        progress=progress,
        baselines=diffs,
        baseline_reasons=reasons,
        dupes=dupes,
    )
    output_format = CheckFormat(fmt)
    emit(render_check(result, output_format))
    if junit_xml:
        _write(junit_xml, render_check_junit(result), "w")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if output_format is CheckFormat.GITHUB and summary:
        _write(summary, render_check_markdown(result), "a")
    if not result.passed:
        sys.exit(int(ExitCode.CHECK_FAILED))


def _write(path: str, text: str, mode: str) -> None:
    """Write a file the user named (a JUnit report, the step summary); one line if it cannot be."""
    try:
        with open(path, mode, encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from e


def _dupes(source: SourceChoice, policy: Any, no_content: bool) -> DupesInput | str | None:
    """Every stored layer's files, where a duplicate rule is on (else None); why not, where unread."""
    from layershare.errors import LayershareError
    from layershare.policy.rules import DUPES_RULES
    from layershare.sources.dupes.collect import collect

    if not any(r.key in DUPES_RULES for r in policy.enabled):
        return None
    if no_content:
        return "layer files were not read (--no-content)"
    try:
        return collect(source, progress=progress_bar("hashing files", source.quiet))
    except LayershareError as e:
        return f"layer files could not be read: {e}"
