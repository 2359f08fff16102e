"""Plan messages keep an exact audit trail: real Bolt app, fake Slack `chat.update` calls."""

from __future__ import annotations

from core.clock import ManualClock
from tests.adapters.slack.harness import ALICE, BOB, CHANNEL, SlackBot, block_text, has_buttons
from tests.adapters.slack.test_flow import start_with_plan
from tests.fakes.slack_api import FakeSlackApi, Message


async def test_superseding_a_rejected_plan_keeps_the_rejection_and_names_who_superseded(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    v1 = await start_with_plan(bot)
    clock.advance(7)
    (rejected,) = await bot.command("reject 1 too risky", user=BOB)
    assert "rejected by <@U0BOB> — too risky" in (rejected.text or "")
    await bot.deliver()
    clock.advance(53)
    await bot.command("plan build image; roll out; verify")
    await bot.deliver()

    v1_updates = [c for c in fake.calls_to("chat.update") if c.params["ts"] == v1.ts]
    assert len(v1_updates) == 2  # rejected, then superseded
    text = block_text(v1.blocks)
    assert "Rejected by <@U0BOB> at 2026-01-05 09:00 UTC — too risky" in text
    assert "Superseded by <@U0ALICE> at 2026-01-05 09:01 UTC (plan v2)." in text
    assert text.count("Rejected by") == 1 and not has_buttons(v1.blocks)

    (late,) = await bot.click("plan_approve", _plan_v2(fake, v1.ts), BOB)
    assert late.response_type == "in_channel"  # bob approves v2: its own decision
    assert "plan v2 approved by <@U0BOB>" in (late.text or "")


async def test_item_status_and_comments_update_the_plan_message_in_place(
    bot: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    plan = await start_with_plan(bot)
    await bot.click("plan_approve", plan, BOB)
    await bot.deliver()
    before = len(fake.calls_to("chat.update"))
    clock.advance(60)

    (done,) = await bot.command("modify 1 1 status:done")
    assert "item 1: status change → done" in (done.text or "")
    await bot.deliver()
    (update,) = fake.calls_to("chat.update")[before:]
    assert (update.params["channel"], update.params["ts"]) == (CHANNEL, plan.ts)
    assert "✅ 1. build image\n⬜ 2. roll out" in block_text(plan.blocks)

    await bot.command("modify 1 2 comment:canary first")
    await bot.deliver()
    assert len(fake.calls_to("chat.update")) == before + 2
    text = block_text(plan.blocks)
    assert f"⬜ 2. roll out\n    💬 <@{ALICE}> at 2026-01-05 09:01 UTC: canary first" in text
    assert "Approved by <@U0BOB> at 2026-01-05 09:00 UTC" in text  # the decision stays

    (shown,) = await bot.command("show 1")
    assert "canary first" in str(shown.body)


def _plan_v2(fake: FakeSlackApi, v1_ts: str) -> Message:
    (v2,) = [m for m in fake.messages if has_buttons(m.blocks) and m.ts != v1_ts]
    return v2
