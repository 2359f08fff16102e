"""No module in core/ reaches into a `_private` attribute of another module's object.

An access `x._name` is allowed on `self`/`cls`, when `_name` is defined in the same module (a
module's own helpers, its own classes' attributes), and for namedtuple's public `_replace`."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
PUBLIC_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make"}


def _defined_here(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def reaches_into_others(source: str) -> list[str]:
    """`x._name` accesses in `source` that are not the module's own business."""
    tree = ast.parse(source)
    own = _defined_here(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in PUBLIC_UNDERSCORED:
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if name not in own:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_core_module_touches_another_modules_private_attributes() -> None:
    offences = {
        str(path.relative_to(CORE.parent)): found
        for path in sorted(CORE.rglob("*.py"))
        if (found := reaches_into_others(path.read_text("utf-8")))
    }
    assert offences == {}


def test_the_check_finds_a_private_call_on_a_foreign_object() -> None:
    source = "async def sweep(service):\n    await service._change(1)\n"
    assert reaches_into_others(source) == ["2: service._change"]
    own = "class A:\n    def _x(self): ...\n\ndef f(a):\n    return a._x()\n"
    assert reaches_into_others(own) == []
