"""The start form through the real discord.py client against the fake REST and gateway: a
bare `/session start` and the message command "Start session from message" open it as a
modal; its submit starts the session, linked to the message when it came from one."""

from __future__ import annotations

from typing import Any

from tests.adapters.discord.conftest import Bot, People, is_ephemeral, slash, text_of, workspace
from tests.fakes.discord_api import MODAL, FakeDiscord, FakeUser

MENU = "Start session from message"


def inputs_of(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = modal["data"]["components"]
    return {c["custom_id"]: c for row in rows for c in row["components"]}


async def submit(
    fake: FakeDiscord, modal: dict[str, Any], user: FakeUser, channel_id: int, **typed: str
) -> Any:
    payload = fake.modal_submit_payload(
        modal["data"]["custom_id"], typed, user=user, channel_id=channel_id
    )
    await fake.push_interaction(payload)
    return (await fake.wait_for_callback(payload)).json


async def test_bare_start_opens_the_modal_and_its_submit_starts_the_session(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    modal = await slash(fake, people.bob, "start")
    assert modal["type"] == MODAL, modal
    assert list(inputs_of(modal)) == ["title", "mode", "max"]
    assert await bot.core.store.sessions.get(workspace(fake), "1") is None
    channel = fake.guild.text_channel.id
    started = await submit(
        fake, modal, people.bob, channel, title="Deploy v3", mode="release", max="7"
    )
    assert not is_ephemeral(started) and "#1" in text_of(started["data"])
    session = await bot.session(1, workspace(fake))
    assert (session.title, session.mode, session.max_iterations) == ("Deploy v3", "release", 7)
    assert (session.channel_id, session.owner_id) == (str(channel), str(people.bob.id))


async def test_refused_input_answers_with_the_reason_and_creates_nothing(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    modal = await slash(fake, people.bob, "start")
    channel = fake.guild.text_channel.id
    refused = await submit(fake, modal, people.bob, channel, title="Deploy", max="0")
    assert is_ephemeral(refused) and "between 1" in text_of(refused["data"])
    assert await bot.core.store.sessions.get(workspace(fake), "1") is None


async def test_message_command_opens_the_form_prefilled_and_links_the_message(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    synced = fake.synced_command(MENU, fake.guild.id)
    assert synced is not None and synced["type"] == 3
    channel = fake.guild.text_channel.id
    message = fake.user_message(channel, "Checkout is failing for EU users", people.carol)
    payload = fake.message_command_payload(MENU, message, user=people.bob)
    await fake.push_interaction(payload)
    modal = (await fake.wait_for_callback(payload)).json
    assert modal["type"] == MODAL, modal
    inputs = inputs_of(modal)
    assert list(inputs) == ["title", "mode", "max"]
    assert inputs["title"]["value"] == "Checkout is failing for EU users"

    started = await submit(
        fake, modal, people.bob, channel, title=inputs["title"]["value"], mode="incident"
    )
    assert not is_ephemeral(started)
    session = await bot.session(1, workspace(fake))
    assert (session.channel_id, session.mode) == (str(channel), "incident")
    assert session.thread_ref == f"reply:{message['id']}"
    await slash(fake, people.bob, "pause", {"ref": "1"})
    await bot.drain()
    posts = [r.json for r in fake.requests_matching(f"/channels/{channel}/messages", method="POST")]
    assert len(posts) == 2  # the card and the pause notice, both replies to the message
    assert all(str(p["message_reference"]["message_id"]) == message["id"] for p in posts)


async def test_message_command_in_a_thread_joins_that_thread(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    await slash(fake, people.bob, "start", {"title": "Release train"})
    await bot.drain()
    thread_id = int((await bot.session(1, workspace(fake))).thread_ref or 0)
    assert fake.channels[thread_id]["type"] == 11  # the first session's thread
    message = fake.user_message(thread_id, "Flaky test in checkout", people.carol)
    payload = fake.message_command_payload(MENU, message, user=people.bob)
    await fake.push_interaction(payload)
    modal = (await fake.wait_for_callback(payload)).json
    started = await submit(fake, modal, people.bob, thread_id, title="Flaky checkout test")
    assert not is_ephemeral(started)
    session = await bot.session(2, workspace(fake))
    parent = fake.guild.text_channel.id
    assert (session.channel_id, session.thread_ref) == (str(parent), str(thread_id))
    await bot.drain()
    assert "Flaky checkout test" in text_of(fake.channel_messages(thread_id)[-1])
