"""The repository carries what other tools carry: a LICENSE matching pyproject.toml, an
`.env.example` covering every variable, and no spec section numbers in user-facing text."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from bot.config import VARIABLES, env_example, load_config
from tests.test_readme import variables_read_by_the_code

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = (
    "python -c 'from bot.config import env_example; print(env_example(), end=\"\")' > .env.example"
)


def test_every_variable_read_by_the_code_is_in_the_table() -> None:
    listed = [v.name for v in VARIABLES]
    assert sorted(variables_read_by_the_code() - set(listed)) == []
    assert len(listed) == len(set(listed))


def test_env_example_covers_every_variable_with_a_comment() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert example == env_example(), f"regenerate it: {REGENERATE}"
    lines = example.splitlines()
    for name in variables_read_by_the_code():
        (at,) = [i for i, line in enumerate(lines) if line.startswith(f"# {name}=")]
        assert lines[at - 1].startswith("# ") and len(lines[at - 1]) > 10, name
    assert not [line for line in lines if line and not line.startswith("#")]


def test_the_defaults_in_the_table_are_the_code_defaults() -> None:
    written = {v.name: v.default for v in VARIABLES if v.default}
    assert load_config(written) == load_config({})


def test_license_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 sessionbot contributors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_no_spec_section_numbers_in_user_facing_text() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("bot", "adapters", "core")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in _section_signs_outside_docstrings(path)
    ]
    assert found == []
    for document in ("README.md", "manifest.yml", ".env.example"):
        assert "§" not in (ROOT / document).read_text(encoding="utf-8"), document


def _section_signs_outside_docstrings(path: Path) -> list[int]:
    """Lines of string literals holding "§", leaving out docstrings (read by developers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "§" in node.value
        and id(node) not in docstrings
    ]
