"""The bot's HTTP server with the API, run on its own thread and loop for synchronous clients."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from bot.api import ApiConfig, mount_api
from bot.http import HttpServer
from core.clock import Clock
from core.services.config import ServiceConfig
from core.store.sqlite.store import SqliteStore
from core.wiring import Services, build_services

Seed = Callable[[Services], Awaitable[dict[str, Any]]]


class ThreadedServer:
    """Start with `start()` (returns what `seed` returned), stop with `stop()`."""

    def __init__(self, db_url: str, clock: Clock, *, config: ApiConfig | None = None) -> None:
        self.db_url = db_url
        self.clock = clock
        self.config = config or ApiConfig()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._done: asyncio.Future[None] | None = None

    def start(self, seed: Seed) -> dict[str, Any]:
        self._thread.start()
        ready = asyncio.run_coroutine_threadsafe(self._open(seed), self._loop)
        return ready.result(timeout=30)

    async def _open(self, seed: Seed) -> dict[str, Any]:
        self.store = SqliteStore(self.db_url)
        await self.store.open()
        services = build_services(
            self.store, clock=self.clock, config=ServiceConfig(admins=frozenset({"root"}))
        )
        self.http = HttpServer("127.0.0.1", 0)
        mount_api(self.http.app, services, config=self.config)
        await self.http.start()
        self.port = self.http.port
        return await seed(services)

    async def _close(self) -> None:
        await self.http.stop()
        await self.store.close()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
