"""Recordings: the engine's answers turned into the model, and the files ``layershare record`` writes."""

from layershare.sources.recording.file import RecordingSource, load_recording, save_recording
from layershare.sources.recording.normalise import engine_info_from, snapshot_from_recording

__all__ = [
    "RecordingSource",
    "engine_info_from",
    "load_recording",
    "save_recording",
    "snapshot_from_recording",
]
