"""Renderers: each output format maps to one renderer that returns text (never prints).

``report`` (reports, several engines, history: ``RENDERERS``), ``check``
(``CHECK_RENDERERS``), ``disk`` (``DISK_RENDERERS``). Modules load on first
use, so a command imports only the renderers (and pandas) it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layershare.exports import lazy_names

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


__getattr__ = lazy_names("layershare.render", _HOMES)


__all__ = ["RENDERERS", "OutputFormat", "ReportRenderer", "render_history", "render_report", "render_reports"]
