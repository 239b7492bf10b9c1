"""The check policy: rule levels from a config file and the command line.

Looked up from the working directory upwards: ``.layershare.toml`` (table
``[check]``) or ``pyproject.toml`` (table ``[tool.layershare.check]``);
``--config FILE`` names one (either kind). Command-line ``--rule`` and
``--warn`` override the file. Every problem is collected and reported at
once, each with its file and key.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layershare.errors import ConfigError
from layershare.policy.rules import Level, Rule, default_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_TOP_WASTED = 10
_OPTIONS = {"top-wasted"}


@dataclass(frozen=True)
class Policy:
    """The rules a check applies and where their levels came from."""

    rules: tuple[Rule, ...]
    source: str = "defaults"
    top_wasted: int = DEFAULT_TOP_WASTED

    @property
    def enabled(self) -> tuple[Rule, ...]:
        """Rules that are not ``off``."""
        return tuple(r for r in self.rules if r.enabled)

    def rule(self, key: str) -> Rule:
        """The rule named ``key``."""
        return next(r for r in self.rules if r.key == key)


def find_config(start: Path) -> tuple[Path, Mapping[str, Any]] | None:
    """The nearest config file at or above ``start`` that has a check table, with that table."""
    for folder in (start, *start.parents):
        for name in (".layershare.toml", "pyproject.toml"):
            path = folder / name
            if path.is_file():
                table = _check_table(path, _read_toml(path))
                if table is not None:
                    return path, table
    return None


def _read_toml(path: Path) -> Mapping[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e


def _check_table(path: Path, document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    table: Any = document.get("check") if path.name != "pyproject.toml" else None
    if path.name == "pyproject.toml" or table is None:
        table = ((document.get("tool") or {}).get("layershare") or {}).get("check", table)
    return table if isinstance(table, Mapping) else None


def load_policy(
    config: str | Path | None = None,
    *,
    cwd: Path | None = None,
    rules: Iterable[str] = (),
    warns: Iterable[str] = (),
) -> Policy:
    """Defaults, then the config file, then ``--rule KEY=VALUE`` / ``--warn KEY=VALUE``."""
    problems: list[str] = []
    by_key: dict[str, Rule] = {r.key: r for r in default_rules()}
    source = "defaults"
    top_wasted = DEFAULT_TOP_WASTED
    table: Mapping[str, Any] | None = None
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        table = _check_table(path, _read_toml(path))
        if table is None:
            where = "[tool.layershare.check]" if path.name == "pyproject.toml" else "[check]"
            raise ConfigError(f"{path}: has no {where} table")
        source = str(path)
    else:
        found = find_config(cwd or Path.cwd())
        if found:
            path, table = found
            source = str(path)
    for key, value in (table or {}).items():
        where = f"{source}: {key}"
        if key == "top-wasted":
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                top_wasted = value
            else:
                problems.append(f"{where}: must be a whole number, not {value!r}")
            continue
        rule = by_key.get(key)
        if rule is None:
            problems.append(f"{where}: unknown key{_did_you_mean(key, [*by_key, *_OPTIONS])}")
            continue
        try:
            by_key[key] = rule.configured(value)
        except ConfigError as e:
            problems.append(f"{where}: {e}")
    levels: tuple[tuple[str, Iterable[str], Level], ...] = (
        ("--rule", rules, "fail"),
        ("--warn", warns, "warn"),
    )
    for option, overrides, level in levels:
        for text in overrides:
            key, sep, value = text.partition("=")
            key = key.strip()
            where = f"{option} {text}"
            if not sep:
                problems.append(f"{where}: expected KEY=VALUE")
                continue
            rule = by_key.get(key)
            if rule is None:
                problems.append(f"{where}: unknown rule{_did_you_mean(key, list(by_key))}")
                continue
            try:
                by_key[key] = rule.overridden(level, value.strip())
            except ConfigError as e:
                problems.append(f"{where}: {e}")
    if problems:
        raise ConfigError("\n".join(problems))
    return Policy(rules=tuple(by_key.values()), source=source, top_wasted=top_wasted)


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
