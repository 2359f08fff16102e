"""A real `sessionbot serve` per test, with an agent token and an approver token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from sessionbot_client import Retry, Sessionbot
from tests.client.live import LiveServer

T = TypeVar("T")
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


@contextmanager
def in_background(work: Callable[[], T]) -> Iterator[Future[T]]:
    """`work` running in a thread; a failing test does not wait for it (the server's stop ends
    its wait within the retry budget)."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(work)
    try:
        yield future
    finally:
        pool.shutdown(wait=future.done(), cancel_futures=True)
