"""Human-readable sizes, in the decimal units ``docker image ls`` uses."""

from __future__ import annotations

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(size_bytes: int | float) -> str:
    """``2084715`` -> ``"2.08MB"``: three significant digits, decimal units, like Docker."""
    size = float(size_bytes)
    sign = "-" if size < 0 else ""
    size = abs(size)
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    text = f"{size:.3g}"
    if "e" in text:  # 999.5 rounds up to 1e+03: show it in the next unit
        size /= 1000
        unit += 1
        text = f"{size:.3g}"
    return f"{sign}{text}{_UNITS[unit]}"
