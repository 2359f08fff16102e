"""Ref autocomplete: at most 25 of the guild's sessions, filtered by ref and title."""

from __future__ import annotations

from typing import Any

from core.models import Actor, ChatRef, Source
from tests.adapters.discord.conftest import Bot, People, workspace
from tests.fakes.discord_api import AUTOCOMPLETE_RESULT, FakeDiscord, FakeUser


async def _sessions(fake: FakeDiscord, bot: Bot, owner: FakeUser, count: int) -> None:
    actor = Actor(workspace(fake), str(owner.id), Source.DISCORD)
    chat = ChatRef("discord", workspace(fake), str(fake.guild.text_channel.id))
    for number in range(count):
        await bot.core.services.sessions.start(actor, chat, f"task {number:02d}")


async def _choices(fake: FakeDiscord, user: FakeUser, typed: str, **kw: Any) -> list[Any]:
    payload = fake.autocomplete_payload(
        user=user, subcommand="show", focused="ref", value=typed, **kw
    )
    await fake.push_interaction(payload)
    callback = (await fake.wait_for_callback(payload)).json
    assert callback["type"] == AUTOCOMPLETE_RESULT
    choices: list[Any] = callback["data"]["choices"]
    return choices


async def test_autocomplete_offers_at_most_25_recent_sessions(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    await _sessions(fake, bot, people.bob, 32)
    everything = await _choices(fake, people.dave, "")
    assert len(everything) == 25
    assert everything[0] == {"name": "#32 · task 31 · active", "value": "32"}


async def test_autocomplete_filters_by_ref_then_title(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    await _sessions(fake, bot, people.bob, 32)
    by_ref = await _choices(fake, people.bob, "#2")
    by_title = await _choices(fake, people.bob, "TASK 1")
    assert by_ref[0]["value"] == "2"
    assert {c["value"] for c in by_ref[:11]} == {"2", *(str(n) for n in range(20, 30))}
    assert "3" in {c["value"] for c in by_ref[11:]}  # then titles: "task 02" is #3
    assert sorted(int(c["value"]) for c in by_title) == list(range(11, 21))  # "task 10".."task 19"


async def test_autocomplete_choice_names_fit_100_characters(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    actor = Actor(workspace(fake), str(people.bob.id), Source.DISCORD)
    chat = ChatRef("discord", workspace(fake), str(fake.guild.text_channel.id))
    await bot.core.services.sessions.start(actor, chat, "x" * 200)
    (choice,) = await _choices(fake, people.bob, "")
    assert len(choice["name"]) == 100 and choice["name"].endswith("… · active")


async def test_autocomplete_sees_only_its_own_guild(fake: FakeDiscord, bot: Bot) -> None:
    other = Actor("discord:1", "7", Source.DISCORD)
    await bot.core.services.sessions.start(other, ChatRef("discord", "discord:1", "5"), "elsewhere")
    assert await _choices(fake, fake.guild.member, "") == []


async def test_help_autocompletes_command_names(fake: FakeDiscord, bot: Bot) -> None:
    payload = fake.autocomplete_payload(subcommand="help", focused="command", value="re")
    await fake.push_interaction(payload)
    choices = (await fake.wait_for_callback(payload)).json["data"]["choices"]
    assert [c["value"] for c in choices][:4] == ["reject", "remind", "requests", "resume"]
