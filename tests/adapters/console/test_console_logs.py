"""The console's screen shows replies and notifications only: its logs go to a file.

A fork and a sweep both log at INFO (the default level); the transcript (standard output and
standard error together, as a terminal shows them) has none of it. Like the scheduler test,
this waits real seconds for the sweep (SESSIONBOT_ABANDON_AFTER=3s, sweep every 1s), bounded.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from tests.adapters.console.transcript import ROOT, run_until

LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR)\b|\d\d:\d\d:\d\d,\d{3}")
ABANDONED = "abandoned after no activity"


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
    script = "start Left alone\nnote 1 first\nnote 1 second\nfork 1 at:1\n"
    code, out, _ = run_until(env, script, ABANDONED, merge_stderr=True)
    assert code == 0, out
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
