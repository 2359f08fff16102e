"""Telling the operator about notices that wait for a chat adapter (see core/waiting.py).

`token create` warns on standard error, `serve` logs once at start per platform, and `/readyz`
lists the waiting notices per workspace (as information: the probe stays 200).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from bot.config import Config
from core.waiting import PendingByWorkspace, by_platform, platform_of, waiting_notices

_log = logging.getLogger(__name__)

NAMES = {"slack": "Slack", "discord": "Discord", "console": "console", "api": "API"}
SHOWN = 5  # workspaces named in the start-up log line


def configured_platforms(config: Config) -> frozenset[str]:
    """Platforms a deployment with `config` can deliver to (`sessionbot console` needs none)."""
    found = {"api", "console"}
    if config.slack.enabled:
        found.add("slack")
    if config.discord.enabled:
        found.add("discord")
    return frozenset(found)


def token_warning(config: Config, workspace: str) -> str | None:
    """The stderr line for a token of a workspace no configured adapter serves, if any."""
    platform = platform_of(workspace)
    if platform in configured_platforms(config):
        return None
    name = NAMES.get(platform, platform)
    return (
        f"Note: no {name} adapter is configured in this environment; notices for {workspace} "
        f"will wait in the outbox until a sessionbot with {name} configured runs."
    )


async def log_waiting(outbox: PendingByWorkspace, platforms: Collection[str]) -> None:
    """One warning per platform whose workspaces have notices this process can't send."""
    grouped = by_platform(await waiting_notices(outbox, platforms))
    for platform, workspaces in grouped.items():
        named = ", ".join(list(workspaces)[:SHOWN]) + (", …" if len(workspaces) > SHOWN else "")
        _log.warning(
            "%s notices for %s workspace(s) (%s) are waiting: this process has no %s adapter",
            sum(workspaces.values()),
            len(workspaces),
            named,
            NAMES.get(platform, platform),
        )


def waiting_info(
    outbox: PendingByWorkspace, platforms: Callable[[], Collection[str]]
) -> Callable[[], Awaitable[dict[str, int]]]:
    """For `/readyz`: pending notices per workspace whose platform has no adapter here."""

    async def info() -> dict[str, int]:
        return await waiting_notices(outbox, platforms())

    return info
