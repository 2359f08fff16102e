"""The SDK's wait returns an approval given with a signed click in Slack: the real Bolt app
and the API on one HTTP server on 127.0.0.1, the fake Slack Web API behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from adapters.slack.adapter import SlackAdapter
from bot.api import mount_api
from bot.app import open_core
from bot.config import load_config
from bot.http import HttpServer
from bot.serve import chat_adapters
from core.clock import ManualClock, SystemClock
from core.models import Actor, Source
from core.records.requests import RequestStatus
from core.tokens import TokenService
from sessionbot_client import AsyncSessionbot
from tests.adapters.slack.harness import (
    ALICE,
    BOB,
    HTTP_TIMEOUT,
    WORKSPACE,
    SlackBot,
    has_buttons,
    slack_env,
)
from tests.client.conftest import FAST
from tests.fakes.slack_api import FakeSlackApi

ALICE_IN_SLACK = Actor(WORKSPACE, ALICE, Source.SLACK)


@pytest.fixture
async def slack(db_url: str, clock: ManualClock) -> AsyncIterator[SlackBot]:
    """The Slack app and the API on one HTTP server, wired as `sessionbot serve` wires them."""
    async with FakeSlackApi() as fake:
        config = load_config(slack_env(db_url, fake))
        core = await open_core(config, clock=clock)
        http = HttpServer(config.http_host, config.http_port)
        mount_api(http.app, core.services)
        (adapter,) = chat_adapters(config, core, http)
        assert isinstance(adapter, SlackAdapter)
        core.dispatcher.register(adapter.delivery)
        await http.start()
        await adapter.start()
        running = SlackBot(fake, core, http, adapter, ClientSession(timeout=HTTP_TIMEOUT))
        yield running
        await running.close()


async def test_request_approval_returns_after_a_signed_slack_click(slack: SlackBot) -> None:
    tokens = TokenService(slack.core.store.tokens, clock=SystemClock())
    _, secret = await tokens.create(WORKSPACE, "alice-agent", user_id=ALICE)
    await slack.command("start deploy api")
    await slack.command(f"share <@{BOB}|bob> approver")
    await slack.deliver()
    args = {"service": "api", "version": "1.2"}
    async with AsyncSessionbot(
        f"http://127.0.0.1:{slack.http.port}", secret, poll=30, retry=FAST
    ) as agent:
        waiting = asyncio.ensure_future(agent.request_approval(1, "deploy", args))
        for _ in range(400):  # bounded: the request is created over HTTP
            _, found = await slack.core.services.requests.of_session(ALICE_IN_SLACK, "1")
            if found or waiting.done():
                break
            await asyncio.sleep(0.05)
        assert found, waiting.exception() if waiting.done() else "no request was created"
        await slack.deliver()
        (post,) = [m for m in slack.fake.messages if has_buttons(m.blocks)]
        assert not waiting.done()  # the agent is blocked in its long-poll
        (decided,) = await slack.click("request_approve", post, BOB)
        assert "Approved by <@U0BOB>" in (decided.text or "")
        approved = await asyncio.wait_for(waiting, 30)
    assert (approved.args, approved.by, approved.edited) == (args, BOB, False)
    assert approved.request["status"] == RequestStatus.APPROVED.value
