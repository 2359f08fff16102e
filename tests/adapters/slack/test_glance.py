"""Progress at a glance and confirm dialogs on Slack: the real Bolt app, the fake Web API."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from adapters.slack.blocks import MAX_BUTTON_TEXT
from core.records.requests import Risk
from tests.adapters.slack.harness import (
    BOB,
    CHANNEL,
    SlackBot,
    block_text,
    has_buttons,
    plan_button,
)
from tests.adapters.slack.test_requests import deploy, posted_request
from tests.fakes.slack_api import FakeSlackApi, Message

CONFIRM_LIMITS = {"title": 100, "text": 300, "confirm": 30, "deny": 30}


async def _plan(bot: SlackBot, title: str, items: str) -> Message:
    """alice starts #1 `title`, shares it with bob as approver, submits `items`; the post."""
    await bot.command(f"start {title}")
    await bot.command(f"share <@{BOB}|bob> approver")
    await bot.command(f"plan {items}")
    await bot.deliver()
    (plan,) = [m for m in bot.fake.messages if has_buttons(m.blocks)]
    return plan


def within_block_kit(blocks: list[dict[str, Any]]) -> None:
    """slack_sdk's own checks of every block, and the confirm object's limits it does not check."""
    assert len(blocks) <= 50
    for raw in blocks:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]
        for element in raw.get("elements", []):
            assert len(element.get("text", {}).get("text", "")) <= MAX_BUTTON_TEXT
            for key, limit in CONFIRM_LIMITS.items():
                if "confirm" in element:
                    assert 0 < len(element["confirm"][key]["text"]) <= limit, key


async def test_item_status_changes_edit_the_plan_in_place_as_a_checklist_and_a_bar(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    plan = await _plan(bot, "deploy api", "back up; migrate; deploy; verify; announce")
    assert "1. back up\n2. migrate" in block_text(plan.blocks)  # a proposal: no marks yet
    await bot.click("plan_approve", plan, BOB)
    for item, status in [(1, "done"), (2, "done"), (3, "done"), (4, "blocked")]:
        await bot.command(f"modify 1 {item} status:{status}")
    await bot.command("modify 1 5 status:in_progress")
    await bot.deliver()

    updates = [c for c in fake.calls_to("chat.update") if c.params["ts"] == plan.ts]
    assert len(updates) == 6 and all(c.params["channel"] == CHANNEL for c in updates)
    text = block_text(plan.blocks)
    assert "✅ 1. back up\n✅ 2. migrate\n✅ 3. deploy\n⛔ 4. verify\n⏳ 5. announce" in text
    assert "*Progress*\n▰▰▰▱▱ 60 %" in text
    # the notification / screen-reader text says it in words, without a glyph
    assert plan.text == "Plan v1 for #1 deploy api: 3 of 5 items done (60 %)"
    assert not set(plan.text or "") & set("▰▱✅⛔⏳⬜")
    within_block_kit(plan.blocks or [])

    (shown,) = await bot.command("show 1")
    card = shown.body
    assert "▰▰▰▱▱ 60 %" in block_text(card["blocks"])
    assert card["text"] == "Session #1 deploy api: 3 of 5 items done (60 %)"


async def test_a_deploy_plans_approve_asks_to_confirm_and_a_normal_plans_does_not(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    long_title = "ship it " + "&" * 150  # escaped, 750 characters of `&amp;`
    plan = await _plan(bot, f"{long_title} mode:deploy", "build; roll out")
    approve = plan_button(plan, "plan_approve")
    confirm = approve["confirm"]
    assert confirm["title"] == {"type": "plain_text", "text": "Approve the deploy plan?"}
    text = confirm["text"]["text"]
    assert text.startswith("Approve the deploy plan for #1 ship it &amp;&amp;")
    assert len(text) <= 300 and text.endswith("&amp;…")  # clipped, never inside an entity
    assert (confirm["confirm"]["text"], confirm["deny"]["text"]) == ("Approve", "Cancel")
    assert "confirm" not in plan_button(plan, "plan_reject")
    within_block_kit(plan.blocks or [])
    # Slack asks before it sends the click; the click that comes is the approval itself
    (approved,) = await bot.click("plan_approve", plan, BOB)
    assert "plan v1 approved by <@U0BOB>" in (approved.text or "")

    await bot.command("start plain work")
    await bot.command(f"share 2 <@{BOB}|bob> approver")
    await bot.command("plan 2 one thing")
    await bot.deliver()
    normal = next(m for m in fake.messages if has_buttons(m.blocks) and m.ts != plan.ts)
    assert (normal.text or "").startswith("Plan v1 for #2 plain work")
    assert "confirm" not in plan_button(normal, "plan_approve")


async def test_a_high_risk_requests_approve_carries_the_confirm_object_too(bot: SlackBot) -> None:
    _, post = await posted_request(bot, deploy(risk=Risk.HIGH, need=1))
    confirm = plan_button(post, "request_approve")["confirm"]
    assert confirm["title"]["text"] == "Approve a high-risk action?"
    assert "`deploy` is a high-risk action" in confirm["text"]["text"]
    within_block_kit(post.blocks or [])
    _, low = await posted_request_again(bot)
    assert "confirm" not in plan_button(low, "request_approve")


async def posted_request_again(bot: SlackBot) -> tuple[str, Message]:
    """A normal-risk request in the same session: its post."""
    from tests.adapters.slack.test_requests import AGENT

    before = {m.ts for m in bot.fake.messages}
    request = await bot.core.services.requests.create(AGENT, "1", deploy())
    await bot.deliver()
    (post,) = [m for m in bot.fake.messages if has_buttons(m.blocks) and m.ts not in before]
    return request.id, post
