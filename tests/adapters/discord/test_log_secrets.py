"""At DEBUG, a Discord flow through the fake gateway logs no token and no interaction token."""

from __future__ import annotations

import re

from core.clock import ManualClock
from tests.adapters.discord.conftest import People, buttons_of, click, launch, slash
from tests.bot.logcapture import debug_logs, leaked
from tests.fakes.discord_api import FakeDiscord

TOKEN = "fake-token"  # the fake's bot token (bot_config)


async def test_discord_flow_logs_no_token_or_interaction_token(
    fake: FakeDiscord, people: People, db_url: str, clock: ManualClock
) -> None:
    with debug_logs([TOKEN]) as logs:
        bot = await launch(fake, db_url, clock)
        try:
            await slash(fake, people.bob, "start", {"title": "Deploy v2", "mode": "deploy"})
            await slash(fake, people.bob, "plan", {"items": "Back up the DB; Run migrations"})
            await bot.drain()
            channel = fake.channel_messages(fake.guild.text_channel.id, include_ephemeral=False)
            plan = next(m for m in channel if buttons_of(m))
            approve, _ = buttons_of(plan)
            await click(fake, people.bob, approve, int(plan["id"]))
            await bot.drain()
        finally:
            await bot.close()
    text = logs.getvalue()
    interaction_tokens = {state.payload["token"] for state in fake.interactions.values()}
    assert interaction_tokens  # the flow answered interactions, whose tokens are secrets
    assert re.search(r"(DEBUG|INFO) (core|adapters|bot)\.", text)  # the capture works
    assert "Traceback" not in text
    assert leaked(text, [TOKEN, *interaction_tokens, "fake-interaction-"]) == []
