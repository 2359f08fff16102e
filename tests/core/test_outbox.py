"""Outbox delivery: threads, plan message updates, retries with backoff, dead rows, dedupe."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.clock import ManualClock
from core.delivery import NoChatDelivery
from core.models import Actor, ChatRef, Decision, OutboxStatus, Role, Source
from core.outbox import DeliveryError, OutboxDispatcher
from core.store.sqlite.store import SqliteStore
from core.views import View
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER = actor("owner")


@dataclass
class RecordingChat:
    """A stand-in for a chat platform's API: records posts, can be told to fail."""

    platform: str = "console"
    posts: list[tuple[str, str | None, View]] = field(default_factory=list)
    updates: list[tuple[str, View]] = field(default_factory=list)
    failures: list[DeliveryError] = field(default_factory=list)

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.posts.append((channel_id, thread_ref, view))
        return f"msg{len(self.posts)}"

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        self.updates.append((message_ref, view))

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        return await self.post(workspace, f"dm:{user_id}", None, view)


def _dispatcher(store: SqliteStore, clock: ManualClock, chat: RecordingChat) -> OutboxDispatcher:
    return OutboxDispatcher(store, clock=clock, deliveries=[chat], max_attempts=3)


async def test_card_becomes_the_thread_and_plan_updates_in_place(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    chat = RecordingChat()
    dispatcher = _dispatcher(store, clock, chat)
    session = await services.sessions.start(OWNER, CHAT, "threaded")
    await services.members.share(OWNER, str(session.ref), "amy", role=Role.APPROVER)
    plan = (await services.plans.submit(OWNER, str(session.ref), ["a", "b"])).plan
    await dispatcher.drain()
    await services.plans.decide(actor("amy"), Decision.APPROVE, plan_id=plan.id)
    await dispatcher.drain()
    card, shared, plan_post, pointer, decided_notice = chat.posts
    assert card[1] is None and card[2].kind == "session_card"
    assert shared[1] == pointer[1] == decided_notice[1] == "msg1"
    assert plan_post[1] is None and plan_post[2].buttons
    ((ref, updated),) = chat.updates
    assert ref == "msg3" and not updated.buttons and "Approved by <@amy>" in updated.plain_text()
    assert await count(store, "outbox", "status = 'pending'") == 0


async def test_failures_back_off_then_go_dead(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    chat = RecordingChat(failures=[DeliveryError("boom")] * 3)
    dispatcher = _dispatcher(store, clock, chat)
    await services.sessions.start(OWNER, CHAT, "unlucky")
    assert await dispatcher.run_once() == 1  # attempt 1 fails
    assert await dispatcher.run_once() == 0  # not due yet: backing off
    clock.advance(2)
    assert await dispatcher.run_once() == 1  # attempt 2 fails, next wait is 4 s
    clock.advance(3)
    assert await dispatcher.run_once() == 0
    clock.advance(1)
    assert await dispatcher.run_once() == 1  # attempt 3 fails: dead
    clock.advance(3600)
    assert await dispatcher.run_once() == 0
    assert await store.outbox.counts() == {"pending": 0, "dead": 1}
    assert (await services.workspace.stats(OWNER)).outbox_dead == 1


async def test_retry_after_is_honoured_and_delivery_happens_once(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    chat = RecordingChat(failures=[DeliveryError("rate limited", retry_after=30)])
    dispatcher = _dispatcher(store, clock, chat)
    await services.sessions.start(OWNER, CHAT, "busy")
    await dispatcher.run_once()
    clock.advance(29)
    assert await dispatcher.run_once() == 0
    clock.advance(1)
    await dispatcher.drain()
    await dispatcher.drain()
    assert len(chat.posts) == 1


async def test_permanent_failure_is_dead_at_once(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    chat = RecordingChat(failures=[DeliveryError("not in channel", permanent=True)])
    await services.sessions.start(OWNER, CHAT, "locked out")
    await _dispatcher(store, clock, chat).run_once()
    rows = await store.engine.fetchall("SELECT status, last_error FROM outbox")
    assert [(r[0], r[1]) for r in rows] == [(OutboxStatus.DEAD.value, "not in channel")]


async def test_two_dispatchers_never_deliver_a_row_twice(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    import asyncio

    chat = RecordingChat()
    for i in range(30):
        await services.sessions.start(OWNER, CHAT, f"s{i}")
    first, second = _dispatcher(store, clock, chat), _dispatcher(store, clock, chat)
    await asyncio.gather(first.drain(), second.drain())
    assert len(chat.posts) == 30
    assert len({view.title for _, _, view in chat.posts}) == 30


async def test_notices_of_api_only_workspaces_are_settled_without_a_chat(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    agent = Actor("api:acme", "agent-1", Source.API)
    chat = RecordingChat()
    dispatcher = OutboxDispatcher(store, clock=clock, deliveries=[NoChatDelivery(), chat])
    session = await services.sessions.start(agent, ChatRef("api", "api:acme", "api"), "scripted")
    await services.sessions.pause(agent, str(session.ref))
    await services.plans.submit(agent, str(session.ref), ["a"])
    assert await count(store, "outbox", "status = 'pending'") >= 3
    await dispatcher.drain()
    assert await count(store, "outbox", "status = 'pending'") == 0
    assert await count(store, "outbox", "status = 'dead'") == 0
    assert chat.posts == []  # nothing reached another platform
    settled = await store.sessions.by_id(session.id)
    assert settled is not None and settled.thread_ref is None  # no message, no thread
