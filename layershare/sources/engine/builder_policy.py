"""The GC policy a BuildKit daemon runs with, as buildkitd works it out at start (BuildKit v0.32's
``cmd/buildkitd/main.go`` ``getGCPolicy`` and ``cmd/buildkitd/config/gcpolicy*.go``): from its flags,
its ``buildkitd.toml`` and, where neither sets the space limits, the size of the disk under its state.

- ``--oci-worker-gc=false`` or ``[worker.oci] gc = false``: no GC;
- ``[[worker.oci.gcpolicy]]`` rules replace the default ones;
- the default rules: local sources, cache mounts and git checkouts unused for 48 hours while the cache
  is over 512 MB; then anything unused for 60 days, then anything, then internal and frontend records
  too, while the cache is over what the space limits keep;
- the space limits: ``--oci-worker-gc-keepstorage R[,F[,M]]`` (MB), else the config's
  ``reservedSpace``, ``minFreeSpace``, ``maxUsedSpace`` (its deprecated ``gckeepstorage`` as the reserved
  space), else 10% (at most 10 GB), 20% and 80% (at most 100 GB) of the disk, each percentage as
  whole GiB plus one, in GB.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from layershare.model.builders import GCRule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

GB = 1_000_000_000
GIB = 1 << 30
HOUR_NS = 3_600_000_000_000
SMALL_RECORDS = ("type==source.local", "type==exec.cachemount", "type==source.git.checkout")


def default_caps(disk_total: int | None) -> tuple[int, int, int]:
    """BuildKit's ``DetectDefaultGCCap``: (reserved, max used, min free) for a disk of ``disk_total``
    bytes (None or 0: BuildKit could not read it, so every percentage is 2 GB)."""

    def share(percent: int, cap: int | None) -> int:
        value = (disk_total * percent // 100 // GIB + 1) * GB if disk_total else 2 * GB
        return min(value, cap) if cap else value

    return share(10, 10 * GB), share(80, 100 * GB), share(20, None)


def default_rules(reserved: int, max_used: int, min_free: int) -> tuple[GCRule, ...]:
    """BuildKit's four default rules with these space limits (``DefaultGCPolicy``)."""
    space = {"reserved_space": reserved, "max_used_space": max_used, "min_free_space": min_free}
    return (
        GCRule(False, SMALL_RECORDS, 48 * HOUR_NS, 0, 512 * 1_000_000, 0),
        GCRule(False, (), 60 * 24 * HOUR_NS, **space),
        GCRule(False, (), 0, **space),
        GCRule(True, (), 0, **space),
    )


def rules_from_workers(workers: Sequence[Mapping[str, Any]]) -> tuple[bool, tuple[GCRule, ...]]:
    """(GC on, its rules) as the running daemon says (``buildctl debug workers --format '{{json .}}'``,
    the first worker, as buildx reads it)."""
    if not workers:
        return False, ()
    rules = tuple(
        GCRule(
            all=bool(r.get("all")),
            filters=tuple(str(f) for f in r.get("filter") or ()),
            keep_duration_ns=int(r.get("keepDuration") or 0),
            reserved_space=int(r.get("reservedSpace") or r.get("keepBytes") or 0),
            max_used_space=int(r.get("maxUsedSpace") or 0),
            min_free_space=int(r.get("minFreeSpace") or 0),
        )
        for r in workers[0].get("gcPolicy") or ()
    )
    return bool(rules), rules


def rules_from_setup(
    flags: Sequence[str], config: str | None, disk_total: int | None
) -> tuple[bool, tuple[GCRule, ...], str]:
    """(GC on, its rules, where they come from: ``flags``, ``config`` or ``defaults``) as buildkitd
    works them out from its command line and ``buildkitd.toml`` (``config``: its text, None for none).
    ``ValueError`` where the config does not parse."""
    oci: Mapping[str, Any] = {}
    if config:
        try:
            oci = tomllib.loads(config).get("worker", {}).get("oci", {}) or {}
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"buildkitd.toml does not parse: {e}") from e
    options = _flags(flags)
    enabled = oci.get("gc", True) is not False
    if "oci-worker-gc" in options:
        enabled = options["oci-worker-gc"].lower() not in ("false", "0")
    if not enabled:
        return False, (), "flags" if "oci-worker-gc" in options else "config"
    if "oci-worker-gc-keepstorage" in options:
        parts = [int(p) * 1_000_000 for p in options["oci-worker-gc-keepstorage"].split(",") if p.strip()]
        reserved, min_free, max_used = [*parts, 0, 0, 0][:3]
        source = "flags"
    else:
        reserved, max_used, min_free = (
            _space(oci.get(k), disk_total) for k in ("reservedSpace", "maxUsedSpace", "minFreeSpace")
        )
        source = "config"
        if not (reserved or max_used or min_free):
            kept = _space(oci.get("gckeepstorage"), disk_total)
            if kept:
                reserved = kept
            else:
                reserved, max_used, min_free = default_caps(disk_total)
                source = "defaults"
    policies = oci.get("gcpolicy")
    if isinstance(policies, list) and policies:
        return True, tuple(_rule(p, disk_total) for p in policies if isinstance(p, Mapping)), "config"
    return True, default_rules(reserved, max_used, min_free), source


def _flags(flags: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    words = list(flags)
    for n, word in enumerate(words):
        if not word.startswith("--"):
            continue
        name, equals, value = word[2:].partition("=")
        if not equals:
            following = words[n + 1] if n + 1 < len(words) else ""
            value = "true" if name == "oci-worker-gc" or following.startswith("--") else following
        found[name] = value
    return found


def _rule(policy: Mapping[str, Any], disk_total: int | None) -> GCRule:
    return GCRule(
        all=bool(policy.get("all")),
        filters=tuple(str(f) for f in policy.get("filters") or ()),
        keep_duration_ns=_duration(policy.get("keepDuration")),
        reserved_space=_space(policy.get("reservedSpace") or policy.get("keepBytes"), disk_total),
        max_used_space=_space(policy.get("maxUsedSpace"), disk_total),
        min_free_space=_space(policy.get("minFreeSpace"), disk_total),
    )


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def _space(value: object, disk_total: int | None) -> int:
    """A space setting: bytes, ``N%`` of the disk (whole GiB plus one, in GB), or a size as docker's
    ``RAMInBytes`` reads it (binary: ``10GB`` is 10 GiB)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        percent = int(float(text[:-1]))
        return (disk_total * percent // 100 // GIB + 1) * GB if disk_total else 2 * GB
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?", text.lower())
    if not found:
        raise ValueError(f"buildkitd.toml: a space of {text!r} does not parse")
    return int(float(found.group(1)) * _UNITS[found.group(2)])


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": HOUR_NS}


def _duration(value: object) -> int:
    """A duration as buildkitd's config takes it: seconds as a number, or Go's ``48h``, in nanoseconds."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int | float):
        return int(value * 10**9)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"buildkitd.toml: a keepDuration of {text!r} does not parse")
    return int(sum(float(a) * _NS[b] for a, b in parts))


TEMP_CACHE_PERCENT = 13.818  # moby's tempCachePercent (e x pi x phi): the small records' share


def engine_rules(
    engine_version: str, builder: Mapping[str, Any] | None, disk_total: int | None
) -> tuple[bool, tuple[GCRule, ...], str]:
    """(GC on, its rules, where they come from) of the engine's own BuildKit, as dockerd works them out
    from daemon.json's ``builder`` section (None: none) and the disk under ``<data-root>/buildkit``
    (moby's ``builder-next`` ``getGCPolicy`` and ``DefaultGCPolicy``, read at 20.10, 26.1, 28.5, 29.7):

    - GC is on by default from 28.2 (``builder.gc.enabled`` unset); before, only with ``"enabled": true``;
    - a ``policy`` list replaces the default rules;
    - the default rules are BuildKit's four, with moby's sizes: from 28.2 ``defaultReservedSpace``,
      ``defaultMaxUsedSpace``, ``defaultMinFreeSpace`` (else 10%, 80% and 20% of the disk, not capped),
      before one ``defaultKeepStorage`` (else 10% of the disk); the small records' rule keeps
      ``max(13.818% of the reserved space, 512 MB)``, and before 29.6 its three types are one filter
      that all must match (so it matches nothing);
    - before 25.0 the keep durations are nanoseconds (48*3600 and 60*24*3600 ns: 172.8µs, 5.184ms).
    """
    from layershare.model import version_tuple

    version = version_tuple(engine_version)
    gc = (builder or {}).get("gc") or {}
    enabled = gc.get("enabled")
    on = enabled is not False if version >= (28, 2) else enabled is True
    if not on:
        return False, (), "daemon.json" if enabled is False else "defaults"
    nanoseconds = version < (25, 0)
    policies = gc.get("policy")
    if isinstance(policies, list) and policies:
        return (
            True,
            tuple(_engine_rule(p, version) for p in policies if isinstance(p, Mapping)),
            "daemon.json",
        )

    def size(key: str) -> int:
        return _space(gc.get(key), disk_total) if gc.get(key) not in (None, "") else 0

    def share(percent: int) -> int:
        return (disk_total * percent // 100 // GIB + 1) * GB if disk_total else 0

    source = "daemon.json"
    if version >= (28, 2):
        reserved = size("defaultReservedSpace") or size("defaultKeepStorage")
        max_used, min_free = size("defaultMaxUsedSpace"), size("defaultMinFreeSpace")
        if not (reserved or max_used or min_free):
            reserved, max_used, min_free = share(10) or 2 * GB, share(80), share(20)
            source = "defaults"
    else:
        reserved, max_used, min_free = size("defaultKeepStorage"), 0, 0
        if not reserved:
            reserved, source = share(10) or 2 * GB, "defaults"
    small = max(round(reserved / 100 * TEMP_CACHE_PERCENT), 512_000_000)
    types = SMALL_RECORDS if version >= (29, 6) else (",".join(SMALL_RECORDS),)
    second = 1 if nanoseconds else 1_000_000_000  # before 25.0 moby wrote seconds where Go wants ns
    day = 24 * 3600 * second
    hours48 = 48 * 3600 * second
    if version >= (28, 2):
        space = {"reserved_space": reserved, "max_used_space": max_used, "min_free_space": min_free}
        small_rule = GCRule(False, types, hours48, 0, small, 0)
    else:  # one KeepBytes, which BuildKit of then keeps as the reserved space
        space = {"reserved_space": reserved, "max_used_space": 0, "min_free_space": 0}
        small_rule = GCRule(False, types, hours48, small, 0, 0)
    return (
        True,
        (
            small_rule,
            GCRule(False, (), 60 * day, **space),
            GCRule(False, (), 0, **space),
            GCRule(True, (), 0, **space),
        ),
        source,
    )


_CACHE_FIELDS = ("id", "parent", "type", "description", "inuse", "shared", "private", "mutable", "immutable")


def _engine_rule(policy: Mapping[str, Any], version: tuple[int, ...]) -> GCRule:
    """One rule of daemon.json's ``builder.gc.policy`` as moby hands it to BuildKit: ``until`` (or
    ``unused-for``) as the keep duration, the cache fields as one filter all must match."""
    given = policy.get("filter") or []
    pairs = given.items() if isinstance(given, Mapping) else (str(f).partition("=")[::2] for f in given)
    keep, parts = 0, []
    for key, value in pairs:
        name = str(key).strip().lower()
        if name in ("until", "unused-for"):
            keep = _duration(str(value)) if not isinstance(value, list) else _duration(str(value[0]))
        elif name in _CACHE_FIELDS:
            parts.append(f"id~={value}" if name == "id" else (f"{name}=={value}" if value else name))
    reserved = _space(policy.get("reservedSpace") or policy.get("keepStorage"), None)
    if version >= (28, 2):
        max_used, min_free = (
            _space(policy.get("maxUsedSpace"), None),
            _space(policy.get("minFreeSpace"), None),
        )
    else:
        max_used = min_free = 0
    # moby hands BuildKit one filter string, empty where none is given (BuildKit reads it as none)
    return GCRule(bool(policy.get("all")), (",".join(parts),), keep, reserved, max_used, min_free)
