"""An agent's request in Slack: posted in the session's thread with buttons, decided by a click
through the real AsyncApp (signed requests, fake Web API), the message updated in place."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.models import Actor, Decision, Source
from core.records.requests import RequestKind, RequestStatus
from core.services.asks import Ask
from tests.adapters.slack.harness import (
    ALICE,
    BOB,
    CAROL,
    WORKSPACE,
    SlackBot,
    block_text,
    has_buttons,
)
from tests.adapters.slack.test_flow import start_with_plan
from tests.fakes.slack_api import FakeSlackApi, Message

AGENT = Actor(WORKSPACE, ALICE, Source.API)


async def _posted(bot: SlackBot, ask: Ask) -> tuple[str, Message]:
    """alice's session (bob an approver) asks `ask`; the request's message once delivered."""
    plan = await start_with_plan(bot)
    await bot.click("plan_approve", plan, BOB)  # the session is active again
    request = await bot.core.services.requests.create(AGENT, "1", ask)
    await bot.deliver()
    (posted,) = [m for m in bot.fake.messages if request.id in str(m.blocks)]
    return request.id, posted


async def test_an_approve_click_wakes_the_waiting_agent_and_updates_the_message(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    ask = Ask(RequestKind.ACTION, action="deploy", args={"service": "api", "version": "1.2"})
    request_id, posted = await _posted(bot, ask)
    card = fake.messages[0]
    assert posted.thread_ts == card.ts, "in the session's thread"
    assert "service: `api`" in block_text(posted.blocks)
    services = bot.core.services
    waiting = asyncio.create_task(services.requests.wait(AGENT, request_id, timedelta(seconds=30)))
    await asyncio.sleep(0)
    (reply,) = await bot.click("request_approve", posted, BOB)
    assert reply.response_type == "in_channel" and "Approved by <@U0BOB>" in (reply.text or "")
    decided = await asyncio.wait_for(waiting, 10)
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == BOB
    await bot.deliver()
    updates = [c for c in fake.calls_to("chat.update") if c.params["ts"] == posted.ts]
    assert len(updates) == 1 and not has_buttons(posted.blocks)
    assert "Approved by <@U0BOB>" in block_text(posted.blocks)


async def test_a_click_by_someone_who_may_not_decide_changes_nothing(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, posted = await _posted(bot, Ask(RequestKind.ACTION, action="deploy"))
    (refusal,) = await bot.click("request_reject", posted, CAROL)
    assert refusal.response_type == "ephemeral"
    _, stored = await bot.core.services.requests.get(AGENT, request_id)
    assert stored.status is RequestStatus.PENDING and stored.votes == []
    await bot.deliver()
    assert has_buttons(posted.blocks)


async def test_a_click_on_arguments_changed_since_shown_is_refused(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    ask = Ask(RequestKind.ACTION, action="deploy", args={"version": "1.2"}, need=2)
    request_id, posted = await _posted(bot, ask)
    await bot.core.services.requests.decide(
        Actor(WORKSPACE, "U0ROOT", Source.API, platform_admin=True),
        request_id,
        Decision.APPROVE,
        edited_args={"version": "1.3"},
    )
    (refusal,) = await bot.click("request_approve", posted, BOB)  # the button shows 1.2
    assert refusal.response_type == "ephemeral"
    assert "changed since it was shown" in (refusal.text or "")
    _, stored = await bot.core.services.requests.get(AGENT, request_id)
    assert [v.user_id for v in stored.votes] == ["U0ROOT"]


async def test_a_choice_answers_a_question(bot: SlackBot, fake: FakeSlackApi) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which region first?", choices=("eu", "us"))
    request_id, posted = await _posted(bot, ask)
    (reply,) = await bot.click("request_choice", posted, ALICE)  # the first choice
    assert reply.response_type == "in_channel" and "Answered by <@U0ALICE>: eu" in (
        reply.text or ""
    )
    _, stored = await bot.core.services.requests.get(AGENT, request_id)
    assert stored.status is RequestStatus.ANSWERED and stored.answer == "eu"
    await bot.deliver()
    assert not has_buttons(posted.blocks)
