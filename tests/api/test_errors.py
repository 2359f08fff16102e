"""Bad requests get a clear JSON 4xx and change nothing; core's errors map to their statuses."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from bot.api import ApiConfig
from bot.api.runtime import ApiContext
from core.store.store import Store
from tests.api.conftest import ApiClient, Reply, until
from tests.conftest import count


def _is_error(reply: Reply, status: int, code: str) -> None:
    assert (reply.status, reply.error) == (status, code), reply.body
    assert set(reply.body) == {"error"} and set(reply.body["error"]) == {"code", "message"}
    assert reply.body["error"]["message"]
    assert reply.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"title": "Deploy"', "application/json", 400, "malformed_json"),
        (b'{"title": NaN}', "application/json", 400, "malformed_json"),
        (b'{"title": 1e999}', "application/json", 400, "malformed_json"),
        (b'{"title": "\\ud800"}', "application/json", 400, "malformed_json"),
        (b'{"title": "\xff"}', "application/json", 400, "malformed_json"),
        (b"[" * 100_000, "application/json", 400, "malformed_json"),
        (b"title=Deploy", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"title": "Deploy"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"title": "Deploy", "owner": "root"}', "application/json", 422, "invalid_body"),
        (b'{"mode": "deploy"}', "application/json", 422, "invalid_body"),
        (b'{"title": 42}', "application/json", 422, "invalid_body"),
        (b'["Deploy"]', "application/json", 422, "invalid_body"),
        (b'{"channel_id": "general", "title": "   "}', "application/json", 422, "usage"),
    ],
)
async def test_a_bad_body_is_refused_and_creates_nothing(
    api: ApiClient,
    token: str,
    store: Store,
    data: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    reply = await api.post("/sessions", token, data=data, headers={"Content-Type": content_type})
    _is_error(reply, status, code)
    assert await count(store, "sessions") == 0


@pytest.mark.parametrize("api_config", [ApiConfig(max_body=1000)])
async def test_a_body_over_the_limit_is_refused(api: ApiClient, token: str, store: Store) -> None:
    big = {"title": "Deploy", "metadata": {"blob": "x" * 2000}}
    _is_error(await api.post("/sessions", token, json=big), 413, "payload_too_large")
    chunked = (b'{"title": "Deploy", "metadata": {"blob": "' + b"x" * 2000 + b'"}}',)

    async def stream():  # type: ignore[no-untyped-def]
        for part in chunked:
            yield part

    reply = await api.call(
        "POST",
        "/sessions",
        token=token,
        data=stream(),
        headers={"Content-Type": "application/json"},
    )
    _is_error(reply, 413, "payload_too_large")
    assert await count(store, "sessions") == 0


async def test_core_errors_map_to_their_statuses(api: ApiClient, token: str) -> None:
    session = (
        await api.post("/sessions", token, json={"channel_id": "general", "title": "Deploy"})
    ).body
    s = f"/sessions/{session['ref']}"
    _is_error(await api.get("/sessions/999", token), 404, "not_found")
    _is_error(await api.post(f"{s}/resume", token), 409, "invalid_transition")
    _is_error(await api.post(f"{s}/extend", token, json={"duration": "0s"}), 422, "usage")
    _is_error(await api.get(f"{s}/plan", token), 404, "not_found")
    text = {"content": "é" * 40_000}  # under the schema's characters, over core's 64 KiB
    _is_error(await api.post(f"{s}/messages", token, json=text), 413, "limit")
    _is_error(await api.get("/search", token, params={"q": '"open'}), 400, "invalid_query")


async def test_bad_parameters_are_refused(api: ApiClient, token: str) -> None:
    _is_error(await api.get("/sessions", token, params={"limit": "ten"}), 400, "invalid_parameter")
    _is_error(await api.get("/sessions", token, params={"limit": "0"}), 400, "invalid_parameter")
    _is_error(await api.get("/sessions", token, params={"sort": "x"}), 400, "invalid_parameter")
    _is_error(await api.get("/sessions", token, params={"cursor": "abc"}), 400, "invalid_parameter")
    _is_error(await api.get("/sessions", token, params={"status": "x"}), 400, "invalid_parameter")
    _is_error(await api.get("/sessions/1/messages/abc", token), 400, "invalid_parameter")
    _is_error(await api.get("/sessions/1/messages/0", token), 400, "invalid_parameter")
    _is_error(await api.get("/search", token), 400, "invalid_parameter")


async def test_unknown_routes_and_methods_answer_in_json(api: ApiClient, token: str) -> None:
    _is_error(await api.get("/nothing-here", token), 404, "not_found")
    reply = await api.call("PUT", "/sessions", token=token)
    _is_error(reply, 405, "method_not_allowed")
    assert "POST" in reply.headers["Allow"]


@pytest.mark.parametrize("api_config", [ApiConfig(rate=0.01, burst=3)])
async def test_too_many_requests_are_slowed_down(api: ApiClient, token: str, store: Store) -> None:
    for _ in range(3):
        assert (await api.get("/sessions", token)).status == 200
    reply = await api.post("/sessions", token, json={"channel_id": "general", "title": "Deploy"})
    _is_error(reply, 429, "rate_limited")
    assert int(reply.headers["Retry-After"]) >= 1
    assert await count(store, "sessions") == 0


async def test_a_body_cut_off_by_the_client_is_not_a_server_error(
    served: tuple[str, ApiContext], token: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The client promises 1,000 bytes, sends 10 and goes away: nothing is created and no
    error (with a traceback) is logged, only that the body was cut off."""
    base, _ = served
    caplog.set_level(logging.INFO, logger="bot.api")
    url = urlsplit(base)
    _reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        f"POST {url.path}/sessions HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n".encode()
        + b'{"title": '
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await until(lambda: any("cut off" in r.getMessage() for r in caplog.records))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await count(store, "sessions") == 0
