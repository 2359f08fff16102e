"""Hostile user text and ids through the real Bolt app: what reaches Slack mentions only users.

Every body the fake Web API (`chat.postMessage`, `chat.update`) and the response_urls receive is
scanned: the only `<…>` markup allowed is a mention of a Slack user id.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest

from core.clock import ManualClock
from core.models import Status
from tests.adapters.slack.harness import ALICE, BOB, CAROL, WORKSPACE, SlackBot, has_buttons
from tests.fakes.slack_api import FakeSlackApi, ResponseCall

EVIL = "<!channel> <!here> @channel @Here @everyone <http://evil.example|Re-authenticate> [Approve](http://evil.example)"
_MARKUP = re.compile(r"<[^<>]*>")
_USER_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


@pytest.fixture
async def admin_bot(db_url: str, fake: FakeSlackApi, clock: ManualClock) -> AsyncIterator[SlackBot]:
    running = await SlackBot.start(db_url, fake, clock, SESSIONBOT_ADMINS=ALICE)
    yield running
    await running.close()


def sent_to_slack(fake: FakeSlackApi, answers: list[ResponseCall]) -> str:
    """Every message body Slack received: Web API posts and updates, ack and response_url
    answers."""
    calls = fake.calls_to("chat.postMessage") + fake.calls_to("chat.update")
    bodies = [json.dumps(c.params) for c in calls]
    bodies += [json.dumps(r.body) for r in [*fake.responses, *answers]]
    return "\n".join(bodies)


def assert_inert(text: str) -> None:
    markup = set(_MARKUP.findall(text))
    assert {m for m in markup if not _USER_MENTION.fullmatch(m)} == set(), markup
    assert "|Re-authenticate>" not in text and "<!channel>" not in text
    assert _BROADCAST.findall(text) == []


async def test_hostile_text_everywhere_reaches_slack_inert(
    admin_bot: SlackBot, fake: FakeSlackApi
) -> None:
    bot, answers = admin_bot, []
    lines = [
        (f"start Deploy {EVIL}", ALICE),
        (f"share <@{BOB}|bob> approver", ALICE),
        (f"plan {EVIL} build; roll out {EVIL}", ALICE),
        ("approve 1", BOB),
        (f"modify 1 1 comment:{EVIL}", ALICE),
        (f"note 1 {EVIL}", ALICE),
        (f"context 1 env={EVIL.split()[0]}", ALICE),
        (f"pause 1 {EVIL}", ALICE),
        ("resume 1", ALICE),
        (f"plan 1 second {EVIL}", ALICE),
        (f"reject 1 {EVIL}", BOB),
        ("search Re-authenticate", ALICE),
        ("show 1", ALICE),
        ("history 1", ALICE),
        (f"share 1 {EVIL}", ALICE),  # errors echo what was typed
        (f"transfer 1 {EVIL}", ALICE),
        (f"list {EVIL}", ALICE),
        (f"help {EVIL}", ALICE),
    ]
    for line, user in lines:
        answers += await bot.command(line, user=user)
        await bot.deliver()

    sent = sent_to_slack(fake, answers)
    assert sent.count("Re-authenticate") >= 8  # the text is shown, only inert
    assert "&lt;!channel&gt;" in sent
    assert_inert(sent)
    assert f"<@{ALICE}>" in sent and f"<@{BOB}>" in sent  # our own mentions still work
    session = await bot.core.store.sessions.get(WORKSPACE, "1")
    assert session is not None and session.status is Status.PAUSED


async def test_settings_admins_with_slack_mentions_lets_that_admin_approve(
    admin_bot: SlackBot, fake: FakeSlackApi
) -> None:
    bot = admin_bot
    (changed,) = await bot.command(f"settings admins <@{CAROL}|carol>")
    assert changed.response_type == "in_channel", changed.body
    settings = await bot.core.services.settings.get(WORKSPACE)
    assert settings.admins == (CAROL,)
    await bot.command("start deploy api")
    await bot.command("plan build image")
    await bot.deliver()
    (plan,) = [m for m in fake.messages if has_buttons(m.blocks)]
    (decided,) = await bot.click("plan_approve", plan, CAROL)
    assert decided.response_type == "in_channel"
    assert f"approved by <@{CAROL}>" in (decided.text or "")
    assert await bot.status() is Status.ACTIVE


async def test_transfer_and_unshare_through_bolt(admin_bot: SlackBot, fake: FakeSlackApi) -> None:
    bot = admin_bot
    await bot.command("start deploy api", user=BOB)
    await bot.command(f"share 1 <@{CAROL}|carol> viewer", user=BOB)
    (removed,) = await bot.command(f"unshare 1 <@{CAROL}|carol>", user=BOB)
    assert f"no longer shared with <@{CAROL}>" in (removed.text or "")
    (refused,) = await bot.command(f"transfer 1 <@{CAROL}|carol>", user=CAROL)
    assert refused.response_type == "ephemeral"
    (moved,) = await bot.command(f"transfer 1 <@{CAROL}|carol>", user=BOB)
    assert moved.response_type == "in_channel"
    session = await bot.core.store.sessions.get(WORKSPACE, "1")
    assert session is not None and session.owner_id == CAROL
    await bot.deliver()
    sent = sent_to_slack(fake, [removed, refused, moved])
    assert f"handed over to <@{CAROL}> by <@{BOB}>" in sent
    assert_inert(sent)
