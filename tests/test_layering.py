"""Dependencies point bot → adapters → core: core imports no platform and no outer layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from core.models import PlanStatus, Status

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = {
    "slack_bolt",
    "slack_sdk",
    "discord",
    "apscheduler",
    "aiohttp",
    "adapters",
    "bot",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_no_platform_or_outer_layer() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN_IN_CORE)
        for path in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_adapters_do_not_import_bot() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "adapters").rglob("*.py")
        if "bot" in imported_roots(path)
    ]
    assert offenders == []


def test_the_check_sees_imports() -> None:
    """The scanner must notice a forbidden import, or the tests above prove nothing."""
    sample = ROOT / "tests" / "test_layering.py"
    assert {"ast", "pathlib"} <= imported_roots(sample)


# --- the import graph inside core -------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The `known` modules that `path` imports when it is loaded (module level, `if` and `try`
    bodies included; `if TYPE_CHECKING:` and function bodies left out). `from x import y` is
    the module `x.y` when that is a module, else `x`; relative imports are resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                for alias in node.names:
                    found.add(sub if (sub := f"{source}.{alias.name}") in known else source)
            elif isinstance(node, ast.If) and not _type_checking_only(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                visit(node.orelse)
                visit(node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in found if m in known and m != name}


def core_import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in (ROOT / "core").rglob("*.py")}
    known = set(paths)
    return {name: module_imports(path, name, known) for name, path in paths.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (`a → b → … → a`) through each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle in {sorted(group)}")


# Cycles not yet untangled, each as the set of modules in it. Empty: there are none.
KNOWN_CYCLES: list[set[str]] = []


def test_core_has_no_import_cycle() -> None:
    cycles = [c for c in find_cycles(core_import_graph()) if set(c) not in KNOWN_CYCLES]
    assert cycles == [], "import cycles in core:\n" + "\n".join(" → ".join(c) for c in cycles)


# What the store may import from the rest of core: records and the leaves under them.
STORE_MAY_IMPORT = {
    "core.records",
    "core.models",
    "core.errors",
    "core.states",
    "core.files",
    "core.jsonlimits",
}


def test_the_store_imports_no_feature() -> None:
    graph = core_import_graph()
    offenders = {
        name: sorted(
            target
            for target in targets
            if not target.startswith("core.store")
            and not any(target == m or target.startswith(m + ".") for m in STORE_MAY_IMPORT)
        )
        for name, targets in graph.items()
        if name.startswith("core.store")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_records_import_no_store_or_feature() -> None:
    graph = core_import_graph()
    offenders = {
        name: sorted(t for t in targets if not t.startswith("core.records") and t != "core.models")
        for name, targets in graph.items()
        if name.startswith("core.records")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_cycle_check_sees_cycles(tmp_path: Path) -> None:
    """The graph notices a cycle through `from x import y`, and not one under TYPE_CHECKING."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    sample = tmp_path / "__init__.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "from core.store import ops\n"
        "from .models import Session\n"
        "if TYPE_CHECKING:\n"
        "    from core.service import Service\n"
        "def later() -> None:\n"
        "    from core.outbox import Outbox\n",
        encoding="utf-8",
    )
    known = {"core.store", "core.store.ops", "core.models", "core.service", "core.outbox"}
    assert module_imports(sample, "core", known) == {"core.store.ops", "core.models"}


def restated_status_sets(path: Path) -> list[str]:
    """SQL lists `('…', …)` and tuples/sets of two or more status values written out."""
    statuses = {s.value for s in (*Status, *PlanStatus)}
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in re.finditer(r"\('[a-z_]+'(?:, *'[a-z_]+')+\)", node.value):
                if set(re.findall(r"'([a-z_]+)'", match.group(0))) <= statuses:
                    found.append(match.group(0))
        elif isinstance(node, ast.Tuple | ast.Set | ast.List):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(values) >= 2 and len(values) == len(node.elts) and set(values) <= statuses:
                found.append(repr(values))
    return found


def test_the_store_restates_no_status_set() -> None:
    """Status sets are defined once in core (core/models.py) and rendered with `sql_in`."""
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in (ROOT / "core" / "store").rglob("*.py")
        if (found := restated_status_sets(path))
    }
    assert offenders == {}


def test_the_status_check_sees_a_restated_set(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "OPEN = ('active', 'paused')\nSQL = \"WHERE status IN ('active', 'paused')\"\n",
        encoding="utf-8",
    )
    assert restated_status_sets(sample) == ["['active', 'paused']", "('active', 'paused')"]
