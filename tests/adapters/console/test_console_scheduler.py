"""The real bot process runs the scheduler: an idle console session is abandoned and announced.

This test necessarily waits real seconds (SESSIONBOT_ABANDON_AFTER=3s, sweep every 1s); it
keeps standard input open until the notification appears, bounded by a timeout.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 30.0


def test_idle_session_is_abandoned_by_the_running_bot(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "SESSIONBOT_LOG_LEVEL": "warning",
        "SESSIONBOT_SWEEP_INTERVAL": "1s",
        "SESSIONBOT_ABANDON_AFTER": "3s",
        "SESSIONBOT_ARCHIVE_DIR": str(tmp_path / "archive"),
    }
    seen: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    ) as process:
        assert process.stdout is not None and process.stdin is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = process.stdout
        reader = threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True)
        reader.start()
        try:
            process.stdin.write("start Left alone\n")
            process.stdin.flush()
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline and not any(
                "abandoned after no activity" in line for line in seen
            ):
                try:
                    seen.append(lines.get(timeout=0.2))
                except queue.Empty:
                    continue
            process.stdin.write("show 1\n")
            process.stdin.close()
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=5)
        while not lines.empty():
            seen.append(lines.get())
        errors = process.stderr.read() if process.stderr else ""
    out = "".join(seen)
    assert process.returncode == 0, errors
    notice = "[#general ↳ thread m1] Session #1 Left alone abandoned after no activity"
    assert notice in out, out
    assert out.count("abandoned after no activity") == 1
    assert "Status: abandoned" in out
    assert out.index("Session #1 Left alone: started") < out.index(notice)
