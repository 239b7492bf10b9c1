"""Thresholds as people write them: ``500MB``, ``1.5GiB``, ``10%``, ``0.9``, ``3``, ``off``.

Sizes use Docker's decimal units (``kB``, ``MB``, ``GB``: powers of 1000) and
the binary ones (``KiB``, ``MiB``, ``GiB``: powers of 1024); a bare number is
bytes. A ratio is ``10%`` or ``0.1``. A count is a whole number.
"""

from __future__ import annotations

import re
from enum import Enum

from layershare.errors import ConfigError
from layershare.units import human_size

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kKmMgGtTpP]i?[bB]?|[bB])?\s*$")
_FACTOR = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "p": 1000**5,
    "pb": 1000**5,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
    "pi": 1024**5,
    "pib": 1024**5,
}


class Kind(str, Enum):
    """What a rule's threshold measures."""

    SIZE = "size"
    RATIO = "ratio"
    COUNT = "count"
    GROWTH = "growth"  # a ratio that may pass 100% (an image can double)


def parse_size(text: str) -> int:
    """``"500MB"`` -> 500000000, ``"1.5GiB"`` -> 1610612736, ``"1024"`` -> 1024."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"{text!r} is not a size (examples: 500MB, 1.5GiB, 20000000)")
    number, unit = match.groups()
    return round(float(number) * _FACTOR[(unit or "").lower()])


def parse_ratio(text: str, *, most: float | None = 1.0) -> float:
    """``"10%"`` -> 0.1, ``"0.9"`` -> 0.9; must lie between 0 and ``most`` (1: 100%; None: no bound)."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"{text!r} is not a ratio (examples: 10%, 0.9)") from None
    if most is not None and not 0 <= value <= most:
        raise ConfigError(f"{text!r} is not between 0 and {most:g} (0% and {most * 100:g}%)")
    if value < 0:
        raise ConfigError(f"{text!r} is negative")
    return value


def parse_count(text: str) -> int:
    """``"3"`` -> 3; a whole number, zero or more."""
    raw = text.strip()
    if not raw.isdigit():
        raise ConfigError(f"{text!r} is not a whole number")
    return int(raw)


def parse_threshold(kind: Kind, value: object) -> float:
    """A threshold of ``kind`` from a config value (string or number)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"{value!r} is not a threshold")
    text = str(value)
    if kind is Kind.SIZE:
        return parse_size(text)
    if kind is Kind.RATIO:
        return parse_ratio(text)
    if kind is Kind.GROWTH:
        return parse_ratio(text, most=None)
    return parse_count(text)


def show_threshold(kind: Kind, value: float) -> str:
    """How a threshold or a measured value is written back in messages."""
    if kind is Kind.SIZE:
        return human_size(value)
    if kind is Kind.RATIO:
        return f"{value * 100:.1f}%"
    if kind is Kind.GROWTH:
        return f"{value * 100:+.1f}%"
    return str(int(value))
