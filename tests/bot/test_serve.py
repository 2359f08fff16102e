"""`sessionbot serve` as an operator runs it: health, readiness, and a clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_ready(url: str, deadline: float) -> tuple[int, dict[str, object]]:
    while True:
        try:
            return _get(url)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_serve_answers_health_and_readiness_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SESSIONBOT_HTTP_PORT": str(port),
        "SESSIONBOT_LOG_LEVEL": "warning",
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "DISCORD_TOKEN"):
        env.pop(name, None)
    bot = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        status, body = _wait_ready(f"{base}/healthz", time.monotonic() + 30)
        assert (status, body["status"]) == (200, "ok")
        status, body = _get(f"{base}/readyz")
        assert status == 200 and body["status"] == "ready"
        assert {"database", "scheduler"} <= set(body["checks"])  # type: ignore[arg-type]
    finally:
        bot.send_signal(signal.SIGTERM)
        code = bot.wait(timeout=15)
    assert code == 0
