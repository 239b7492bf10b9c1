"""The CLI on recordings and on bad input: one line on stderr, the documented exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import RECORDING, cli, layershare

from layershare.cli import ExitCode

run = cli


def test_report_from_recording() -> None:
    result = run("report", "--recording", str(RECORDING), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "layershare.report/v1"


def test_history_of_unknown_image_is_one_line_and_code_6() -> None:
    result = run("history", "--recording", str(RECORDING), "no-such:1")
    assert result.returncode == ExitCode.IMAGE_NOT_FOUND
    assert result.stderr.count("\n") == 1 and "no-such:1" in result.stderr


@pytest.mark.parametrize(
    "content", ["{not json", "[]", '{"schema": "other"}', '{"schema": "layershare.recording/v1"}']
)
def test_malformed_recording_is_one_line_and_code_7(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run("report", "--recording", str(bad))
    assert result.returncode == ExitCode.BAD_INPUT
    assert result.stderr.startswith("layershare: error:") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_unreachable_engine_is_one_line_and_code_3(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/absent.sock", "PATH": "/usr/bin:/bin"}
    result = run("report", env=env)
    assert result.returncode == ExitCode.ENGINE_UNREACHABLE
    assert str(tmp_path) in result.stderr and result.stderr.count("\n") == 1


def test_usage_error_is_code_2() -> None:
    assert run("report", "--format", "xml").returncode == ExitCode.USAGE


def test_the_progress_bar_shows_only_on_a_terminal_and_not_when_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import time

    from layershare.cli.options import progress_bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress_bar("collecting images", quiet=True) is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_bar("collecting images", quiet=False) is None  # not a terminal
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    update = progress_bar("collecting images", quiet=False)
    assert update is not None
    update(1, 3)
    assert terminal.getvalue() == ""  # nothing during the first second
    time.sleep(1.2)
    update(2, 3)
    assert "collecting images" in terminal.getvalue() and "2/3" in terminal.getvalue()
    update(3, 3)
    assert terminal.getvalue().endswith("\r")  # the bar is cleared before the report is written


def test_two_kinds_of_source_at_once_is_one_line_and_code_2(tmp_path: Path) -> None:
    result = run("report", "--host", "unix:///nowhere.sock", "--recording", str(RECORDING))
    assert result.returncode == ExitCode.USAGE
    assert result.stderr == "layershare: error: --host and --recording cannot be used together\n"


def test_an_unwritable_junit_file_is_one_line_and_code_2(tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "report.xml"
    result = run("check", "--recording", str(RECORDING), "--no-content", "--junit-xml", str(target))
    assert result.returncode == ExitCode.USAGE
    assert (
        result.stderr.count("\n") == 1 and str(target) in result.stderr and "Traceback" not in result.stderr
    )


def test_the_default_local_socket_is_asked_without_importing_the_docker_sdk(tmp_path: Path) -> None:
    """The usual user (no DOCKER_HOST, no context) reaches the local socket by the lean client."""
    probe = (
        "import sys\nfrom layershare.sources.engine import EngineSource\n"
        "assert EngineSource()._plain_api() is not None\nprint('docker' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no DOCKER_HOST, no docker config
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["report", "--format", "json", "--disk"], "--disk and --dupes go with --format html"),
        (["report", "--format", "table", "--dupes"], "--disk and --dupes go with --format html"),
        (["tree", "-H", "unix:///a.sock", "-H", "unix:///b.sock"], "tree reads one engine"),
    ],
)
def test_page_and_tree_misuse_is_one_line_and_code_2(args: list[str], says: str) -> None:
    extra = ["--recording", str(RECORDING)] if args[0] == "report" else []
    result = run(*args, *extra)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.count("\n") == 1 and says in result.stderr and "Traceback" not in result.stderr


def test_tree_and_page_from_a_recording() -> None:
    tree = run("tree", "--recording", str(RECORDING), "--format", "json")
    assert tree.returncode == 0 and json.loads(tree.stdout)["schema"] == "layershare.tree/v1"
    page = run("report", "--recording", str(RECORDING), "--format", "html")
    assert page.returncode == 0 and page.stdout.startswith("<!doctype html>")
    assert "layershare.page/v1" in page.stdout


@pytest.mark.slow  # a Python process each
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["history", "--recording", str(RECORDING), "no-such:1"], ExitCode.IMAGE_NOT_FOUND),
        (["report", "--recording", "/nonexistent/recording.json"], ExitCode.BAD_INPUT),
        (["report", "--format", "xml"], ExitCode.USAGE),
        (["report", "-H", "unix:///nonexistent/docker.sock"], ExitCode.ENGINE_UNREACHABLE),
    ],
)
def test_exit_codes_through_python_m(args: list[str], code: ExitCode) -> None:
    """What only a process proves: ``python -m layershare`` exits with the documented code, one line."""
    result = layershare(*args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code != ExitCode.USAGE:  # click's own usage message is its usage and a line of why
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("layershare: error:")
