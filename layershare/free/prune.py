"""What a user asks a removal to take, parsed: ``--older-than`` durations, label filters, and
``docker … prune`` command lines (``--like``) with their ``until=`` and ``label=`` filters, read
as the docker CLI and the engine read them. No I/O; :mod:`layershare.free.selection` plans with these.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from layershare.errors import UsageError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_GO_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` in seconds (``--older-than``); UsageError otherwise."""
    found = _DURATION.match(text.strip())
    if not found:
        raise UsageError(f"malformed duration {text!r}: use a number and s, m, h, d or w (30d, 12h)")
    return float(found.group(1)) * _SECONDS[found.group(2)]


def parse_until(text: str, now: float) -> float:
    """A prune filter's ``until=`` as the engine reads it: a Go duration before now, or a timestamp."""
    value = text.strip()
    if _GO_DURATION.match(value):
        return now - sum(float(n) * _GO_SECONDS[u] for n, u in _GO_PART.findall(value))
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UsageError(
            f"malformed until filter {text!r}: docker takes a duration (24h, 90m) or a timestamp"
        ) from None


@dataclass(frozen=True)
class LabelFilter:
    """``label=KEY``, ``label=KEY=VALUE`` (and ``label!=…`` when ``negated``)."""

    key: str
    value: str | None = None
    negated: bool = False

    @classmethod
    def parse(cls, text: str, negated: bool = False) -> LabelFilter:
        key, sep, value = text.partition("=")
        if not key:
            raise UsageError(f"malformed label filter {text!r}: use KEY or KEY=VALUE")
        return cls(key, value if sep else None, negated)

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels and (self.value is None or labels[self.key] == self.value)
        return present != self.negated


@dataclass(frozen=True)
class PruneFilters:
    """A prune's ``--filter`` values: ``until`` (seconds since the epoch) and labels."""

    until: float | None = None
    labels: tuple[LabelFilter, ...] = ()

    def matches(self, created: float, labels: Mapping[str, str]) -> bool:
        if self.until is not None and created > self.until:
            return False
        return all(f.matches(labels) for f in self.labels)


_BYTES = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_BINARY = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(text: str) -> int:
    """A size as the docker CLI reads ``--keep-storage 10gb`` (go-units' ``RAMInBytes``: 1k = 1024)."""
    found = _BYTES.match(text.strip())
    if not found:
        raise UsageError(f"malformed size {text!r}: use a number and b, k, m, g or t (512m, 10gb)")
    unit = found.group(2).lower() if found.group(2) else None
    return int(float(found.group(1)) * _BINARY[unit])


@dataclass(frozen=True)
class BuildSpace:
    """A build-cache prune's space limits (bytes, 0: not set): ``--reserved-space`` (``--keep-storage``
    before it), ``--max-used-space`` and ``--min-free-space``. With any set, BuildKit prunes one record at
    a time, least recently and least often used first, until the cache is under what it keeps."""

    reserved: int = 0
    max_used: int = 0
    min_free: int = 0
    keep_storage: int = 0

    def __bool__(self) -> bool:
        return bool(self.reserved or self.max_used or self.min_free or self.keep_storage)


@dataclass(frozen=True)
class PruneCommand:
    """One ``docker … prune`` command line, parsed: what it prunes and how."""

    text: str
    containers: bool = False
    images: bool = False
    volumes: bool = False
    build_cache: bool = False
    all: bool = False
    volumes_all: bool = False
    filters: PruneFilters = field(default_factory=PruneFilters)
    space: BuildSpace = field(default_factory=BuildSpace)
    # ``docker buildx prune --builder NAME``: that builder's own cache (``build_cache`` is then False);
    # ``docker buildx rm NAME``: the builder itself (``remove_builder``), its state unless ``keep_state``.
    builder: str = ""
    record_filters: tuple[str, ...] = ()  # the filters as BuildKit takes them (``type==regular``…)
    keep_duration: float = 0.0  # ``until=``: seconds a record used since then stays
    remove_builder: bool = False
    keep_state: bool = False


# builder prune's --keep-storage; buildx prune's (and BuildKit's) --reserved-space, --max-used-space and
# --min-free-space: BuildSpace's fields.
_SPACE_FLAGS = {
    "keep_storage": "keep_storage",
    "reserved_space": "reserved",
    "max_used_space": "max_used",
    "min_free_space": "min_free",
}

_PRUNE_KINDS = {
    ("image", "prune"): "images",
    ("container", "prune"): "containers",
    ("volume", "prune"): "volumes",
    ("builder", "prune"): "build_cache",
    ("buildx", "prune"): "build_cache",
    ("system", "prune"): "system",
}


def parse_prune(text: str, now: float | None = None) -> PruneCommand:
    """``docker system prune -a --volumes --filter until=24h`` and the other prune commands."""
    now = time.time() if now is None else now
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise UsageError(f"malformed --like {text!r}: {e}") from None
    if words[:1] == ["docker"]:
        words = words[1:]
    if words[:1] == ["buildx"]:
        builder, words = _builder_option(text, words)
        if words[1:2] == ["rm"]:
            return _buildx_rm(text, builder, words[2:])
        if builder and builder != "default" and words[1:2] == ["prune"]:
            return _buildx_prune(text, builder, words[2:], now)
    kind = _PRUNE_KINDS.get(tuple(words[:2]))  # type: ignore[arg-type]
    if kind is None:
        raise UsageError(
            f"--like {text!r} is not a prune command: use docker image|container|volume|builder|system prune"
        )
    everything = volumes = False
    until: float | None = None
    labels: list[LabelFilter] = []
    space: dict[str, int] = {}
    rest = list(words[2:])
    while rest:
        word = rest.pop(0)
        flag, equals, value = word.partition("=")
        if kind == "build_cache" and flag.removeprefix("--").replace("-", "_") in _SPACE_FLAGS:
            size = value if equals else (rest.pop(0) if rest else "")
            space[_SPACE_FLAGS[flag.removeprefix("--").replace("-", "_")]] = parse_bytes(size)
        elif word in ("-a", "--all"):
            everything = True
        elif word in ("-f", "--force"):
            continue
        elif word == "--volumes" and kind == "system":
            volumes = True
        elif word in ("--filter", "-filter") or word.startswith("--filter="):
            value = word.split("=", 1)[1] if word.startswith("--filter=") else (rest.pop(0) if rest else "")
            name, _, argument = value.partition("=")
            if name == "until" and kind != "volumes":
                until = parse_until(argument, now)
            elif name in ("label", "label!"):
                labels.append(LabelFilter.parse(argument, negated=name == "label!"))
            else:
                raise UsageError(f"--like {text!r}: the filter {value!r} is not one layershare reproduces")
        elif word in ("-af", "-fa"):
            everything = True
        else:
            raise UsageError(f"--like {text!r}: {word!r} is not an option of that command")
    if kind == "system" and volumes and until is not None:
        raise UsageError(f"--like {text!r}: docker refuses the until filter with --volumes")
    filters = PruneFilters(until=until, labels=tuple(labels))
    if kind == "system":
        return PruneCommand(
            text, containers=True, images=True, volumes=volumes, build_cache=True, all=everything,
            filters=filters,
        )  # fmt: skip
    return PruneCommand(
        text,
        containers=kind == "containers",
        images=kind == "images",
        volumes=kind == "volumes",
        build_cache=kind == "build_cache",
        all=everything if kind != "volumes" else False,
        volumes_all=everything if kind == "volumes" else False,
        filters=filters,
        space=BuildSpace(**space),
    )


def _builder_option(text: str, words: list[str]) -> tuple[str, list[str]]:
    """``--builder NAME`` (before or after the subcommand) taken out of ``buildx`` words."""
    builder, rest = "", []
    remaining = list(words)
    while remaining:
        word = remaining.pop(0)
        if word == "--builder":
            if not remaining:
                raise UsageError(f"--like {text!r}: --builder needs a name")
            builder = remaining.pop(0)
        elif word.startswith("--builder="):
            builder = word.partition("=")[2]
        else:
            rest.append(word)
    return builder, rest


def _buildx_rm(text: str, builder: str, words: list[str]) -> PruneCommand:
    """``docker buildx rm [NAME] [--keep-state] [-f]``: the builder's container and its state volume."""
    names = [w for w in words if not w.startswith("-")]
    flags = [w for w in words if w.startswith("-")]
    for flag in flags:
        if flag not in ("--keep-state", "-f", "--force"):
            raise UsageError(f"--like {text!r}: {flag!r} is not an option layershare reproduces of buildx rm")
    name = names[0] if len(names) == 1 else builder
    if len(names) > 1 or not name:
        raise UsageError(f"--like {text!r}: name one builder (docker buildx rm NAME)")
    return PruneCommand(text, builder=name, remove_builder=True, keep_state="--keep-state" in flags)


def _buildx_prune(text: str, builder: str, words: list[str], now: float) -> PruneCommand:
    """``docker buildx prune --builder NAME``: its flags and filters as buildx hands them to BuildKit
    (``until`` as the keep duration, ``id`` as a regular expression, ``KEY!``/``KEY~`` as they are, any
    other key as ``KEY==VALUE``)."""
    everything = False
    keep = 0.0
    space: dict[str, int] = {}
    filters: list[str] = []
    rest = list(words)
    while rest:
        word = rest.pop(0)
        flag, equals, value = word.partition("=")
        name = flag.removeprefix("--").replace("-", "_")
        if name in _SPACE_FLAGS and flag.startswith("--"):
            space[_SPACE_FLAGS[name]] = parse_bytes(value if equals else (rest.pop(0) if rest else ""))
        elif word in ("-a", "--all", "-af", "-fa"):
            everything = True
        elif word in ("-f", "--force", "--verbose"):
            continue
        elif flag in ("--filter", "-filter"):
            given = value if equals else (rest.pop(0) if rest else "")
            key, sep, argument = given.partition("=")
            if not sep:
                raise UsageError(f"--like {text!r}: a filter is KEY=VALUE, not {given!r}")
            if key in ("until", "unused-for"):
                keep = now - parse_until(argument, now)
            elif key == "id":
                filters.append(f"id~={argument}")
            elif key.endswith(("!", "~")):
                filters.append(f"{key}={argument}")
            else:
                filters.append(f"{key}=={argument}")
        else:
            raise UsageError(f"--like {text!r}: {word!r} is not an option of buildx prune")
    return PruneCommand(
        text,
        all=everything,
        space=BuildSpace(**space),
        builder=builder,
        record_filters=(",".join(filters),) if filters else (),
        keep_duration=keep,
    )
