"""No module in core/ grows past 450 lines: a use case that needs more is a second concern."""

from __future__ import annotations

from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
LIMIT = 450


def oversized(root: Path, limit: int = LIMIT) -> dict[str, int]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found[str(path.relative_to(root.parent))] = lines
    return found


def test_no_core_module_is_over_the_limit() -> None:
    assert oversized(CORE) == {}


def test_the_check_sees_a_long_module(tmp_path: Path) -> None:
    package = tmp_path / "core"
    package.mkdir()
    (package / "short.py").write_text("x = 1\n" * LIMIT)
    (package / "long.py").write_text("x = 1\n" * (LIMIT + 1))
    assert oversized(package) == {"core/long.py": LIMIT + 1}
