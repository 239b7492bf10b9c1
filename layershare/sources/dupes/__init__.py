"""Stored layers and their files, for ``layershare dupes``."""
