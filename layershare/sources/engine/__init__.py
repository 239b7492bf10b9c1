"""A live Docker Engine as a source: the only package that imports the Docker SDK."""

from layershare.sources.engine.source import EngineSource

__all__ = ["EngineSource"]
