"""Idempotency-Key: a retried POST returns the first response and acts once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.api import api_app
from bot.api.models import Empty
from bot.api.route import Call, Route
from bot.http import HttpServer
from core.store.store import Store
from core.tokens import TokenService
from core.wiring import Services
from tests.api.conftest import ApiClient, make_token
from tests.conftest import count


async def test_a_retried_create_returns_the_first_result_and_creates_once(
    api: ApiClient, tokens: TokenService, store: Store
) -> None:
    token = await make_token(tokens, "agent")
    key = {"Idempotency-Key": "create-1"}
    first = await api.post(
        "/sessions", token, json={"channel_id": "general", "title": "Deploy"}, headers=key
    )
    again = await api.post(
        "/sessions", token, json={"channel_id": "general", "title": "Deploy"}, headers=key
    )
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count(store, "sessions") == 1
    token_id = token.split("_")[1]
    assert await count(store, "inbound_dedupe", "key = ?", f"api:{token_id}:create-1") == 1


async def test_a_retried_tool_call_is_recorded_once(
    api: ApiClient, tokens: TokenService, store: Store
) -> None:
    token = await make_token(tokens, "agent")
    session = (
        await api.post("/sessions", token, json={"channel_id": "general", "title": "Run"})
    ).body
    path = f"/sessions/{session['ref']}/tool-calls"
    body = {"tool": "grep", "input": "TODO"}
    replies = [
        await api.post(path, token, json=body, headers={"Idempotency-Key": "call-7"})
        for _ in range(3)
    ]
    assert {r.status for r in replies} == {201}
    assert len({r.body["seq"] for r in replies}) == 1
    assert await count(store, "events", "type = 'tool_call'") == 1
    other = await api.post(path, token, json=body, headers={"Idempotency-Key": "call-8"})
    assert other.status == 201 and other.body["seq"] != replies[0].body["seq"]


async def test_the_same_key_for_a_different_request_is_refused(
    api: ApiClient, tokens: TokenService, store: Store
) -> None:
    token = await make_token(tokens, "agent")
    key = {"Idempotency-Key": "k"}
    await api.post("/sessions", token, json={"channel_id": "general", "title": "One"}, headers=key)
    reply = await api.post(
        "/sessions", token, json={"channel_id": "general", "title": "Two"}, headers=key
    )
    assert reply.status == 422 and reply.error == "idempotency_key_reused"
    assert await count(store, "sessions") == 1


async def test_keys_belong_to_their_token(
    api: ApiClient, tokens: TokenService, store: Store
) -> None:
    one, two = await make_token(tokens, "one"), await make_token(tokens, "two")
    key = {"Idempotency-Key": "shared"}
    await api.post("/sessions", one, json={"channel_id": "general", "title": "A"}, headers=key)
    reply = await api.post(
        "/sessions", two, json={"channel_id": "general", "title": "A"}, headers=key
    )
    assert reply.status == 201 and "Idempotent-Replayed" not in reply.headers
    assert await count(store, "sessions") == 2


async def test_a_refusal_is_replayed_too(api: ApiClient, tokens: TokenService) -> None:
    token = await make_token(tokens, "agent")
    session = (
        await api.post("/sessions", token, json={"channel_id": "general", "title": "Run"})
    ).body
    path = f"/sessions/{session['ref']}/resume"  # active: resuming is refused
    key = {"Idempotency-Key": "resume-1"}
    first = await api.post(path, token, headers=key)
    again = await api.post(path, token, headers=key)
    assert first.status == again.status == 409
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"


async def test_a_bad_key_is_refused(api: ApiClient, tokens: TokenService, store: Store) -> None:
    token = await make_token(tokens, "agent")
    headers = {"Idempotency-Key": "x" * 256}
    reply = await api.post(
        "/sessions", token, json={"channel_id": "general", "title": "A"}, headers=headers
    )
    assert reply.status == 400 and reply.error == "invalid_idempotency_key"
    assert await count(store, "sessions") == 0


@pytest.fixture
async def flaky(services: Services) -> AsyncIterator[tuple[ApiClient, list[int]]]:
    """An API whose one route fails unexpectedly on its first call, then succeeds."""
    calls: list[int] = []
    attempts = itertools.count(1)

    async def handler(call: Call) -> Any:
        attempt = next(attempts)
        calls.append(attempt)
        if attempt == 1:
            raise RuntimeError("disk on fire")
        return {"attempt": attempt}

    route = Route(
        "POST", "/flaky", "flaky", "Flaky", "test", handler, {"type": "object"}, body=Empty
    )
    http = HttpServer("127.0.0.1", 0)
    http.app.add_subapp("/api/v1", api_app(services, routes=[route]))
    await http.start()
    async with aiohttp.ClientSession() as session:
        yield ApiClient(session, f"http://127.0.0.1:{http.port}/api/v1"), calls
    await http.stop()


async def test_an_unexpected_failure_releases_the_key_for_a_retry(
    flaky: tuple[ApiClient, list[int]], tokens: TokenService, store: Store
) -> None:
    api, calls = flaky
    token = await make_token(tokens, "agent")
    key = {"Idempotency-Key": "retry-me"}
    failed = await api.post("/flaky", token, headers=key)
    assert failed.status == 500 and failed.error == "internal"
    assert "disk on fire" not in str(failed.body)
    retried = await api.post("/flaky", token, headers=key)
    replayed = await api.post("/flaky", token, headers=key)
    assert (retried.status, retried.body) == (200, {"attempt": 2})
    assert (replayed.status, replayed.body) == (200, {"attempt": 2})
    assert calls == [1, 2]
    assert await count(store, "inbound_dedupe", "key LIKE 'api:%'") == 1


async def test_a_request_cut_short_by_shutdown_frees_its_key(
    services: Services, tokens: TokenService, store: Store
) -> None:
    calls: list[int] = []

    async def handler(call: Call) -> Any:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            raise asyncio.CancelledError  # what stopping the server does to a running handler
        return {"attempt": len(calls)}

    route = Route("POST", "/cut", "cut", "Cut", "test", handler, {"type": "object"}, body=Empty)
    http = HttpServer("127.0.0.1", 0)
    http.app.add_subapp("/api/v1", api_app(services, routes=[route]))
    await http.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = ApiClient(session, f"http://127.0.0.1:{http.port}/api/v1")
            token = await make_token(tokens, "agent")
            key = {"Idempotency-Key": "cut-short"}
            with pytest.raises(aiohttp.ClientError):
                await api.post("/cut", token, headers=key)
            retried = await api.post("/cut", token, headers=key)
    finally:
        await http.stop()
    assert (retried.status, retried.body) == (200, {"attempt": 2})
    assert calls == [1, 2]
