"""Notices no adapter serves: `token create` warns, `serve` logs, /readyz shows."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.models import ChatRef
from core.store.sqlite.store import SqliteStore
from core.wiring import build_services
from tests.bot.test_serve import _free_port, _get, _wait_ready
from tests.conftest import actor

ROOT = Path(__file__).resolve().parents[2]
SLACK = "slack:T0123"
UNCONFIGURED = ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN")


def _env(db: Path, **more: str) -> dict[str, str]:
    env = {**os.environ, "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}", **more}
    for name in UNCONFIGURED:
        env.pop(name, None)
    return env


def _token(db: Path, workspace: str, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "token", "create", "--workspace", workspace, "--name", name],
        capture_output=True, text=True, cwd=ROOT, env=_env(db), timeout=60,
    )  # fmt: skip


def test_token_create_warns_when_no_adapter_serves_the_workspace(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    slack = _token(db, SLACK, "agent")
    assert slack.returncode == 0 and slack.stdout.startswith("sbt_")
    assert "no Slack adapter is configured in this environment" in slack.stderr
    assert "notices for slack:T0123 will wait" in slack.stderr
    console = _token(db, "console:local", "local")
    assert console.returncode == 0 and "adapter" not in console.stderr
    api = _token(db, "api:agents", "bots")
    assert api.returncode == 0 and "adapter" not in api.stderr


async def _slack_notices(db: Path) -> int:
    store = SqliteStore(f"sqlite:///{db}")
    await store.open()
    try:
        owner = actor("owner", SLACK)
        await build_services(store).sessions.start(owner, ChatRef("slack", SLACK, "C1"), "waits")
        return (await store.outbox.pending_by_workspace())[SLACK]
    finally:
        await store.close()


def test_serve_logs_waiting_notices_once_and_readyz_lists_them(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    pending = asyncio.run(_slack_notices(db))
    port = _free_port()
    env = _env(db, SESSIONBOT_HTTP_PORT=str(port), SESSIONBOT_LOG_LEVEL="warning")
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(f"{base}/healthz", time.monotonic() + 30)
        status, body = _get(f"{base}/readyz")
        assert status == 200 and body["status"] == "ready", body
        assert body["waiting"] == {SLACK: pending}
        assert _get(f"{base}/readyz")[1]["waiting"] == {SLACK: pending}, "still waiting"
    finally:
        bot.send_signal(signal.SIGTERM)
        _, err = bot.communicate(timeout=15)
    assert bot.returncode == 0
    lines = [line for line in err.splitlines() if "are waiting" in line]
    assert len(lines) == 1, err
    assert f"{pending} notices for 1 workspace(s) ({SLACK})" in lines[0]
    assert "no Slack adapter" in lines[0]
