"""Times as images and reports write them: RFC 3339 in, seconds since the epoch, UTC ISO 8601 out."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from functools import lru_cache

_NANOSECONDS = re.compile(r"(\.\d{6})\d+")


def now_iso() -> str:
    """The current time in UTC, ISO 8601 (a report's ``collected_at``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _rfc3339(text: str) -> datetime:
    """An RFC 3339 time as Python reads it (its fraction cut to microseconds). Raises ``ValueError``."""
    return datetime.fromisoformat(_NANOSECONDS.sub(r"\1", text).replace("Z", "+00:00").replace("z", "+00:00"))


def unix_time(text: object) -> int:
    """Seconds since the epoch of an RFC 3339 time as images record it (nanoseconds dropped); 0 if none."""
    if not isinstance(text, str) or not text:
        return 0
    try:
        return int(_rfc3339(text).timestamp())
    except ValueError:
        return 0


def unix_seconds(text: str) -> int:
    """Seconds since the epoch of an RFC 3339 time, as Go's ``Time.Unix()`` gives them (the fraction
    dropped toward the past). Raises ``ValueError`` where it does not parse or has no offset."""
    stamp = _rfc3339(text)
    if stamp.tzinfo is None:
        raise ValueError(f"a time without its offset: {text!r}")
    return math.floor(stamp.timestamp())


def nanoseconds(text: object) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time with its fraction (BuildKit's ``LastUsedAt``,
    compared to the nanosecond as BuildKit compares them); None if none."""
    if not isinstance(text, str) or not text:
        return None
    return _nanoseconds(text)


_FRACTIONAL = re.compile(r"^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$")


@lru_cache(maxsize=16384)  # a builder's GC preview and plans read each record's times again and again
def _nanoseconds(text: str) -> int | None:
    found = _FRACTIONAL.match(text)
    if not found:
        return None
    try:
        whole = datetime.fromisoformat(found.group(1) + (found.group(3) or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    fraction = (found.group(2) or "").ljust(9, "0")[:9]
    return int(whole.timestamp()) * 1_000_000_000 + int(fraction)


def rfc3339_nano(ns: int) -> str:
    """Nanoseconds since the epoch as Go writes ``time.RFC3339Nano`` in UTC (trailing zeros of the
    fraction dropped): how BuildKit prints a record's times."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{whole}.{digits}Z" if digits else f"{whole}Z"
