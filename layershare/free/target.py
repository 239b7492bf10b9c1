"""What ``layershare plan`` is asked for: the target, and the rules that protect images from it, as
the command line gives them (:func:`parse_target`); and when each image was last used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from layershare.free.prune import LabelFilter

TargetKind = Literal["free", "images_under", "disk_free"]


@dataclass(frozen=True)
class Target:
    """What the plan must reach: the engine's accounting down by ``size`` bytes (``free``), its
    ``LayersSize`` at most ``size`` (``images_under``), or at least ``size`` bytes free on the data
    root's file system afterwards (``disk_free``; ``share`` of its size where given as a percentage)."""

    kind: TargetKind
    size: int
    text: str
    share: float | None = None

    def describe(self) -> str:
        return {
            "free": f"free at least {self.text}",
            "images_under": f"images (LayersSize) at most {self.text}",
            "disk_free": f"at least {self.text} free on the data root's file system",
        }[self.kind]


def parse_target(free: str | None, images_under: str | None, disk_free: str | None) -> Target:
    """The one target given (``--free``, ``--images-under``, ``--disk-free``); UsageError otherwise."""
    from layershare.errors import ConfigError, UsageError
    from layershare.policy.thresholds import parse_ratio, parse_size

    given = [
        (k, v) for k, v in (("free", free), ("images_under", images_under), ("disk_free", disk_free)) if v
    ]
    if len(given) != 1:
        raise UsageError("give one target: --free SIZE, --images-under SIZE or --disk-free SIZE|PCT%")
    kind, text = given[0]
    try:
        if kind == "disk_free" and text.strip().endswith("%"):
            share = parse_ratio(text)
            return Target("disk_free", 0, text.strip(), share=share)
        return Target(kind, parse_size(text.strip()), text.strip())  # type: ignore[arg-type]
    except ConfigError as e:
        raise UsageError(f"--{kind.replace('_', '-')}: {e}") from e


@dataclass(frozen=True)
class Rules:
    """What protects an image from the plan."""

    keep: tuple[str, ...] = ()  # globs, matched against every tag
    keep_labels: tuple[LabelFilter, ...] = ()
    keep_last: int | None = None  # per repository, the N most recently tagged (or created)
    min_age: float = 3600.0  # seconds: nothing used, tagged or created more recently
    with_containers: bool = False  # stopped containers go, then their images
    build_cache: bool = False  # BuildKit's cache records may go too, in its own gc order


@dataclass(frozen=True)
class Planning:
    """A target and the rules that protect images from it, as the command line gave them."""

    target: Target
    rules: Rules
    options: list[object]  # what they were given as (what a stored plan is kept under)


@dataclass(frozen=True)
class LastUsed:
    """When an image was last used and what says so: ``event``, ``container``, ``tagged``, ``created``."""

    at: float
    source: str
    tagged_at: float = field(default=0.0, compare=False)  # when last tagged (0: the engine does not say)
