"""Fixtures: the fake Discord, and the real bot (bot/discord.py wiring) on a SQLite file."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from adapters.discord import DiscordAdapter
from bot.app import Core, open_core
from bot.config import Config, DiscordConfig
from bot.discord import discord_adapter
from core.clock import ManualClock
from core.models import Session
from core.runner import CommandRunner
from core.views import Reply
from tests.fakes.discord_api import EPHEMERAL, FakeDiscord, FakeGuild, FakeUser

TIMEOUT = 5.0


@dataclass
class People:
    bob: FakeUser = field(default_factory=lambda: FakeUser(username="bob"))
    carol: FakeUser = field(default_factory=lambda: FakeUser(username="carol"))
    dave: FakeUser = field(default_factory=lambda: FakeUser(username="dave"))


@pytest.fixture
def people() -> People:
    return People()


@pytest.fixture
async def fake(people: People) -> AsyncIterator[FakeDiscord]:
    guild = FakeGuild(members=[people.bob, people.carol, people.dave])
    async with FakeDiscord(guilds=[guild], token="fake-token") as server:
        with server.patch_discord():
            yield server


class RecordingRunner(CommandRunner):
    """The real runner, counting finished calls so tests can wait for silent ones."""

    def __init__(self, inner: CommandRunner) -> None:
        super().__init__(inner.services)
        self.results: list[Reply | None] = []
        self._changed = asyncio.Condition()

    async def run(self, *args: Any, **kwargs: Any) -> Reply | None:
        return await self._record(super().run(*args, **kwargs))

    async def click(self, *args: Any, **kwargs: Any) -> Reply | None:
        return await self._record(super().click(*args, **kwargs))

    async def _record(self, work: Awaitable[Reply | None]) -> Reply | None:
        result = await work
        async with self._changed:
            self.results.append(result)
            self._changed.notify_all()
        return result

    async def wait_calls(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: len(self.results) >= count)


@dataclass
class Bot:
    core: Core
    adapter: DiscordAdapter
    runner: RecordingRunner

    async def close(self) -> None:
        await self.adapter.stop()
        await self.core.close()

    async def drain(self) -> None:
        await self.core.dispatcher.drain()

    async def session(self, ref: int, workspace: str) -> Session:
        found = await self.core.store.sessions.get(workspace, str(ref))
        assert found is not None
        return found


def bot_config(fake: FakeDiscord, db_url: str) -> Config:
    discord_config = DiscordConfig(
        token="fake-token",
        guild_ids=(fake.guild.id,),
        api_url=fake.rest_base,
        gateway_url=fake.gateway_url,
    )
    return Config(database_url=db_url, discord=discord_config)


async def launch(fake: FakeDiscord, db_url: str, clock: ManualClock) -> Bot:
    """A new core and a new client on the database, connected to the fake."""
    config = bot_config(fake, db_url)
    core = await open_core(config, clock=clock)
    adapter = discord_adapter(config.discord, core, guild_ready_timeout=0.1)
    runner = RecordingRunner(core.runner)
    adapter.runner = runner
    core.dispatcher.register(adapter.delivery)
    await adapter.start()
    await adapter.commands_synced()
    await fake.wait_until_connected()
    return Bot(core, adapter, runner)


@pytest.fixture
async def bot(fake: FakeDiscord, db_url: str, clock: ManualClock) -> AsyncIterator[Bot]:
    running = await launch(fake, db_url, clock)
    try:
        yield running
    finally:
        await running.close()


def workspace(fake: FakeDiscord) -> str:
    return f"discord:{fake.guild.id}"


def user_option(name: str, user: FakeUser) -> dict[str, Any]:
    return {"name": name, "type": 6, "value": str(user.id)}


Slash = Callable[..., Awaitable[dict[str, Any]]]


async def slash(
    fake: FakeDiscord,
    user: FakeUser,
    subcommand: str,
    options: dict[str, Any] | list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Push `/session <subcommand>` as `user`; return the interaction callback body."""
    payload = fake.slash_command_payload(
        user=user, subcommand=subcommand, options=options, **kwargs
    )
    users = [o for o in (options if isinstance(options, list) else []) if o.get("type") == 6]
    if users:
        resolved = {o["value"]: fake.user(int(o["value"])).to_payload() for o in users}
        payload["data"]["resolved"] = {"users": resolved}
    await fake.push_interaction(payload)
    body: dict[str, Any] = (await fake.wait_for_callback(payload)).json
    return body


async def click(
    fake: FakeDiscord, user: FakeUser, custom_id: str, message_id: int | None
) -> dict[str, Any]:
    """Click a button of a stored message (None: of an ephemeral one, which is not stored)."""
    payload = fake.component_payload(custom_id, message_id, user=user)
    await fake.push_interaction(payload)
    body: dict[str, Any] = (await fake.wait_for_callback(payload)).json
    return body


def is_ephemeral(callback: dict[str, Any]) -> bool:
    return bool(int(callback["data"].get("flags") or 0) & EPHEMERAL)


def text_of(message: dict[str, Any]) -> str:
    """Every text of a message's (or callback's) embeds, for assertions."""
    parts: list[str] = []
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields") or []]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(p for p in parts if p)


def buttons_of(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components") or [] for c in row["components"]]
