"""The real discord.py client, wired by bot/discord.py, driven through the fake Discord."""

from __future__ import annotations

from typing import Any

from core.clock import ManualClock
from core.models import Actor, Source, Status
from tests.adapters.discord.conftest import (
    Bot,
    People,
    buttons_of,
    click,
    is_ephemeral,
    launch,
    slash,
    text_of,
    user_option,
    workspace,
)
from tests.fakes.discord_api import CHANNEL_MESSAGE, MODAL, FakeDiscord


async def _start_and_plan(fake: FakeDiscord, bot: Bot, people: People) -> dict[str, Any]:
    """bob starts #1, shares it with carol as approver and posts a plan; returns its message.
    (An `incident` session: a `deploy` plan's Approve asks first, see test_glance.py.)"""
    await slash(fake, people.bob, "start", {"title": "Deploy v2", "mode": "incident"})
    await slash(
        fake,
        people.bob,
        "members share",
        [user_option("user", people.carol), _opt("role", "approver")],
    )
    await slash(fake, people.bob, "plan", {"items": "Back up the DB; Run migrations"})
    await bot.drain()
    channel = fake.channel_messages(fake.guild.text_channel.id, include_ephemeral=False)
    return next(m for m in channel if buttons_of(m))


def _opt(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "type": 3, "value": value}


async def test_start_plan_approve_complete_through_interactions(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    started = await slash(fake, people.bob, "start", {"title": "Deploy v2", "mode": "incident"})
    assert started["type"] == CHANNEL_MESSAGE and not is_ephemeral(started)
    assert "Deploy v2" in text_of(started["data"])
    await bot.drain()
    card = fake.channel_messages(fake.guild.text_channel.id, include_ephemeral=False)[-1]
    session = await bot.session(1, workspace(fake))
    assert session.thread_ref == card["id"]  # the thread started on the card shares its id
    assert int(card["id"]) in fake.channels

    shared = await slash(
        fake,
        people.bob,
        "members share",
        [user_option("user", people.carol), _opt("role", "approver")],
    )
    assert f"<@{people.carol.id}>" in text_of(shared["data"])
    await slash(fake, people.bob, "plan", {"items": "Back up the DB; Run migrations"})
    await bot.drain()
    plan = next(m for m in fake.channel_messages(fake.guild.text_channel.id) if buttons_of(m))
    approve, reject = buttons_of(plan)
    assert approve.startswith("sb:plan_approve:") and reject.startswith("sb:plan_reject:")
    assert (await bot.session(1, workspace(fake))).status is Status.PENDING

    approved = await click(fake, people.carol, approve, int(plan["id"]))
    assert not is_ephemeral(approved) and "approved" in text_of(approved["data"])
    await bot.drain()
    edited = fake.messages[int(plan["id"])]
    assert edited["components"] == []
    assert f"Approved by <@{people.carol.id}> at 2026-01-05 09:00 UTC" in text_of(edited)

    completed = await slash(fake, people.bob, "complete", {"ref": "1", "summary": "shipped"})
    assert not is_ephemeral(completed)
    await bot.drain()
    assert (await bot.session(1, workspace(fake))).status is Status.COMPLETED
    thread = "\n".join(text_of(m) for m in fake.channel_messages(int(card["id"])))
    assert "plan v1 posted in the channel" in thread
    assert "plan v1 approved by" in thread and "completed by" in thread


async def test_reject_opens_a_modal_and_records_the_reason(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    plan = await _start_and_plan(fake, bot, people)
    reject = buttons_of(plan)[1]
    modal = await click(fake, people.carol, reject, int(plan["id"]))
    assert modal["type"] == MODAL
    field_id = modal["data"]["components"][0]["components"][0]["custom_id"]
    submit = fake.modal_submit_payload(
        modal["data"]["custom_id"], {field_id: "too risky today"}, user=people.carol
    )
    await fake.push_interaction(submit)
    answer = (await fake.wait_for_callback(submit)).json
    assert "rejected" in text_of(answer["data"])
    await bot.drain()
    edited = fake.messages[int(plan["id"])]
    assert edited["components"] == [] and "too risky today" in text_of(edited)
    assert (await bot.session(1, workspace(fake))).status is Status.PAUSED


async def test_member_without_role_is_refused_ephemerally(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    plan = await _start_and_plan(fake, bot, people)
    refused_click = await click(fake, people.dave, buttons_of(plan)[0], int(plan["id"]))
    refused_pause = await slash(fake, people.dave, "pause", {"ref": "1", "reason": "mine now"})
    for refused in (refused_click, refused_pause):
        assert refused["type"] == CHANNEL_MESSAGE and is_ephemeral(refused)
        assert "you need to be the owner, an" in text_of(refused["data"])
    await bot.drain()
    assert (await bot.session(1, workspace(fake))).status is Status.PENDING
    assert buttons_of(fake.messages[int(plan["id"])])  # still undecided


async def test_same_interaction_twice_acts_once(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    plan = await _start_and_plan(fake, bot, people)
    calls = len(bot.runner.results)
    payload = fake.component_payload(buttons_of(plan)[0], int(plan["id"]), user=people.carol)
    await fake.push_interaction(payload)
    await fake.wait_for_callback(payload)
    await fake.push_interaction(payload)  # the gateway replays the same INTERACTION_CREATE
    await bot.runner.wait_calls(calls + 2)
    assert bot.runner.results[-1] is None
    callbacks = fake.requests_matching(f"/interactions/{payload['id']}/*/callback")
    assert len(callbacks) == 1
    await bot.drain()
    _, events = await bot.core.services.progress.events(_admin(fake), "1")
    assert [e.type.value for e in events].count("plan_approved") == 1


def _admin(fake: FakeDiscord) -> Actor:
    return Actor(workspace(fake), str(fake.guild.admin.id), Source.DISCORD, platform_admin=True)


async def test_click_on_message_from_before_restart_still_decides(
    fake: FakeDiscord, db_url: str, clock: ManualClock, people: People
) -> None:
    first = await launch(fake, db_url, clock)
    try:
        plan = await _start_and_plan(fake, first, people)
    finally:
        await first.close()
    second = await launch(fake, db_url, clock)
    try:
        approved = await click(fake, people.carol, buttons_of(plan)[0], int(plan["id"]))
        assert not is_ephemeral(approved) and "approved" in text_of(approved["data"])
        await second.drain()
        assert fake.messages[int(plan["id"])]["components"] == []
        assert (await second.session(1, workspace(fake))).status is Status.ACTIVE
    finally:
        await second.close()


async def test_reject_modal_opened_before_a_restart_still_decides_after_it(
    fake: FakeDiscord, db_url: str, clock: ManualClock, people: People
) -> None:
    first = await launch(fake, db_url, clock)
    try:
        plan = await _start_and_plan(fake, first, people)
        modal = await click(fake, people.carol, buttons_of(plan)[1], int(plan["id"]))
        assert modal["type"] == MODAL
    finally:
        await first.close()
    second = await launch(fake, db_url, clock)
    try:
        field_id = modal["data"]["components"][0]["components"][0]["custom_id"]
        submit = fake.modal_submit_payload(
            modal["data"]["custom_id"], {field_id: "not during the freeze"}, user=people.carol
        )
        await fake.push_interaction(submit)
        answer = (await fake.wait_for_callback(submit)).json
        assert "rejected" in text_of(answer["data"])
        await second.drain()
        edited = fake.messages[int(plan["id"])]
        assert edited["components"] == [] and "not during the freeze" in text_of(edited)
        assert (await second.session(1, workspace(fake))).status is Status.PAUSED
    finally:
        await second.close()


async def test_reads_and_help_are_ephemeral(fake: FakeDiscord, bot: Bot, people: People) -> None:
    await slash(fake, people.bob, "start", {"title": "Read me"})
    shown = await slash(fake, people.dave, "show", {"ref": "#1"})
    helped = await slash(fake, people.dave, "help", {"command": "plan"})
    assert is_ephemeral(shown) and "Read me" in text_of(shown["data"])
    assert is_ephemeral(helped) and "/session plan" in text_of(helped["data"])


async def test_direct_message_to_the_bot_is_refused_politely(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    answer = await slash(fake, people.bob, "start", {"title": "from a DM"}, dm=True)
    assert is_ephemeral(answer) and "works inside servers" in text_of(answer["data"])
    assert await bot.core.store.sessions.get(workspace(fake), "1") is None


async def test_admin_with_manage_server_acts_on_anyones_session(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    await slash(fake, people.bob, "start", {"title": "Bob's"})
    paused = await slash(fake, fake.guild.admin, "pause", {"ref": "1"})
    assert not is_ephemeral(paused) and "paused" in text_of(paused["data"])


async def test_slow_work_is_deferred_then_answered(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    bot.adapter.replier.defer_after = 0.0
    payload = fake.slash_command_payload(
        user=people.bob, subcommand="start", options={"title": "Slow"}
    )
    await fake.push_interaction(payload)
    assert (await fake.wait_for_callback(payload)).json["type"] == 5
    followup = (await fake.wait_for("/webhooks/*/*", method="POST"))[-1]
    assert "Slow" in text_of(followup.json)


async def test_error_after_a_public_deferral_is_sent_ephemerally(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    bot.adapter.replier.defer_after = 0.0
    payload = fake.slash_command_payload(user=people.bob, subcommand="pause", options={"ref": "9"})
    await fake.push_interaction(payload)
    await fake.wait_for("/webhooks/*/*/messages/@original", method="DELETE")
    followup = (await fake.wait_for("/webhooks/*/*", method="POST"))[-1]
    assert int(followup.json["flags"]) & 64 and "No session" in text_of(followup.json)


async def test_bad_option_is_a_usage_error_not_a_guess(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    answer = await slash(fake, people.bob, "pause", {"ref": "yesterday's", "reason": "x"})
    assert is_ephemeral(answer) and "is not a session ref" in text_of(answer["data"])


async def test_commands_in_the_session_thread_find_the_active_session(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    await slash(fake, people.bob, "start", {"title": "Threaded"})
    await bot.drain()
    thread_id = int((await bot.session(1, workspace(fake))).thread_ref or 0)
    paused = await slash(fake, people.bob, "pause", {"reason": "lunch"}, channel_id=thread_id)
    assert not is_ephemeral(paused) and "paused" in text_of(paused["data"])
    assert (await bot.session(1, workspace(fake))).status is Status.PAUSED
