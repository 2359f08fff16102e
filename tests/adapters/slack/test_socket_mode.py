"""Socket Mode (§7): Bolt's real Socket Mode client against a fake Socket Mode server on 127.0.0.1.

With SLACK_APP_TOKEN the bot asks `apps.connections.open` (fake Web API) for a URL, connects
to the fake's WebSocket, and receives every payload as an envelope that it must ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket as socket_module
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout
from slack_sdk.errors import SlackApiError

from adapters.slack import SlackAdapter
from bot.app import open_core
from bot.config import load_config
from bot.http import HttpServer
from bot.serve import chat_adapters, serve
from core.clock import ManualClock
from core.models import Status
from tests.adapters.slack.harness import (
    ALICE,
    BOB,
    SlackBot,
    ack_answer,
    block_text,
    has_buttons,
    plan_button,
    slack_env,
)
from tests.adapters.slack.test_flow import REASON
from tests.conftest import count
from tests.fakes.slack_api import FakeSlackApi, Message, ResponseCall
from tests.fakes.slack_signing import (
    block_actions_payload,
    slash_command_fields,
    view_submission_payload,
)
from tests.fakes.slack_socket import Ack, FakeSocketMode

_ids = itertools.count(1)


@dataclass
class SocketApp:
    """The bot in Socket Mode, driven through envelopes on the fake socket."""

    bot: SlackBot
    socket: FakeSocketMode

    @property
    def fake(self) -> FakeSlackApi:
        return self.bot.fake

    async def command(
        self, text: str, user: str = ALICE, *, envelope_id: str | None = None
    ) -> tuple[Ack, list[ResponseCall]]:
        """`/session text` as a `slash_commands` envelope: its ack and every answer it got."""
        rid = f"sock-cmd-{next(_ids)}"
        fields = slash_command_fields(text, response_url=self.fake.response_url(rid), user_id=user)
        ack = await self.socket.request(
            "slash_commands", dict(fields), accepts_response_payload=True, envelope_id=envelope_id
        )
        assert await self.bot.adapter.handlers.idle(timeout=10)
        return ack, [*ack_answer(rid, ack.payload), *self.fake.responses_to(rid)]

    def click_payload(self, action_id: str, message: Message, user: str) -> dict[str, object]:
        return block_actions_payload(
            action_id,
            plan_button(message, action_id)["value"],
            response_url=self.fake.response_url(f"sock-click-{next(_ids)}"),
            message_ts=message.ts,
            message={"type": "message", "ts": message.ts, "text": message.text or ""},
            user_id=user,
            channel_id=message.channel,
        )

    async def interactive(self, payload: dict[str, object], envelope_id: str | None = None) -> Ack:
        ack = await self.socket.request("interactive", payload, envelope_id=envelope_id)
        assert await self.bot.adapter.handlers.idle(timeout=10)
        return ack


@pytest.fixture
async def socket(fake: FakeSlackApi) -> AsyncIterator[FakeSocketMode]:
    async with FakeSocketMode(fake) as server:
        yield server


@pytest.fixture
async def app(
    db_url: str, fake: FakeSlackApi, socket: FakeSocketMode, clock: ManualClock
) -> AsyncIterator[SocketApp]:
    bot = await SlackBot.start(db_url, fake, clock, SLACK_APP_TOKEN=socket.app_token)
    await socket.wait_connected()
    yield SocketApp(bot, socket)
    await bot.close()


def responses_of(fake: FakeSlackApi, payload: dict[str, object]) -> list[ResponseCall]:
    return fake.responses_to(str(payload["response_url"]).rsplit("/", 1)[1])


async def test_connects_with_the_app_token_and_serves_no_http_endpoint(
    app: SocketApp, fake: FakeSlackApi, socket: FakeSocketMode
) -> None:
    assert app.bot.adapter.mode == "socket"
    (opened,) = fake.calls_to("apps.connections.open")
    assert opened.token == socket.app_token and opened.ok
    assert socket.rejected_tickets == []
    await socket.wait_until(lambda: bool(socket.current.pings))
    assert socket.current.pings[0].startswith(b"sdk-ping-pong:")  # answered with a pong
    assert await app.bot.adapter.ready_problem() is None
    async with app.bot.web.post(app.bot.url, data=b"command=%2Fsession") as resp:
        assert resp.status in (404, 405)  # nothing mounted at /slack/events


async def test_full_flow_over_envelopes_every_one_acked(
    app: SocketApp, fake: FakeSlackApi, socket: FakeSocketMode
) -> None:
    ack, (started,) = await app.command("start deploy api")
    assert ack.payload is None  # a state change: empty ack, answer in channel
    assert started.response_type == "in_channel"
    assert "started by <@U0ALICE>" in (started.text or "")
    await app.bot.deliver()
    card = fake.messages[0]

    await app.command(f"share <@{BOB}|bob> approver")
    await app.command("plan build image; roll out")
    await app.bot.deliver()
    (plan,) = [m for m in fake.messages if has_buttons(m.blocks)]

    approve = app.click_payload("plan_approve", plan, BOB)
    ack = await app.interactive(approve)
    assert ack.payload is None
    (decided,) = responses_of(fake, approve)
    assert "approved by <@U0BOB>" in (decided.text or "")
    await app.bot.deliver()
    (update,) = fake.calls_to("chat.update")
    assert update.params["ts"] == plan.ts
    assert not has_buttons(plan.blocks)
    assert "Approved by <@U0BOB>" in block_text(plan.blocks)

    ack, (shown,) = await app.command("show 1")
    assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
    assert shown.response_id.startswith("ack:")  # the answer rode in the ack
    assert "Session #1 deploy api" in block_text(shown.body["blocks"])

    _, (completed,) = await app.command("complete 1")
    assert completed.response_type == "in_channel"
    await app.bot.deliver()
    assert await app.bot.status() is Status.COMPLETED
    assert any("completed" in (m.text or "") for m in fake.messages if m.thread_ts == card.ts)

    assert socket.unacked() == []
    assert len(socket.acks) == len(socket.sent) == 6


async def test_reject_opens_the_modal_and_its_submission_decides(
    app: SocketApp, fake: FakeSlackApi, socket: FakeSocketMode
) -> None:
    await app.command("start deploy api")
    await app.command(f"share <@{BOB}|bob> approver")
    await app.command("plan build image")
    await app.bot.deliver()
    (plan,) = [m for m in fake.messages if has_buttons(m.blocks)]

    await app.interactive(app.click_payload("plan_reject", plan, BOB))
    (opened,) = fake.views
    submission = view_submission_payload(
        opened.view["callback_id"],
        private_metadata=opened.view["private_metadata"],
        view_id=opened.view_id,
        user_id=BOB,
        state_values=REASON,
    )
    ack = await socket.request("interactive", submission, accepts_response_payload=True)
    assert await app.bot.adapter.handlers.idle(timeout=10)
    assert ack.payload is None  # an empty ack closes the modal
    await app.bot.deliver()
    assert "Rejected by <@U0BOB>" in block_text(plan.blocks)
    assert "too risky" in block_text(plan.blocks)
    assert await app.bot.status() is Status.PAUSED
    assert socket.unacked() == []


async def test_a_redelivered_envelope_decides_once(app: SocketApp, fake: FakeSlackApi) -> None:
    await app.command("start deploy api")
    await app.command(f"share <@{BOB}|bob> approver")
    await app.command("plan build image")
    await app.bot.deliver()
    (plan,) = [m for m in fake.messages if has_buttons(m.blocks)]

    approve = app.click_payload("plan_approve", plan, BOB)
    first = await app.interactive(approve, envelope_id="env-approve")
    again = await app.interactive(approve, envelope_id="env-approve")
    assert (first.envelope_id, again.envelope_id) == ("env-approve", "env-approve")
    await app.bot.deliver()

    assert await count(app.bot.core.store, "approvals") == 1
    assert len(fake.calls_to("chat.update")) == 1
    assert len(responses_of(fake, approve)) == 1  # and no second reply
    assert app.socket.unacked() == []


async def test_a_redelivered_command_envelope_starts_one_session(app: SocketApp) -> None:
    fields = slash_command_fields("start once", response_url=app.fake.response_url("once"))
    for _ in range(2):
        await app.socket.request(
            "slash_commands", dict(fields), accepts_response_payload=True, envelope_id="env-once"
        )
        assert await app.bot.adapter.handlers.idle(timeout=10)
    assert await count(app.bot.core.store, "sessions") == 1
    assert len(app.fake.responses_to("once")) == 1


async def test_after_a_refresh_the_app_reconnects_and_keeps_working(
    app: SocketApp, fake: FakeSlackApi, socket: FakeSocketMode
) -> None:
    await app.command("start before refresh")
    old = socket.current

    new = await socket.refresh()
    await asyncio.wait_for(old.closed.wait(), timeout=5)

    assert new.number == 2
    opens = fake.calls_to("apps.connections.open")
    assert [c.token for c in opens] == [socket.app_token] * 2  # a fresh URL for the new socket
    assert socket.rejected_tickets == []
    ack, (listed,) = await app.command("list")
    assert ack.connection == 2
    assert "before refresh" in block_text(listed.body["blocks"])
    assert await app.bot.adapter.ready_problem() is None
    assert socket.unacked() == []


async def test_serve_runs_in_socket_mode_and_stops_cleanly(
    db_url: str, fake: FakeSlackApi, socket: FakeSocketMode
) -> None:
    port = free_port()
    env = slack_env(db_url, fake, SLACK_APP_TOKEN=socket.app_token, SESSIONBOT_HTTP_PORT=str(port))
    stop = asyncio.Event()
    running = asyncio.create_task(serve(load_config(env), stop=stop))
    try:
        await socket.wait_connected(timeout=10)
        ready = await wait_ready(f"http://127.0.0.1:{port}/readyz")
        assert "slack" in ready["checks"]  # readiness covers the socket connection
        fields = slash_command_fields("start served", response_url=fake.response_url("served"))
        ack = await socket.request("slash_commands", dict(fields), accepts_response_payload=True)
        assert ack.payload is None
        (started,) = await fake.wait_for_responses(1, timeout=10)
        assert "started by" in (started.text or "")
        # serve's own outbox loop posts the session card, with no help from the test
        (card,) = await fake.wait_for("chat.postMessage", timeout=10, ok_only=True)
        assert card.params["channel"] == "C0001"
    finally:
        stop.set()
        # Up to the outbox poll (5 s) today: a wake that lands during a delivery round is lost.
        assert await asyncio.wait_for(running, timeout=15) == 0
    assert socket.connections[-1].closed.is_set()


def free_port() -> int:
    with socket_module.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str) -> dict[str, Any]:
    """Poll /readyz until it answers 200 (bounded); its JSON body."""
    async with ClientSession(timeout=ClientTimeout(total=2)) as http, asyncio.timeout(10):
        while True:
            with contextlib.suppress(OSError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return dict(await resp.json())
            await asyncio.sleep(0.02)


async def test_a_failed_socket_start_closes_what_it_opened_and_the_next_attempt_connects(
    db_url: str, fake: FakeSlackApi, socket: FakeSocketMode, clock: ManualClock
) -> None:
    """A start attempt that fails (here Slack answers apps.connections.open with an error worth
    retrying) closes its HTTP session and socket; the supervisor's next attempt connects."""
    answer = fake.connections_open
    fake.connections_open = lambda token: {"ok": False, "error": "internal_error"}
    config = load_config(slack_env(db_url, fake, SLACK_APP_TOKEN=socket.app_token))
    core = await open_core(config, clock=clock)
    (adapter,) = chat_adapters(config, core, HttpServer(config.http_host, config.http_port))
    assert isinstance(adapter, SlackAdapter) and adapter.socket is not None
    try:
        first = adapter.socket.client.aiohttp_client_session
        with pytest.raises(SlackApiError):
            await adapter.start()
        assert first.closed
        fake.connections_open = answer
        await adapter.start()
        await socket.wait_connected()
        assert await adapter.ready_problem() is None
    finally:
        await adapter.stop()
        await core.close()
