"""Text that is safe to send: data never carries a control character to a terminal or a spreadsheet.

An image's build instruction, an import comment, a build-cache description are written by whoever built
the image, and may hold escape sequences (a title set by ``ESC ] 0 ;``, the clipboard by OSC 52, the
cursor moved or the screen cleared). Every renderer shows such characters escaped (``\\x1b``, ``\\n``),
as browse does; the command line escapes whatever else reaches it; a CSV cell that a spreadsheet would
read as a formula gets a leading ``'`` (OWASP's guidance on CSV injection).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _escaped(ch: str) -> str:
    return ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")


def visible(text: str) -> str:
    """Data as plain text: every character that is not printable (C0 with newline and tab, DEL, C1,
    format and separator characters) shown escaped, as ``\\x1b``, ``\\n``, ``\\x9b``, ``\\u202e``."""
    if text.isprintable():
        return text
    return "".join(_escaped(ch) for ch in text)


def terminal_text(output: str) -> str:
    """A whole rendered output as the command line writes it: :func:`visible` but for the newlines and
    tabs the renderer itself lays out with."""
    if output.replace("\n", "").replace("\t", "").isprintable():  # the usual case, at C speed
        return output
    return "".join(ch if ch in "\n\t" else _escaped(ch) for ch in output)


def csv_cell(value: object) -> object:
    """A CSV cell: text :func:`visible`, and a leading ``'`` where it starts with ``=``, ``+``, ``-`` or
    ``@`` and is not a number (a spreadsheet would run it as a formula); other values as they are."""
    if not isinstance(value, str):
        return value
    text = visible(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeCsvWriter:
    """A :func:`csv.writer` whose every cell is :func:`csv_cell`."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writerow(self, row: Sequence[object]) -> None:
        self.writer.writerow([csv_cell(c) for c in row])


def tabulate(rows: Iterable[Sequence[Any]], headers: Any = (), **options: Any) -> str:
    """:func:`tabulate.tabulate` with every text cell :func:`visible` (a table's cells are data)."""
    from tabulate import tabulate as _tabulate  # only where a table is drawn (a warm report needs none)

    safe_rows = [[visible(c) if isinstance(c, str) else c for c in row] for row in rows]
    return str(_tabulate(safe_rows, headers=headers, **options))
