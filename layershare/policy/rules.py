"""CI rules: one object per rule, each with a key, parsed levels and ``evaluate``.

A rule reads one image's :class:`ImageFacts` and returns a :class:`Result`:
pass, fail, warn, or skip (with the reason the value is unknown). Failure
messages carry the numbers (``base=812MB > max-base-size=500MB``). Nothing
here formats tables or prints.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from layershare.errors import ConfigError
from layershare.policy.thresholds import Kind, parse_threshold, show_threshold

Level = Literal["fail", "warn"]


class Status(str, Enum):
    """The outcome of one rule on one image."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


@dataclass(frozen=True)
class ImageFacts:
    """What the gate knows about one image; None means unknown, and ``*_reason`` says why."""

    image_id: str
    reference: str
    tags: tuple[str, ...]
    size_bytes: int
    layers: int
    unique_bytes: int
    base_reference: str | None
    base_bytes: int | None
    base_share: float | None
    base_reason: str
    base_repository: str | None = None
    drift_versions: int | None = None
    drift_detail: str = ""
    wasted_bytes: int | None = None
    wasted_ratio: float | None = None
    efficiency: float | None = None
    waste_reason: str = "layer contents were not read"
    baseline_reference: str | None = None
    baseline_bytes: int | None = None
    growth_bytes: int | None = None
    growth_ratio: float | None = None
    growth_reason: str = "no --baseline given"
    growth_detail: str = ""
    duplicate_bytes: int | None = None
    duplicate_reason: str = "layer files were not read (the rule is off)"
    duplicate_detail: str = ""


Value = int | float | str | None


@dataclass(frozen=True)
class Result:
    """One rule's verdict on one image.

    ``value`` and ``threshold`` are machine values (bytes, a 0-1 ratio, a count,
    a reference or globs); ``message`` says the same for people, with units.
    """

    image: str
    image_id: str
    rule: str
    status: Status
    value: Value
    threshold: Value
    message: str


def is_off(value: object) -> bool:
    """``"off"`` (any case) or ``false``: the level is not set."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "off")


def config_levels(value: object) -> dict[Level, object]:
    """A config value as raw levels: ``off``, a fail level, or a ``{fail = .., warn = ..}`` table."""
    if isinstance(value, Mapping):
        unknown = set(value) - {"fail", "warn"}
        if unknown:
            raise ConfigError(f"unknown level {sorted(unknown)[0]!r} (use fail and/or warn)")
        return {"fail": value.get("fail", "off"), "warn": value.get("warn", "off")}
    return {"fail": value, "warn": "off"}


class Rule(ABC):
    """A CI rule: ``key`` names it in config files and results; it parses its own levels."""

    key: str
    description: str

    @property
    @abstractmethod
    def enabled(self) -> bool:
        """False when the rule is ``off`` (it then yields no results)."""

    @abstractmethod
    def evaluate(self, facts: ImageFacts) -> Result:
        """Judge one image."""

    @abstractmethod
    def configured(self, value: object) -> Rule:
        """This rule with the levels a policy file's value gives (raises :class:`ConfigError`)."""

    @abstractmethod
    def overridden(self, level: Level, text: str) -> Rule:
        """This rule with one level set from ``--rule`` or ``--warn`` (raises :class:`ConfigError`)."""

    def _result(
        self, facts: ImageFacts, status: Status, value: Value, threshold: Value, message: str
    ) -> Result:
        return Result(facts.reference, facts.image_id, self.key, status, value, threshold, message)


@dataclass(frozen=True)
class Levels:
    """A rule's thresholds: crossing ``fail`` fails, crossing only ``warn`` warns."""

    fail: float | None = None
    warn: float | None = None

    @property
    def enabled(self) -> bool:
        """At least one level is set."""
        return self.fail is not None or self.warn is not None


Measure = Callable[[ImageFacts], "tuple[float | None, str]"]


class ThresholdRule(Rule):
    """A numeric rule: the measured value must stay at or below (``max-``) or at or above (``min-``) a level."""

    def __init__(
        self,
        key: str,
        kind: Kind,
        label: str,
        measure: Measure,
        description: str,
        levels: Levels | None = None,
    ) -> None:
        self.key = key
        self.kind = kind
        self.label = label
        self.measure = measure
        self.description = description
        self.levels = levels or Levels()
        self.minimum = key.startswith("min-")

    def with_levels(self, levels: Levels) -> ThresholdRule:
        """The same rule with other levels."""
        return ThresholdRule(self.key, self.kind, self.label, self.measure, self.description, levels)

    def _level(self, value: object) -> float | None:
        return None if is_off(value) else parse_threshold(self.kind, value)

    def configured(self, value: object) -> ThresholdRule:
        levels = config_levels(value)
        return self.with_levels(Levels(fail=self._level(levels["fail"]), warn=self._level(levels["warn"])))

    def overridden(self, level: Level, text: str) -> ThresholdRule:
        parsed = self._level(text)
        old = self.levels
        return self.with_levels(
            Levels(fail=parsed, warn=old.warn) if level == "fail" else Levels(fail=old.fail, warn=parsed)
        )

    @property
    def enabled(self) -> bool:
        return self.levels.enabled

    def _crosses(self, value: float, level: float | None) -> bool:
        if level is None:
            return False
        return value < level if self.minimum else value > level

    def evaluate(self, facts: ImageFacts) -> Result:
        value, reason = self.measure(facts)
        level = self.levels.fail if self.levels.fail is not None else self.levels.warn
        if value is None:
            return self._result(facts, Status.SKIP, None, level, f"{self.label} unknown: {reason}")
        shown = show_threshold(self.kind, value)
        sign = "<" if self.minimum else ">"
        detail = f" ({reason})" if reason else ""
        for status, bound in ((Status.FAIL, self.levels.fail), (Status.WARN, self.levels.warn)):
            if bound is not None and self._crosses(value, bound):
                limit = show_threshold(self.kind, bound)
                message = f"{self.label}={shown} {sign} {self.key}={limit}{detail}"
                return self._result(facts, status, value, bound, message)
        ok = ">=" if self.minimum else "<="
        limit = show_threshold(self.kind, level) if level is not None else ""
        return self._result(facts, Status.PASS, value, level, f"{self.label}={shown} {ok} {self.key}={limit}")


@dataclass(frozen=True)
class GlobLevels:
    """Allowed reference globs: outside ``fail`` fails, outside ``warn`` warns."""

    fail: tuple[str, ...] | None = None
    warn: tuple[str, ...] | None = None


class AllowedBasesRule(Rule):
    """``allowed-bases``: the image's base must match one of the reference globs."""

    key = "allowed-bases"
    description = "the base image's reference matches one of these globs"

    def __init__(self, levels: GlobLevels | None = None) -> None:
        self.levels = levels or GlobLevels()

    @property
    def enabled(self) -> bool:
        return self.levels.fail is not None or self.levels.warn is not None

    @staticmethod
    def _globs(value: object) -> tuple[str, ...] | None:
        if is_off(value):
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(g, str) and g for g in value):
            raise ConfigError(f'expected a list of reference globs (e.g. ["debian:*"]), not {value!r}')
        return tuple(value)

    def configured(self, value: object) -> AllowedBasesRule:
        levels = config_levels(value)
        return AllowedBasesRule(
            GlobLevels(fail=self._globs(levels["fail"]), warn=self._globs(levels["warn"]))
        )

    def overridden(self, level: Level, text: str) -> AllowedBasesRule:
        globs = self._globs(text if is_off(text) else [g.strip() for g in text.split(",") if g.strip()])
        old = self.levels
        return AllowedBasesRule(
            GlobLevels(fail=globs, warn=old.warn)
            if level == "fail"
            else GlobLevels(fail=old.fail, warn=globs)
        )

    def evaluate(self, facts: ImageFacts) -> Result:
        for status, globs in ((Status.FAIL, self.levels.fail), (Status.WARN, self.levels.warn)):
            if globs is None:
                continue
            shown = ", ".join(globs)
            if any(fnmatch.fnmatchcase(tag, g) for tag in facts.tags for g in globs):
                continue  # the image is itself an allowed base
            if facts.base_reference is None:
                message = f"base unknown ({facts.base_reason}), so not one of {self.key}=[{shown}]"
                return self._result(facts, status, None, shown, message)
            if not any(fnmatch.fnmatchcase(facts.base_reference, g) for g in globs):
                message = f"base={facts.base_reference} is not one of {self.key}=[{shown}]"
                return self._result(facts, status, facts.base_reference, shown, message)
        allowed = ", ".join(self.levels.fail or self.levels.warn or ())
        value = facts.base_reference or facts.reference
        return self._result(facts, Status.PASS, value, allowed, f"base={value} is allowed")


def _base_bytes(f: ImageFacts) -> tuple[float | None, str]:
    return (f.base_bytes, f.base_reason if f.base_bytes is None else f"base {f.base_reference}")


def _base_share(f: ImageFacts) -> tuple[float | None, str]:
    return (f.base_share, f.base_reason if f.base_share is None else f"base {f.base_reference}")


def _drift(f: ImageFacts) -> tuple[float | None, str]:
    if f.drift_versions is None:
        return None, f.base_reason
    return f.drift_versions, f.drift_detail


def _waste(attr: str) -> Measure:
    def measure(f: ImageFacts) -> tuple[float | None, str]:
        return getattr(f, attr), f.waste_reason if getattr(f, attr) is None else ""

    return measure


def _growth(attr: str) -> Measure:
    def measure(f: ImageFacts) -> tuple[float | None, str]:
        value = getattr(f, attr)
        return value, f.growth_reason if value is None else f.growth_detail

    return measure


def _duplicates(f: ImageFacts) -> tuple[float | None, str]:
    return f.duplicate_bytes, f.duplicate_reason if f.duplicate_bytes is None else f.duplicate_detail


def default_rules() -> list[Rule]:
    """Every rule with its default levels (README, "layershare check")."""
    mb = 1000**2
    return [
        ThresholdRule("max-image-size", Kind.SIZE, "size", lambda f: (f.size_bytes, ""), "the image's size"),
        ThresholdRule("max-base-size", Kind.SIZE, "base", _base_bytes, "the base image's size"),
        ThresholdRule("max-base-share", Kind.RATIO, "base-share", _base_share, "base bytes / image bytes"),
        ThresholdRule("max-layers", Kind.COUNT, "layers", lambda f: (f.layers, ""), "the number of layers"),
        ThresholdRule(
            "max-unique-size",
            Kind.SIZE,
            "unique",
            lambda f: (f.unique_bytes, ""),
            "bytes no other image shares",
        ),
        ThresholdRule(
            "max-wasted-bytes",
            Kind.SIZE,
            "wasted",
            _waste("wasted_bytes"),
            "bytes the image's own layers delete or overwrite",
            Levels(fail=20 * mb),
        ),
        ThresholdRule(
            "max-wasted-percent",
            Kind.RATIO,
            "wasted",
            _waste("wasted_ratio"),
            "wasted bytes / image bytes",
            Levels(fail=0.10),
        ),
        ThresholdRule(
            "min-efficiency",
            Kind.RATIO,
            "efficiency",
            _waste("efficiency"),
            "bytes still visible / image bytes (base waste included)",
        ),
        AllowedBasesRule(),
        ThresholdRule(
            "max-base-drift",
            Kind.COUNT,
            "base-versions",
            _drift,
            "versions of the base's repository used as bases on the host",
            Levels(warn=1),
        ),
        ThresholdRule(
            "max-duplicate-bytes",
            Kind.SIZE,
            "duplicate",
            _duplicates,
            "bytes of files the image's own layers store again that another stored layer holds (dupes)",
        ),
        ThresholdRule(
            "max-growth",
            Kind.SIZE,
            "growth",
            _growth("growth_bytes"),
            "bytes over the baseline image (check --baseline)",
        ),
        ThresholdRule(
            "max-growth-percent",
            Kind.GROWTH,
            "growth",
            _growth("growth_ratio"),
            "growth / the baseline image's size (check --baseline)",
        ),
    ]


CONTENT_RULES = frozenset({"max-wasted-bytes", "max-wasted-percent", "min-efficiency"})
DUPES_RULES = frozenset({"max-duplicate-bytes"})  # read every stored layer's files (layershare dupes)
