"""Keep secrets out of what layershare stores and prints.

Image history records ``ENV`` and ``LABEL`` values, ``ARG`` defaults and the
build arguments a ``RUN`` saw. Their values are replaced by ``***`` (names stay,
so a reader still sees what was set) unless the user asks for values.
"""

from __future__ import annotations

import re

MASK = "***"

_VALUE = r"(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|\S*)"
_KEY = r"(?:\"(?:[^\"\\]|\\.)*\"|[^\s=\"]+)"
_PAIR = re.compile(rf"({_KEY})=({_VALUE})")
# "ENV X=1", "#(nop)  LABEL a=b", "ARG V=2" (classic and BuildKit forms).
_ASSIGNING = re.compile(r"(^|#\(nop\)\s+|^ONBUILD\s+)(ENV|LABEL|ARG)(\s+)(.*)$", re.DOTALL)
# Build args before a RUN: "|2 A=1 B=2 /bin/sh -c ..." (classic) or "RUN |2 A=1 ..." (BuildKit).
_BUILD_ARGS = re.compile(r"^((?:RUN\s+)?)\|(\d+)\s+(.*)$", re.DOTALL)
_ONE_ARG = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)\s*")


def _mask_pairs(text: str) -> str:
    if "=" not in text:
        # Legacy "ENV KEY value with spaces": keep the key only.
        key, _, rest = text.partition(" ")
        return f"{key} {MASK}" if rest.strip() else text
    return _PAIR.sub(lambda m: f"{m.group(1)}={MASK}", text)


def _mask_build_args(count: int, text: str) -> str:
    out: list[str] = []
    pos = 0
    for _ in range(count):
        match = _ONE_ARG.match(text, pos)
        if not match:
            break
        out.append(f"{match.group(1)}={MASK}")
        pos = match.end()
    return " ".join(out) + (" " + text[pos:] if pos < len(text) else "")


def redact_created_by(created_by: str) -> str:
    """Return ``created_by`` with environment, label and build-arg values masked."""
    stripped = created_by.strip()
    nop_at = stripped.find("#(nop)")
    head, body = (stripped[:nop_at], stripped[nop_at:]) if nop_at >= 0 else ("", stripped)
    assigning = _ASSIGNING.match(body)
    if assigning:
        lead, word, space, rest = assigning.groups()
        return f"{created_by[: len(created_by) - len(created_by.lstrip())]}{head}{lead}{word}{space}{_mask_pairs(rest)}"
    build_args = _BUILD_ARGS.match(stripped)
    if build_args:
        run, count, rest = build_args.groups()
        return f"{run}|{count} {_mask_build_args(int(count), rest)}"
    return created_by
