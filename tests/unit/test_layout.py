"""The layout keeps the story it tells: data flows one way, no module grows past 400 lines, and the
top level stays small. Read from the code's own imports (every import, lazy ones included)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from support import ROOT

PACKAGE = ROOT / "layershare"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def imports() -> dict[str, set[str]]:
    """Every layershare module and the layershare modules it imports (``from a import b``: ``a.b`` when
    that is a module, else ``a``)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for name, path in modules.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                             for a in node.names)  # fmt: skip
        found[name] = {n for n in names if n.split(".")[0] == "layershare"}
    return found


def test_the_model_imports_nothing_else_of_layershare() -> None:
    for module, names in imports().items():
        if module.startswith("layershare.model"):
            assert all(n.startswith("layershare.model") for n in names), (module, names)


def test_nothing_imports_the_command_line() -> None:
    for module, names in imports().items():
        if not module.startswith(("layershare.cli", "layershare.__main__")):
            assert not [n for n in names if n.startswith("layershare.cli")], module


def test_sources_import_nothing_from_analysis_policy_or_render() -> None:
    above = ("layershare.report", "layershare.policy", "layershare.render", "layershare.free",
             "layershare.disk", "layershare.diff", "layershare.metrics", "layershare.reporting")  # fmt: skip
    for module, names in imports().items():
        if module.startswith("layershare.sources"):
            assert not [n for n in names if n.startswith(above)], module


def test_the_command_line_takes_only_its_folder_from_the_cache() -> None:
    for path in (PACKAGE / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "layershare.cache":
                assert [a.name for a in node.names] in (["default_cache_dir"], ["chosen_cache_dir"]), path


def test_no_module_past_400_lines_and_a_small_top_level() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}
    assert len(list(PACKAGE.glob("*.py"))) <= 15


def test_no_import_cycles_between_modules() -> None:
    graph = imports()
    # Packages' __init__ re-exports are entry points, not edges of the layers.
    edges = {
        m: {n for n in names if n in graph and n != m and not _is_package(n)} for m, names in graph.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def _is_package(name: str) -> bool:
    return (ROOT / name.replace(".", "/") / "__init__.py").exists()
