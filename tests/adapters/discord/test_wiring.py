"""bot/discord.py and the Discord branch of `chat_adapters`: config in, a running adapter out."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import discord
import pytest

from adapters.discord import DiscordAdapter
from bot.app import open_core
from bot.config import Config, DiscordConfig
from bot.discord import discord_adapter
from bot.http import HttpServer
from bot.serve import chat_adapters
from core.clock import ManualClock
from core.errors import ConfigError
from tests.adapters.discord.conftest import TIMEOUT, People, bot_config, is_ephemeral, slash
from tests.fakes.discord_api import FakeDiscord


async def test_chat_adapters_builds_discord_only_when_a_token_is_set(
    fake: FakeDiscord, db_url: str, clock: ManualClock
) -> None:
    core = await open_core(Config(database_url=db_url), clock=clock)
    try:
        http = HttpServer("127.0.0.1", 0)
        assert chat_adapters(Config(database_url=db_url), core, http) == []
        (adapter,) = chat_adapters(bot_config(fake, db_url), core, http)
        assert isinstance(adapter, DiscordAdapter) and adapter.name == "discord"
        assert fake.rest_base == discord.http.Route.BASE
        await adapter.stop()
    finally:
        await core.close()


@pytest.mark.parametrize(
    ("shards", "problem"),
    [({"shard_ids": (0, 1)}, "shard count"), ({"shard_ids": (2,), "shard_count": 2}, "below 2")],
)
async def test_bad_shard_settings_stop_start_up(
    db_url: str, clock: ManualClock, shards: dict[str, object], problem: str
) -> None:
    core = await open_core(Config(database_url=db_url), clock=clock)
    try:
        config = DiscordConfig(token="t", **shards)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=problem):
            discord_adapter(config, core)
    finally:
        await core.close()


async def test_shard_ids_make_a_sharded_client(db_url: str, clock: ManualClock) -> None:
    # Connecting it is not exercised: the fake's READY carries no `shard` field.
    config = DiscordConfig(token="t", shard_ids=(1, 3), shard_count=4)
    core = await open_core(Config(database_url=db_url), clock=clock)
    adapter = discord_adapter(config, core)
    try:
        assert isinstance(adapter.client, discord.AutoShardedClient)
        assert (adapter.client.shard_ids, adapter.client.shard_count) == ([1, 3], 4)
        assert await adapter.ready_problem() == "discord gateway not connected yet"
    finally:
        await adapter.stop()
        await core.close()


async def test_ready_once_connected_and_not_after_stop(
    fake: FakeDiscord, db_url: str, clock: ManualClock, people: People
) -> None:
    core = await open_core(Config(database_url=db_url), clock=clock)
    adapter = discord_adapter(bot_config(fake, db_url).discord, core, guild_ready_timeout=0.1)
    try:
        await adapter.start()
        await asyncio.wait_for(adapter.client.wait_until_ready(), TIMEOUT)
        assert await adapter.ready_problem() is None
        assert is_ephemeral(await slash(fake, people.bob, "list"))
    finally:
        await adapter.stop()
        await core.close()
    assert await adapter.ready_problem() == "discord client closed"


async def test_guild_ids_sync_the_group_to_each_guild(fake: FakeDiscord, bot: object) -> None:
    synced = fake.synced_command("session", fake.guild.id)
    assert synced is not None and synced.get("guild_id") == str(fake.guild.id)
    names = {o["name"] for o in synced["options"]}
    assert {"start", "plan", "approve", "admin"} <= names and len(names) == 25


async def test_a_refused_login_closes_the_http_session_it_opened(
    fake: FakeDiscord, db_url: str, clock: ManualClock
) -> None:
    """Each login opens a new aiohttp session; a failed attempt must not leave one per retry."""
    config = bot_config(fake, db_url)
    wrong = Config(database_url=db_url, discord=replace(config.discord, token="a-wrong-token"))
    core = await open_core(wrong, clock=clock)
    adapter = discord_adapter(wrong.discord, core)
    try:
        for _ in range(2):  # as the supervisor retries
            with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
                await adapter.start()
            session = adapter.client.http._HTTPClient__session  # type: ignore[attr-defined]
            assert session.closed
    finally:
        await adapter.stop()
        await core.close()


async def test_start_returns_before_the_command_sync_which_ends_at_stop(
    fake: FakeDiscord, db_url: str, clock: ManualClock
) -> None:
    core = await open_core(bot_config(fake, db_url), clock=clock)
    adapter = discord_adapter(bot_config(fake, db_url).discord, core, guild_ready_timeout=0.1)
    try:
        await adapter.start()
        await asyncio.wait_for(adapter.commands_synced(), TIMEOUT)
        assert fake.synced_command("session", fake.guild.id) is not None
    finally:
        await adapter.stop()
        await core.close()
