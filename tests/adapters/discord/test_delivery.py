"""Outbox delivery to the fake Discord: threads, replies, DMs, rate limits and refusals."""

from __future__ import annotations

import pytest

from core.outbox import DeliveryError
from core.views import View
from tests.adapters.discord.conftest import Bot, People, slash, text_of, workspace
from tests.conftest import count
from tests.fakes.discord_api import FakeDiscord

NOTICE = View(kind="notice", title="Session #1 x: paused by <@1>")


def _channel(fake: FakeDiscord) -> str:
    return str(fake.guild.text_channel.id)


async def test_session_card_opens_a_thread_named_after_the_session(
    fake: FakeDiscord, bot: Bot
) -> None:
    card = View(kind="session_card", title="Session #7 Deploy &amp; verify")
    thread_id = await bot.adapter.delivery.post(workspace(fake), _channel(fake), None, card)
    assert fake.channels[int(thread_id)]["name"] == "#7 Deploy & verify"
    await bot.adapter.delivery.post(workspace(fake), _channel(fake), thread_id, NOTICE)
    assert "paused by" in text_of(fake.channel_messages(int(thread_id))[-1])


async def test_without_threads_notifications_reply_to_the_card(fake: FakeDiscord, bot: Bot) -> None:
    fake.fail_next("/channels/*/messages/*/threads", 403, 50013, method="POST")
    card = View(kind="session_card", title="Session #7 Deploy")
    ref = await bot.adapter.delivery.post(workspace(fake), _channel(fake), None, card)
    assert ref.startswith("reply:")
    await bot.adapter.delivery.post(workspace(fake), _channel(fake), ref, NOTICE)
    post = fake.requests_matching(f"/channels/{_channel(fake)}/messages", method="POST")[-1]
    assert str(post.json["message_reference"]["message_id"]) == ref.removeprefix("reply:")


async def test_reminders_go_to_direct_messages(fake: FakeDiscord, bot: Bot, people: People) -> None:
    reminder = View(kind="reminder", title="Reminder: check the rollout of #1")
    await bot.adapter.delivery.direct(workspace(fake), str(people.bob.id), reminder)
    dm = fake.dm_channel(people.bob)
    assert "check the rollout" in text_of(fake.channel_messages(int(dm["id"]))[-1])


async def test_a_short_429_is_waited_out_by_discord_py(fake: FakeDiscord, bot: Bot) -> None:
    fake.rate_limit_next("/channels/*/messages", retry_after=0.05, method="POST")
    await bot.adapter.delivery.post(workspace(fake), _channel(fake), None, NOTICE)
    statuses = [r.status for r in fake.requests_matching("/channels/*/messages", method="POST")]
    assert statuses == [429, 200]


async def test_a_long_429_goes_back_to_the_outbox_with_retry_after(
    fake: FakeDiscord, bot: Bot
) -> None:
    fake.rate_limit_next("/channels/*/messages", retry_after=120, method="POST")
    with pytest.raises(DeliveryError) as failed:
        await bot.adapter.delivery.post(workspace(fake), _channel(fake), None, NOTICE)
    assert failed.value.retry_after == pytest.approx(120, abs=1) and not failed.value.permanent


async def test_missing_access_is_permanent_with_a_clear_reason(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    fake.fail_next("/channels/*/messages", 403, 50001, method="POST")
    await slash(fake, people.bob, "start", {"title": "Hidden channel"})
    await bot.drain()
    assert await count(bot.core.store, "outbox", "status = 'dead'") == 1  # type: ignore[arg-type]
    row = await bot.core.store.engine.fetchone(  # type: ignore[attr-defined]
        "SELECT last_error FROM outbox WHERE status = 'dead'", ()
    )
    assert "Missing Access" in row[0]


async def test_unknown_message_on_update_is_permanent(fake: FakeDiscord, bot: Bot) -> None:
    with pytest.raises(DeliveryError) as failed:
        await bot.adapter.delivery.update(workspace(fake), _channel(fake), "123", NOTICE)
    assert failed.value.permanent
