"""`/session` and the plan buttons through a real AsyncApp over HTTP, against the fake Web API."""

from __future__ import annotations

import json

from core.models import Status
from tests.adapters.slack.harness import (
    BOB,
    CAROL,
    CHANNEL,
    SlackBot,
    block_text,
    has_buttons,
)
from tests.fakes.slack_api import FakeSlackApi, Message

REASON = {"reason": {"reason_input": {"type": "plain_text_input", "value": "too risky"}}}


async def start_with_plan(bot: SlackBot, *, approver: str | None = BOB) -> Message:
    """alice starts #1, shares it with `approver`, submits a 2-item plan; returns the plan post."""
    await bot.command("start deploy api")
    await bot.deliver()
    if approver:
        await bot.command(f"share <@{approver}|someone> approver")
    await bot.command("plan build image; roll out")
    await bot.deliver()
    (plan,) = [m for m in bot.fake.messages if has_buttons(m.blocks)]
    return plan


def thread_titles(fake: FakeSlackApi, card: Message) -> list[str]:
    return [m.text or "" for m in fake.messages if m.thread_ts == card.ts]


async def test_full_flow_start_plan_approve_pause_resume_complete(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    (started,) = await bot.command("start deploy api")
    assert started.response_type == "in_channel"
    assert "started by <@U0ALICE>" in (started.text or "")
    await bot.deliver()
    card = fake.messages[0]
    assert card.thread_ts is None and card.channel == CHANNEL

    await bot.command(f"share <@{BOB}|bob> approver")
    await bot.command("plan build image; roll out")
    await bot.deliver()
    (plan,) = [m for m in fake.messages if has_buttons(m.blocks)]
    assert plan.thread_ts is None  # top level, so approvers see it
    assert "1. build image\n2. roll out" in block_text(plan.blocks)

    (decided,) = await bot.click("plan_approve", plan, BOB)
    assert decided.response_type == "in_channel"
    assert "approved by <@U0BOB>" in (decided.text or "")
    await bot.deliver()
    (update,) = fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (CHANNEL, plan.ts)
    assert not has_buttons(plan.blocks)
    assert "Approved by <@U0BOB> at 2026-01-05 09:00 UTC" in block_text(plan.blocks)

    for verb in ("pause", "resume", "complete"):
        (reply,) = await bot.command(f"{verb} 1")
        assert reply.response_type == "in_channel", reply.text
        await bot.deliver()
    assert await bot.status() is Status.COMPLETED
    titles = thread_titles(fake, card)
    expected = ["shared with", "plan v1 posted", "approved by", "paused", "resumed", "completed"]
    assert len(titles) == len(expected)
    for title, word in zip(titles, expected, strict=True):
        assert word in title, titles


async def test_reject_opens_a_modal_and_keeps_the_reason(bot: SlackBot, fake: FakeSlackApi) -> None:
    plan = await start_with_plan(bot)
    click = bot.click_request("plan_reject", plan, BOB)
    status, _ = await bot.send(click)
    assert status == 200
    (opened,) = fake.views
    assert opened.view["callback_id"] == "plan_reject_reason"
    assert await bot.status() is Status.PENDING  # opening the modal decides nothing

    status, body = await bot.send(bot.submit_request(opened, BOB, REASON))
    assert (status, body) == (200, "")  # an empty ack closes the modal
    metadata = json.loads(opened.view["private_metadata"])
    (reply,) = [r for r in fake.responses if metadata["response_url"].endswith(r.response_id)]
    assert reply.response_type == "in_channel"
    assert "rejected by <@U0BOB> — too risky" in (reply.text or "")
    await bot.deliver()
    assert "Rejected by <@U0BOB> at 2026-01-05 09:00 UTC — too risky" in block_text(plan.blocks)
    assert not has_buttons(plan.blocks)
    assert await bot.status() is Status.PAUSED


async def test_click_without_the_role_is_refused_ephemerally(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    plan = await start_with_plan(bot)
    (refusal,) = await bot.click("plan_approve", plan, CAROL)
    assert refusal.response_type == "ephemeral"
    assert "approver" in (refusal.text or "")
    await bot.deliver()
    assert fake.calls_to("chat.update") == []
    assert has_buttons(plan.blocks)
    assert await bot.status() is Status.PENDING


async def test_reject_submitted_without_the_role_changes_nothing(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    plan = await start_with_plan(bot)
    await bot.send(bot.click_request("plan_reject", plan, CAROL))
    (opened,) = fake.views
    await bot.send(bot.submit_request(opened, CAROL, REASON))
    (refusal,) = [r for r in fake.responses if r.response_id.startswith("click-plan_reject")]
    assert refusal.response_type == "ephemeral"
    await bot.deliver()
    assert fake.calls_to("chat.update") == []
    assert await bot.status() is Status.PENDING


async def test_workspace_admin_from_users_info_may_approve(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    fake.set_user(CAROL, name="carol", is_admin=True)
    plan = await start_with_plan(bot, approver=None)
    (decided,) = await bot.click("plan_approve", plan, CAROL)
    assert decided.response_type == "in_channel"
    assert await bot.status() is Status.ACTIVE
    await bot.command("show 1", user=CAROL)
    await bot.command("list", user=CAROL)
    carol_lookups = [c for c in fake.calls_to("users.info") if c.params.get("user") == CAROL]
    assert len(carol_lookups) == 1  # cached


async def test_reads_help_and_usage_errors_are_ephemeral(bot: SlackBot) -> None:
    await bot.command("start deploy api")
    (shown,) = await bot.command("show")
    assert shown.response_type == "ephemeral"
    assert "Session #1 deploy api" in block_text(shown.body["blocks"])
    (helped,) = await bot.command("help")
    assert helped.response_type == "ephemeral"
    (wrong,) = await bot.command("puase 1")
    assert wrong.response_type == "ephemeral"
    assert "did you mean `pause`" in block_text(wrong.body["blocks"]).lower()
    (missing,) = await bot.command("extend 1")
    assert missing.response_type == "ephemeral"
    assert "/session extend" in block_text(missing.body["blocks"])
    assert await bot.status() is Status.ACTIVE


async def test_echoed_text_cannot_mention_the_channel(bot: SlackBot, fake: FakeSlackApi) -> None:
    (started,) = await bot.command("start <!channel> & friends")
    assert "<!channel>" not in json.dumps(started.body)
    assert "&lt;!channel&gt; &amp; friends" in (started.text or "")
    await bot.deliver()
    assert "<!channel>" not in json.dumps(fake.messages[0].blocks)
