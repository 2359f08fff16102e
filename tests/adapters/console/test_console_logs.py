"""The console's screen shows replies and notifications only: its logs go to a file.

A fork and a sweep both log at INFO (the default level); the transcript (standard output and
standard error together, as a terminal shows them) has none of it. Like the scheduler test,
this waits real seconds for the sweep (SESSIONBOT_ABANDON_AFTER=3s, sweep every 1s), bounded.
"""

from __future__ import annotations

import os
import queue
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 30.0
LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR)\b|\d\d:\d\d:\d\d,\d{3}")
ABANDONED = "abandoned after no activity"


def _transcript(env: dict[str, str]) -> str:
    """Start, note and fork, then wait (bounded) for the sweep's notice; everything shown."""
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
    ) as process:
        assert process.stdout is not None and process.stdin is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = process.stdout
        reader = threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True)
        reader.start()
        seen: list[str] = []
        try:
            process.stdin.write("start Left alone\nnote 1 first\nnote 1 second\nfork 1 at:1\n")
            process.stdin.flush()
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline and not any(ABANDONED in x for x in seen):
                try:
                    seen.append(lines.get(timeout=0.2))
                except queue.Empty:
                    continue
            process.stdin.close()
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=5)
        while not lines.empty():
            seen.append(lines.get())
    assert process.returncode == 0, "".join(seen)
    return "".join(seen)


def test_console_transcript_has_replies_and_no_log_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env |= {
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "SESSIONBOT_LOG_LEVEL": "info",
        "SESSIONBOT_SWEEP_INTERVAL": "1s",
        "SESSIONBOT_ABANDON_AFTER": "3s",
        "SESSIONBOT_ARCHIVE_DIR": str(tmp_path / "archive"),
    }
    env.pop("SESSIONBOT_LOG_FILE", None)
    out = _transcript(env)
    assert "Session #1 Left alone: started" in out
    assert "forked" in out.lower() and ABANDONED in out
    assert [line for line in out.splitlines() if LOG_LINE.search(line)] == []
    log = tmp_path / "sessionbot.log"  # beside the database
    text = log.read_text()
    assert "INFO core.history.fork" in text and "INFO core.jobs.sweep" in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_log_file_setting_is_honoured(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "bot.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env |= {
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "SESSIONBOT_LOG_FILE": str(log),
        "SESSIONBOT_LOG_LEVEL": "info",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="start One\nfork 1 at:0\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "applied migration" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
