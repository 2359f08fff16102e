"""The event loop: uvloop when it is installed, asyncio's own loop (and the same behaviour)
when it is not."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import loop

ROOT = Path(__file__).resolve().parents[2]


async def _running_loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_the_process_runs_on_uvloop_when_it_is_installed() -> None:
    # a dependency on Linux/CPython (pyproject.toml), where these tests run
    assert loop.loop_factory() is not None
    assert loop.run(_running_loop_module()).startswith("uvloop")


def test_without_uvloop_the_standard_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    assert loop.loop_factory() is None
    assert loop.run(_running_loop_module()).startswith("asyncio")


def test_the_command_line_works_without_uvloop(tmp_path: Path) -> None:
    env = {**os.environ, "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'no-uvloop.db'}"}
    code = (
        "import sys; sys.modules['uvloop'] = None\n"
        "from bot.cli import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    for args, expected in ((["db", "migrate"], "Applied 0001_init"), (["db", "check"], "ok")):
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0 and expected in done.stdout, done.stderr
