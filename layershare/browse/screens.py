"""The screens browse puts over its rows: every key (``?``) and the confirmation before a removal
(``d``, only with ``--allow-removal``)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

from layershare.render.safe import visible as safe
from layershare.units import human_size

KEYS = [
    ("↑ ↓  j k", "move"),
    ("Enter →  l", "open"),
    ("Backspace ←  h", "go up"),
    ("Space", "mark or unmark the row"),
    ("A", "mark every row shown (again: unmark them)"),
    ("s", "sort by size or by name (layers: bottom to top)"),
    ("u", "images: unique, shared or attributed bytes"),
    ("e", "layers: show or hide the instructions that made no layer (ENV, CMD …)"),
    ("/", "filter the rows (a glob or a part of the name; Esc clears)"),
    ("d", "remove what is marked (only with --allow-removal)"),
    ("r", "read the engines again"),
    ("q", "quit and print the commands that remove what is marked"),
    ("?", "these keys"),
]


# The app's keys, as Textual binds them (none shown in a footer: ? lists KEYS).
APP_BINDINGS: list[BindingType] = [
    Binding("down,j", "move(1)", "down", show=False),
    Binding("up,k", "move(-1)", "up", show=False),
    Binding("pagedown", "move(20)", show=False),
    Binding("pageup", "move(-20)", show=False),
    Binding("home", "move(-1000000000)", show=False),
    Binding("end", "move(1000000000)", show=False),
    Binding("enter,right,l", "open", "open", show=False),
    Binding("backspace,left,h", "up", "up", show=False),
    Binding("space", "mark", "mark", show=False),
    Binding("A", "mark_all", "mark all", show=False),
    Binding("s", "cycle('sort')", "sort", show=False),
    Binding("u", "cycle('measure')", "measure", show=False),
    Binding("e", "cycle('empty')", "empty layers", show=False),
    Binding("slash", "filter", "filter", show=False),
    Binding("escape", "clear_filter", show=False),
    Binding("d", "remove", "remove", show=False),
    Binding("r", "reread", "read again", show=False),
    Binding("q", "quit_with_plan", "quit", show=False),
    Binding("question_mark", "keys", "keys", show=False),
]


class Keys(ModalScreen[None]):
    """Every key, on one screen (``?``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,enter", "dismiss_screen", "close")
    ]

    def compose(self) -> ComposeResult:
        lines = Text("Keys\n\n", style="bold")
        for key, what in KEYS:
            lines.append(f"{key:<16}", style="bold")
            lines.append(f"{what}\n")
        lines.append("\nAny of Esc, q, ? or Enter closes this.")
        yield Static(lines, id="keys")

    def action_dismiss_screen(self) -> None:
        self.dismiss()


class Confirm(ModalScreen[bool]):
    """The exact bytes and the commands, before anything is removed (``d``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape,q", "answer(False)", "no"),
    ]

    def __init__(self, text: Text) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(self.text, id="confirm")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def confirm_text(engine: str, freed: int, commands: list[str]) -> Text:
    """What ``d`` asks: the engine, the exact bytes, the commands (the first 30)."""
    text = Text(f"Remove from {safe(engine)}?\n\n", style="bold")
    text.append(f"frees {human_size(freed)} ({freed:,} B), the engine's own accounting\n\n")
    for command in commands[:30]:
        text.append(safe(command) + "\n")
    if len(commands) > 30:
        text.append(f"… and {len(commands) - 30} more\n")
    text.append("\ny: remove   n or Esc: keep everything", style="bold")
    return text
