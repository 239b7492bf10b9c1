"""Check results for people and for CI: table, Markdown, JSON, JUnit XML and GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from xml.etree import ElementTree

from layershare.formats import CheckFormat
from layershare.ids import short_id
from layershare.policy.gate import CheckReport
from layershare.policy.rules import ImageFacts, Result, Status
from layershare.policy.waste import Waste
from layershare.render.naming import shorten
from layershare.units import human_size

CHECK_SCHEMA = "layershare.check/v1"
_ORDER = {Status.FAIL: 0, Status.WARN: 1, Status.SKIP: 2, Status.PASS: 3}


def _verdict(report: CheckReport) -> str:
    counts = ", ".join(
        f"{report.count(s)} {word}"
        for s, word in (
            (Status.FAIL, "failed"),
            (Status.WARN, "warned"),
            (Status.PASS, "passed"),
            (Status.SKIP, "skipped"),
        )
    )
    return f"{'PASSED' if report.passed else 'FAILED'}: {len(report.facts)} images, {counts} (policy: {report.policy.source})"


def _worst(results: Sequence[Result]) -> Status:
    """FAIL, else WARN, else PASS; SKIP only when no rule could judge the image."""
    judged = [r.status for r in results if r.status is not Status.SKIP]
    if not judged:
        return Status.SKIP if results else Status.PASS
    return min(judged, key=_ORDER.__getitem__)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _size(value: int | None) -> str:
    return "-" if value is None else human_size(value)


def _image_rows(report: CheckReport) -> list[list[str]]:
    by_image: dict[str, list[Result]] = {}
    for r in report.results:
        by_image.setdefault(r.image_id, []).append(r)
    rows = []
    facts = sorted(report.facts, key=lambda f: (_ORDER[_worst(by_image.get(f.image_id, []))], f.reference))
    for f in facts:
        waste = report.waste.get(f.image_id)
        rows.append(
            [
                _worst(by_image.get(f.image_id, [])).value.upper(),
                shorten(f.reference, 40),
                human_size(f.size_bytes),
                shorten(f.base_reference or "unknown", 30),
                _size(f.base_bytes),
                _ratio(f.base_share),
                _size(waste.wasted_bytes) if waste else "-",
                _ratio(waste.efficiency) if waste else "-",
            ]
        )
    return rows


def render_check_text(report: CheckReport, *, markdown: bool) -> str:
    """Verdict, one row per image, the failures and warnings, drift and the largest wasted files."""
    from layershare.render.safe import tabulate

    heading = "## " if markdown else ""
    fmt = "github" if markdown else "simple"
    parts = [f"{heading}layershare check {_verdict(report)}"]
    headers = ["STATUS", "IMAGE", "SIZE", "BASE", "BASE SIZE", "BASE SHARE", "WASTED", "EFFICIENCY"]
    parts.append(tabulate(_image_rows(report), headers=headers, tablefmt=fmt, disable_numparse=True))
    problems = sorted(
        (r for r in report.results if r.status in (Status.FAIL, Status.WARN)),
        key=lambda r: (_ORDER[r.status], r.image, r.rule),
    )
    if problems:
        rows = [[r.status.value.upper(), r.image, r.rule, r.message] for r in problems]
        parts.append(
            f"{heading}Problems\n" + tabulate(rows, headers=["", "IMAGE", "RULE", "WHY"], tablefmt=fmt)
        )
    wasted = [(f, report.waste[f.image_id]) for f in report.facts if f.image_id in report.waste]
    wasted = [(f, w) for f, w in wasted if w.top]
    if wasted:
        rows = []
        for f, w in sorted(wasted, key=lambda fw: -fw[1].wasted_bytes)[:10]:
            for item in w.top[:5]:
                whose = "base" if item.removed_by < w.base_layers else "own"
                rows.append(
                    [
                        shorten(f.reference, 30),
                        "/" + shorten(item.path, 50),
                        human_size(item.size_bytes),
                        f"{item.how} by layer {item.removed_by} ({whose})",
                        shorten(report.instructions.get(f.image_id, {}).get(item.written_by, ""), 40),
                    ]
                )
        parts.append(
            f"{heading}Largest wasted files\n"
            + tabulate(rows, headers=["IMAGE", "PATH", "SIZE", "REMOVED", "WRITTEN BY"], tablefmt=fmt)
        )
    if report.baselines:
        parts.append(_growth_text(report, heading, fmt))
    if report.notes:
        parts.append(f"{heading}Notes\n" + "\n".join(f"- {n}" for n in report.notes))
    return "\n\n".join(parts) + "\n"


def _growth_text(report: CheckReport, heading: str, fmt: str) -> str:
    """Each checked image against its baseline: the headline and the layers only in each."""
    from layershare.render.diff import headline, signed_size
    from layershare.render.safe import tabulate

    lines = [f"{heading}Growth over the baseline"]
    for diff in report.baselines.values():
        rows = [
            [sign, str(layer.position), shorten(layer.created_by or "-", 60), signed_size(bytes_)]
            for sign, layers, factor in (("+", diff.added_layers, 1), ("-", diff.removed_layers, -1))
            for layer in layers[:10]
            for bytes_ in [factor * layer.size_bytes]
        ]
        text = headline(diff, markdown=fmt == "github")
        if rows:
            text += "\n\n" + tabulate(
                rows, headers=["", "LAYER", "INSTRUCTION", "BYTES"], tablefmt=fmt, disable_numparse=True
            )
        lines.append(text)
    return "\n\n".join(lines)


def _waste_json(waste: Waste | None, instructions: dict[int, str]) -> dict[str, Any] | None:
    if waste is None:
        return None
    return {
        "content_bytes": waste.content_bytes,
        "base_layers": waste.base_layers,
        "wasted_bytes": waste.wasted_bytes,
        "base_wasted_bytes": waste.base_wasted_bytes,
        "wasted_files": waste.wasted_files,
        "wasted_ratio": waste.wasted_ratio,
        "efficiency": waste.efficiency,
        "top": [
            {
                "path": "/" + w.path,
                "size_bytes": w.size_bytes,
                "how": w.how,
                "written_by_layer": w.written_by,
                "written_by": instructions.get(w.written_by, ""),
                "removed_by_layer": w.removed_by,
                "removed_by": instructions.get(w.removed_by, ""),
                "in_base": w.removed_by < waste.base_layers,
            }
            for w in waste.top
        ],
    }


def _image_json(report: CheckReport, f: ImageFacts) -> dict[str, Any]:
    return {
        "image": f.reference,
        "id": f.image_id,
        "tags": list(f.tags),
        "size_bytes": f.size_bytes,
        "layers": f.layers,
        "unique_bytes": f.unique_bytes,
        "base": {
            "reference": f.base_reference,
            "size_bytes": f.base_bytes,
            "share": f.base_share,
            "repository": f.base_repository,
            "versions_on_host": f.drift_versions,
            "reason": f.base_reason or None,
        },
        "waste": _waste_json(report.waste.get(f.image_id), report.instructions.get(f.image_id, {})),
        "waste_reason": None if f.image_id in report.waste else f.waste_reason,
        "baseline": _baseline_json(report, f),
        "baseline_reason": None if f.image_id in report.baselines else f.growth_reason,
    }


def _baseline_json(report: CheckReport, f: ImageFacts) -> dict[str, Any] | None:
    diff = report.baselines.get(f.image_id)
    if diff is None:
        return None
    from layershare.render.diff import diff_document

    document = diff_document(diff)
    return {
        "reference": diff.old.name,
        "id": diff.old.image_id,
        "source": diff.old.label,
        "size_bytes": diff.old.size_bytes,
        "growth_bytes": diff.size_change_bytes,
        "growth_ratio": diff.size_change_ratio,
        "common_layers": diff.common_layers,
        "added_layers": document["added_layers"],
        "removed_layers": document["removed_layers"],
    }


def render_check_json(report: CheckReport) -> str:
    """The stable ``layershare.check/v1`` document."""
    doc = {
        "schema": CHECK_SCHEMA,
        "passed": report.passed,
        "engine": {"host": report.engine.host, "version": report.engine.version},
        "policy": report.policy.source,
        "summary": {s.value: report.count(s) for s in Status},
        "results": [
            {
                "image": r.image,
                "image_id": r.image_id,
                "rule": r.rule,
                "status": r.status.value,
                "value": r.value,
                "threshold": r.threshold,
                "message": r.message,
            }
            for r in report.results
        ],
        "images": [_image_json(report, f) for f in report.facts],
        "drift": [
            {
                "repository": d.repository,
                "versions": list(d.versions),
                "images": list(d.images),
                "target": d.target,
                "freed_bytes": d.freed_bytes,
                "freed_exact": d.freed_exact,
                "note": d.note or None,
            }
            for d in report.drift
        ],
        "notes": list(report.notes),
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def render_check_junit(report: CheckReport) -> str:
    """JUnit XML: a test suite per image, a test case per rule; warnings pass with a note."""
    suites = ElementTree.Element("testsuites", name="layershare check")
    by_image: dict[str, list[Result]] = {}
    for r in report.results:
        by_image.setdefault(r.image_id, []).append(r)
    for f in report.facts:
        results = by_image.get(f.image_id, [])
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=f.reference,
            id=short_id(f.image_id),
            tests=str(len(results)),
            failures=str(sum(r.status is Status.FAIL for r in results)),
            skipped=str(sum(r.status is Status.SKIP for r in results)),
            errors="0",
        )
        for r in results:
            case = ElementTree.SubElement(suite, "testcase", name=r.rule, classname=f.reference)
            if r.status is Status.FAIL:
                ElementTree.SubElement(case, "failure", message=r.message, type=r.rule).text = r.message
            elif r.status is Status.SKIP:
                ElementTree.SubElement(case, "skipped", message=r.message)
            elif r.status is Status.WARN:
                ElementTree.SubElement(case, "system-out").text = f"warning: {r.message}"
    ElementTree.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_check_github(report: CheckReport) -> str:
    """GitHub Actions workflow commands: one ``::error``/``::warning`` per failed or warned rule."""
    lines = []
    for r in report.results:
        if r.status in (Status.FAIL, Status.WARN):
            level = "error" if r.status is Status.FAIL else "warning"
            title = _escape_property(f"layershare {r.rule}: {r.image}")
            lines.append(f"::{level} title={title}::{_escape_data(f'{r.image}: {r.message}')}")
    lines.append(f"layershare check {_verdict(report)}")
    return "\n".join(lines) + "\n"


def render_check_markdown(report: CheckReport) -> str:
    """The Markdown report (GitHub step summary, GitLab or PR comments)."""
    return render_check_text(report, markdown=True)


CHECK_RENDERERS: dict[CheckFormat, Callable[[CheckReport], str]] = {
    CheckFormat.TABLE: lambda report: render_check_text(report, markdown=False),
    CheckFormat.MARKDOWN: render_check_markdown,
    CheckFormat.JSON: render_check_json,
    CheckFormat.JUNIT: render_check_junit,
    CheckFormat.GITHUB: render_check_github,
}


def render_check(report: CheckReport, fmt: CheckFormat) -> str:
    """Render a check report; for ``github`` see also :func:`render_check_markdown` (step summary)."""
    return CHECK_RENDERERS[fmt](report)


__all__ = [
    "CHECK_RENDERERS",
    "CHECK_SCHEMA",
    "CheckFormat",
    "render_check",
    "render_check_junit",
    "render_check_markdown",
]
