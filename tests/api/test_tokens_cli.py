"""`sessionbot token …` as an operator runs it, and the API served by `serve` and by `run`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _env(db: Path, port: int = 0) -> dict[str, str]:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_HTTP_PORT": str(port),
        "SESSIONBOT_LOG_LEVEL": "warning",
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "DISCORD_TOKEN"):
        env.pop(name, None)
    return env


def sessionbot(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(db),
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    if data:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait(url: str, token: str) -> tuple[int, Any]:
    deadline = time.monotonic() + 30
    while True:
        try:
            return _call(url, token)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_create_list_and_revoke(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    made = sessionbot(
        db, "token", "create", "--workspace", "slack:T1", "--name", "ci", "--as", "U7"
    )
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("sbt_") and "shown once" in made.stderr
    admin = sessionbot(db, "token", "create", "--workspace", "slack:T1", "--name", "ops", "--admin")
    assert admin.returncode == 0
    listed = sessionbot(db, "token", "list", "--workspace", "slack:T1")
    assert listed.returncode == 0
    rows = listed.stdout.splitlines()[1:]
    assert [r.split()[2:5] for r in rows] == [["ci", "U7", "-"], ["ops", "ops", "admin"]]
    assert secret not in listed.stdout and secret.split("_")[1] in listed.stdout
    duplicate = sessionbot(db, "token", "create", "--workspace", "slack:T1", "--name", "ci")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    nowhere = sessionbot(db, "token", "create", "--workspace", "acme", "--name", "x")
    assert nowhere.returncode == 1 and "`<platform>:<id>`" in nowhere.stderr
    revoked = sessionbot(db, "token", "revoke", secret)
    assert revoked.returncode == 0 and "Revoked" in revoked.stdout
    assert "revoked" in sessionbot(db, "token", "list").stdout
    assert sessionbot(db, "token", "revoke", secret).returncode == 1


def test_serve_answers_the_api_with_a_cli_token(tmp_path: Path) -> None:
    db, port = tmp_path / "serve.db", _free_port()
    token = sessionbot(db, "token", "create", "--workspace", "api:acme", "--name", "a").stdout
    bot = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=_env(db, port))
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        assert _wait(f"{base}/sessions", token.strip()) == (
            200,
            {"sessions": [], "total": 0, "next_cursor": None},
        )
        status, body = _call(f"{base}/sessions", token.strip(), {"title": "From a script"})
        assert (status, body["workspace"], body["owner_id"]) == (201, "api:acme", "a")
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=15) == 0


def test_the_console_run_serves_the_api_beside_the_repl(tmp_path: Path) -> None:
    db, port = tmp_path / "run.db", _free_port()
    token = sessionbot(db, "token", "create", "--workspace", "console:local", "--name", "agent")
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env=_env(db, port),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        assert _wait(f"{base}/sessions", token.stdout.strip())[0] == 200
        status, _ = _call(
            f"{base}/sessions",
            token.stdout.strip(),
            {"title": "Agent run", "channel_id": "general"},
        )
        assert status == 201
        out, _ = bot.communicate("/session list\n", timeout=30)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0
    assert "Agent run" in out  # the console sees the session the API created
