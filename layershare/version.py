"""The version of layershare (one place: pyproject reads it, caches and reports carry it)."""

__version__ = "0.1.0"
