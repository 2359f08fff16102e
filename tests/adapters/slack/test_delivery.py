"""Outbox delivery to Slack: 429 retries, not_in_channel hints, restarts, DMs, error mapping."""

from __future__ import annotations

import pytest

from adapters.slack.delivery import SlackDelivery
from bot.config import SlackConfig
from bot.slack import slack_client
from core.clock import ManualClock
from core.models import Status
from core.outbox import DeliveryError
from core.views import View
from tests.adapters.slack.harness import (
    BOB,
    BOT_TOKEN,
    CHANNEL,
    WORKSPACE,
    SlackBot,
    block_text,
    has_buttons,
)
from tests.adapters.slack.test_flow import start_with_plan
from tests.conftest import count
from tests.fakes.slack_api import FakeSlackApi


async def test_rate_limited_post_is_retried_after_retry_after_and_delivered_once(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    await bot.command("start deploy api")
    await bot.deliver()
    posts = fake.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [429, 200]
    assert len(fake.messages) == 1
    assert await count(bot.core.store, "outbox", "status = 'delivered'") == 1


async def test_not_in_channel_tells_the_user_to_invite_the_bot(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    fake.fail_next("chat.postMessage", "not_in_channel")
    (started,) = await bot.command("start deploy api")
    await bot.deliver()
    assert fake.messages == []
    hints = [r for r in fake.responses if r is not started]
    (hint,) = hints
    assert hint.response_type == "ephemeral"
    assert f"not a member of <#{CHANNEL}>" in (hint.text or "")
    assert "/invite <@U0BOT>" in (hint.text or "")
    assert await count(bot.core.store, "outbox", "status = 'pending'") == 1

    clock.advance(61)  # someone invited the bot; the outbox tries again
    await bot.deliver()
    assert len(fake.messages) == 1
    assert len(fake.responses) == 2  # the hint is sent once per command, not per retry


async def test_approve_after_a_restart_on_the_same_database(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    first = await SlackBot.start(db_url, fake, clock)
    try:
        plan = await start_with_plan(first)
    finally:
        await first.close()

    second = await SlackBot.start(db_url, fake, clock)
    try:
        (decided,) = await second.click("plan_approve", plan, BOB)
        assert "approved by <@U0BOB>" in (decided.text or "")
        await second.deliver()
        (update,) = fake.calls_to("chat.update")
        assert (update.params["channel"], update.params["ts"]) == (CHANNEL, plan.ts)
        assert not has_buttons(plan.blocks)
        assert await second.status() is Status.ACTIVE
    finally:
        await second.close()


@pytest.fixture
async def delivery(fake: FakeSlackApi) -> SlackDelivery:
    client = slack_client(SlackConfig(bot_token=BOT_TOKEN, api_url=fake.base_url))
    return SlackDelivery(client)


async def test_direct_message_opens_a_dm(delivery: SlackDelivery, fake: FakeSlackApi) -> None:
    ts = await delivery.direct(WORKSPACE, BOB, View(kind="notice", title="Reminder: *#1*"))
    (message,) = fake.messages
    assert (message.ts, message.channel) == (ts, "D" + BOB)
    assert "Reminder: *#1*" in block_text(message.blocks)


@pytest.mark.parametrize(
    ("error", "permanent"),
    [("message_not_found", True), ("channel_not_found", True), ("internal_error", False)],
)
async def test_api_errors_become_delivery_errors(
    delivery: SlackDelivery, fake: FakeSlackApi, error: str, permanent: bool
) -> None:
    fake.fail_next("chat.update", error)
    with pytest.raises(DeliveryError) as raised:
        await delivery.update(WORKSPACE, CHANNEL, "1.2", View(kind="plan", title="Plan"))
    assert raised.value.permanent is permanent
    assert error in str(raised.value)


async def test_rate_limit_beyond_the_client_retry_reports_retry_after(
    delivery: SlackDelivery, fake: FakeSlackApi
) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=1, times=2)
    with pytest.raises(DeliveryError) as raised:
        await delivery.post(WORKSPACE, CHANNEL, None, View(kind="notice", title="hi"))
    assert raised.value.retry_after == 1.0
    assert not raised.value.permanent
