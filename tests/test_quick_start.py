"""The README's quick-start transcript is what the console prints for those lines today."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import run_console
from bot.config import load_config
from core.clock import ManualClock

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "sessionbot> "


def _transcript() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return quick.split("```text\n", 1)[1].split("```", 1)[0].splitlines()


async def test_the_quick_start_transcript_is_what_the_console_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = _transcript()
    typed = [line.removeprefix(PROMPT) for line in readme if line.startswith(PROMPT)]
    monkeypatch.chdir(tmp_path)  # `make run`'s default database, ./data/sessions.db, in here
    screen = io.StringIO()
    script = iter(typed)

    def type_line() -> str:
        line = next(script, "")
        screen.write(line + "\n")  # the terminal's echo of what is typed
        return line + "\n" if line else ""

    code = await run_console(
        load_config({}),
        out=screen,
        read_line=type_line,
        interactive=True,
        clock=ManualClock(datetime(2026, 11, 21, 16, 46, tzinfo=UTC)),
    )
    assert code == 0
    printed = screen.getvalue().splitlines()
    # Everything up to `stats` is exact; the figures of `stats` depend on how fast one types.
    until_stats = readme.index(f"{PROMPT}stats") + 1
    assert printed[:until_stats] == readme[:until_stats]
    assert printed[until_stats] == readme[until_stats] == "Stats for the last 30 days"
    assert printed[-1] == readme[-1] == f"{PROMPT}quit"
