"""An agent's request in Discord: posted in the session's thread with persistent buttons,
decided by a click through the real discord.py client against the fake Discord."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from core.models import Actor, Source
from core.records.requests import RequestKind, RequestStatus
from core.services.asks import Ask
from tests.adapters.discord.conftest import (
    Bot,
    People,
    buttons_of,
    click,
    is_ephemeral,
    slash,
    text_of,
    user_option,
    workspace,
)
from tests.fakes.discord_api import FakeDiscord


async def _asked(fake: FakeDiscord, bot: Bot, people: People, ask: Ask) -> tuple[str, Any]:
    """bob's session #1 (carol an approver) asks `ask`; its id and its posted message."""
    await slash(fake, people.bob, "start", {"title": "Deploy v2"})
    role = {"name": "role", "type": 3, "value": "approver"}
    await slash(fake, people.bob, "members share", [user_option("user", people.carol), role])
    agent = Actor(workspace(fake), str(people.bob.id), Source.API)
    request = await bot.core.services.requests.create(agent, "1", ask)
    await bot.drain()
    session = await bot.session(1, workspace(fake))
    assert session.thread_ref is not None
    thread = fake.channel_messages(int(session.thread_ref), include_ephemeral=False)
    return request.id, next(m for m in thread if request.id in str(m.get("components")))


async def test_an_approve_click_wakes_the_agent_and_edits_the_message(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    ask = Ask(RequestKind.ACTION, action="deploy", args={"service": "api"})
    request_id, posted = await _asked(fake, bot, people, ask)
    approve, reject = buttons_of(posted)
    assert approve.startswith("sb:request_approve:") and reject.startswith("sb:request_reject:")
    agent = Actor(workspace(fake), str(people.bob.id), Source.API)
    waiting = asyncio.create_task(
        bot.core.services.requests.wait(agent, request_id, timedelta(seconds=30))
    )
    await asyncio.sleep(0)
    answer = await click(fake, people.carol, approve, int(posted["id"]))
    assert not is_ephemeral(answer) and "Approved by" in text_of(answer["data"])
    decided = await asyncio.wait_for(waiting, 10)
    assert decided.status is RequestStatus.APPROVED
    assert decided.decided_by == str(people.carol.id)
    await bot.drain()
    edited = fake.messages[int(posted["id"])]
    assert edited["components"] == [] and "Approved by" in text_of(edited)


async def test_a_stranger_click_is_refused_ephemerally(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    request_id, posted = await _asked(fake, bot, people, Ask(RequestKind.ACTION, action="x"))
    answer = await click(fake, people.dave, buttons_of(posted)[0], int(posted["id"]))
    assert is_ephemeral(answer)
    agent = Actor(workspace(fake), str(people.bob.id), Source.API)
    _, stored = await bot.core.services.requests.get(agent, request_id)
    assert stored.status is RequestStatus.PENDING and stored.votes == []
