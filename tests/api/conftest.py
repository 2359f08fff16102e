"""A real bot HTTP server with the API on 127.0.0.1, a real SQLite file and a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.api import ApiConfig, mount_api
from bot.api.runtime import API, ApiContext
from bot.http import HttpServer
from core.clock import ManualClock
from core.tokens import TokenService
from core.wiring import Services
from tests.conftest import WS


@dataclass(slots=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error(self) -> str:
        """The error code of a JSON error reply."""
        return str(self.body["error"]["code"])


class ApiClient:
    """Talks to the server like any HTTP client: JSON in, status and JSON out."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.http.request(
            method, self.base + path, json=json, data=data, headers=sent, params=params
        ) as response:
            text = await response.text()
            body: Any = text
            if response.content_type == "application/json" and text:
                body = await response.json()
            return Reply(response.status, body, dict(response.headers))

    async def get(self, path: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.call("GET", path, token=token, **kw)

    async def post(self, path: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.call("POST", path, token=token, **kw)


async def until(holds: Callable[[], bool], bound: float = 10.0) -> None:
    """A bounded wait for a state only the server shows (its transports, its count of open
    waits): no event announces it."""
    async with asyncio.timeout(bound):
        while not holds():  # noqa: ASYNC110 - nothing to await for these states
            await asyncio.sleep(0.01)


@pytest.fixture
def tokens(services: Services, clock: ManualClock) -> TokenService:
    return TokenService(services.store.tokens, clock=clock)


@pytest.fixture
def api_config() -> ApiConfig:
    return ApiConfig()


@pytest.fixture
async def server(services: Services, api_config: ApiConfig) -> AsyncIterator[HttpServer]:
    http = HttpServer("127.0.0.1", 0)
    mount_api(http.app, services, config=api_config)
    await http.start()
    yield http
    await http.stop()


@pytest.fixture
async def served(
    services: Services, api_config: ApiConfig
) -> AsyncIterator[tuple[str, ApiContext]]:
    """A server like `server`, with the API's base URL and its context (limits, open waits)."""
    http = HttpServer("127.0.0.1", 0)
    api = mount_api(http.app, services, config=api_config)
    await http.start()
    yield f"http://127.0.0.1:{http.port}/api/v1", api[API]
    await http.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client (for what `ApiClient` does not do: streams, raw headers)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        yield http


@pytest.fixture
async def api(server: HttpServer) -> AsyncIterator[ApiClient]:
    async with aiohttp.ClientSession() as http:
        yield ApiClient(http, f"http://127.0.0.1:{server.port}/api/v1")


async def make_token(
    tokens: TokenService, user: str, *, workspace: str = WS, admin: bool = False
) -> str:
    _, secret = await tokens.create(workspace, f"{user}-token", user_id=user, admin=admin)
    return secret


@pytest.fixture
async def token(tokens: TokenService) -> str:
    """A token of the test workspace acting as user `agent`."""
    return await make_token(tokens, "agent")
