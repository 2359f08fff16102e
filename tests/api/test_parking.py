"""The cap on parked waits over real HTTP: past `waits_per_token` open long-polls and event
streams, one token's next wait gets 429 with Retry-After and changes nothing; a slot comes back
when a wait ends, when its client disconnects and when its stream closes."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bot.api import ApiConfig
from bot.api.parking import RETRY_AFTER
from bot.api.runtime import ApiContext
from bot.app import api_config as configured_api
from bot.config import load_config
from core.models import Session
from core.tokens import TokenService
from core.wiring import Services
from tests.api.conftest import make_token, until
from tests.conftest import CHAT, actor

CAP = 2
BOUND = 10.0  # seconds any wait in these tests may take at most (a bound, never a rule)
DEPLOY = {"action": "deploy", "args": {"service": "api"}, "summary": "ship"}


@pytest.fixture
def api_config() -> ApiConfig:
    return ApiConfig(waits_per_token=CAP, stream_heartbeat=3600)  # no heartbeat notices a leaver


@pytest.fixture
async def session(services: Services) -> Session:
    return await services.sessions.start(actor("agent"), CHAT, "waited on")  # `token`'s user


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    async with http.request(method, url, json=body, headers=_auth(token)) as response:
        return response.status, await response.json(), dict(response.headers)


async def _ask(http: aiohttp.ClientSession, base: str, token: str, session: Session) -> str:
    status, body, _ = await _call(
        http, "POST", f"{base}/sessions/{session.ref}/requests", token, DEPLOY
    )
    assert status == 201, body
    return str(body["id"])


def _wait(
    http: aiohttp.ClientSession, base: str, token: str, request_id: str
) -> asyncio.Task[tuple[int, Any, dict[str, str]]]:
    return asyncio.create_task(_call(http, "GET", f"{base}/requests/{request_id}?wait=60", token))


async def _approve(http: aiohttp.ClientSession, base: str, token: str, request_id: str) -> None:
    url = f"{base}/requests/{request_id}/decision"
    status, body, _ = await _call(http, "POST", url, token, {"decision": "approve"})
    assert status == 200, body


def _token_id(secret: str) -> str:
    return secret.split("_")[1]  # sbt_<id>_<random>


async def test_a_token_past_its_cap_gets_429_with_retry_after_and_nothing_changes(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    tokens: TokenService, services: Services, session: Session,
) -> None:  # fmt: skip
    base, api = served
    first, second, third = [await _ask(client, base, token, session) for _ in range(3)]
    waits = [_wait(client, base, token, first), _wait(client, base, token, second)]
    await until(lambda: len(services.requests.waiters) == CAP)
    assert api.parking.held(_token_id(token)) == CAP

    status, body, headers = await _call(client, "GET", f"{base}/requests/{third}?wait=60", token)
    assert (status, body["error"]["code"]) == (429, "too_many_waits")
    assert headers["Retry-After"] == str(RETRY_AFTER)
    assert f"{CAP} open waits" in body["error"]["message"]
    assert len(services.requests.waiters) == CAP and api.parking.held() == CAP
    status, body, _ = await _call(client, "GET", f"{base}/requests/{third}", token)
    assert (status, body["status"]) == (200, "pending")  # a read without wait parks nothing

    other = await make_token(tokens, "ed")  # the cap is per token: another one still waits
    waits.append(_wait(client, base, other, third))
    await until(lambda: api.parking.held(_token_id(other)) == 1)

    await _approve(client, base, token, first)  # the first wait ends: its slot comes back
    async with asyncio.timeout(BOUND):
        status, body, _ = await waits.pop(0)
    assert (status, body["status"]) == (200, "approved")
    await until(lambda: api.parking.held(_token_id(token)) == 1)
    waits.append(_wait(client, base, token, third))
    await until(lambda: api.parking.held(_token_id(token)) == CAP)

    await _approve(client, base, token, second)
    await _approve(client, base, token, third)
    async with asyncio.timeout(BOUND):
        answers = await asyncio.gather(*waits)
    assert [(s, b["status"]) for s, b, _ in answers] == [(200, "approved")] * 3
    assert api.parking.held() == 0 and len(services.requests.waiters) == 0


async def test_event_streams_and_long_polls_share_a_tokens_cap(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    services: Services, session: Session,
) -> None:  # fmt: skip
    base, api = served
    request_id = await _ask(client, base, token, session)
    stream = f"{base}/sessions/{session.ref}/events/stream"
    waiting = _wait(client, base, token, request_id)
    async with client.get(stream, headers=_auth(token)) as response:
        assert response.status == 200
        await until(lambda: api.parking.held() == CAP)
        async with client.get(stream, headers=_auth(token)) as refused:
            assert refused.status == 429  # under the 10 streams a token may open
            assert (await refused.json())["error"]["code"] == "too_many_waits"
        status, body, _ = await _call(client, "GET", f"{base}/requests/{request_id}?wait=5", token)
        assert (status, body["error"]["code"]) == (429, "too_many_waits")
    await until(lambda: api.parking.held() == 1)  # the closed stream gave its slot back
    again = _wait(client, base, token, request_id)
    await until(lambda: len(services.requests.waiters) == CAP)
    await _approve(client, base, token, request_id)
    async with asyncio.timeout(BOUND):
        answers = await asyncio.gather(waiting, again)
    assert [a[0] for a in answers] == [200, 200] and api.parking.held() == 0


async def test_a_client_that_disconnects_frees_its_slots(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    services: Services, session: Session,
) -> None:  # fmt: skip
    base, api = served
    request_id = await _ask(client, base, token, session)
    leaver = aiohttp.ClientSession()
    waiting = _wait(leaver, base, token, request_id)
    streamed = await leaver.get(
        f"{base}/sessions/{session.ref}/events/stream", headers=_auth(token)
    )
    assert streamed.status == 200
    await until(lambda: api.parking.held() == CAP and len(services.requests.waiters) == 1)
    waiting.cancel()
    await leaver.close()  # both connections closed mid-wait: the server notices by itself
    await until(lambda: api.parking.held() == 0, BOUND)
    assert len(services.requests.waiters) == 0 and not api.streams.live

    parked = [_wait(client, base, token, request_id) for _ in range(CAP)]  # both slots free
    await until(lambda: len(services.requests.waiters) == CAP)
    await _approve(client, base, token, request_id)
    async with asyncio.timeout(BOUND):
        answers = await asyncio.gather(*parked)
    assert [a[0] for a in answers] == [200, 200]


def test_the_cap_comes_from_the_environment() -> None:
    assert configured_api(load_config({})).waits_per_token == 200
    config = load_config({"SESSIONBOT_MAX_WAITS_PER_TOKEN": "3"})
    assert configured_api(config).waits_per_token == 3
