"""A real `sessionbot serve` per test, with an agent token and an approver token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sessionbot_client import Retry, Sessionbot
from tests.client.live import LiveServer

FAST = Retry(budget=30.0, first=0.1, longest=1.0)


@dataclass(slots=True)
class Live:
    server: LiveServer
    agent_token: str
    approver_token: str

    def agent(self, *, poll: int = 30, url: str | None = None) -> Sessionbot:
        return Sessionbot(url or self.server.url, self.agent_token, poll=poll, retry=FAST)

    def approver(self) -> Sessionbot:
        return Sessionbot(self.server.url, self.approver_token, retry=FAST)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    server = LiveServer(tmp_path)
    agent, approver = server.token("agent"), server.token("bob")
    server.start()
    try:
        yield Live(server, agent, approver)
    finally:
        server.stop()


def started(live: Live, bot: Sessionbot, title: str = "Deploy v2") -> int:
    """A new session of the agent, shared with bob as approver: its ref."""
    session = bot.start_session(title, mode="deploy")
    bot.share(session["ref"], "bob", "approver")
    return int(session["ref"])
