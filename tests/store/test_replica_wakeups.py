"""Two processes (two stores) on one PostgreSQL database: what commits on one wakes the other.

A decision on replica A wakes a request waiter on replica B, an event added on A wakes B's
event followers, and a notice committed on A is delivered by B's outbox dispatcher at once,
not at its next poll: all by NOTIFY sent inside A's transaction and heard by B's LISTEN
connection. Every wait is bounded and far shorter than the waits that would otherwise end it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import ManualClock
from core.models import Decision, Event, EventType, Role, Session
from core.outbox import OutboxDispatcher
from core.records.requests import RequestKind, RequestStatus
from core.services.asks import Ask
from core.services.config import ServiceConfig
from core.store.postgres.store import PostgresStore
from core.store.store import Store
from core.views import View
from core.wiring import Services, build_services
from tests.conftest import CHAT, actor

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OWNER, AGENT, ANA = actor("owner"), actor("agent"), actor("ana")
BOUND = 10.0  # seconds: a bound on the test, never a rule it waits for


@pytest.fixture
def backend() -> str:
    return "postgres"  # SQLite has one process: its wake-ups never leave it


@pytest.fixture
def one(store: Store) -> Services:
    return build_services(store, clock=ManualClock(NOW), config=ServiceConfig())


@pytest.fixture
def two(second: Store) -> Services:
    return build_services(second, clock=ManualClock(NOW), config=ServiceConfig())


def _heard(services: Services) -> int:
    store = services.store
    assert isinstance(store, PostgresStore) and store.engine.listener is not None
    return store.engine.listener.heard


async def test_a_decision_on_one_replica_wakes_a_waiter_on_the_other(
    one: Services, two: Services
) -> None:
    session = await one.sessions.start(OWNER, CHAT, "release")
    for user, role in (("agent", Role.EDITOR), ("ana", Role.APPROVER)):
        await one.members.share(OWNER, str(session.ref), user, role=role)
    request = await one.requests.create(
        AGENT, str(session.ref), Ask(RequestKind.ACTION, action="deploy", args={"v": "1"})
    )
    waiting = asyncio.create_task(two.requests.wait(AGENT, request.id, timedelta(seconds=60)))
    await asyncio.sleep(0)  # B watches before A's decision commits
    assert len(two.requests.waiters) == 1
    await one.requests.decide(ANA, request.id, Decision.APPROVE)
    decided = await asyncio.wait_for(waiting, BOUND)  # the wait alone would last 60 s
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == "ana"
    assert len(two.requests.waiters) == 0 and _heard(two) >= 1


async def _follow(one: Services, two: Services) -> tuple[Session, int, asyncio.Task[list[Event]]]:
    """A session started on A whose next events B follows (watching once this returns)."""
    session = await one.sessions.start(OWNER, CHAT, "follow")
    await one.members.share(OWNER, str(session.ref), "agent", role=Role.EDITOR)
    last = (await one.store.events.newest(session.id, limit=1))[0].seq
    following = asyncio.create_task(
        two.progress.next_events(session, after_seq=last, up_to=60, limit=10)
    )  # B's wait alone would last a minute
    await asyncio.sleep(0)
    assert len(two.progress.followers) == 1
    return session, last, following


async def test_an_event_added_on_one_replica_wakes_a_follower_on_the_other(
    one: Services, two: Services
) -> None:
    session, last, following = await _follow(one, two)
    seq = await one.progress.record_event(AGENT, str(session.ref), EventType.TOOL_CALL, {"n": 1})
    found = await asyncio.wait_for(following, BOUND)
    assert [e.seq for e in found] == [seq] == [last + 1]


@dataclass
class Chat:
    """A chat platform's API: tells the test each post as it arrives."""

    platform: str = "console"
    posts: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        await self.posts.put(view.title)
        return f"msg{self.posts.qsize()}"

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        return None

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        return await self.post(workspace, user_id, None, view)


async def test_a_notice_committed_on_one_replica_is_delivered_by_the_other_at_once(
    one: Services, two: Services
) -> None:
    chat = Chat()
    dispatcher = OutboxDispatcher(
        two.store, clock=two.clock, deliveries=[chat], poll_every=3600
    )  # its poll would come in an hour: only the wake-up can deliver within the bound
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run_forever(stop))
    try:
        await one.sessions.start(OWNER, CHAT, "first")
        assert await asyncio.wait_for(chat.posts.get(), BOUND)
        heard = _heard(two)
        await one.sessions.start(OWNER, CHAT, "second")  # B is idle, waiting for a wake-up
        assert await asyncio.wait_for(chat.posts.get(), BOUND)
        assert _heard(two) > heard
    finally:
        stop.set()
        await asyncio.wait_for(running, BOUND)


async def test_a_replica_that_lost_its_listen_connection_listens_again_and_catches_up(
    one: Services, two: Services
) -> None:
    store = two.store
    assert isinstance(store, PostgresStore) and store.engine.listener is not None
    lost = store.engine.listener.connection_pid()
    session, last, following = await _follow(one, two)
    await one.store.db.fetchall("SELECT pg_terminate_backend(?)", (lost,))
    seq = await one.progress.record_event(AGENT, str(session.ref), EventType.TOOL_CALL, {"n": 1})
    found = await asyncio.wait_for(following, BOUND)  # its NOTIFY went unheard: B caught up
    assert [e.seq for e in found] == [seq] == [last + 1]
    assert store.engine.listener.connection_pid() not in (None, lost)
