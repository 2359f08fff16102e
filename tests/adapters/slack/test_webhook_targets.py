"""`/session webhook add` from Slack (real Bolt app, signed requests): the target policy answers."""

from __future__ import annotations

from core.clock import ManualClock
from tests.adapters.slack.harness import ALICE, WORKSPACE, SlackBot
from tests.fakes.slack_api import FakeSlackApi

INTERNAL = [
    "https://127.0.0.1/h",
    "https://localhost/h",
    "https://0x7f000001/h",
    "https://169.254.169.254/latest",
    "https://[::ffff:10.0.0.1]/h",
    "https://user:pw@hooks.example/h",
    "http://hooks.example/h",
]


async def test_slack_admin_gets_the_reason_and_nothing_is_stored(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    bot = await SlackBot.start(db_url, fake, clock, SESSIONBOT_ADMINS=ALICE)
    try:
        for url in INTERNAL:
            answers = await bot.command(f"webhook add {url} created")
            text = " ".join(str(a.body) for a in answers)
            assert "Webhook URL refused" in text, (url, text)
        assert await bot.core.store.webhooks.in_workspace(WORKSPACE) == []
        answers = await bot.command("webhook add http://127.0.0.1:9/h created")
        assert "Webhook URL refused" in " ".join(str(a.body) for a in answers)
    finally:
        await bot.close()


async def test_the_operator_allow_list_admits_a_local_receiver(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    bot = await SlackBot.start(
        db_url, fake, clock, SESSIONBOT_ADMINS=ALICE, SESSIONBOT_WEBHOOK_ALLOW="127.0.0.1"
    )
    try:
        answers = await bot.command("webhook add http://127.0.0.1:9/h created")
        assert "added" in " ".join(str(a.body) for a in answers)
        (hook,) = await bot.core.store.webhooks.in_workspace(WORKSPACE)
        assert hook.url == "http://127.0.0.1:9/h"
    finally:
        await bot.close()
