"""A running sessionbot Slack app for tests: real wiring, real HTTP on 127.0.0.1, fake Web API."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qs

from aiohttp import ClientSession, ClientTimeout

from adapters.slack.adapter import SlackAdapter
from bot.app import Core, open_core
from bot.config import Config, load_config
from bot.http import HttpServer
from bot.serve import chat_adapters
from core.clock import ManualClock
from core.models import Status
from tests.fakes.slack_api import FakeSlackApi, Message, OpenedView, ResponseCall
from tests.fakes.slack_signing import (
    DEFAULT_SIGNING_SECRET,
    SignedRequest,
    block_actions_request,
    slash_command_request,
    view_submission_request,
)

BOT_TOKEN = "xoxb-sessionbot-test"
HTTP_TIMEOUT = ClientTimeout(total=10)
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
CHANNEL = "C0001"
WORKSPACE = "slack:T0001"
Mount = Callable[[HttpServer, Core, Config], None] | None


def slack_env(db_url: str, fake: FakeSlackApi, **extra: str) -> dict[str, str]:
    return {
        "SESSIONBOT_DATABASE_URL": db_url,
        "SESSIONBOT_HTTP_HOST": "127.0.0.1",
        "SESSIONBOT_HTTP_PORT": "0",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "SLACK_API_URL": fake.base_url,
        **extra,
    }


@dataclass
class SlackBot:
    """Core + HTTP server + Slack adapter as `sessionbot serve` wires them, driven by a test."""

    fake: FakeSlackApi
    core: Core
    http: HttpServer
    adapter: SlackAdapter
    web: ClientSession

    @classmethod
    async def start(
        cls, db_url: str, fake: FakeSlackApi, clock: ManualClock, *, mount: Mount = None, **env: str
    ) -> Self:
        """Wire and start it as `sessionbot serve` does; `env` adds or overrides settings and
        `mount` adds routes (the API, the web) to the server before it starts."""
        config = load_config(slack_env(db_url, fake, **env))
        core = await open_core(config, clock=clock)
        http = HttpServer(config.http_host, config.http_port)
        if mount is not None:
            mount(http, core, config)
        (adapter,) = chat_adapters(config, core, http)
        assert isinstance(adapter, SlackAdapter)
        core.dispatcher.register(adapter.delivery)
        await http.start()
        await adapter.start()
        return cls(fake, core, http, adapter, ClientSession(timeout=HTTP_TIMEOUT))

    async def close(self) -> None:
        await self.adapter.stop()
        await self.http.stop()
        await self.web.close()
        await self.core.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.port}/slack/events"

    async def send(self, request: SignedRequest) -> tuple[int, str]:
        """POST a signed request; wait (bounded) for the listener work it started."""
        async with self.web.post(self.url, data=request.body, headers=request.headers) as resp:
            status, body = resp.status, await resp.text()
        assert await self.adapter.handlers.idle(timeout=10)
        return status, body

    async def command(self, text: str, user: str = ALICE, **fields: Any) -> list[ResponseCall]:
        """Run `/session text` as `user`; returns its answers: in the ack body, then those
        posted to its response_url."""
        rid = f"cmd-{len(self.fake.responses)}-{user}"
        request = slash_command_request(
            text, response_url=self.fake.response_url(rid), user_id=user, **fields
        )
        status, body = await self.send(request)
        assert status == 200
        return [*ack_answer(rid, body), *self.fake.responses_to(rid)]

    def click_request(self, action_id: str, message: Message, user: str) -> SignedRequest:
        value = plan_button(message, action_id)["value"]
        rid = f"click-{action_id}-{user}-{len(self.fake.responses)}"
        return block_actions_request(
            action_id,
            value,
            response_url=self.fake.response_url(rid),
            message_ts=message.ts,
            message={"type": "message", "ts": message.ts, "text": message.text or ""},
            user_id=user,
            channel_id=message.channel,
        )

    def submit_request(
        self, opened: OpenedView, user: str, state_values: dict[str, Any]
    ) -> SignedRequest:
        """The signed `view_submission` of a modal the bot opened, as `user` typed it."""
        return view_submission_request(
            str(opened.view["callback_id"]),
            private_metadata=opened.view["private_metadata"],
            view_id=opened.view_id,
            user_id=user,
            state_values=state_values,
        )

    async def click(self, action_id: str, message: Message, user: str) -> list[ResponseCall]:
        request = self.click_request(action_id, message, user)
        status, _ = await self.send(request)
        assert status == 200
        return self.fake.responses_to(response_id(request))

    async def deliver(self) -> None:
        """Deliver every due outbox row through the Slack delivery."""
        await self.core.dispatcher.drain()

    async def status(self, ref: int = 1) -> Status:
        session = await self.core.store.sessions.get(WORKSPACE, str(ref))
        assert session is not None
        return session.status


def ack_answer(response_id: str, body: str | dict[str, Any] | None) -> list[ResponseCall]:
    """The answer a slash command's ack carried (HTTP body or envelope payload), if any."""
    if not body:
        return []
    message = json.loads(body) if isinstance(body, str) else body
    if isinstance(message, str):  # a bare text ack
        message = {"text": message}
    return [ResponseCall(f"ack:{response_id}", message, {})]


def response_id(request: SignedRequest) -> str:
    """The response_url id inside a signed interactive request."""
    payload = json.loads(parse_qs(request.body.decode())["payload"][0])
    return str(payload["response_url"]).rsplit("/", 1)[1]


def plan_button(message: Message, action_id: str) -> dict[str, Any]:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {message.blocks}")


def has_buttons(blocks: list[dict[str, Any]] | None) -> bool:
    return any(block["type"] == "actions" for block in blocks or [])


def block_text(blocks: list[dict[str, Any]] | None) -> str:
    """Every text in a list of blocks, for assertions."""
    parts: list[str] = []
    for block in blocks or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return "\n".join(parts)
