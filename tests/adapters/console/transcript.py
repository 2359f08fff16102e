"""Drive a real `sessionbot console` process: write a script, read until a line shows up."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 30.0


def run_until(
    env: dict[str, str], script: str, until: str, *, then: str = "", merge_stderr: bool = False
) -> tuple[int, str, str]:
    """Send `script`, keep standard input open until `until` is printed (bounded), send `then`.

    Returns the exit code, standard output (with standard error when `merge_stderr`) and
    standard error.
    """
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
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
            process.stdin.write(script)
            process.stdin.flush()
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline and not any(until in line for line in seen):
                try:
                    seen.append(lines.get(timeout=0.2))
                except queue.Empty:
                    continue
            process.stdin.write(then)
            process.stdin.close()
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=5)
        while not lines.empty():
            seen.append(lines.get())
        errors = process.stderr.read() if process.stderr else ""
    return process.returncode, "".join(seen), errors
