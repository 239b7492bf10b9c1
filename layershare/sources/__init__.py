"""Sources: turn an engine or a recording of one into the model (:mod:`layershare.model`)."""

from layershare.sources.interface import Source
from layershare.sources.recording import RecordingSource, snapshot_from_recording

__all__ = ["RecordingSource", "Source", "snapshot_from_recording"]
