"""Crash safety (§15): SIGKILL mid-write loses no acknowledged write and leaves a healthy file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.store.sqlite.store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def _acknowledged_writes(url: str, wanted: int) -> list[str]:
    """Run the writer child until it has acknowledged `wanted` writes, then SIGKILL it."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        assert child.stdout is not None
        while len(lines) < wanted and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert len(lines) >= wanted, f"the writer acknowledged only {len(lines)} writes"
    return lines


async def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    acknowledged = _acknowledged_writes(url, 1500)
    store = SqliteStore(url)
    await store.open()
    try:
        assert await store.integrity_problems() == []
        for line in acknowledged:
            kind, *rest = line.split()
            if kind == "session":
                assert await store.sessions.by_id(rest[0]) is not None, line
            else:
                row = await store.engine.fetchone(
                    "SELECT 1 FROM events WHERE session_id = ? AND seq = ?", (rest[0], int(rest[1]))
                )
                assert row is not None, f"acknowledged but lost: {line}"
    finally:
        await store.close()
