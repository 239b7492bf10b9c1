"""The command line: parse options, call the library, write text, pick the exit code.

``main`` holds the group and the image commands, ``over_time`` diff, metrics and serve, ``fleet``
export and fleet, ``options`` the shared options and the error -> exit code table. These are the
only modules that write to stdout/stderr or exit.
"""

from layershare.cli.main import cli, main
from layershare.cli.options import ExitCode

__all__ = ["ExitCode", "cli", "main"]
