"""A local fake of Slack's Socket Mode: one-use WebSocket URLs, envelopes out, acks back.

The app asks the fake Web API's `apps.connections.open` (with its `xapp-` token) for a URL,
connects to this aiohttp WebSocket server on 127.0.0.1, and gets `hello`. A test then sends
envelopes (`{"envelope_id", "type", "payload", "accepts_response_payload"}`) and waits for the
app's acks (`{"envelope_id", "payload"?}`). `refresh()` plays Slack recycling a connection: a
`disconnect` (reason `refresh_requested`) message, after which the app must fetch a new URL and
reconnect. Pings are answered with pongs carrying the same data, as Slack's servers do, and
recorded: slack_sdk's client pings `sdk-ping-pong:<time>` on connecting and every
`ping_interval`, and counts the connection stale when the pongs stop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import WSMsgType, web

from tests.fakes.slack_api import FakeSlackApi, JsonDict

DEFAULT_APP_TOKEN = "xapp-1-A0001-1111-fakesocketmode"
DEFAULT_APP_ID = "A0001"


class FakeSocketTimeoutError(AssertionError):
    """Raised when an awaited connection or ack does not come in time."""


@dataclass(frozen=True)
class Ack:
    """One acknowledgement the app sent back for an envelope."""

    envelope_id: str
    payload: JsonDict | None
    connection: int


@dataclass
class Connection:
    """One WebSocket connection from the app."""

    number: int
    ticket: str
    ws: web.WebSocketResponse
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    received: list[JsonDict] = field(default_factory=list)
    pings: list[bytes] = field(default_factory=list)


class FakeSocketMode:
    """Slack's Socket Mode server for one app, next to a `FakeSlackApi`."""

    def __init__(
        self,
        api: FakeSlackApi,
        *,
        app_token: str = DEFAULT_APP_TOKEN,
        app_id: str = DEFAULT_APP_ID,
        host: str = "127.0.0.1",
    ) -> None:
        self.api = api
        self.app_token = app_token
        self.app_id = app_id
        self.host = host
        self.connections: list[Connection] = []
        self.sent: list[JsonDict] = []  # every envelope, in order (redeliveries included)
        self.acks: list[Ack] = []
        self.rejected_tickets: list[str] = []
        self._tickets: set[str] = set()
        self._counter = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> Self:
        """Serve on a free loopback port and answer the fake API's apps.connections.open."""
        app = web.Application()
        app.router.add_get("/link", self._handle_link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self._port = self._runner.addresses[0][1]
        self.api.connections_open = self._open
        return self

    async def stop(self) -> None:
        """Close every connection and the server."""
        self.api.connections_open = None
        for connection in self.connections:
            await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---------------------------------------------------------------- connections

    @property
    def current(self) -> Connection:
        """The newest connection that is still open."""
        open_ = [c for c in self.connections if not c.closed.is_set()]
        assert open_, "the app is not connected"
        return open_[-1]

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> Connection:  # noqa: ASYNC109
        """Wait until the app has opened `count` connections in all; return the newest."""
        await self.wait_until(
            lambda: len(self.connections) >= count, timeout, f"{count} connection(s)"
        )
        return self.connections[count - 1]

    async def refresh(self, timeout: float = 5.0) -> Connection:  # noqa: ASYNC109
        """Recycle the connection as Slack does: `disconnect`, then wait for the new one."""
        old = self.current
        await old.ws.send_json(
            {
                "type": "disconnect",
                "reason": "refresh_requested",
                "debug_info": {"host": "applink-fake"},
            }
        )
        new = await self.wait_connected(len(self.connections) + 1, timeout)
        if not old.closed.is_set():  # Slack closes the old socket soon after, if the app didn't
            await old.ws.close()
        return new

    # ------------------------------------------------------------------ envelopes

    async def send(
        self,
        envelope_type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = False,
        envelope_id: str | None = None,
    ) -> str:
        """Push one envelope down the current connection; returns its envelope_id."""
        envelope = {
            "envelope_id": envelope_id or f"env-{next(self._counter):04d}",
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        self.sent.append(envelope)
        await self.current.ws.send_str(json.dumps(envelope))
        return str(envelope["envelope_id"])

    async def request(
        self,
        envelope_type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = False,
        envelope_id: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Ack:
        """Send an envelope and wait for its (next) ack."""
        seen = len(self.acks_for(envelope_id)) if envelope_id else 0
        sent = await self.send(
            envelope_type,
            payload,
            accepts_response_payload=accepts_response_payload,
            envelope_id=envelope_id,
        )
        await self.wait_until(
            lambda: len(self.acks_for(sent)) > seen, timeout, f"the ack of {sent}"
        )
        return self.acks_for(sent)[-1]

    def acks_for(self, envelope_id: str) -> list[Ack]:
        return [ack for ack in self.acks if ack.envelope_id == envelope_id]

    def unacked(self) -> list[str]:
        """Envelope ids sent fewer times than they were acked."""
        sent = [str(e["envelope_id"]) for e in self.sent]
        return sorted({e for e in sent if sent.count(e) > len(self.acks_for(e))})

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded default is the point of the helper
        what: str = "condition",
    ) -> None:
        """Wait (event-driven, bounded) until `predicate()` holds after something happened."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise FakeSocketTimeoutError(
                f"timed out after {timeout}s waiting for {what}; connections: "
                f"{len(self.connections)}, acks: {[a.envelope_id for a in self.acks]}"
            ) from None

    # ------------------------------------------------------------------- internals

    def _open(self, token: str) -> JsonDict:
        """apps.connections.open: a one-use URL for an app-level token."""
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = f"ticket-{next(self._counter):04d}"
        self._tickets.add(ticket)
        url = f"ws://{self.host}:{self._port}/link?ticket={ticket}&app_id={self.app_id}"
        return {"ok": True, "url": url}

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:  # unknown or already used, as on Slack
            self.rejected_tickets.append(ticket)
            raise web.HTTPUnauthorized(text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        connection = Connection(len(self.connections) + 1, ticket, ws)
        self.connections.append(connection)
        open_count = sum(not c.closed.is_set() for c in self.connections)
        await ws.send_json(_hello(self.app_id, open_count))
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._received(connection, json.loads(message.data))
                elif message.type == WSMsgType.PING:
                    connection.pings.append(bytes(message.data))
                    await ws.pong(message.data)
                    await self._notify()
        finally:
            connection.closed.set()
            await self._notify()
        return ws

    async def _received(self, connection: Connection, message: JsonDict) -> None:
        connection.received.append(message)
        if "envelope_id" in message:
            payload = message.get("payload")
            self.acks.append(Ack(str(message["envelope_id"]), payload, connection.number))
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _hello(app_id: str, num_connections: int) -> dict[str, Any]:
    return {
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
        "connection_info": {"app_id": app_id},
    }
