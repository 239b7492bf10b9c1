"""Renderers: each output format maps to one renderer that returns text (never prints).

``report`` (reports, several engines, history: ``RENDERERS``), ``check``
(``CHECK_RENDERERS``), ``disk`` (``DISK_RENDERERS``). Modules load on first
use, so a command imports only the renderers (and pandas) it needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layershare.formats import OutputFormat
    from layershare.render.report import (
        RENDERERS,
        ReportRenderer,
        render_history,
        render_report,
        render_reports,
    )

_HOMES = {
    "RENDERERS": "layershare.render.report",
    "ReportRenderer": "layershare.render.report",
    "render_history": "layershare.render.report",
    "render_report": "layershare.render.report",
    "render_reports": "layershare.render.report",
    "OutputFormat": "layershare.formats",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'layershare.render' has no attribute {name!r}")
    return getattr(import_module(home), name)


__all__ = ["RENDERERS", "OutputFormat", "ReportRenderer", "render_history", "render_report", "render_reports"]
