"""`sessionbot serve` as a subprocess on 127.0.0.1 with a SQLite file: started, killed and
restarted on the same port, for the client package's tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from core.clock import SystemClock
from core.models import Actor, Source
from core.services.config import ServiceConfig
from core.store.sqlite.store import SqliteStore
from core.tokens import TokenService
from core.wiring import Services, build_services

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = "api:acme"
STARTUP = 60.0  # seconds a start may take on a busy machine
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def until(done: Callable[[], bool], what: str, bound: float = 30.0) -> None:
    """Wait (bounded) until `done()` holds: the server works on its own clock."""
    deadline = time.monotonic() + bound
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


class LiveServer:
    """One `sessionbot serve` on a fixed port: `start()`, `kill()` (SIGKILL), `stop()`."""

    def __init__(self, folder: Path) -> None:
        self.db_url = f"sqlite:///{folder / 'live.db'}"
        self.port = free_port()
        self.log = folder / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "SESSIONBOT_DATABASE_URL": self.db_url,
            "SESSIONBOT_HTTP_HOST": "127.0.0.1",
            "SESSIONBOT_HTTP_PORT": str(self.port),
            "SESSIONBOT_LOG_LEVEL": "warning",
        }
        for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "DISCORD_TOKEN"):
            env.pop(name, None)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=out, stderr=out
            )
        self.starts += 1
        until(self._healthy, "the server answers /healthz", STARTUP)

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"sessionbot serve exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return bool(json.loads(response.read())["status"] == "ok")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def kill(self) -> None:
        """Gone at once, as in a crash: no shutdown, open connections cut."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        log = self.log.read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]

    def core(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Run `work` on this server's database from the test process (what the server's own
        sweep or another replica would do), on a loop of its own."""

        async def run() -> T:
            store = SqliteStore(self.db_url)
            await store.open()
            try:
                services = build_services(store, clock=SystemClock(), config=ServiceConfig())
                return await work(services)
            finally:
                await store.close()

        return asyncio.run(run()) if not _loop_running() else _in_thread(run)

    def token(self, user: str, *, admin: bool = False) -> str:
        """A new API token of the `api:acme` workspace acting as `user`."""

        async def mint(services: Services) -> str:
            tokens = TokenService(services.store.tokens, clock=SystemClock())
            _, secret = await tokens.create(WORKSPACE, f"{user}-token", user_id=user, admin=admin)
            return secret

        return self.core(mint)


def api_actor(user: str) -> Actor:
    return Actor(WORKSPACE, user, Source.API)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _in_thread(run: Callable[[], Awaitable[T]]) -> T:
    from concurrent.futures import ThreadPoolExecutor

    def work() -> T:
        return asyncio.run(run())  # type: ignore[arg-type]

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result(timeout=60)


__all__ = ["ROOT", "WORKSPACE", "LiveServer", "api_actor", "free_port", "until"]
