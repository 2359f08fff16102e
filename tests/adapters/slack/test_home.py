"""The Slack App Home through the real Bolt app over signed HTTP, against the fake Web API:
published on `app_home_opened`, republished through the outbox (coalesced per person) when
something it shows changes, and within Block Kit's limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.clock import ManualClock
from core.models import Actor, ChatRef, Source
from core.records.requests import RequestKind
from core.services.asks import Ask
from core.store.homes import WINDOW
from tests.adapters.slack.harness import (
    ALICE,
    BOB,
    BOT_TOKEN,
    CAROL,
    WORKSPACE,
    SlackBot,
    block_text,
    has_buttons,
)
from tests.fakes.slack_api import FakeSlackApi, Message
from tests.fakes.slack_signing import (
    app_home_opened_request,
    block_actions_payload,
    interactive_request,
)

AGENT = Actor(WORKSPACE, ALICE, Source.SLACK)
DEPLOY = Ask(RequestKind.ACTION, action="deploy", args={"service": "api"})


async def open_home(bot: SlackBot, user: str) -> dict[str, Any]:
    status, _ = await bot.send(app_home_opened_request(user))
    assert status == 200
    return bot.fake.homes[user][-1]


async def later(bot: SlackBot, clock: ManualClock) -> None:
    """Let the coalescing window end and deliver what is due."""
    clock.advance(WINDOW + timedelta(seconds=1))
    await bot.deliver()


def action_ids(blocks: list[dict[str, Any]] | None) -> list[str]:
    return [e["action_id"] for b in blocks or [] if b["type"] == "actions" for e in b["elements"]]


async def alice_asks_bob(bot: SlackBot) -> Message:
    """alice starts #1 with bob as approver, carol starts #2; alice's agent asks a deploy."""
    await bot.command("start deploy api")
    await bot.command(f"share <@{BOB}|bob> approver")
    await bot.command("start tidy docs", user=CAROL, channel_id="C0002")
    await bot.deliver()
    await bot.core.services.requests.create(AGENT, "1", DEPLOY)
    await bot.deliver()
    (post,) = [m for m in bot.fake.messages if has_buttons(m.blocks)]
    return post


async def test_the_home_lists_what_waits_for_that_user_and_their_sessions_only(
    bot: SlackBot,
) -> None:
    post = await alice_asks_bob(bot)
    bobs = await open_home(bot, BOB)
    assert bobs["type"] == "home"
    text = block_text(bobs["blocks"])
    assert "Approve `deploy`?" in text and "#1 deploy api" in text
    assert "tidy docs" not in text
    actions = [
        e["action_id"] for b in bobs["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == action_ids(post.blocks)  # the channel message's buttons
    assert "request_approve" in actions
    carols = block_text((await open_home(bot, CAROL))["blocks"])
    assert "#2 tidy docs" in carols
    assert "deploy" not in carols


async def test_a_decision_republishes_the_home_without_the_request(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    post = await alice_asks_bob(bot)
    await open_home(bot, BOB)
    await open_home(bot, CAROL)
    await bot.click("request_approve", post, BOB)
    await later(bot, clock)
    (*_, opened, republished) = fake.homes[BOB]
    assert "Approve `deploy`?" in block_text(opened["blocks"])
    assert "Approve `deploy`?" not in block_text(republished["blocks"])
    assert "Nothing waits for your decision." in block_text(republished["blocks"])
    assert "#1 deploy api" in block_text(republished["blocks"])
    assert len(fake.homes[CAROL]) == 1  # carol's Home does not show #1: not republished


async def test_a_button_on_the_home_decides_like_the_channels_one(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    await alice_asks_bob(bot)
    home = await open_home(bot, BOB)
    (approve,) = [
        e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == "request_approve"
    ]  # fmt: skip
    payload = block_actions_payload(
        "request_approve", approve["value"], response_url="", user_id=BOB
    )
    payload["container"] = {"type": "view", "view_id": "V0HOME"}
    for key in ("channel", "response_url", "message"):
        payload.pop(key)
    status, _ = await bot.send(interactive_request(payload))
    assert status == 200
    (request,) = await bot.core.store.requests.of_session(await session_id(bot, "1"))
    assert request.status.value == "approved"
    await later(bot, clock)
    assert "Approve `deploy`?" not in block_text(fake.homes[BOB][-1]["blocks"])


async def session_id(bot: SlackBot, ref: str) -> str:
    session = await bot.core.store.sessions.get(WORKSPACE, ref)
    assert session is not None
    return session.id


async def test_fifty_changes_in_one_second_publish_a_home_at_most_twice(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    await bot.command("start deploy api", user=BOB)
    await open_home(bot, BOB)
    await open_home(bot, CAROL)  # not concerned by bob's session: never republished
    bobs = Actor(WORKSPACE, BOB, Source.SLACK)
    for n in range(50):
        clock.advance(timedelta(milliseconds=20))
        if n % 2:
            await bot.core.services.sessions.resume(bobs, "1")
        else:
            await bot.core.services.sessions.pause(bobs, "1")
    await bot.deliver()  # the window has not ended: nothing is due yet
    assert len(fake.homes[BOB]) == 1
    await later(bot, clock)
    assert 2 <= len(fake.homes[BOB]) <= 3
    assert len(fake.homes[CAROL]) == 1
    await later(bot, clock)
    assert len(fake.homes[BOB]) <= 3  # nothing left to publish


async def test_a_user_who_never_opened_the_home_is_not_published(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    await alice_asks_bob(bot)
    await later(bot, clock)
    assert fake.homes == {}
    assert not [c for c in fake.calls if c.method == "views.publish"]


async def test_a_busy_home_stays_within_the_limits_and_says_how_many_more(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    bobs = Actor(WORKSPACE, BOB, Source.SLACK)
    question = Ask(RequestKind.QUESTION, question="which region? " + "x" * 1980, choices=("eu",))
    for n in range(15):
        chat = ChatRef("slack", WORKSPACE, f"C1{n:03d}")
        await bot.core.services.sessions.start(bobs, chat, f"task {n} " + "t" * 150)
        await bot.core.services.requests.create(bobs, str(n + 1), question)
    home = await open_home(bot, BOB)
    assert len(home["blocks"]) <= 50
    text = block_text(home["blocks"])
    assert "…and 7 more waiting for you." in text
    assert "…and 5 more open sessions." in text
    await bot.core.services.sessions.pause(bobs, "1")
    await later(bot, clock)
    assert len(fake.homes[BOB]) == 2  # the fake took the republish too
    dead = await bot.core.store.outbox.counts()
    assert dead["dead"] == 0


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51,
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"a{n}",
                        "text": {"type": "plain_text", "text": "b"},
                    }
                    for n in range(26)
                ],
            }
        ],
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "text": {"type": "plain_text", "text": "b" * 76},
                    }
                ],
            }
        ],
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        [{"type": "divider", "block_id": "same"}, {"type": "divider", "block_id": "same"}],
    ],
)
async def test_the_fake_refuses_blocks_over_a_limit(
    fake: FakeSlackApi, blocks: list[dict[str, Any]]
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0001", text="t", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError):
        await client.views_publish(user_id=BOB, view={"type": "home", "blocks": blocks * 2})
    assert fake.messages == [] and fake.homes == {}
    fine = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 50
    assert (await client.chat_postMessage(channel="C0001", text="t", blocks=fine))["ok"]


async def test_a_workspace_admins_home_shows_what_admins_decide_only_while_trusted(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    fake.set_user(CAROL, is_admin=True)
    await alice_asks_bob(bot)
    assert "Approve `deploy`?" in block_text((await open_home(bot, CAROL))["blocks"])
    alices = Actor(WORKSPACE, ALICE, Source.SLACK)
    await bot.core.services.sessions.pause(alices, "1")  # an admin's Home follows every session
    await later(bot, clock)
    assert "Approve `deploy`?" in block_text(fake.homes[CAROL][-1]["blocks"])
    clock.advance(timedelta(minutes=11))  # past the last opening's admin lookup
    await bot.core.services.sessions.resume(alices, "1")
    await later(bot, clock)
    assert len(fake.homes[CAROL]) == 3
    assert "Approve `deploy`?" not in block_text(fake.homes[CAROL][-1]["blocks"])
