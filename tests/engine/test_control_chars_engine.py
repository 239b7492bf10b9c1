"""No output sends a control character, on real engines: an image imported with a hostile comment and
one built by a hostile instruction (a terminal title, OSC 52 to the clipboard, a cleared screen, a C1
CSI) are read back by every command in every format; what a terminal would act on never leaves
layershare, the instruction is shown escaped, and a CSV cell a spreadsheet would run is quoted."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import cli
from support import private_engine

pytestmark = pytest.mark.engine

TITLE = "\x1b]0;pwned\x07"
HOSTILE_RUN = f"echo '{TITLE}\x1b]52;c;aGk=\x07\x1b[2J\x9b31m' > /t"
FORMULA_COMMENT = '=HYPERLINK("http://x.invalid","click")'
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module", params=["20.10-overlay2", "29.7-containerd"])
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    from corpus import busybox_rootfs

    with private_engine(request.param, corpus=False) as private:
        hostile, formula = busybox_rootfs({"etc/hostile": b"1"}), busybox_rootfs({"etc/formula": b"1"})
        private.docker("import", "-m", f"base {TITLE}\x1b[2J", "-", "hostile-base:1", input_bytes=hostile)
        private.docker("import", "-m", FORMULA_COMMENT, "-", "formula-base:1", input_bytes=formula)
        with tempfile.TemporaryDirectory() as ctx:
            Path(ctx, "Dockerfile").write_text(f"FROM hostile-base:1\nRUN {HOSTILE_RUN}\n")
            private.docker("build", "-q", "-t", "hostile-app:1", ctx)
        yield private


COMMANDS = {
    "report": (["report"], ["table", "markdown", "csv", "json", "html"]),
    "history": (["history", "hostile-app:1"], ["table", "markdown", "csv", "json", "html"]),
    "tree": (["tree"], ["table", "json", "dot", "mermaid"]),
    "check": (["check"], ["table", "markdown", "json", "junit", "github"]),
    "diff": (["diff", "hostile-base:1", "hostile-app:1"], ["table", "markdown", "json"]),
    "free": (["free", "hostile-app:1"], ["table", "markdown", "json"]),
    "disk": (["disk"], ["table", "markdown", "csv", "json"]),
}
CASES = [(name, fmt) for name, (_, formats) in COMMANDS.items() for fmt in formats]


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_no_command_sends_a_control_character(engine: Any, name: str, fmt: str) -> None:
    args, _ = COMMANDS[name]
    result = cli(engine, *args, "--format", fmt)
    assert result.returncode in (0, 1), result.stderr  # check may fail a rule: its output still counts
    assert RAW_CONTROL.findall(result.stdout) == [] and RAW_CONTROL.findall(result.stderr) == []
    if name == "history" and fmt in ("table", "markdown", "csv"):
        assert "echo '\\x1b]0;pwned\\x07" in result.stdout  # the instruction, shown as text
        assert "base \\x1b]0;pwned\\x07\\x1b[2J" in result.stdout  # the import comment too
    if name == "history" and fmt == "json":
        assert "\\u001b]0;pwned\\u0007" in result.stdout  # JSON keeps the data exact, escaped as JSON


def test_a_comment_a_spreadsheet_would_run_is_quoted(engine: Any) -> None:
    result = cli(engine, "history", "formula-base:1", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert "'=HYPERLINK(" in result.stdout and ",=HYPERLINK(" not in result.stdout


def test_an_error_naming_hostile_input_is_one_escaped_line(engine: Any) -> None:
    result = cli(engine, "history", f"no-such{TITLE}:1")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert RAW_CONTROL.findall(result.stderr) == [] and "\\x1b]0;pwned\\x07" in result.stderr
