"""The README stays true to the code: every command and every configuration variable."""

from __future__ import annotations

import re
from pathlib import Path

from core.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_usage_is_documented() -> None:
    missing = [
        spec.usage for spec in COMMANDS.values() if spec.usage.replace("|", "\\|") not in README
    ]
    assert missing == []


def variables_read_by_the_code() -> set[str]:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "bot").rglob("*.py"))
    names = set(re.findall(r'"((?:SESSIONBOT|SLACK|DISCORD)_[A-Z_]+)"', code))
    assert names, "the scan found no variables"
    return names


def test_every_environment_variable_read_by_the_code_is_documented() -> None:
    assert sorted(n for n in variables_read_by_the_code() if n not in README) == []


def test_quick_start_is_the_two_make_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick and "make test" in quick
