"""Start-up with SLACK_BOT_TOKEN exported in the process environment logs no false alarm."""

from __future__ import annotations

import logging

import pytest

from core.clock import ManualClock
from tests.adapters.slack.harness import BOT_TOKEN, SlackBot
from tests.fakes.slack_api import FakeSlackApi

CLIENT_ID, CLIENT_SECRET = "1111.2222", "client-secret"


@pytest.mark.parametrize("oauth", [False, True], ids=["bot-token", "oauth"])
async def test_an_exported_bot_token_draws_no_bolt_warning(
    db_url: str,
    fake: FakeSlackApi,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    oauth: bool,
) -> None:
    # Bolt reads SLACK_BOT_TOKEN from os.environ by itself, beside the client it is given.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    caplog.set_level(logging.INFO)
    env = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET} if oauth else {}
    running = await SlackBot.start(db_url, fake, clock, **env)
    await running.close()
    bolt = [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")]
    assert [m for m in bolt if "token" in m.lower()] == []
    assert running.adapter.app.client is running.adapter.client
