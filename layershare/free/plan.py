"""A removal's plan: what would go, what stays and why, and the docker commands that would do it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Plan:
    """What would go, as the engine would do it, and the commands that would do it."""

    removed_images: set[str] = field(default_factory=set)
    removed_tags: dict[str, list[str]] = field(default_factory=dict)
    blocked_by: dict[str, list[str]] = field(default_factory=dict)
    # Containers, volumes and build-cache records asked for by name that stay, and why
    # (keyed ``container:<id>``, ``volume:<name>``, ``build:<id>``, as the holders).
    refused: dict[str, list[str]] = field(default_factory=dict)
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    build_records: list[str] = field(default_factory=list)
    # buildx builders' records that go (``<builder>/<id>``), and the builders removed whole (``buildx rm``).
    builder_records: list[str] = field(default_factory=list)
    builders: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    matched_nothing: bool = False
    collects_garbage: bool = False
