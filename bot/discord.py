"""Builds the Discord adapter from the configuration and the core (§8).

`DISCORD_API_URL` and `DISCORD_GATEWAY_URL` point discord.py at another REST base (e.g.
`http://127.0.0.1:8080/api/v10`) and gateway (e.g. `ws://127.0.0.1:8080/gw`): discord.py
keeps both as class attributes, so they apply to the whole process.
"""

from __future__ import annotations

import logging

import discord
import yarl

from adapters.discord import DiscordAdapter
from bot.app import Core
from bot.config import DiscordConfig
from core.errors import ConfigError

_log = logging.getLogger(__name__)


def apply_endpoints(config: DiscordConfig) -> None:
    """Point discord.py's REST and gateway at the configured URLs (when set)."""
    if config.api_url:
        discord.http.Route.BASE = config.api_url.rstrip("/")
        _log.info("Discord REST API at %s", discord.http.Route.BASE)
    if config.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)
        _log.info("Discord gateway at %s", config.gateway_url)


def discord_adapter(
    config: DiscordConfig, core: Core, *, guild_ready_timeout: float = 2.0
) -> DiscordAdapter:
    """The adapter for `config` (its delivery still needs registering with the dispatcher)."""
    if not config.token:
        raise ConfigError("DISCORD_TOKEN", "missing")
    if config.shard_ids and config.shard_count is None:
        raise ConfigError("DISCORD_SHARD_IDS", "needs the total shard count as well")
    if config.shard_count is not None and any(s >= config.shard_count for s in config.shard_ids):
        raise ConfigError("DISCORD_SHARD_IDS", f"each id must be below {config.shard_count}")
    apply_endpoints(config)
    return DiscordAdapter(
        core.runner,
        token=config.token,
        guild_ids=config.guild_ids,
        shard_ids=config.shard_ids,
        shard_count=config.shard_count,
        guild_ready_timeout=guild_ready_timeout,
    )
