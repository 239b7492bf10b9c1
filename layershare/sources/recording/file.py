"""Recording files: what ``layershare record`` writes and ``--recording`` reads back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from layershare.errors import SnapshotError
from layershare.model import Snapshot
from layershare.sources.answers import Recording
from layershare.sources.interface import Source
from layershare.sources.recording.normalise import snapshot_from_recording


def load_recording(path: str | Path) -> Recording:
    """Read a recording file written by :func:`save_recording`."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise SnapshotError(f"cannot read recording {path}: {e.strerror or e}") from e
    except json.JSONDecodeError as e:
        raise SnapshotError(f"recording {path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise SnapshotError(f"recording {path} is not a JSON object")
    return data


def save_recording(recording: Mapping[str, Any], path: str | Path) -> None:
    """Write a recording as JSON."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(recording, f, indent=1, sort_keys=True)
            f.write("\n")
    except OSError as e:
        raise SnapshotError(f"cannot write recording {path}: {e.strerror or e}") from e


class RecordingSource(Source):
    """A recording file as a source: the report of an engine without the engine."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def snapshot(self) -> Snapshot:
        """Load the file and build the model from it."""
        return snapshot_from_recording(load_recording(self.path))
