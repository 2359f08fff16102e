"""Progress at a glance and the confirmation step on Discord: the real discord.py client
against the fake Discord REST API and gateway."""

from __future__ import annotations

from typing import Any

from core.models import Status
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
from tests.adapters.discord.test_flow import _admin
from tests.fakes.discord_api import FakeDiscord


async def _plan(
    fake: FakeDiscord, bot: Bot, people: People, mode: str, items: str
) -> dict[str, Any]:
    """bob starts #1 in `mode`, shares it with carol as approver, posts `items`; the post."""
    await slash(fake, people.bob, "start", {"title": "Deploy v2", "mode": mode})
    role = {"name": "role", "type": 3, "value": "approver"}
    await slash(fake, people.bob, "members share", [user_option("user", people.carol), role])
    await slash(fake, people.bob, "plan", {"items": items})
    await bot.drain()
    channel = fake.channel_messages(fake.guild.text_channel.id, include_ephemeral=False)
    return next(m for m in channel if buttons_of(m))


async def test_item_status_changes_edit_the_plan_message_as_a_checklist_and_a_bar(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    plan = await _plan(fake, bot, people, "incident", "back up; migrate; deploy; verify; announce")
    assert plan.get("content") in (None, "")  # a proposal: no progress yet
    await click(fake, people.carol, buttons_of(plan)[0], int(plan["id"]))
    for item, status in [(1, "done"), (2, "done"), (3, "done"), (4, "blocked"), (5, "in_progress")]:
        await slash(fake, people.bob, "modify", {"ref": "1", "item": item, "status": status})
    await bot.drain()

    edits = fake.requests_matching(f"/channels/*/messages/{plan['id']}", method="PATCH")
    assert len(edits) == 6  # the decision, then one edit per status change, in place
    edited = fake.messages[int(plan["id"])]
    text = text_of(edited)
    assert "✅ 1. back up\n✅ 2. migrate\n✅ 3. deploy\n⛔ 4. verify\n⏳ 5. announce" in text
    assert "Progress: ▰▰▰▱▱ 60 %" in text
    # the content (notifications, screen readers) says it in words, without a glyph
    assert edited["content"] == "Plan v1 for #1 Deploy v2: 3 of 5 items done (60 %)"

    shown = await slash(fake, people.bob, "show", {"ref": "1"})
    assert "▰▰▰▱▱ 60 %" in text_of(shown["data"])
    assert shown["data"]["content"] == "Session #1 Deploy v2: 3 of 5 items done (60 %)"


async def test_a_deploy_plans_approve_asks_first_confirm_approves_once_cancel_changes_nothing(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    plan = await _plan(fake, bot, people, "deploy", "back up; roll out")
    approve, reject = buttons_of(plan)
    plan_id = approve.rsplit(":", 1)[1]
    assert approve == f"sbk:plan_approve:{plan_id}" and reject == f"sb:plan_reject:{plan_id}"

    asked = await click(fake, people.carol, approve, int(plan["id"]))
    assert is_ephemeral(asked)
    assert "Approve the deploy plan for #1 Deploy v2 (plan v1)?" in text_of(asked["data"])
    confirm, cancel = buttons_of(asked["data"])
    assert (confirm, cancel) == (f"sb:plan_approve:{plan_id}", f"sb:confirm_cancel:{plan_id}")

    cancelled = await click(fake, people.carol, cancel, None)
    assert is_ephemeral(cancelled) and "nothing was approved" in text_of(cancelled["data"])
    await bot.drain()
    assert (await bot.session(1, workspace(fake))).status is Status.PENDING
    assert buttons_of(fake.messages[int(plan["id"])]) == [approve, reject]  # still pending

    refused = await click(fake, people.dave, approve, int(plan["id"]))  # no approver: no step
    assert is_ephemeral(refused) and "you need to be the owner, an" in text_of(refused["data"])

    approved = await click(fake, people.carol, confirm, None)
    assert not is_ephemeral(approved) and "plan v1 approved by" in text_of(approved["data"])
    again = await click(fake, people.carol, confirm, None)  # a second Confirm decides nothing
    assert is_ephemeral(again) and "already approved" in text_of(again["data"])
    await bot.drain()
    assert fake.messages[int(plan["id"])]["components"] == []
    assert (await bot.session(1, workspace(fake))).status is Status.ACTIVE
    _, events = await bot.core.services.progress.events(_admin(fake), "1")
    assert [e.type.value for e in events].count("plan_approved") == 1


async def test_a_normal_plans_approve_decides_at_once(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    plan = await _plan(fake, bot, people, "incident", "back up")
    approve = buttons_of(plan)[0]
    assert approve.startswith("sb:plan_approve:")
    approved = await click(fake, people.carol, approve, int(plan["id"]))
    assert not is_ephemeral(approved) and "approved" in text_of(approved["data"])
