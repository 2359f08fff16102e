"""Forged and stale signatures are refused; redelivered payloads act once (§15)."""

from __future__ import annotations

import time

from core.models import Status
from tests.adapters.slack.harness import BOB, SlackBot, has_buttons, response_id
from tests.adapters.slack.test_flow import start_with_plan
from tests.conftest import count
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import block_actions_request, slash_command_request

SIX_MINUTES = 6 * 60


async def test_forged_signature_gets_401_and_changes_nothing(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    forged = slash_command_request(
        "start evil", response_url=fake.response_url("forged"), secret="not-the-secret"
    )
    status, body = await bot.send(forged)
    assert status == 401
    assert "invalid request" in body
    assert await count(bot.core.store, "sessions") == 0
    assert fake.responses == [] and fake.calls_to("users.info") == []


async def test_six_minute_old_timestamp_gets_401_and_changes_nothing(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    stale = slash_command_request(
        "start replayed",
        response_url=fake.response_url("stale"),
        timestamp=time.time() - SIX_MINUTES,
    )
    status, _ = await bot.send(stale)
    assert status == 401
    assert await count(bot.core.store, "sessions") == 0
    assert fake.responses == []


async def test_forged_click_gets_401_and_decides_nothing(bot: SlackBot, fake: FakeSlackApi) -> None:
    plan = await start_with_plan(bot)
    value = next(e["value"] for b in plan.blocks or [] for e in b.get("elements", []))
    for secret, ts in (("forged", None), (None, time.time() - SIX_MINUTES)):
        kwargs = {"secret": secret} if secret else {"timestamp": ts}
        click = block_actions_request(
            "plan_approve",
            value,
            response_url=fake.response_url("forged-click"),
            message_ts=plan.ts,
            user_id=BOB,
            **kwargs,
        )
        status, _ = await bot.send(click)
        assert status == 401
    await bot.deliver()
    assert await bot.status() is Status.PENDING
    assert await count(bot.core.store, "approvals") == 0
    assert fake.responses_to("forged-click") == [] and has_buttons(plan.blocks)


async def test_same_click_payload_delivered_twice_decides_once(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    plan = await start_with_plan(bot)
    click = bot.click_request("plan_approve", plan, BOB)
    first, _ = await bot.send(click)
    again, _ = await bot.send(click)
    assert (first, again) == (200, 200)
    (reply,) = fake.responses_to(response_id(click))  # no second reply either
    assert "approved by <@U0BOB>" in (reply.text or "")
    await bot.deliver()
    assert await count(bot.core.store, "approvals") == 1
    assert len(fake.calls_to("chat.update")) == 1
    assert await count(bot.core.store, "events", "type = ?", "plan_approved") == 1


async def test_same_command_delivered_twice_starts_one_session(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    command = slash_command_request("start once", response_url=fake.response_url("once"))
    await bot.send(command)
    await bot.send(command)
    assert await count(bot.core.store, "sessions") == 1
    assert len(fake.responses_to("once")) == 1
