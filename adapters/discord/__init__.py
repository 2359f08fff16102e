"""The Discord adapter (§8): the `/session` command group, persistent plan buttons, delivery."""

from adapters.discord.client import DiscordAdapter
from adapters.discord.delivery import DiscordDelivery

__all__ = ["DiscordAdapter", "DiscordDelivery"]
