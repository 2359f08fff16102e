"""Fixtures: a fake Slack Web API and the sessionbot Slack app served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.clock import ManualClock
from tests.adapters.slack.harness import SlackBot
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi() as api:
        yield api


@pytest.fixture
async def bot(db_url: str, fake: FakeSlackApi, clock: ManualClock) -> AsyncIterator[SlackBot]:
    running = await SlackBot.start(db_url, fake, clock)
    yield running
    await running.close()
