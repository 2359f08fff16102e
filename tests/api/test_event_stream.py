"""The event stream over real HTTP: Server-Sent Events resumable by seq, pushed at commit,
bounded for a client that stops reading, capped per token."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from typing import Any

import aiohttp
import pytest

from bot.api import ApiConfig
from bot.api.event_stream import BATCH, frame
from bot.api.runtime import ApiContext
from core.models import EventType, Session
from core.wiring import Services
from tests.api.conftest import until
from tests.conftest import CHAT, actor

AGENT = actor("agent")  # the user of the `token` fixture
BOUND = 10.0  # seconds: a bound on a wait, never a rule the test waits for
STREAM = "/sessions/{}/events/stream"


@pytest.fixture
def api_config() -> ApiConfig:
    return ApiConfig(stream_heartbeat=3600)  # only a commit can wake a stream in these tests


@pytest.fixture
async def session(services: Services) -> Session:
    return await services.sessions.start(AGENT, CHAT, "streamed")


class Sse:
    """Reads Server-Sent Events frames off a response, each within the bound."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def frame(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        async with asyncio.timeout(BOUND):
            while True:
                line = (await self.response.content.readline()).decode()
                assert line, "the stream ended"
                line = line.rstrip("\n")
                if line.startswith(":"):
                    return {"comment": line[1:].strip()}
                if not line:
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value

    async def events(self, n: int) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        while len(found) < n:
            got = await self.frame()
            if "comment" not in got:
                found.append(got)
        return found


def _auth(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


async def _record(services: Services, session: Session, data: dict[str, Any]) -> int:
    return await services.progress.record_event(AGENT, str(session.ref), EventType.TOOL_CALL, data)


async def _last(services: Services, session: Session) -> int:
    return (await services.store.events.newest(session.id, limit=1))[0].seq


async def _tail(base: str, services: Services, session: Session) -> str:
    """The stream's URL from after the session's newest event."""
    return base + STREAM.format(session.ref) + f"?after={await _last(services, session)}"


async def test_a_client_that_reconnects_with_last_event_id_gets_each_later_event_once_in_order(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    services: Services, session: Session,
) -> None:  # fmt: skip
    base, _ = served
    url = base + STREAM.format(session.ref)
    for i in range(5):
        await _record(services, session, {"tool": "grep", "i": i})
    async with client.get(url, headers=_auth(token)) as response:
        assert response.status == 200 and response.content_type == "text/event-stream"
        first = await Sse(response).events(3)
    assert [f["id"] for f in first] == ["1", "2", "3"]
    listed = await client.get(base + f"/sessions/{session.ref}/events", headers=_auth(token))
    records = {r["seq"]: r for r in (await listed.json())["events"]}
    assert [json.loads(f["data"]) for f in first] == [records[1], records[2], records[3]]
    assert [f["event"] for f in first] == [records[n]["type"] for n in (1, 2, 3)]

    for i in range(5, 8):  # committed while the client is away
        await _record(services, session, {"tool": "grep", "i": i})
    last = await _last(services, session)
    async with client.get(url, headers=_auth(token, **{"Last-Event-ID": "3"})) as response:
        sse = Sse(response)
        resumed = await sse.events(last - 3)
        assert [int(f["id"]) for f in resumed] == list(range(4, last + 1))
        assert [json.loads(f["data"])["data"].get("i") for f in resumed][-3:] == [5, 6, 7]
        seq = await _record(services, session, {"tool": "grep", "i": 8})
        (after,) = await sse.events(1)  # nothing repeated or skipped before it
        assert int(after["id"]) == seq == last + 1


async def test_events_appended_while_connected_are_pushed_at_commit(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    services: Services, session: Session,
) -> None:  # fmt: skip
    base, api = served
    async with client.get(await _tail(base, services, session), headers=_auth(token)) as response:
        sse = Sse(response)
        for i in range(3):  # the heartbeat is an hour away: only the commit can wake the stream
            seq = await _record(services, session, {"i": i})
            (pushed,) = await sse.events(1)
            assert int(pushed["id"]) == seq and json.loads(pushed["data"])["data"] == {"i": i}
        assert [s.sent for s in api.streams.live] == [seq]


@pytest.mark.parametrize("api_config", [ApiConfig(stream_heartbeat=0.01)])
async def test_a_quiet_stream_sends_heartbeat_comments(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    services: Services, session: Session,
) -> None:  # fmt: skip
    async with client.get(await _tail(served[0], services, session), headers=_auth(token)) as r:
        assert await Sse(r).frame() == {"comment": "heartbeat"}


@pytest.mark.parametrize("api_config", [ApiConfig(stream_heartbeat=3600, stream_lifetime=0.05)])
async def test_a_stream_ends_after_its_lifetime_and_the_client_resumes_where_it_was(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    services: Services, session: Session,
) -> None:  # fmt: skip
    base, api = served
    url = base + STREAM.format(session.ref)
    seen: list[int] = []
    for round_ in range(3):
        await _record(services, session, {"round": round_})
        resume = {"Last-Event-ID": str(seen[-1])} if seen else {}
        async with client.get(url, headers=_auth(token, **resume)) as response:
            async with asyncio.timeout(BOUND):
                body = await response.content.read()  # to its end: the server closed it
        seen += [int(n) for n in re.findall(rb"^id: (\d+)$", body, re.MULTILINE)]
    assert seen == list(range(1, await _last(services, session) + 1))
    assert not api.streams.live


async def test_a_client_that_stops_reading_does_not_grow_the_servers_memory(
    served: tuple[str, ApiContext], token: str, services: Services, session: Session
) -> None:
    base, api = served
    blob = "x" * 16_000

    async def append(first: int, end: int) -> None:  # ~1.6 MB per 100 events
        for start in range(first, end, 100):
            await asyncio.gather(*(_record(services, session, {"i": i, "blob": blob})
                                   for i in range(start, start + 100)))  # fmt: skip

    await append(0, 600)  # waiting before the client comes: still read a batch at a time
    host, port = base.removeprefix("http://").split("/")[0].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, then nothing
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        path = f"/api/v1{STREAM.format(session.ref)}"
        writer.write(f"GET {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(BOUND):  # the stream is open before its headers go out
            assert b"200 OK" in await reader.readuntil(b"\r\n\r\n")
        (stream,) = api.streams.live
        await append(600, 1200)  # ~19 MB in all, far more than the socket buffers take
        last = await _last(services, session)
        transport = stream.transport
        assert transport is not None
        _, high = transport.get_write_buffer_limits()
        await until(lambda: transport.get_write_buffer_size() > high)  # then it stops: drain
        largest = len(frame((await services.store.events.newest(session.id, limit=1))[0]).encode())
        assert transport.get_write_buffer_size() <= high + BATCH * largest
        assert stream.sent < last // 2, "the server read on although the client could not take it"

        received = bytearray()  # the client reads again: every event, once, in order
        end = f"\nid: {last}\n".encode()
        async with asyncio.timeout(60):
            while received.find(end, max(0, len(received) - (1 << 17))) < 0:
                chunk = await reader.read(1 << 16)
                assert chunk, "the stream ended"
                received += chunk
        seqs = [int(n) for n in re.findall(rb"^id: (\d+)$", bytes(received), re.MULTILINE)]
        assert seqs == list(range(1, last + 1))
    finally:
        writer.close()


@pytest.mark.parametrize("api_config", [ApiConfig(stream_heartbeat=0.01, streams_per_token=1)])
async def test_streams_are_capped_per_token_and_freed_when_the_client_leaves(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    session: Session,
) -> None:  # fmt: skip
    base, api = served
    url = base + STREAM.format(session.ref)
    async with client.get(url, headers=_auth(token)) as response:
        assert response.status == 200
        async with client.get(url, headers=_auth(token)) as refused:
            assert refused.status == 429
            assert (await refused.json())["error"]["code"] == "too_many_streams"
    await until(lambda: not api.streams.live)  # found gone by the sweep or the next heartbeat
    async with client.get(url, headers=_auth(token)) as response:
        assert response.status == 200


async def test_bad_stream_requests_are_refused_before_the_stream_starts(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession, token: str,
    session: Session,
) -> None:  # fmt: skip
    base, api = served
    url = base + STREAM.format(session.ref)
    cases = [
        (url, {"Last-Event-ID": "three"}, 400, "invalid_parameter"),
        (url, {"Last-Event-ID": "-1"}, 400, "invalid_parameter"),
        (url + "?after=-1", {}, 400, "invalid_parameter"),
        (url + "?since=1", {}, 400, "invalid_parameter"),
        (base + STREAM.format(999), {}, 404, "not_found"),
    ]
    for target, headers, status, code in cases:
        async with client.get(target, headers=_auth(token, **headers)) as response:
            assert response.status == status, target
            assert (await response.json())["error"]["code"] == code
    async with client.get(url) as response:
        assert response.status == 401
    assert not api.streams.live


async def test_the_stream_is_in_the_openapi_document(
    served: tuple[str, ApiContext], client: aiohttp.ClientSession
) -> None:
    base, _ = served
    async with client.get(base + "/openapi.json") as response:
        document = await response.json()
    operation = document["paths"]["/sessions/{session}/events/stream"]["get"]
    assert operation["operationId"] == "streamEvents"
    assert "text/event-stream" in operation["responses"]["200"]["content"]
