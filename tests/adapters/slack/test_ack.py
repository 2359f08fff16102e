"""What a slash command's ack carries: ephemeral answers ride in it, the rest follow it (§7)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from core.models import Status
from tests.adapters.slack.harness import SlackBot, block_text
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import slash_command_request


async def ack_of(bot: SlackBot, text: str, response_id: str) -> tuple[int, str]:
    """POST `/session text`; the HTTP status and body, before any listener work is awaited."""
    request = slash_command_request(text, response_url=bot.fake.response_url(response_id))
    async with bot.web.post(bot.url, data=request.body, headers=request.headers) as resp:
        return resp.status, await resp.text()


async def test_a_read_is_answered_in_the_ack_and_nothing_follows(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    await bot.command("start deploy api")
    status, body = await ack_of(bot, "show 1", "show")
    assert status == 200
    answer = json.loads(body)
    assert answer["response_type"] == "ephemeral"
    assert "Session #1 deploy api" in block_text(answer["blocks"])
    assert await bot.adapter.handlers.idle(timeout=10)
    assert fake.responses_to("show") == []


async def test_help_and_usage_errors_are_answered_in_the_ack(bot: SlackBot) -> None:
    for text in ("help", "puase 1", "show 99"):
        status, body = await ack_of(bot, text, f"r-{text}")
        assert status == 200, text
        assert json.loads(body)["response_type"] == "ephemeral", text


async def test_a_state_change_acks_empty_and_answers_in_channel_on_the_response_url(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    status, body = await ack_of(bot, "start deploy api", "start")
    assert (status, body) == (200, "")
    assert await bot.adapter.handlers.idle(timeout=10)
    (started,) = fake.responses_to("start")
    assert started.response_type == "in_channel"
    assert "started by <@U0ALICE>" in (started.text or "")
    assert await bot.status() is Status.ACTIVE


async def test_an_answer_slower_than_the_budget_follows_the_empty_ack(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    release = asyncio.Event()

    async def slow_users_info(params: dict[str, Any]) -> dict[str, Any]:
        await release.wait()  # users.info (the admin check) hangs until the ack has left
        return {"ok": True, "user": {"id": params["user"], "is_admin": False}}

    fake.set_handler("users.info", slow_users_info)
    bot.adapter.handlers.ack_budget = 0.05
    status, body = await ack_of(bot, "help", "slow")
    assert (status, body) == (200, "")
    assert fake.responses_to("slow") == []

    release.set()
    assert await bot.adapter.handlers.idle(timeout=10)
    (late,) = fake.responses_to("slow")
    assert late.response_type == "ephemeral"
    assert "/session start" in block_text(late.body["blocks"])


async def test_a_read_delivered_twice_is_answered_once(bot: SlackBot) -> None:
    request = slash_command_request("list", response_url=bot.fake.response_url("twice"))
    first = await bot.send(request)
    again = await bot.send(request)
    assert first[0] == again[0] == 200
    assert json.loads(first[1])["response_type"] == "ephemeral"
    assert again[1] == ""
    assert bot.fake.responses_to("twice") == []


async def test_stop_cancels_listener_work_still_running_after_its_wait(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    """Acknowledged work gets its wait at shutdown; what still runs then is cancelled and
    ended before `stop` returns (the store closes right after)."""
    asking, release = asyncio.Event(), asyncio.Event()

    async def never_answers(params: dict[str, Any]) -> dict[str, Any]:
        asking.set()
        await release.wait()
        return {"ok": False, "error": "fatal_error"}

    fake.set_handler("users.info", never_answers)
    request = slash_command_request("list", response_url=fake.response_url("hang"))
    try:
        async with bot.web.post(bot.url, data=request.body, headers=request.headers) as resp:
            assert resp.status == 200  # acknowledged; the work waits on users.info
        await asyncio.wait_for(asking.wait(), timeout=10)
        bot.adapter.stop_wait = 0.1
        await bot.adapter.stop()
        assert await bot.adapter.handlers.idle(timeout=0)
    finally:
        release.set()
    assert fake.responses_to("hang") == []
