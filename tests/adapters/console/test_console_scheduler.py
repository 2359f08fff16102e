"""The real bot process runs the scheduler: an idle console session is abandoned and announced.

This test necessarily waits real seconds (SESSIONBOT_ABANDON_AFTER=3s, sweep every 1s); it
keeps standard input open until the notification appears, bounded by a timeout.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.adapters.console.transcript import run_until


def test_idle_session_is_abandoned_by_the_running_bot(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "SESSIONBOT_LOG_LEVEL": "warning",
        "SESSIONBOT_SWEEP_INTERVAL": "1s",
        "SESSIONBOT_ABANDON_AFTER": "3s",
        "SESSIONBOT_ARCHIVE_DIR": str(tmp_path / "archive"),
    }
    code, out, errors = run_until(
        env, "start Left alone\n", "abandoned after no activity", then="show 1\n"
    )
    assert code == 0, errors
    notice = "[#general ↳ thread m1] Session #1 Left alone abandoned after no activity"
    assert notice in out, out
    assert out.count("abandoned after no activity") == 1
    assert "Status: abandoned" in out
    assert out.index("Session #1 Left alone: started") < out.index(notice)
