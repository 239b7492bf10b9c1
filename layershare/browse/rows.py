"""The rows of one level, drawn a line at a time, and how data becomes text on screen: never markup,
never a control character (a tag holding ``[bold]`` or ``\\x1b[2J`` is shown as those characters)."""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from layershare.browse.node import Node

BAR = 10


def line(text: str, style: str = "") -> Text:
    """One line of the screen: cut with an ellipsis, never wrapped onto a line that is not there."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def bar(share: float) -> str:
    """A share of the parent as a bar ``BAR`` cells wide, in eighths."""
    eighths = max(0, min(BAR * 8, round(share * BAR * 8)))
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(BAR)


def whole_words(text: Text, width: int) -> Text:
    """``text`` cut to ``width`` cells between words, with an ellipsis (``RUN apt-get install …``), never
    mid-token where a space leaves half the width or more; as it is where it fits."""
    if text.cell_len <= width:
        return text
    cut = text.plain.rfind(" ", 0, width - 1)
    if cut < width // 2:
        return text
    shown = text[:cut]
    shown.append(" …")
    return shown


class Rows(ScrollView, can_focus=False):
    """The rows of one level, drawn a line at a time: only the lines on screen are ever made, so moving,
    marking and sorting cost the same at ten rows or ten thousand."""

    DEFAULT_CSS = """
    Rows { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    """

    def __init__(self) -> None:
        super().__init__(id="rows")
        self.nodes: list[Node] = []
        self.cursor = 0
        self.cells: Callable[[Node], list[Text]] = lambda node: []
        self.widths = (1, 9, BAR, 30, 20)
        self.headers: tuple[str, ...] = (" ", "SIZE", "SHARE", "NAME", "")

    def fit(self, width: int, cells: Callable[[Node], list[Text]]) -> None:
        """Columns for a screen ``width`` wide (mark, size, share, name, note), each row's cells from ``cells``."""
        width = max(60, width)
        name = max(16, (width - 2 - 9 - BAR - 8) * 11 // 20)
        self.widths = (1, 9, BAR, name, max(8, width - 1 - 9 - BAR - 5 - name))
        self.cells = cells

    def show(self, nodes: list[Node], cursor: int, headers: tuple[str, ...] = ()) -> None:
        self.nodes = nodes
        self.headers = headers or self.headers
        self.cursor = cursor
        self.virtual_size = Size(self.size.width, len(nodes) + 1)
        self.keep_cursor_visible()
        self.refresh()

    def keep_cursor_visible(self) -> None:
        top, height = int(self.scroll_offset.y), max(1, self.size.height - 1)
        row = self.cursor + 1  # the header is line 0
        if row < top + 1:
            self.scroll_to(y=max(0, row - 1), animate=False, immediate=True)
        elif row >= top + height + 1:
            self.scroll_to(y=row - height, animate=False, immediate=True)

    def move(self, cursor: int) -> None:
        self.cursor = cursor
        self.keep_cursor_visible()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            line = self._line([Text(h, style="bold") for h in self.headers], header=True)
            return Strip(list(line.render(self.app.console)), line.cell_len).adjust_cell_length(width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.nodes):
            return Strip.blank(width)
        line = self._line(self.cells(self.nodes[index]))
        strip = Strip(list(line.render(self.app.console)), line.cell_len).adjust_cell_length(width)
        return strip.apply_style(Style(reverse=True)) if index == self.cursor else strip

    def _line(self, cells: list[Text], header: bool = False) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        for n, (cell, width) in enumerate(zip(cells, self.widths, strict=False)):
            cell = cell.copy()
            if n == 1 and cell.cell_len < width:  # sizes line up on the right
                cell = Text(" " * (width - cell.cell_len)) + cell
            if n >= 3:
                cell = whole_words(cell, width)
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" ")
        return line
