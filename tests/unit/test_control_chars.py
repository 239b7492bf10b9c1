"""No output sends a control character: a build instruction or an import comment holding escape
sequences (a terminal title, OSC 52 to the clipboard, a cleared screen, a C1 CSI) is shown escaped by
every command and format, and a CSV cell a spreadsheet would run as a formula is quoted. On the
recorded corpus with hostile history laid in; the engine test builds such images for real
(``tests/engine/test_control_chars_engine.py``)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from support import RECORDING, cli

from layershare.render.safe import csv_cell, terminal_text, visible

TITLE = "\x1b]0;pwned\x07"
CLIPBOARD = "\x1b]52;c;aGk=\x07"
CLEAR = "\x1b[2J\x1b[H"
C1_CSI = "\x9b31m"
HOSTILE = f"echo {TITLE}{CLIPBOARD}{CLEAR}{C1_CSI}\x7fdone"
FORMULA = '=HYPERLINK("http://x.invalid","click")'
# What a terminal acts on: C0 but for newline and tab, DEL, and C1.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def raw_control(text: str) -> list[str]:
    return sorted({repr(m) for m in RAW_CONTROL.findall(text)})


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recorded corpus with app-one:1's newest layer made by a hostile instruction, overwrite:1's by
    a formula, and an imported base's comment hostile too."""
    recording: dict[str, Any] = json.loads(RECORDING.read_text())
    by_tag = {t: s["Id"] for s in recording["images"] for t in s.get("RepoTags") or []}
    for tag, created_by in (("app-one:1", f"/bin/sh -c {HOSTILE}"), ("overwrite:1", FORMULA)):
        newest = next(e for e in recording["history"][by_tag[tag]] if e["Size"] > 0)
        original = newest["CreatedBy"]
        for entries in recording["history"].values():  # the step's own image lists it too
            for entry in entries:
                if entry["CreatedBy"] == original:
                    entry["CreatedBy"] = created_by
    for entries in recording["history"].values():
        for entry in entries:
            if entry["CreatedBy"].startswith("Imported") or not entry["CreatedBy"]:
                entry["Comment"] = f"imported {TITLE}{CLEAR}"
    path = tmp_path_factory.mktemp("hostile") / "recording.json"
    path.write_text(json.dumps(copy.deepcopy(recording)))
    return path


COMMANDS = {
    "report": (["report"], ["table", "markdown", "csv", "json", "html"]),
    "history": (["history", "app-one:1"], ["table", "markdown", "csv", "json", "html"]),
    "history-formula": (["history", "overwrite:1"], ["csv"]),
    "tree": (["tree"], ["table", "json", "dot", "mermaid"]),
    "check": (["check"], ["table", "markdown", "json", "junit", "github"]),
    "diff": (["diff", "app-one:1", "app-plus:1"], ["table", "markdown", "json"]),
}
CASES = [(name, fmt) for name, (_, formats) in COMMANDS.items() for fmt in formats]


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_no_format_sends_a_control_character(hostile: Path, name: str, fmt: str) -> None:
    args, _ = COMMANDS[name]
    result = cli(*args, "--recording", str(hostile), "--no-cache", "--format", fmt)
    assert result.returncode in (0, 1), result.stderr  # check may fail a rule: its output still counts
    assert raw_control(result.stdout) == [] and raw_control(result.stderr) == []
    if name == "history" and fmt in ("table", "markdown", "csv"):
        assert "echo \\x1b]0;pwned\\x07" in result.stdout  # shown, as text, not dropped
    if name == "history" and fmt == "csv":  # whole, where no column cuts it
        assert "\\x9b31m\\x7fdone" in result.stdout


def test_a_csv_cell_a_spreadsheet_would_run_is_quoted(hostile: Path) -> None:
    text = cli("history", "overwrite:1", "--recording", str(hostile), "--no-cache", "-f", "csv").stdout
    assert "'=HYPERLINK(" in text and ",=HYPERLINK(" not in text
    report = cli("report", "--recording", str(hostile), "--no-cache", "--format", "csv").stdout
    assert "app-one:1" in report and not re.search(r"(^|,)[=+@]", report, re.MULTILINE)


def test_an_error_naming_hostile_input_is_one_escaped_line(hostile: Path) -> None:
    result = cli("history", f"no{TITLE}such:1", "--recording", str(hostile))
    assert result.returncode != 0
    assert raw_control(result.stderr) == [] and "\\x1b]0;pwned\\x07" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain text", "plain text"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("tab\there\nnext", "tab\\there\\nnext"),
        ("\x9b\x7f\u202e", "\\x9b\\x7f\\u202e"),
        ("héllo …", "héllo …"),
    ],
)
def test_visible(value: str, shown: str) -> None:
    assert visible(value) == shown


def test_terminal_text_keeps_the_layout_and_escapes_the_rest() -> None:
    assert terminal_text("a\tb\nc\n") == "a\tb\nc\n"
    assert terminal_text(f"x{TITLE}\ny\r\n") == "x\\x1b]0;pwned\\x07\ny\\r\n"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-12", "-12"),
        ("+3.5e2", "+3.5e2"),
        ("app:1", "app:1"),
        ("=\x1b", "'=\\x1b"),
        (42, 42),
    ],
)
def test_csv_cell(value: object, cell: object) -> None:
    assert csv_cell(value) == cell
